/**
 * BSON bytes ⇄ the ordered value model of `values.ts`.
 *
 * `bson.deserialize` returns plain objects, which reorder integer-like keys ("10" before "9" becomes
 * "9" before "10"), so the test server decodes with this walker instead. Encoding goes through
 * `bson.serialize`, which writes `Map`s in insertion order.
 */
import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  calculateObjectSize,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  serialize,
  Timestamp
} from 'bson';

import { type BDoc, type BValue } from './values.js';

/** Raised for bytes that are not valid BSON; the server answers it with an error reply. */
export class BsonDecodeError extends Error {
  override get name(): string {
    return 'BsonDecodeError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one BSON document starting at `offset`; returns it in field order. */
export function decodeDocument(buffer: Buffer, offset = 0): BDoc {
  const doc: BDoc = new Map();
  const length = readInto(buffer, offset, (key, value) => doc.set(key, value));
  sizes.set(doc, length);
  return doc;
}

/** The length of the BSON document at `offset` (its int32 prefix), validated against the buffer. */
export function documentLength(buffer: Buffer, offset: number): number {
  if (offset + 5 > buffer.length) throw new BsonDecodeError('BSON document truncated');
  const length = buffer.readInt32LE(offset);
  if (length < 5 || offset + length > buffer.length) {
    throw new BsonDecodeError(`invalid BSON document length ${length}`);
  }
  if (buffer[offset + length - 1] !== 0)
    throw new BsonDecodeError('BSON document not NUL-terminated');
  return length;
}

function readInto(
  buffer: Buffer,
  offset: number,
  put: (key: string, value: BValue) => void
): number {
  const length = documentLength(buffer, offset);
  const end = offset + length - 1;
  let pos = offset + 4;
  while (pos < end) {
    const type = buffer[pos++]!;
    const keyEnd = buffer.indexOf(0, pos);
    if (keyEnd < 0 || keyEnd >= end) throw new BsonDecodeError('BSON field name not terminated');
    const key = buffer.toString('utf8', pos, keyEnd);
    pos = keyEnd + 1;
    const [value, next] = readValue(buffer, type, pos, end);
    put(key, value);
    pos = next;
  }
  if (pos !== end) throw new BsonDecodeError('BSON document overruns its length');
  return length;
}

function readString(buffer: Buffer, pos: number, end: number): [string, number] {
  const size = buffer.readInt32LE(pos);
  if (size < 1 || pos + 4 + size > end + 1 || buffer[pos + 4 + size - 1] !== 0) {
    throw new BsonDecodeError('invalid BSON string');
  }
  return [utf8.decode(buffer.subarray(pos + 4, pos + 4 + size - 1)), pos + 4 + size];
}

function readCString(buffer: Buffer, pos: number, end: number): [string, number] {
  const stop = buffer.indexOf(0, pos);
  if (stop < 0 || stop >= end) throw new BsonDecodeError('invalid BSON cstring');
  return [buffer.toString('utf8', pos, stop), stop + 1];
}

function readValue(buffer: Buffer, type: number, pos: number, end: number): [BValue, number] {
  switch (type) {
    case 0x01:
      return [new Double(buffer.readDoubleLE(pos)), pos + 8];
    case 0x02:
      return readString(buffer, pos, end);
    case 0x03: {
      const sub: BDoc = new Map();
      const length = readInto(buffer, pos, (k, v) => sub.set(k, v));
      sizes.set(sub, length);
      return [sub, pos + length];
    }
    case 0x04: {
      const items: BValue[] = [];
      const length = readInto(buffer, pos, (_k, v) => items.push(v));
      return [items, pos + length];
    }
    case 0x05: {
      let size = buffer.readInt32LE(pos);
      const subtype = buffer[pos + 4]!;
      let start = pos + 5;
      if (size < 0 || start + size > end) throw new BsonDecodeError('invalid BSON binary length');
      const next = start + size;
      if (subtype === 2) {
        // The deprecated "old binary" subtype nests a second length.
        size = buffer.readInt32LE(start);
        start += 4;
      }
      return [new Binary(Buffer.from(buffer.subarray(start, start + size)), subtype), next];
    }
    case 0x06:
      return [undefined, pos];
    case 0x07:
      return [new ObjectId(Buffer.from(buffer.subarray(pos, pos + 12))), pos + 12];
    case 0x08:
      return [buffer[pos] === 1, pos + 1];
    case 0x09:
      return [new Date(Number(buffer.readBigInt64LE(pos))), pos + 8];
    case 0x0a:
      return [null, pos];
    case 0x0b: {
      const [pattern, afterPattern] = readCString(buffer, pos, end);
      const [options, next] = readCString(buffer, afterPattern, end);
      return [new BSONRegExp(pattern, options), next];
    }
    case 0x0d: {
      const [code, next] = readString(buffer, pos, end);
      return [new Code(code), next];
    }
    case 0x0e: {
      const [symbol, next] = readString(buffer, pos, end);
      return [new BSONSymbol(symbol), next];
    }
    case 0x0f: {
      const total = buffer.readInt32LE(pos);
      const [code, afterCode] = readString(buffer, pos + 4, end);
      const scope = decodeDocument(buffer, afterCode);
      return [new Code(code, Object.fromEntries(scope)), pos + total];
    }
    case 0x10:
      return [new Int32(buffer.readInt32LE(pos)), pos + 4];
    case 0x11:
      return [
        new Timestamp({ i: buffer.readUInt32LE(pos), t: buffer.readUInt32LE(pos + 4) }),
        pos + 8
      ];
    case 0x12:
      return [Long.fromBigInt(buffer.readBigInt64LE(pos)), pos + 8];
    case 0x13:
      return [new Decimal128(Buffer.from(buffer.subarray(pos, pos + 16))), pos + 16];
    case 0xff:
      return [new MinKey(), pos];
    case 0x7f:
      return [new MaxKey(), pos];
    default:
      throw new BsonDecodeError(`unsupported BSON element type 0x${type.toString(16)}`);
  }
}

const SERIALIZE_OPTIONS = Object.freeze({ checkKeys: false, ignoreUndefined: false });

/** Encodes a document (a `Map` tree or a plain object holding BSON values) to BSON bytes. */
export function encodeDocument(value: Map<string, unknown> | Record<string, unknown>): Buffer {
  return serialize(value, SERIALIZE_OPTIONS) as Buffer;
}

/**
 * Encodes a command reply. A batch of stored documents ({@link keepBytesWhenEncoded}) is copied
 * from the bytes kept the first time each was encoded, not encoded again.
 */
export function encodeReply(value: Map<string, unknown> | Record<string, unknown>): Buffer {
  return holdsStored(value, 2) ? encodeSpliced(value) : encodeDocument(value);
}

/**
 * Where a stored document keeps its own BSON bytes: `null` until first encoded in a reply, then
 * the bytes; absent on other documents.
 */
const ENCODED = Symbol('bsonBytes');

type Storable = { [ENCODED]?: Buffer | null };

/**
 * Marks a stored document that is never mutated (an oplog entry): the first reply that carries
 * it keeps its bytes, and later replies copy them, as mongod serves entries it stores as BSON.
 * Lazily, so that a server whose oplog nobody reads (a replication target) never pays for it.
 */
export function keepBytesWhenEncoded(doc: BDoc): void {
  (doc as Storable)[ENCODED] = null;
}

function isStored(value: unknown): value is Map<string, unknown> & Storable {
  return value instanceof Map && (value as Storable)[ENCODED] !== undefined;
}

/**
 * Whether `value` is, or holds within `depth` levels of documents, an array of stored documents
 * (a cursor reply's batch). Looks at an array's first item only: batches are uniform.
 */
function holdsStored(value: unknown, depth: number): boolean {
  if (Array.isArray(value)) return value.length > 0 && isStored(value[0]);
  if (depth === 0 || !isContainer(value)) return false;
  for (const item of value instanceof Map ? value.values() : Object.values(value)) {
    if (holdsStored(item, depth - 1)) return true;
  }
  return false;
}

function isContainer(value: unknown): value is Map<string, unknown> | Record<string, unknown> {
  if (value instanceof Map) return true;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.getPrototypeOf(value) === Object.prototype;
}

/** Encodes a document element by element, splicing in stored bytes where a batch holds them. */
function encodeSpliced(value: Map<string, unknown> | Record<string, unknown>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, item] of value instanceof Map ? value.entries() : Object.entries(value)) {
    if (Array.isArray(item) && holdsStored(item, 0)) parts.push(element(0x04, key, arrayOf(item)));
    else if (isContainer(item) && holdsStored(item, 1)) {
      parts.push(element(0x03, key, encodeSpliced(item)));
    } else {
      // One element, encoded by bson: a document of that element alone, without its frame.
      const single = serialize(new Map([[key, item]]), SERIALIZE_OPTIONS) as Buffer;
      parts.push(single.subarray(4, single.length - 1));
    }
  }
  return frame(parts);
}

