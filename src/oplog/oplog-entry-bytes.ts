/**
 * Parses insert, update and delete oplog entries straight from their BSON bytes, decoding only
 * what batching and routing need (`op`, `ns`, `ts`, `fromMigrate`, the document's `_id`, and an
 * update's `o`/`o2`). Everything else (the inserted document, the session, the collection UUID,
 * the wall clock) stays in the bytes until something reads it.
 *
 * Why: the fetcher used to decode every entry in full with exact BSON types, about 3 KB of
 * objects for a 250-byte insert, and those objects then waited in the pipeline's queues long
 * enough to outlive the young generation: a third of the replicator's CPU went to garbage
 * collection. An insert's document is now decoded by the lane that writes it, just before the
 * driver encodes it again, so it dies young.
 *
 * An entry keeps a view of the bytes it was fetched in, which is a slice of the driver's whole
 * reply. Entries leave the pipeline's queues in order, so the replies kept alive beyond the bytes
 * the queues count are at most the ones their two ends fall in.
 *
 * Anything unusual (a command or no-op, a field of an unexpected type, a missing `_id`, bytes
 * that do not walk as BSON) returns `undefined`, and the caller parses the entry the ordinary way
 * ({@link parseOplogEntry}), which raises the same errors as before. Entries parsed here are
 * equal, field for field, to what that parse returns.
 */
import { type Binary, BSON, type Document, Int32, Long, ObjectId, Timestamp } from 'mongodb';

import {
  int32,
  nameIs,
  TYPE_BOOLEAN,
  TYPE_DATE,
  TYPE_DOCUMENT,
  TYPE_STRING,
  TYPE_TIMESTAMP,
  uint32,
  utf8At,
  valueEnd
} from '../bson/bson-scan.js';
import { EXACT_DECODE_OPTIONS as EXACT } from '../bson/exact-decode.js';
import {
  type DeleteEntry,
  type InsertEntry,
  isCollectionNamespace,
  isDocument,
  malformed,
  type OplogEntry,
  type OplogNumber,
  type RawOplogEntry,
  type UpdateEntry,
  updateKindOf
} from './oplog-entry.js';

/**
 * The top-level fields this parser looks at, as indexes into the scratch arrays below; the rest
 * is skipped over.
 */
const TS = 0;
const OP = 1;
const NS = 2;
const O = 3;
const O2 = 4;
const FROM_MIGRATE = 5;
const LSID = 6;
const WALL = 7;
const RESUME_TOKEN = 8;
const FIELD_COUNT = 9;

/**
 * Where each field's value lies in the entry being parsed (start, end, BSON type; type 0 when
 * absent). Parsing is synchronous, so one set of scratch arrays serves every call.
 */
const starts = new Int32Array(FIELD_COUNT);
const ends = new Int32Array(FIELD_COUNT);
const types = new Uint8Array(FIELD_COUNT);

/**
 * Records where the fields of interest lie (in the scratch arrays); false if the bytes do not
 * walk as one BSON document.
 */
function scanFields(bytes: Uint8Array): boolean {
  types.fill(0);
  const end = bytes.length;
  if (end < 5 || int32(bytes, 0) !== end || bytes[end - 1] !== 0) return false;
  const last = end - 1;
  let at = 4;
  while (at < last) {
    const type = bytes[at]!;
    // A top-level name starting with `$`: the ordinary parse decides what that entry is.
    if (bytes[at + 1] === 0x24) return false;
    const nameEnd = bytes.indexOf(0, at + 1);
    if (nameEnd < 0 || nameEnd >= last) return false;
    const next = valueEnd(bytes, type, nameEnd + 1, last);
    if (next < 0) return false;
    const field = fieldAt(bytes, at + 1, nameEnd - at - 1);
    if (field >= 0) {
      // A repeated name: the last one wins, as when the whole entry is decoded.
      starts[field] = nameEnd + 1;
      ends[field] = next;
      types[field] = type;
    }
    at = next;
  }
  return at === last;
}

