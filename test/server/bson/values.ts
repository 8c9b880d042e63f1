/**
 * The value model of the test server: documents keep their exact BSON types and field order.
 *
 * A document is a `Map` (insertion-ordered, so numeric-looking keys such as "10" and "9" keep their
 * order, which plain JS objects would not), an array is a JS array, and every scalar keeps its BSON
 * class (`Int32`, `Double`, `Long`, `Decimal128`, …) so int32 1 and double 1.0 stay distinct.
 * `bson.serialize` writes such a `Map` tree back byte for byte.
 */
import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp
} from 'bson';

/** A stored BSON document, in field order. */
export type BDoc = Map<string, BValue>;

/** Any BSON value as the test server holds it. */
export type BValue =
  | BDoc
  | BValue[]
  | string
  | boolean
  | null
  | undefined
  | Date
  | Int32
  | Double
  | Long
  | Decimal128
  | ObjectId
  | Binary
  | Timestamp
  | BSONRegExp
  | BSONSymbol
  | Code
  | MinKey
  | MaxKey;

export function isDoc(value: unknown): value is BDoc {
  return value instanceof Map;
}

export function isNumber(value: unknown): value is Int32 | Double | Long | Decimal128 {
  // bson 7's Timestamp extends Long, but it is not a number to mongod.
  return (
    value instanceof Int32 ||
    value instanceof Double ||
    (value instanceof Long && !(value instanceof Timestamp)) ||
    value instanceof Decimal128
  );
}

/**
 * mongod's canonical type order (`canonicalizeBSONType`): values of different types compare by this
 * number first. All numeric types share one bracket, as do strings and symbols.
 */
export function canonicalType(value: BValue): number {
  if (value === null || value === undefined) return 5;
  if (typeof value === 'string') return 15;
  if (typeof value === 'boolean') return 40;
  if (value instanceof Map) return 20;
  if (Array.isArray(value)) return 25;
  if (value instanceof Date) return 45;
  if (isNumber(value)) return 10;
  if (value instanceof ObjectId) return 35;
  if (value instanceof Binary) return 30;
  if (value instanceof Timestamp) return 47;
  if (value instanceof BSONRegExp) return 50;
  if (value instanceof BSONSymbol) return 15;
  if (value instanceof Code) return value.scope ? 65 : 60;
  if (value instanceof MinKey) return -1;
  if (value instanceof MaxKey) return 100;
  throw new TypeError(`Unsupported BSON value: ${String(value)}`);
}

/** The `$type` alias of a value, as mongod names it. */
export function typeAlias(value: BValue): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (value instanceof Map) return 'object';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  if (value instanceof Int32) return 'int';
  if (value instanceof Double) return 'double';
  if (value instanceof Timestamp) return 'timestamp';
  if (value instanceof Long) return 'long';
  if (value instanceof Decimal128) return 'decimal';
  if (value instanceof ObjectId) return 'objectId';
  if (value instanceof Binary) return 'binData';
  if (value instanceof Timestamp) return 'timestamp';
  if (value instanceof BSONRegExp) return 'regex';
  if (value instanceof BSONSymbol) return 'symbol';
  if (value instanceof Code) return value.scope ? 'javascriptWithScope' : 'javascript';
  if (value instanceof MinKey) return 'minKey';
  if (value instanceof MaxKey) return 'maxKey';
  return 'unknown';
}

/** BSON element type numbers by alias (for `$type` with a number). */
export const BSON_TYPE_NUMBERS: Readonly<Record<string, number>> = Object.freeze({
  double: 1,
  string: 2,
  object: 3,
  array: 4,
  binData: 5,
  undefined: 6,
  objectId: 7,
  bool: 8,
  date: 9,
  null: 10,
  regex: 11,
  dbPointer: 12,
  javascript: 13,
  symbol: 14,
  javascriptWithScope: 15,
  int: 16,
  timestamp: 17,
  long: 18,
  decimal: 19,
  minKey: -1,
  maxKey: 127
});

