/**
 * Shard key patterns as mongod's ShardKeyPattern handles them: validation, a document's shard key
 * (a missing field is null, 4.4+; a hashed field is its 64-bit hash), the document key oplog
 * entries carry, the key an equality query pins down (for targeting), and key comparison.
 *
 * The hash is BSONElementHasher::hash64 with seed 0 (src/mongo/db/hasher.cpp): MD5 over the seed,
 * then each element's canonical type (int32), field names inside embedded documents, numbers as
 * int64 (safeNumberLongForHash) and other values as their BSON bytes; the first 8 bytes of the
 * digest, little-endian, are the hash. So a document lands in the same hashed chunk as on mongod.
 */
import { createHash } from 'node:crypto';

import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  type Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp
} from 'bson';

import { encodeDocument } from '../bson/codec.js';
import { getPath } from '../bson/paths.js';
import { type BDoc, type BValue, compareValuesBinary, isDoc, isNumber } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';

export interface KeyField {
  readonly path: string;
  readonly hashed: boolean;
}

export class ShardKeyPattern {
  readonly fields: readonly KeyField[];

  constructor(readonly spec: BDoc) {
    const fields: KeyField[] = [];
    let hashedCount = 0;
    for (const [path, value] of spec) {
      const hashed = value === 'hashed';
      const ascending = isNumber(value) && Number(value.valueOf()) === 1;
      if ((!hashed && !ascending) || path.length === 0 || path.startsWith('$')) {
        throw unsupported(spec);
      }
      if (hashed) hashedCount++;
      fields.push({ path, hashed });
    }
    if (fields.length === 0 || hashedCount > 1) throw unsupported(spec);
    this.fields = fields;
  }

  get hashedField(): KeyField | undefined {
    return this.fields.find(field => field.hashed);
  }

  /** True when the key is `{_id: 1}` or `{_id: 'hashed'}`. */
  get isIdOnly(): boolean {
    return this.fields.length === 1 && this.fields[0]!.path === '_id';
  }

  /** `{f: MinKey, …}` */
  globalMin(): BDoc {
    return new Map(this.fields.map(field => [field.path, new MinKey()]));
  }

  /** `{f: MaxKey, …}` */
  globalMax(): BDoc {
    return new Map(this.fields.map(field => [field.path, new MaxKey()]));
  }

  /** The shard key of a stored document: a missing field is null; hashed fields are hashed. */
  keyOfDocument(doc: BDoc): BDoc {
    const key: BDoc = new Map();
    for (const field of this.fields) {
      const value = getPath(doc, field.path);
      if (Array.isArray(value)) {
        throw new ServerError(
          ShardKeyNotFound,
          `Shard key cannot contain array values or array descendants.`
        );
      }
      const plain = value === undefined ? null : value;
      key.set(field.path, field.hashed ? hash64(plain) : plain);
    }
    return key;
  }

  /**
   * The document key oplog entries and change events carry on a sharded collection
   * (CollectionMetadata::extractDocumentKey): the shard key fields present in the document, in
   * pattern order, then `_id` unless the key includes it.
   */
  documentKey(doc: BDoc): BDoc {
    const key: BDoc = new Map();
    for (const field of this.fields) {
      const value = getPath(doc, field.path);
      if (value !== undefined) key.set(field.path, value);
    }
    if (!this.fields.some(field => field.path === '_id')) key.set('_id', doc.get('_id'));
    return key;
  }

  /**
   * The shard key an equality query pins down (`{f: v}`, `{f: {$eq: v}}`, under a top-level
   * `$and`), hashed where the pattern hashes, or undefined when some field is not pinned.
   */
  keyOfQuery(filter: BDoc): BDoc | undefined {
    const key: BDoc = new Map();
    for (const field of this.fields) {
      const value = equalityValue(filter, field.path);
      if (value === undefined) return undefined;
      key.set(field.path, field.hashed ? hash64(value) : value);
    }
    return key;
  }

  /** Equality values of the (single) shard key field under `$in`, as keys; else undefined. */
  keysOfInQuery(filter: BDoc): BDoc[] | undefined {
    if (this.fields.length !== 1) return undefined;
    const field = this.fields[0]!;
    const condition = filter.get(field.path);
    if (!isDoc(condition) || condition.size !== 1) return undefined;
    const values = condition.get('$in');
    if (!Array.isArray(values) || !values.every(isPlainEquality)) return undefined;
    return values.map(value => new Map([[field.path, field.hashed ? hash64(value) : value]]));
  }
}

const ShardKeyNotFound = 61;

function unsupported(spec: BDoc): ServerError {
  return new ServerError(
    2,
    `Unsupported shard key pattern ${describe(spec)}. Pattern must either be a single hashed field, or a list of ascending fields`
  );
}

