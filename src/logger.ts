/**
 * Logging and redaction. The library logs through a host-supplied {@link Logger} and never lets
 * a credential out: connection strings and any text that may echo one (driver error messages)
 * pass through the redactors here before reaching a log, an event or an error.
 */
import { redactConnectionString as redactUri } from 'mongodb-connection-string-url';

/**
 * Structured log sink. `console` satisfies it; pino needs a one-line adapter
 * (`{ info: (m, f) => pino.info(f, m), … }`).
 * @public
 */
export interface Logger {
  /** Detail useful when diagnosing a problem. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Normal milestones: phase changes, checkpoints. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something unexpected the library handled, such as a retry. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** A failure, or a host listener that threw. */
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * A {@link Logger} that drops everything; the default, so the library is silent unless asked.
 * @public
 */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {}
});

/** What replaces credentials. */
const REPLACEMENT = '<credentials>';

/**
 * `uri` with user name, password and secret options (AWS session token, TLS key password,
 * proxy credentials) replaced by `<credentials>`. Also safe on strings that do not parse.
 *
 * @example
 * `mongodb://alice:s3cret@h1/?replicaSet=rs0` → `mongodb://<credentials>@h1/?replicaSet=rs0`
 * @public
 */
export function redactConnectionString(uri: string): string {
  return redactUri(uri, { replacementString: REPLACEMENT });
}

/**
 * A connection string inside free text. It ends at whitespace, a quote or an angle bracket;
 * commas stay inside (host lists), and trailing punctuation is harmless to the redactor.
 */
const URI_IN_TEXT = /mongodb(?:\+srv)?:\/\/[^\s"'`<>]+/gi;
/** Only URIs that may hold a secret are rewritten, so hosts-only text stays byte-for-byte. */
const MAY_HOLD_SECRET = /@|password|token|proxyUsername/i;

/**
 * `text` with every `mongodb://` or `mongodb+srv://` connection string in it redacted as
 * {@link redactConnectionString} does.
 * @public
 */
export function redactText(text: string): string {
  return text
    .replace(URI_IN_TEXT, uri => (MAY_HOLD_SECRET.test(uri) ? redactConnectionString(uri) : uri))
    .replace(DUP_KEY_VALUE, 'dup key: { <values> }');
}

/**
 * The key a duplicate-key message quotes (`E11000 … index: email_1 dup key: { email: "…" }`):
 * document data, which never leaves the library. The index name before it stays.
 */
const DUP_KEY_VALUE = /dup key: \{[^]*?\}(?=[^}]*$)/g;

/**
 * Scrubs credentials and document values from an error in place and returns it: its message,
 * stack, other string properties, the server replies it carries (a duplicate key's value, a
 * validation failure's details), and recursively its `cause` and (for an AggregateError)
 * `errors`. A string is returned redacted; anything else unchanged.
 *
 * @remarks
 * In place on purpose: the error keeps its class and labels, so `instanceof`, `classifyError()`
 * and the driver's `hasErrorLabel()` still work on it.
 * @public
 */
export function redactError<T>(error: T): T {
  if (typeof error === 'string') return redactText(error) as T;
  redactErrorObject(error, new WeakSet());
  return error;
}

function redactErrorObject(value: unknown, seen: WeakSet<object>): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (!(value instanceof Error)) return;
  const record = value as unknown as Record<string, unknown>;
  scrubServerReply(record, 0);
  for (const key of new Set(['message', 'stack', ...Object.keys(value)])) {
    const field = record[key];
    if (typeof field !== 'string') continue;
    const clean = redactText(field);
    if (clean === field) continue;
    try {
      record[key] = clean;
    } catch {
      // A frozen or getter-only property: nothing we can do, and throwing here would hide the
      // original failure.
    }
  }
  redactErrorObject(value.cause, seen);
  if (value instanceof AggregateError)
    for (const inner of value.errors) redactErrorObject(inner, seen);
}

/** Codes whose `errInfo` quotes document values: duplicate keys and validation failures. */
const VALUE_CODES = new Set([11000, 11001, 12582, 121]);

/**
 * Fields of server replies and driver results that hold document data: the document a failed
 * write carried (`op`), a duplicate key (`keyValue`), the `_id`s of documents that block a
 * unique conversion (`violations`), and the `_id`s a bulk write inserted or upserted.
 */
const VALUE_FIELDS = ['op', 'keyValue', 'violations', 'insertedIds', 'upsertedIds'];

/**
 * Removes the document values a server reply can carry from an error's fields and the replies
 * it holds (a bulk write's `writeErrors`, `errorResponse`, `result`): see {@link VALUE_FIELDS},
 * a validation failure's or duplicate key's `errInfo`, and the key quoted in messages.
 */
function scrubServerReply(record: Record<string, unknown>, depth: number): void {
  if (depth > 4) return;
  const code = record.code;
  for (const field of VALUE_FIELDS) if (field in record) deleteField(record, field);
  if (typeof code === 'number' && VALUE_CODES.has(code) && 'errInfo' in record) {
    deleteField(record, 'errInfo');
  }
  for (const key of ['errmsg', 'message']) {
    const text = record[key];
    if (typeof text === 'string' && DUP_KEY_VALUE.test(text)) {
      setField(record, key, text.replace(DUP_KEY_VALUE, 'dup key: { <values> }'));
    }
    DUP_KEY_VALUE.lastIndex = 0;
  }
  for (const key of ['writeErrors', 'writeError', 'err', 'errorResponse', 'result']) {
    const nested = record[key];
    const items: unknown[] = Array.isArray(nested) ? nested : [nested];
    for (const item of items) {
      if (item !== null && typeof item === 'object' && !(item instanceof Error)) {
        scrubServerReply(item as Record<string, unknown>, depth + 1);
      }
    }
  }
}

function deleteField(record: Record<string, unknown>, key: string): void {
  try {
    if (delete record[key]) return;
  } catch {
    // Not configurable: overwrite it below.
  }
  try {
    record[key] = undefined;
  } catch {
    // A frozen or getter-only property: leave it rather than hide the original failure.
  }
}

function setField(record: Record<string, unknown>, key: string, value: string): void {
  try {
    record[key] = value;
  } catch {
    // As above.
  }
}

/**
 * Wraps `logger` so every message and every string, Error or nested field value it receives is
 * redacted first: defence in depth for fields nobody thought to scrub.
 * @public
 */
export function redactingLogger(logger: Logger): Logger {
  const wrap =
    (level: keyof Logger) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (fields === undefined) logger[level](redactText(message));
      else logger[level](redactText(message), redactFields(fields, 0));
    };
  return Object.freeze({
    debug: wrap('debug'),
    info: wrap('info'),
    warn: wrap('warn'),
    error: wrap('error')
  });
}

function redactFields(fields: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = redactField(value, depth);
  return out;
}

function redactField(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value instanceof Error) return redactError(value);
  // Plain objects and arrays are copied; anything else (BSON values, Dates) passes unchanged.
  if (depth < 4 && Array.isArray(value)) return value.map(v => redactField(v, depth + 1));
  if (depth < 4 && typeof value === 'object' && value !== null) {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto === Object.prototype || proto === null) {
      return redactFields(value as Record<string, unknown>, depth + 1);
    }
  }
  return value;
}