/** Which field of interest the name of `length` bytes at `at` is; -1 for any other. */
function fieldAt(bytes: Uint8Array, at: number, length: number): number {
  const c0 = bytes[at];
  const c1 = bytes[at + 1];
  switch (length) {
    case 1:
      return c0 === 0x6f ? O : -1; // o
    case 2:
      if (c0 === 0x74 && c1 === 0x73) return TS; // ts
      if (c0 === 0x6f && c1 === 0x70) return OP; // op
      if (c0 === 0x6e && c1 === 0x73) return NS; // ns
      return c0 === 0x6f && c1 === 0x32 ? O2 : -1; // o2
    case 4:
      if (nameIs(bytes, at, 'lsid')) return LSID;
      return nameIs(bytes, at, 'wall') ? WALL : -1;
    case 11:
      if (nameIs(bytes, at, 'fromMigrate')) return FROM_MIGRATE;
      return nameIs(bytes, at, 'resumeToken') ? RESUME_TOKEN : -1;
    default:
      return -1;
  }
}

/**
 * The last namespace decoded, with its bytes: consecutive entries nearly always share one, and
 * comparing bytes costs less than decoding them again.
 */
let lastNs: { bytes: Uint8Array; value: string } | undefined;

/** The namespace string of the `ns` field; `undefined` if it is not one. */
function namespaceOf(bytes: Uint8Array): string | undefined {
  if (types[NS] !== TYPE_STRING) return undefined;
  // A string value: its byte length with the NUL, the bytes, the NUL.
  const start = starts[NS]! + 4;
  const end = ends[NS]! - 1;
  if (bytes[end] !== 0) return undefined;
  const cached = lastNs;
  if (cached !== undefined && sameBytes(cached.bytes, bytes, start, end)) return cached.value;
  const value = utf8At(bytes, start, end);
  if (value !== undefined) lastNs = { bytes: bytes.slice(start, end), value };
  return value;
}

function sameBytes(a: Uint8Array, b: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[start + k]) return false;
  return true;
}

/** The `op` field's code if it is `i`, `u` or `d`; `undefined` otherwise. */
function crudOpOf(bytes: Uint8Array): 'i' | 'u' | 'd' | undefined {
  const start = starts[OP]!;
  // A one-character string: length 2 (with its NUL), the character, the NUL.
  if (types[OP] !== TYPE_STRING || ends[OP] !== start + 6 || int32(bytes, start) !== 2) {
    return undefined;
  }
  if (bytes[start + 5] !== 0) return undefined;
  switch (bytes[start + 4]) {
    case 0x69:
      return 'i';
    case 0x75:
      return 'u';
    case 0x64:
      return 'd';
    default:
      return undefined;
  }
}

/** `false` when absent, the value when a valid boolean, `undefined` otherwise. */
function fromMigrateOf(bytes: Uint8Array): boolean | undefined {
  if (types[FROM_MIGRATE] === 0) return false;
  if (types[FROM_MIGRATE] !== TYPE_BOOLEAN) return undefined;
  const value = bytes[starts[FROM_MIGRATE]!];
  return value === 1 ? true : value === 0 ? false : undefined;
}

/** Decodes the embedded document in [start, end) with exact BSON types. */
function documentAt(bytes: Uint8Array, start: number, end: number): Document {
  return BSON.deserialize(bytes.subarray(start, end), EXACT);
}

/**
 * What a walk over an embedded document in [start, end) found: its `_id` (decoded alone, not the
 * document), if any. `undefined` when the bytes do not walk as a document, or when a top-level
 * name starts with `$`: such a document may decode as a DBRef rather than a document, which only
 * the ordinary parse tells apart.
 */
function walkEmbedded(
  bytes: Uint8Array,
  start: number,
  end: number
): { id: { value: unknown } | undefined; count: number } | undefined {
  if (start + 5 > end || int32(bytes, start) !== end - start || bytes[end - 1] !== 0) {
    return undefined;
  }
  const last = end - 1;
  let at = start + 4;
  let id: { value: unknown } | undefined;
  let count = 0;
  while (at < last) {
    const type = bytes[at]!;
    count += 1;
    if (bytes[at + 1] === 0x24) return undefined; // a name starting with `$`
    const nameEnd = bytes.indexOf(0, at + 1);
    if (nameEnd < 0 || nameEnd >= last) return undefined;
    const next = valueEnd(bytes, type, nameEnd + 1, last);
    if (next < 0) return undefined;
    // Every element is walked: a later _id wins, and the bytes must be a whole document.
    if (nameEnd - at === 4 && nameIs(bytes, at + 1, '_id')) {
      id = { value: elementValue(bytes, at, next) };
    }
    at = next;
  }
  return at === last ? { id, count } : undefined;
}

