/**
 * Oplog entries as mongod writes them to `local.oplog.rs`, and `parseOplogEntry()`, which checks
 * an entry's shape once, at the edge, so that everything downstream can rely on it. A malformed
 * or unknown entry raises {@link UnsupportedOplogEntryError}: replicating past an entry we do not
 * understand would silently diverge the target.
 */
import {
  type Binary,
  type Document,
  type Double,
  type Int32,
  type Long,
  type Timestamp
} from 'mongodb';

import { isTimestamp } from '../bson/bson-values.js';
import { UnsupportedOplogEntryError } from '../errors.js';

/**
 * A number as the driver hands it over with `promoteValues: false` (a BSON wrapper), or a plain
 * JavaScript number when values are promoted.
 * @public
 */
export type OplogNumber = number | Int32 | Long | Double;

/**
 * The operation codes of the oplog: insert, update, delete, command, no-op.
 * @public
 */
export type OplogOp = 'i' | 'u' | 'd' | 'c' | 'n';

/**
 * One document of `local.oplog.rs`, field for field as mongod writes it.
 * @public
 */
export interface RawOplogEntry {
  /** The entry's timestamp: the optime the checkpoint records. */
  ts: Timestamp;
  /** The election term the entry was written in (absent in very old formats). */
  t?: OplogNumber;
  /** Oplog format version (2). */
  v?: OplogNumber;
  /** What kind of operation this is. */
  op: OplogOp;
  /** `db.collection`, or `db.$cmd` for commands, or `''` for some no-ops. */
  ns: string;
  /** The collection's UUID. */
  ui?: Binary;
  /** The operation: the inserted document, the update, the delete's `_id`, the command. */
  o: Document;
  /** For updates, `_id` (plus the shard key on sharded data); extra information on commands. */
  o2?: Document;
  /** Wall-clock time of the write on the primary. */
  wall?: Date;
  /** Logical session of a retryable write or transaction. */
  lsid?: Document;
  /** Transaction number within `lsid`. */
  txnNumber?: OplogNumber;
  /** Statement id(s) of a retryable write. */
  stmtId?: OplogNumber | OplogNumber[];
  /** Optime of the previous entry of the same transaction or retryable write. */
  prevOpTime?: Document;
  /** True on writes made by chunk migrations: not user writes, so replication skips them. */
  fromMigrate?: boolean;
}

/**
 * Fields every parsed entry has.
 * @public
 */
export interface OplogEntryBase {
  /** The entry's timestamp (inner operations of `applyOps` inherit the outer one). */
  readonly ts: Timestamp;
  /** `db.collection` (or `db.$cmd`). */
  readonly ns: string;
  /** The collection's UUID, when the entry carries it. */
  readonly ui: Binary | undefined;
  /** Wall-clock time of the write, when known. */
  readonly wall: Date | undefined;
  /** Logical session id document of a transaction or retryable write. */
  readonly lsid: Document | undefined;
  /** Transaction number within `lsid`. */
  readonly txnNumber: OplogNumber | undefined;
  /** True on chunk-migration writes, which replication skips. */
  readonly fromMigrate: boolean;
  /**
   * Position of an operation inside the `applyOps` (or transaction chain) it was unwrapped from,
   * so that operations sharing one `ts` keep a stable order; `undefined` for top-level entries.
   */
  readonly opIndex: number | undefined;
  /** The entry as read (for inner operations: rebuilt with the outer entry's fields). */
  readonly raw: RawOplogEntry;
}

/**
 * An insert (`op: 'i'`).
 * @public
 */
export interface InsertEntry extends OplogEntryBase {
  /** Discriminant. */
  readonly op: 'i';
  /** The inserted document, `_id` included. */
  readonly o: Document;
  /** `_id` and shard key, when mongod logged them. */
  readonly o2: Document | undefined;
}

/**
 * How an update entry expresses the change.
 * - `'diff'`: a `$v: 2` delta (`{$v: 2, diff: {...}}`), MongoDB 5.0+.
 * - `'operators'`: `$set`/`$unset` (`$v: 1`, or no `$v` before 4.0).
 * - `'replacement'`: the whole new document.
 * @public
 */
export type UpdateKind = 'diff' | 'operators' | 'replacement';

/**
 * An update (`op: 'u'`).
 * @public
 */
export interface UpdateEntry extends OplogEntryBase {
  /** Discriminant. */
  readonly op: 'u';
  /** How the change is expressed; see {@link UpdateKind}. */
  readonly kind: UpdateKind;
  /** The update as logged. */
  readonly o: Document;
  /** The filter that finds the document: `_id`, plus the shard key on sharded data. */
  readonly o2: Document;
}

/**
 * A delete (`op: 'd'`).
 * @public
 */
