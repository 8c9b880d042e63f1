/**
 * OptionReader: the one set of option checks every constructor uses. It reads an options object
 * field by field, checking each value as it is read, and {@link OptionReader.done} then refuses
 * every key that was never read: a typo (`lanez`, `modee`, `inlcude`) is an error, never a silent
 * default. A nested object gets its own reader whose errors name the whole path
 * (`applier.retry.minDelayMs`), so the Replicator checks its stages' slices with the very checks
 * the stages run, before anything connects.
 *
 * Checks are pure: no I/O, no placeholder clients. Messages name the field, the allowed range
 * and a short rendering of the bad value that never shows an object's contents nor an
 * unredacted connection string.
 */
import { type MongoClient, Timestamp, type WriteConcern, type WriteConcernSettings } from 'mongodb';

import { isTimestamp } from '../bson/bson-values.js';
import { InvalidConfigError } from '../errors.js';
import { type Logger, redactText } from '../logger.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';

/**
 * Bounds of a numeric option.
 * @internal
 */
export interface NumberBounds {
  /** Smallest allowed value (inclusive). */
  readonly min?: number;
  /** Largest allowed value (inclusive). */
  readonly max?: number;
  /** Whether `Infinity` is allowed (beyond `max`). */
  readonly infinity?: boolean;
}

/**
 * A short, safe rendering of a bad value: strings redacted and cut, objects only by type.
 * @internal
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    // Redact before cutting: a cut URI may no longer look like one to the redactor.
    const safe = redactText(value);
    return JSON.stringify(safe.length > 40 ? `${safe.slice(0, 40)}…` : safe);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) {
    return String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * True for a `MongoClient`, duck-typed: a host may load a second copy of the driver, where
 * `instanceof` would fail.
 * @internal
 */
export function isClientLike(value: unknown): value is MongoClient {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { db?: unknown }).db === 'function'
  );
}

/**
 * True for an object with the four {@link Logger} methods (`console` qualifies).
 * @internal
 */