/** A numeric value as an exact-enough comparable: bigint when integral, number otherwise. */
export function numericValue(value: Int32 | Double | Long | Decimal128): number | bigint {
  if (value instanceof Int32) return value.value;
  if (value instanceof Double) return value.value;
  if (value instanceof Long) return value.toBigInt();
  const text = value.toString();
  if (/^-?\d+$/.test(text)) return BigInt(text);
  if (/^-?\d+E\+?\d+$/i.test(text)) {
    const [mantissa, exponent] = text.toUpperCase().split('E') as [string, string];
    const exp = Number(exponent);
    if (exp <= 40) return BigInt(mantissa) * 10n ** BigInt(exp);
  }
  if (text === 'NaN' || text === '-NaN') return NaN;
  if (text === 'Infinity') return Infinity;
  if (text === '-Infinity') return -Infinity;
  return Number(text);
}

/** A JS number for a numeric BSON value (may round a large Long). */
export function toNumber(value: BValue): number {
  if (value instanceof Timestamp) return NaN;
  if (value instanceof Int32 || value instanceof Double) return value.value;
  if (value instanceof Long) return value.toNumber();
  if (value instanceof Decimal128) return Number(value.toString());
  if (typeof value === 'boolean') return value ? 1 : 0;
  return NaN;
}

function compareNumeric(a: number | bigint, b: number | bigint): number {
  // mongod: NaN sorts below every other number and equals NaN.
  const aNaN = typeof a === 'number' && Number.isNaN(a);
  const bNaN = typeof b === 'number' && Number.isNaN(b);
  if (aNaN || bNaN) return aNaN && bNaN ? 0 : aNaN ? -1 : 1;
  if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
  // Mixed bigint/number: compare exactly where the number is integral, else by approximation.
  const [big, num, sign] =
    typeof a === 'bigint' ? [a, b as number, 1] : [b as bigint, a as number, -1];
  if (!Number.isFinite(num)) return num > 0 ? -sign : sign;
  if (Number.isInteger(num)) {
    const n = BigInt(num);
    return big < n ? -sign : big > n ? sign : 0;
  }
  const approx = Number(big);
  return approx < num ? -sign : approx > num ? sign : 0;
}