function describe(spec: BDoc): string {
  const parts = [...spec].map(
    ([k, v]) => `${k}: ${typeof v === 'string' ? `"${v}"` : String(v?.valueOf())}`
  );
  return `{ ${parts.join(', ')} }`;
}

/** A value an equality on a shard key field decides (not an operator document, array, regex). */
function isPlainEquality(value: BValue): boolean {
  if (value === undefined || Array.isArray(value) || value instanceof BSONRegExp) return false;
  if (isDoc(value)) return ![...value.keys()].some(key => key.startsWith('$'));
  return true;
}

function equalityValue(filter: BDoc, path: string): BValue | undefined {
  const direct = filter.get(path);
  if (direct !== undefined) {
    if (isPlainEquality(direct)) return direct;
    if (isDoc(direct) && direct.size === 1 && direct.has('$eq')) {
      const eq = direct.get('$eq');
      return isPlainEquality(eq) ? eq : undefined;
    }
    return undefined;
  }
  const and = filter.get('$and');
  if (Array.isArray(and)) {
    for (const clause of and) {
      if (!isDoc(clause)) continue;
      const value = equalityValue(clause, path);
      if (value !== undefined) return value;
    }
  }
  return undefined;
}

/** Compares two shard keys (or chunk bounds) field by field, in BSON order. */
export function compareKeys(a: BDoc, b: BDoc): number {
  const av = [...a.values()];
  const bv = [...b.values()];
  for (let i = 0; i < Math.max(av.length, bv.length); i++) {
    const c = compareValuesBinary(av[i] ?? null, bv[i] ?? null);
    if (c !== 0) return c;
  }
  return 0;
}

/** mongod's canonical BSON type numbers (canonicalizeBSONType), as the hasher writes them. */
function hashType(value: BValue): number {
  if (value instanceof MinKey) return -1;
  if (value instanceof MaxKey) return 127;
  if (value === undefined) return 0;
  if (value === null) return 5;
  if (isNumber(value)) return 10;
  if (typeof value === 'string' || value instanceof BSONSymbol) return 15;
  if (isDoc(value)) return 20;
  if (Array.isArray(value)) return 25;
  if (value instanceof Binary) return 30;
  if (value instanceof ObjectId) return 35;
  if (typeof value === 'boolean') return 40;
  if (value instanceof Date) return 45;
  if (value instanceof Timestamp) return 47;
  if (value instanceof BSONRegExp) return 50;
  if (value instanceof Code) return value.scope ? 65 : 60;
  return 0;
}

function int32(n: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32LE(n);
  return out;
}

/** BSONElement::safeNumberLongForHash: NaN is 0, out-of-range doubles saturate, truncation. */
function numberForHash(value: Int32 | Double | Long | Decimal128): bigint {
  if (value instanceof Long) return value.toBigInt();
  if (value instanceof Int32) return BigInt(value.value);
  const d = value instanceof Double ? value.value : Number(value.toString());
  if (Number.isNaN(d)) return 0n;
  if (d >= 2 ** 63) return 0x7fffffffffffffffn;
  if (d < -(2 ** 63)) return -0x8000000000000000n;
  return BigInt(Math.trunc(d));
}

/** The BSON value bytes of a scalar (what BSONElement::value() spans). */
function valueBytes(value: BValue): Buffer {
  const encoded = encodeDocument(new Map<string, unknown>([['a', value]]));
  // int32 length, type byte, "a\0", value…, trailing 0.
  return encoded.subarray(4 + 1 + 2, encoded.length - 1);
}

function appendElement(parts: Buffer[], name: string | undefined, value: BValue): void {
  parts.push(int32(hashType(value)));
  if (name !== undefined) parts.push(Buffer.from(`${name}\0`, 'utf8'));
  if (isDoc(value) || Array.isArray(value)) {
    const entries: [string, BValue][] = isDoc(value)
      ? [...value]
      : value.map((element, i) => [String(i), element]);
    for (const [key, element] of entries) appendElement(parts, key, element);
    // The terminating EOO element: canonical type 0, no name, no value.
    parts.push(int32(0));
    return;
  }
  if (isNumber(value)) {
    const out = Buffer.alloc(8);
    out.writeBigInt64LE(BigInt.asIntN(64, numberForHash(value)));
    parts.push(out);
    return;
  }
  if (value === undefined || value === null || value instanceof MinKey || value instanceof MaxKey)
    return;
  parts.push(valueBytes(value));
}

/** BSONElementHasher::hash64(element, seed 0), as a Long. */
export function hash64(value: BValue): Long {
  const parts: Buffer[] = [int32(0)];
  appendElement(parts, undefined, value);
  const digest = createHash('md5').update(Buffer.concat(parts)).digest();
  return Long.fromBigInt(digest.readBigInt64LE(0));
}