export function isLogger(value: unknown): value is Logger {
  if (value === null || typeof value !== 'object') return false;
  const logger = value as Partial<Record<keyof Logger, unknown>>;
  return (['debug', 'info', 'warn', 'error'] as const).every(
    level => typeof logger[level] === 'function'
  );
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Reads and checks one options object (see the file header).
 * @internal
 */
export class OptionReader {
  readonly #value: Readonly<Record<string, unknown>>;
  readonly #path: string;
  readonly #read = new Set<string>();

  /**
   * @param value - The options object; `undefined` reads as an empty one.
   * @param path - The path of `value` in the caller's options (`'applier'`), or `''` at the top.
   * @throws {@link InvalidConfigError} when `value` is not an object
   */
  constructor(value: unknown, path = '') {
    this.#path = path;
    if (value === undefined) value = {};
    if (!isPlainObject(value)) {
      throw new InvalidConfigError(
        path === '' ? 'options' : path,
        `expected an object, got ${describeValue(value)}`
      );
    }
    this.#value = value;
  }

  /** The full path of `key`, as errors name it. */
  field(key: string): string {
    return this.#path === '' ? key : `${this.#path}.${key}`;
  }

  /** Whether `key` holds a value other than `undefined`. */
  has(key: string): boolean {
    return this.#value[key] !== undefined;
  }

  /** The value of `key`, unchecked (the caller checks it); marks the key as known. */
  raw(key: string): unknown {
    this.#read.add(key);
    return this.#value[key];
  }

  /** Throws {@link InvalidConfigError} for `key` with `message`. */
  fail(key: string, message: string): never {
    throw new InvalidConfigError(this.field(key), message);
  }

  /** An integer within `bounds` (`min` defaults to 1), or `fallback` when absent. */
  integer(key: string, fallback: number, bounds: NumberBounds = {}): number {
    return this.optionalInteger(key, bounds) ?? fallback;
  }

  /** An integer within `bounds` (`min` defaults to 1), or `undefined` when absent. */
  optionalInteger(key: string, bounds: NumberBounds = {}): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    const { min = 1, max = Number.MAX_SAFE_INTEGER, infinity = false } = bounds;
    if (infinity && value === Number.POSITIVE_INFINITY) return value;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(
        key,
        `expected an integer ${rangeText(min, max, infinity)}, got ${describeValue(value)}`
      );
    }
    return value;
  }

  /** A finite number within `bounds` (`min` defaults to 0), or `fallback` when absent. */
  number(key: string, fallback: number, bounds: NumberBounds = {}): number {
    return this.optionalNumber(key, bounds) ?? fallback;
  }

  /** A finite number within `bounds` (`min` defaults to 0), or `undefined` when absent. */
  optionalNumber(key: string, bounds: NumberBounds = {}): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    const { min = 0, max = Number.MAX_VALUE, infinity = false } = bounds;
    if (infinity && value === Number.POSITIVE_INFINITY) return value;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(
        key,
        `expected a number ${rangeText(min, max, infinity)}, got ${describeValue(value)}`
      );
    }
    return value;
  }

  /** A boolean, or `fallback` when absent. */
  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.fail(key, `expected true or false, got ${describeValue(value)}`);
    }
    return value;
  }

  /** A non-empty string, or `undefined` when absent. */
  optionalString(key: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.length === 0) {
      this.fail(key, `expected a non-empty string, got ${describeValue(value)}`);
    }
    return value;
  }

  /** A non-empty string, or `fallback` when absent. */
  string(key: string, fallback: string): string {
    return this.optionalString(key) ?? fallback;
  }

  /** One of `values`, or `fallback` when absent. */
  oneOf<const T extends string>(key: string, values: readonly T[], fallback: T): T {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (!values.includes(value as T)) {
      this.fail(
        key,
        `expected ${values.map(v => `"${v}"`).join(', ')}, got ${describeValue(value)}`
      );
    }
    return value as T;
  }

  /** A BSON Timestamp (re-created with this package's class), or `undefined` when absent. */
  optionalTimestamp(key: string): Timestamp | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (!isTimestamp(value))
      this.fail(key, `expected a BSON Timestamp, got ${describeValue(value)}`);
    // Our copy of the class, so the driver serialises it without surprises.
    return new Timestamp({ t: value.t, i: value.i });
  }

  /** A `MongoClient` (duck-typed), required. */
  client(key: string): MongoClient {
    const value = this.raw(key);
    if (!isClientLike(value)) {
      this.fail(key, `expected a connected MongoClient, got ${describeValue(value)}`);
    }
    return value;
  }

  /** A `MongoClient` (duck-typed), or `undefined` when absent. */
  optionalClient(key: string): MongoClient | undefined {
    return this.has(key) ? this.client(key) : (this.raw(key) as undefined);
  }

  /** A plain object (not an array), or `undefined` when absent; its contents are not checked. */
  optionalDocument<T extends object>(key: string, what = 'a document'): T | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (!isPlainObject(value)) this.fail(key, `expected ${what}, got ${describeValue(value)}`);
    return value as T;
  }

  /** An AbortSignal, or `undefined` when absent. */
  signal(key = 'signal'): AbortSignal | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (
      value === null ||
      typeof value !== 'object' ||
      typeof (value as Partial<AbortSignal>).addEventListener !== 'function' ||
      typeof (value as Partial<AbortSignal>).aborted !== 'boolean'
    ) {
      this.fail(key, `expected an AbortSignal, got ${describeValue(value)}`);
    }
    return value as AbortSignal;
  }

  /** A {@link Logger}, or `undefined` when absent. */
  logger(key = 'logger'): Logger | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (!isLogger(value)) this.fail(key, 'expected an object with debug, info, warn and error');
    return value;
  }

  /** A function, or `fallback` when absent. */
  func<F extends (...args: never[]) => unknown>(key: string, fallback: F): F {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'function') this.fail(key, 'expected a function');
    return value as F;
  }

  /** The value of `key` checked by `check`, which receives the field's full path. */
  custom<T>(key: string, check: (value: unknown, field: string) => T): T {
    return check(this.raw(key), this.field(key));
  }

  /**
   * A reader for the nested object at `key` (absent reads as empty); call its `done()` once
   * read.
   */
  object(key: string): OptionReader {
    return new OptionReader(this.raw(key), this.field(key));
  }

  /** Marks keys as known without reading them (the caller passes them on unchecked). */
  accept(...keys: string[]): void {
    for (const key of keys) this.#read.add(key);
  }

  /**
   * Refuses every key that was never read.
   * @throws {@link InvalidConfigError} naming the first unknown key
   */
  done(): void {
    for (const key of Object.keys(this.#value)) {
      if (!this.#read.has(key)) {
        this.fail(key, 'unknown option (check its spelling against the documented options)');
      }
    }
  }
}