/** The value of the element in [at, end) (type byte, name, value), with its exact BSON type. */
function elementValue(bytes: Uint8Array, at: number, end: number): unknown {
  // The common _id types directly, as the decoder builds them; the rest through the decoder.
  const value = bytes.indexOf(0, at + 1) + 1;
  switch (bytes[at]) {
    case 0x07:
      return new ObjectId(Buffer.from(bytes.subarray(value, value + 12)));
    case 0x10:
      return new Int32(int32(bytes, value));
    case 0x12:
      return new Long(int32(bytes, value), int32(bytes, value + 4));
    case TYPE_STRING: {
      const text = bytes[end - 1] === 0 ? utf8At(bytes, value + 4, end - 1) : undefined;
      if (text !== undefined) return text;
      break;
    }
  }
  // A document holding only that element: its length, the element, the terminating NUL.
  const length = 4 + (end - at) + 1;
  // A Buffer: bson copies any other Uint8Array into one before decoding it.
  const single = Buffer.allocUnsafe(length);
  single.writeInt32LE(length, 0);
  single.set(bytes.subarray(at, end), 4);
  single[length - 1] = 0;
  const decoded = BSON.deserialize(single, EXACT);
  for (const key in decoded) return decoded[key];
  return undefined;
}

/**
 * Parses an insert, update or delete from its BSON bytes, or returns `undefined` for anything
 * else (commands, no-ops, entries carrying a change-stream `resumeToken`, unexpected shapes):
 * parse those with {@link parseOplogEntry}.
 *
 * @throws {@link UnsupportedOplogEntryError} for an update of no known shape, as
 * {@link parseOplogEntry} does
 * @internal
 */
export function parseCrudEntryBytes(bytes: Uint8Array): OplogEntry | undefined {
  if (!scanFields(bytes) || types[RESUME_TOKEN] !== 0 || types[TS] !== TYPE_TIMESTAMP) {
    return undefined;
  }
  const hasO2 = types[O2] !== 0;
  if (types[O] !== TYPE_DOCUMENT || (hasO2 && types[O2] !== TYPE_DOCUMENT)) return undefined;
  if (types[LSID] !== 0 && types[LSID] !== TYPE_DOCUMENT) return undefined;
  if (types[WALL] !== 0 && types[WALL] !== TYPE_DATE) return undefined;
  const op = crudOpOf(bytes);
  const fromMigrate = fromMigrateOf(bytes);
  if (op === undefined || fromMigrate === undefined || (op === 'u' && !hasO2)) return undefined;
  const ns = namespaceOf(bytes);
  if (ns === undefined || !isCollectionNamespace(ns)) return undefined;
  const tsAt = starts[TS]!;
  const ts = new Timestamp({ i: uint32(bytes, tsAt), t: uint32(bytes, tsAt + 4) });
  const o = new Place(starts[O]!, ends[O]!);
  const o2 = hasO2 ? new Place(starts[O2]!, ends[O2]!) : undefined;
  const addressed = op === 'u' ? o2! : o;
  const walked = walkEmbedded(bytes, addressed.start, addressed.end);
  const id = walked?.id;
  if (id === undefined) return undefined;
  // `{_id}` alone, as a delete's o and an unsharded update's o2 are: no need to decode it again.
  const idOnly = walked!.count === 1 ? { _id: id.value } : undefined;
  if (op === 'i') {
    if (o2 !== undefined && walkEmbedded(bytes, o2.start, o2.end) === undefined) return undefined;
    // The document stays in the bytes until the lane that writes it reads it.
    return asEntry(new BytesEntry(bytes, op, ts, ns, fromMigrate, undefined, id.value, { o, o2 }));
  }
  // Small (an update or an _id), and batching reads an update's kind: decoded now.
  const decodedO = (op === 'd' ? idOnly : undefined) ?? documentAt(bytes, o.start, o.end);
  // A parsed delete has no o2, whatever the bytes hold.
  const decodedO2 = op === 'u' ? (idOnly ?? documentAt(bytes, o2!.start, o2!.end)) : undefined;
  if (!isDocument(decodedO) || (op === 'u' && !isDocument(decodedO2))) return undefined;
  const kind = op === 'u' ? updateKindOf({ op, ns, ts, o: decodedO }) : undefined;
  return asEntry(
    new BytesEntry(bytes, op, ts, ns, fromMigrate, kind, id.value, { o: decodedO, o2: decodedO2 })
  );
}