/** Compares two strings by Unicode code point (as mongod compares UTF-8 bytes). */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) {
      // Surrogates (0xD800-0xDFFF) encode code points above 0xFFFF: they sort after 0xE000-0xFFFF.
      const sa = ca >= 0xd800 && ca <= 0xdfff ? ca + 0x2000 : ca >= 0xe000 ? ca - 0x800 : ca;
      const sb = cb >= 0xd800 && cb <= 0xdfff ? cb + 0x2000 : cb >= 0xe000 ? cb - 0x800 : cb;
      return sa < sb ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** How a collation compares strings, and the key of a string's equality class under it. */
export interface StringCollation {
  compare(a: string, b: string): number;
  key(value: string): string;
}

/**
 * The collation of the statement running now (statements run synchronously), or undefined for
 * binary comparison: the fast path every comparison takes unless a command asked for one.
 */
let activeCollation: StringCollation | undefined;

/** Runs `work` with string values compared under `collation` (binary when undefined). */
export function withCollation<T>(collation: StringCollation | undefined, work: () => T): T {
  const saved = activeCollation;
  activeCollation = collation;
  try {
    return work();
  } finally {
    activeCollation = saved;
  }
}

/** The collation in effect (compiled matchers use it to notice a change). */
export function currentCollation(): StringCollation | undefined {
  return activeCollation;
}

/** compareValues without the running statement's collation (`_id` order, immutability). */
export function compareValuesBinary(a: BValue, b: BValue): number {
  if (activeCollation === undefined) return compareValues(a, b);
  return withCollation(undefined, () => compareValues(a, b));
}

/**
 * Total order over BSON values, as mongod sorts and compares them: string values (not field
 * names) under the running statement's collation, if any.
 */
export function compareValues(a: BValue, b: BValue): number {
  const ta = canonicalType(a);
  const tb = canonicalType(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  switch (ta) {
    case -1:
    case 5:
    case 100:
      return 0;
    case 10:
      return compareNumeric(
        numericValue(a as Int32 | Double | Long | Decimal128),
        numericValue(b as Int32 | Double | Long | Decimal128)
      );
    case 15:
      return activeCollation
        ? activeCollation.compare(stringOf(a), stringOf(b))
        : compareStrings(stringOf(a), stringOf(b));
    case 20:
      return compareDocs(a as BDoc, b as BDoc);
    case 25:
      return compareArrays(a as BValue[], b as BValue[]);
    case 30: {
      const ba = a as Binary;
      const bb = b as Binary;
      if (ba.position !== bb.position) return ba.position < bb.position ? -1 : 1;
      if (ba.sub_type !== bb.sub_type) return ba.sub_type < bb.sub_type ? -1 : 1;
      return compareBytes(ba.buffer.subarray(0, ba.position), bb.buffer.subarray(0, bb.position));
    }
    case 35:
      return compareBytes((a as ObjectId).id, (b as ObjectId).id);
    case 40:
      return a === b ? 0 : a ? 1 : -1;
    case 45: {
      const da = (a as Date).getTime();
      const db = (b as Date).getTime();
      return da < db ? -1 : da > db ? 1 : 0;
    }
    case 47: {
      const xa = a as Timestamp;
      const xb = b as Timestamp;
      return xa.t !== xb.t ? (xa.t < xb.t ? -1 : 1) : xa.i < xb.i ? -1 : xa.i > xb.i ? 1 : 0;
    }
    case 50: {
      const ra = a as BSONRegExp;
      const rb = b as BSONRegExp;
      return compareStrings(ra.pattern, rb.pattern) || compareStrings(ra.options, rb.options);
    }
    default:
      return compareStrings(String((a as Code).code), String((b as Code).code));
  }
}

function stringOf(value: BValue): string {
  return typeof value === 'string' ? value : (value as BSONSymbol).valueOf();
}

function compareDocs(a: BDoc, b: BDoc): number {
  const ia = a.entries();
  const ib = b.entries();
  for (;;) {
    const ea = ia.next();
    const eb = ib.next();
    if (ea.done || eb.done) return ea.done && eb.done ? 0 : ea.done ? -1 : 1;
    const [ka, va] = ea.value;
    const [kb, vb] = eb.value;
    const types = canonicalType(va) - canonicalType(vb);
    if (types !== 0) return types < 0 ? -1 : 1;
    const names = compareStrings(ka, kb);
    if (names !== 0) return names;
    const values = compareValues(va, vb);
    if (values !== 0) return values;
  }
}

function compareArrays(a: BValue[], b: BValue[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const types = canonicalType(a[i]) - canonicalType(b[i]);
    if (types !== 0) return types < 0 ? -1 : 1;
    const values = compareValues(a[i], b[i]);
    if (values !== 0) return values;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** valuesEqual without the running statement's collation (catalog specs, `_id` checks). */
export function valuesEqualBinary(a: BValue, b: BValue): boolean {
  return compareValuesBinary(a, b) === 0;
}

/** True when mongod would treat the two values as equal (1, 1.0 and NumberLong(1) are equal). */
export function valuesEqual(a: BValue, b: BValue): boolean {
  return compareValues(a, b) === 0;
}

/**
 * True when two values are identical including BSON types and field order (what a replica must
 * reproduce). int32 1 and double 1.0 are *not* identical.
 */
export function valuesIdentical(a: BValue, b: BValue): boolean {
  if (a === b) return true;
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    const ib = (b as BDoc).entries();
    for (const [ka, va] of a) {
      const next = ib.next();
      if (next.done) return false;
      const [kb, vb] = next.value as [string, BValue];
      if (ka !== kb || !valuesIdentical(va, vb)) return false;
    }
    return true;
  }
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => valuesIdentical(v, b[i]));
  }
  if (typeAlias(a) !== typeAlias(b)) return false;
  if (a instanceof Double && b instanceof Double) {
    return Object.is(a.value, b.value);
  }
  return compareValuesBinary(a, b) === 0;
}

/**
 * A string that is equal for exactly the values mongod treats as equal (binary string
 * comparison), for hashing: `_id` lookups and unique index keys.
 */
export function keyOf(value: BValue): string {
  return keyUnder(value, undefined);
}

/**
 * keyOf under the running statement's collation: strings equal under it get the same key. For
 * `$in`, `$group`, `$addToSet` and `distinct`.
 */
export function equalityKey(value: BValue): string {
  return keyUnder(value, activeCollation);
}

/** keyOf under a given collation (a collated index's keys); binary when undefined. */
export function keyUnder(value: BValue, collation: StringCollation | undefined): string {
  if (value === null || value === undefined) return 'z';
  if (typeof value === 'string') {
    return collation ? 's' + collation.key(value) : JSON.stringify(value);
  }
  if (typeof value === 'boolean') return value ? 'T' : 'F';
  if (value instanceof Map) {
    let out = '{';
    for (const [k, v] of value) out += JSON.stringify(k) + ':' + keyUnder(v, collation) + ',';
    return out + '}';
  }
  if (Array.isArray(value)) return '[' + value.map(v => keyUnder(v, collation)).join(',') + ']';
  if (value instanceof Int32) return 'n' + value.value;
  if (isNumber(value)) {
    const n = numericValue(value);
    if (typeof n === 'bigint') return 'n' + n.toString();
    if (Number.isSafeInteger(n)) return 'n' + (n === 0 ? 0 : n);
    if (Number.isInteger(n)) return 'n' + BigInt(n).toString();
    return 'n' + String(n);
  }
  if (value instanceof ObjectId) return 'o' + value.toHexString();
  if (value instanceof Date) return 'd' + value.getTime();
  if (value instanceof Binary) {
    return (
      'b' +
      value.sub_type +
      ':' +
      Buffer.from(value.buffer.subarray(0, value.position)).toString('hex')
    );
  }
  if (value instanceof Timestamp) return 't' + value.t + ':' + value.i;
  if (value instanceof BSONRegExp) return 'r/' + value.pattern + '/' + value.options;
  if (value instanceof BSONSymbol) {
    return collation ? 's' + collation.key(value.valueOf()) : JSON.stringify(value.valueOf());
  }
  if (value instanceof MinKey) return 'm-';
  if (value instanceof MaxKey) return 'm+';
  if (value instanceof Code) return 'c' + JSON.stringify(String(value.code));
  throw new TypeError(`Unsupported BSON value: ${String(value)}`);
}

/** Deep copy of a value; scalars are immutable and shared. */
export function cloneValue<T extends BValue>(value: T): T {
  return cloneAny(value) as T;
}

function cloneAny(value: BValue): BValue {
  if (value instanceof Map) {
    const copy: BDoc = new Map();
    for (const [k, v] of value as BDoc) copy.set(k, cloneAny(v));
    return copy;
  }
  if (Array.isArray(value)) return value.map(cloneAny);
  return value;
}

/** Builds a document from `[key, value]` pairs or a plain object (keys in JS order). */
export function doc(entries: Iterable<[string, BValue]> | Record<string, BValue> = []): BDoc {
  if (entries instanceof Map || Array.isArray(entries))
    return new Map(entries as Iterable<[string, BValue]>);
  if (Symbol.iterator in entries) return new Map(entries as Iterable<[string, BValue]>);
  return new Map(Object.entries(entries));
}

/** A truthy check as mongod's expression language has it (`$cond`, `$and`, …). */
export function isTruthy(value: BValue): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (isNumber(value)) {
    const n = numericValue(value);
    return typeof n === 'bigint' ? n !== 0n : n !== 0;
  }
  return true;
}