export interface DeleteEntry extends OplogEntryBase {
  /** Discriminant. */
  readonly op: 'd';
  /** The deleted document's `_id` (plus the shard key on sharded data). */
  readonly o: Document;
}

/**
 * A command (`op: 'c'`): DDL, `applyOps`, transaction control.
 * @public
 */
export interface CommandEntry extends OplogEntryBase {
  /** Discriminant. */
  readonly op: 'c';
  /** The command's name: the first field of `o` (`create`, `applyOps`, ...). */
  readonly command: string;
  /** The command document as logged. */
  readonly o: Document;
  /** Extra information some commands log (such as the old options of `collMod`). */
  readonly o2: Document | undefined;
}

/**
 * A no-op (`op: 'n'`): nothing to write, but it still advances the checkpoint.
 * @public
 */
export interface NoopEntry extends OplogEntryBase {
  /** Discriminant. */
  readonly op: 'n';
  /** The no-op's message document. */
  readonly o: Document;
}

/**
 * A parsed oplog entry; switch on `op`.
 * @public
 */
export type OplogEntry = InsertEntry | UpdateEntry | DeleteEntry | CommandEntry | NoopEntry;

/**
 * Where a parse happens, for error messages of entries nested in `applyOps`.
 * @internal
 */
export interface ParseContext {
  /** Position inside the outer `applyOps` chain. */
  readonly opIndex?: number;
}

const OPS: ReadonlySet<string> = new Set(['i', 'u', 'd', 'c', 'n']);

const HINT =
  'This entry cannot be replicated faithfully; check the source MongoDB version is supported, and report the entry (without its data) if it is';

/**
 * True for a plain (sub)document as the driver decodes one: not an array, not a BSON value class.
 * @internal
 */
export function isDocument(value: unknown): value is Document {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && !('_bsontype' in value);
}

/**
 * The JavaScript number held by a plain number or a BSON `Int32`/`Long`/`Double`; `undefined`
 * for anything else.
 * @internal
 */
export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (value === null || typeof value !== 'object' || !('_bsontype' in value)) return undefined;
  switch ((value as { _bsontype: unknown })._bsontype) {
    case 'Int32':
    case 'Double':
      return (value as Int32 | Double).value;
    case 'Long':
      return (value as Long).toNumber();
    default:
      return undefined;
  }
}

/**
 * Formats a timestamp as `seconds:increment`, the way mongod logs optimes.
 * @public
 */
export function formatOptime(ts: Timestamp): string {
  return `${ts.t}:${ts.i}`;
}

/**
 * The optime of an entry, which is its `ts` (the term `t` only matters across rollbacks, which a
 * replicator reading majority-committed entries never sees).
 * @public
 */
export function optimeOf(entry: Pick<OplogEntry, 'ts'>): Timestamp {
  return entry.ts;
}

/**
 * Orders two oplog timestamps: negative if `a` is older, positive if newer, zero if equal.
 * @public
 */
export function compareOptimes(a: Timestamp, b: Timestamp): number {
  return a.t !== b.t ? (a.t < b.t ? -1 : 1) : a.i !== b.i ? (a.i < b.i ? -1 : 1) : 0;
}

/**
 * Builds the error for a malformed entry: what is wrong, with op, namespace and optime attached.
 * @internal
 */
export function malformed(
  what: string,
  raw: { op?: unknown; ns?: unknown; ts?: unknown },
  hint: string = HINT
): UnsupportedOplogEntryError {
  const op = typeof raw.op === 'string' ? raw.op : undefined;
  const ns = typeof raw.ns === 'string' ? raw.ns : undefined;
  const ts = isTimestamp(raw.ts) ? raw.ts : undefined;
  const where = [
    op === undefined ? undefined : `op "${op}"`,
    ns === undefined ? undefined : `on ${ns || '(no namespace)'}`,
    ts === undefined ? undefined : `at ${formatOptime(ts)}`
  ]
    .filter(part => part !== undefined)
    .join(' ');
  return new UnsupportedOplogEntryError(
    `Malformed oplog entry${where ? ` (${where})` : ''}: ${what}`,
    op,
    {
      ...(ns === undefined ? {} : { namespace: ns }),
      ...(ts === undefined ? {} : { optime: ts }),
      hint
    }
  );
}

/**
 * How an update entry expresses its change, checked.
 * @throws {@link UnsupportedOplogEntryError} for an update of no known shape
 * @internal
 */