/** The bytes of a batch item: kept ones for a stored document (kept now if first encoded). */
function itemBytes(item: unknown): Buffer {
  if (!isStored(item)) return encodeDocument(item as BDoc);
  return (item[ENCODED] ??= encodeDocument(item));
}

/** An array of documents as BSON, copying stored bytes. */
function arrayOf(items: readonly unknown[]): Buffer {
  const parts = items.map((item, index) => {
    return element(0x03, String(index), itemBytes(item));
  });
  return frame(parts);
}

/** One element: its type, its name, its value's bytes. */
function element(type: number, key: string, value: Buffer): Buffer {
  const name = Buffer.from(key, 'utf8');
  const out = Buffer.allocUnsafe(1 + name.length + 1 + value.length);
  out[0] = type;
  name.copy(out, 1);
  out[1 + name.length] = 0;
  value.copy(out, 2 + name.length);
  return out;
}

/** A document from its elements' bytes: the length, the elements, the terminating NUL. */
function frame(parts: readonly Buffer[]): Buffer {
  let length = 5;
  for (const part of parts) length += part.length;
  const out = Buffer.allocUnsafe(length);
  out.writeInt32LE(length, 0);
  let at = 4;
  for (const part of parts) at += part.copy(out, at);
  out[at] = 0;
  return out;
}