function rangeText(min: number, max: number, infinity: boolean): string {
  const upper = max >= Number.MAX_SAFE_INTEGER ? '' : ` and ≤ ${max}`;
  return `≥ ${min}${upper}${infinity ? ' or Infinity' : ''}`;
}

/**
 * Reads `options` with a fresh reader, runs `read`, then refuses unknown keys.
 * @internal
 */
export function readOptions<T>(options: unknown, read: (reader: OptionReader) => T, path = ''): T {
  const reader = new OptionReader(options, path);
  const result = read(reader);
  reader.done();
  return result;
}

/**
 * Reads `writeConcern`: a driver `WriteConcern`, or settings (`w`, `j`, `wtimeoutMS`,
 * `journal`, `wtimeout`, `fsync`) whose values are checked (unknown keys refused).
 * @internal
 */
export function readWriteConcern(
  reader: OptionReader,
  key = 'writeConcern'
): WriteConcern | WriteConcernSettings | undefined {
  const value = reader.raw(key);
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    reader.fail(
      key,
      `expected write concern settings such as {w: 'majority'}, got ${describeValue(value)}`
    );
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) {
    return value as WriteConcern; // the driver's own class, checked by the driver
  }
  return readOptions(
    value,
    wc => {
      const w = wc.raw('w');
      if (
        w !== undefined &&
        !(typeof w === 'string' && w.length > 0) &&
        !(typeof w === 'number' && Number.isSafeInteger(w) && w >= 0)
      ) {
        wc.fail(
          'w',
          `expected a number ≥ 0, "majority" or a tag set name, got ${describeValue(w)}`
        );
      }
      for (const flag of ['j', 'journal'] as const) {
        if (wc.has(flag)) wc.boolean(flag, false);
      }
      const fsync = wc.raw('fsync');
      if (fsync !== undefined && typeof fsync !== 'boolean' && fsync !== 1) {
        wc.fail('fsync', `expected true, false or 1, got ${describeValue(fsync)}`);
      }
      wc.optionalInteger('wtimeoutMS', { min: 0 });
      wc.optionalInteger('wtimeout', { min: 0 });
      return value as WriteConcernSettings;
    },
    reader.field(key)
  );
}

/**
 * Reads `throttle`: a {@link WriteThrottle} (duck-typed: a host may load a second copy of the
 * package), or `undefined` when absent.
 * @internal
 */
export function readThrottle(reader: OptionReader, key = 'throttle'): WriteThrottle | undefined {
  return reader.custom(key, (value, field) => {
    if (value === undefined) return undefined;
    const candidate = value as Partial<WriteThrottle> | null;
    if (
      typeof candidate?.acquire !== 'function' ||
      typeof candidate.write !== 'function' ||
      typeof candidate.split !== 'function'
    ) {
      throw new InvalidConfigError(field, 'expected a WriteThrottle');
    }
    return value as WriteThrottle;
  });
}