export function updateKindOf(raw: Pick<RawOplogEntry, 'op' | 'ns' | 'ts' | 'o'>): UpdateKind {
  const o = raw.o;
  const keys = Object.keys(o);
  if ('$v' in o) {
    const version = numberOf(o.$v);
    if (version === 2) {
      if (!isDocument(o.diff)) throw malformed('a $v:2 update has no "diff" document', raw);
      const extra = keys.filter(key => key !== '$v' && key !== 'diff');
      if (extra.length > 0) {
        throw malformed(`a $v:2 update has unexpected fields ${extra.join(', ')}`, raw);
      }
      return 'diff';
    }
    if (version !== 1) {
      throw malformed(
        `unknown update format $v: ${String(version ?? (o.$v as unknown))} (expected 1 or 2)`,
        raw
      );
    }
  }
  const operators = keys.filter(key => key.startsWith('$'));
  if (operators.length === 0) return 'replacement';
  if (operators.length !== keys.length) {
    throw malformed('an update mixes update operators and plain fields', raw);
  }
  return 'operators';
}

/**
 * Whether `ns` names a collection (`db.coll`) as an insert, update or delete must.
 * @internal
 */
export function isCollectionNamespace(ns: string): boolean {
  return /^[^.$]+\.[^]+$/.test(ns);
}

function requireId(doc: Document, field: 'o' | 'o2', raw: RawOplogEntry): void {
  if (!('_id' in doc)) throw malformed(`"${field}" has no _id`, raw);
}

/**
 * Checks the shape of one oplog entry and returns it as a typed {@link OplogEntry}.
 *
 * @remarks
 * Values are kept as the driver decoded them (BSON wrappers such as `Int32` stay wrappers), so
 * the target receives exactly the source's types. Nothing is copied: `o` and `o2` are the raw
 * entry's objects.
 *
 * @param raw - a document read from `local.oplog.rs`
 * @throws {@link UnsupportedOplogEntryError} if the entry is malformed or of an unknown kind,
 * naming the op, namespace and optime
 * @public
 */
export function parseOplogEntry(raw: Document): OplogEntry {
  return parseWithContext(raw, {});
}

/**
 * {@link parseOplogEntry} for an operation unwrapped from `applyOps`: records its position.
 * @internal
 */
export function parseWithContext(raw: Document, context: ParseContext): OplogEntry {
  if (!isDocument(raw)) throw malformed('the entry is not a document', {});
  if (!isTimestamp(raw.ts)) throw malformed('"ts" is missing or not a Timestamp', raw);
  if (typeof raw.op !== 'string' || !OPS.has(raw.op)) {
    throw malformed(
      `unknown op ${JSON.stringify(raw.op ?? null)} (expected one of i, u, d, c, n)`,
      raw
    );
  }
  if (typeof raw.ns !== 'string') throw malformed('"ns" is missing or not a string', raw);
  if (!isDocument(raw.o)) throw malformed('"o" is missing or not a document', raw);
  if (raw.o2 !== undefined && !isDocument(raw.o2)) throw malformed('"o2" is not a document', raw);
  if (raw.lsid !== undefined && !isDocument(raw.lsid)) {
    throw malformed('"lsid" is not a document', raw);
  }
  if (raw.fromMigrate !== undefined && typeof raw.fromMigrate !== 'boolean') {
    throw malformed('"fromMigrate" is not a boolean', raw);
  }
  if (raw.wall !== undefined && !(raw.wall instanceof Date)) {
    throw malformed('"wall" is not a date', raw);
  }
  const entry = raw as RawOplogEntry;
  const op = entry.op;
  if (op !== 'n' && op !== 'c' && !isCollectionNamespace(entry.ns)) {
    throw malformed(`"ns" ${JSON.stringify(entry.ns)} is not a db.collection name`, raw);
  }
  if (op === 'c' && !/^[^.]+\.\$cmd$/.test(entry.ns)) {
    throw malformed(`a command's "ns" ${JSON.stringify(entry.ns)} is not db.$cmd`, raw);
  }
  let kind: UpdateKind | undefined;
  let command: string | undefined;
  switch (op) {
    case 'i':
    case 'd':
      requireId(entry.o, 'o', entry);
      break;
    case 'u':
      if (entry.o2 === undefined) throw malformed('an update has no "o2"', raw);
      requireId(entry.o2, 'o2', entry);
      kind = updateKindOf(entry);
      break;
    case 'c':
      command = Object.keys(entry.o)[0];
      if (command === undefined) throw malformed('the command document "o" is empty', raw);
      break;
    case 'n':
      break;
  }
  // One literal with every field, rather than a spread of shared fields: this runs for every
  // entry, and V8 copies a spread through a slow generic path (~4 µs here, more than the rest
  // of the parse). Fields an op does not have stay undefined.
  return {
    op,
    ts: entry.ts,
    ns: entry.ns,
    ui: entry.ui,
    wall: entry.wall,
    lsid: entry.lsid,
    txnNumber: entry.txnNumber,
    fromMigrate: entry.fromMigrate === true,
    opIndex: context.opIndex,
    raw: entry,
    o: entry.o,
    o2: op === 'i' || op === 'u' || op === 'c' ? entry.o2 : undefined,
    kind,
    command
  } as OplogEntry;
}