/** A {@link BytesEntry} has every field of the entry of its `op`, some of them as getters. */
function asEntry(entry: BytesEntry): InsertEntry | UpdateEntry | DeleteEntry {
  return entry as unknown as InsertEntry | UpdateEntry | DeleteEntry;
}

/**
 * The `_id` a parsed insert, update or delete addresses: from `o2` for an update, from `o`
 * otherwise. For an entry parsed from bytes it was decoded on its own, without the document.
 * @internal
 */
export function documentIdOf(entry: InsertEntry | UpdateEntry | DeleteEntry): unknown {
  if (entry instanceof BytesEntry) return entry.id;
  return entry.op === 'u' ? entry.o2._id : entry.o._id;
}

/**
 * The BSON bytes an entry was parsed from, when {@link parseCrudEntryBytes} parsed it: exactly
 * what the source logged, with no need to encode the entry again.
 * @internal
 */
export function sourceBytesOf(entry: OplogEntry): Uint8Array | undefined {
  return entry instanceof BytesEntry ? entry.sourceBytes : undefined;
}

/** Where an embedded document lies in an entry's bytes. */
class Place {
  constructor(
    readonly start: number,
    readonly end: number
  ) {}
}

/** What an entry parsed from bytes holds of `o` and `o2`: decoded, or where to decode it from. */
interface Parts {
  o: Document | Place;
  o2: Document | Place | undefined;
}

/**
 * An entry parsed from bytes. It has the fields of a parsed entry; those not decoded yet are
 * getters that decode on first read and keep the result. Its own state is private, so that
 * enumerating it shows only entry fields.
 */
class BytesEntry {
  readonly opIndex = undefined;
  readonly command = undefined;
  readonly #bytes: Uint8Array;
  readonly #id: unknown;
  #parts: Parts;
  #raw: RawOplogEntry | undefined;

  constructor(
    bytes: Uint8Array,
    readonly op: 'i' | 'u' | 'd',
    readonly ts: Timestamp,
    readonly ns: string,
    readonly fromMigrate: boolean,
    readonly kind: UpdateEntry['kind'] | undefined,
    id: unknown,
    parts: Parts
  ) {
    this.#bytes = bytes;
    this.#id = id;
    this.#parts = parts;
  }

  /** The bytes the entry was parsed from. */
  get sourceBytes(): Uint8Array {
    return this.#bytes;
  }

  /** The document's `_id`, decoded on its own. */
  get id(): unknown {
    return this.#id;
  }

  get o(): Document {
    const o = this.#parts.o;
    if (!(o instanceof Place)) return o;
    const decoded = this.#decodeDocument(o, 'o');
    this.#parts.o = decoded;
    return decoded;
  }

  get o2(): Document | undefined {
    const o2 = this.#parts.o2;
    if (!(o2 instanceof Place)) return o2;
    const decoded = this.#decodeDocument(o2, 'o2');
    this.#parts.o2 = decoded;
    return decoded;
  }

  /** The whole entry, decoded once; its `o` and `o2` are the same objects as the fields. */
  get raw(): RawOplogEntry {
    if (this.#raw === undefined) {
      const raw = this.#decode(() => BSON.deserialize(this.#bytes, EXACT), 'the entry');
      raw.o = this.o;
      // A parsed delete has no o2; its raw entry keeps what the bytes hold.
      const o2 = this.o2;
      if (o2 !== undefined) raw.o2 = o2;
      this.#raw = raw as RawOplogEntry;
    }
    return this.#raw;
  }

  get ui(): Binary | undefined {
    return this.raw.ui;
  }

  get wall(): Date | undefined {
    return this.raw.wall;
  }

  get lsid(): Document | undefined {
    return this.raw.lsid;
  }

  get txnNumber(): OplogNumber | undefined {
    return this.raw.txnNumber;
  }

  #decodeDocument(place: Place, field: 'o' | 'o2'): Document {
    const decoded = this.#decode(
      () => documentAt(this.#bytes, place.start, place.end),
      `"${field}"`
    );
    // As the ordinary parse: a `{$ref, $id}` document decodes as a DBRef, not a document.
    if (!isDocument(decoded)) throw malformed(`"${field}" is not a document`, this);
    return decoded;
  }

  /** Bytes the source wrote are valid BSON; if they are not, the error names the entry. */
  #decode(decode: () => Document, what: string): Document {
    try {
      return decode();
    } catch (error) {
      throw malformed(`${what} is not valid BSON (${(error as Error).message})`, this);
    }
  }
}