/**
 * BSON sizes of documents, remembered per `Map`: stored documents are never mutated (every write
 * builds a new one), so a size computed once, or read off the wire, stays true. Kept in a symbol
 * property of the `Map` itself rather than a WeakMap: every decoded document gets one, and a
 * WeakMap of that many entries made lookups and, above all, garbage collections slow.
 */
const SIZE = Symbol('bsonSize');
const sizes = {
  get: (doc: object): number | undefined => (doc as { [SIZE]?: number })[SIZE],
  set: (doc: object, size: number): void => {
    (doc as { [SIZE]?: number })[SIZE] = size;
  }
};

/** The BSON size of a document without encoding it. */
export function bsonSize(value: Map<string, unknown> | Record<string, unknown>): number {
  if (!(value instanceof Map)) return calculateObjectSize(value, { ignoreUndefined: false });
  return documentSize(value as BDoc);
}

function documentSize(doc: BDoc): number {
  const cached = sizes.get(doc);
  if (cached !== undefined) return cached;
  const size = uncachedSize(doc);
  sizes.set(doc, size);
  return size;
}

function uncachedSize(doc: BDoc): number {
  let size = 5;
  for (const [key, value] of doc) size += 2 + Buffer.byteLength(key, 'utf8') + valueSize(value);
  return size;
}

/**
 * The BSON size of a document computed afresh and not remembered: for documents that are
 * measured once (oplog entries), which would only fill the size cache.
 */
export function bsonSizeOnce(doc: Map<string, unknown>): number {
  return uncachedSize(doc as BDoc);
}

function arraySize(items: BValue[]): number {
  let size = 5;
  for (let i = 0; i < items.length; i++) size += 2 + String(i).length + valueSize(items[i]);
  return size;
}

function valueSize(value: BValue): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'string') return 5 + Buffer.byteLength(value, 'utf8');
  if (typeof value === 'boolean') return 1;
  if (value instanceof Map) return documentSize(value);
  if (Array.isArray(value)) return arraySize(value);
  if (value instanceof Int32) return 4;
  if (value instanceof Double || value instanceof Long || value instanceof Date) return 8;
  if (value instanceof ObjectId) return 12;
  if (value instanceof Decimal128) return 16;
  if (value instanceof Binary) return 5 + value.position + (value.sub_type === 2 ? 4 : 0);
  if (value instanceof MinKey || value instanceof MaxKey) return 0;
  if (value instanceof BSONRegExp) {
    return Buffer.byteLength(value.pattern, 'utf8') + Buffer.byteLength(value.options, 'utf8') + 2;
  }
  if (value instanceof BSONSymbol) return 5 + Buffer.byteLength(value.valueOf(), 'utf8');
  // Timestamp is a Long subclass and was counted above; Code (with or without scope) is rare.
  return calculateObjectSize({ v: value }) - 8;
}
