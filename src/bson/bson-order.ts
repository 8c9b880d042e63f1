/**
 * MongoDB's order of BSON values (`BSONElement::woCompare` without a collation), on raw values:
 * the order in which an `_id` index returns documents, so the verifier can merge the source's and
 * the target's documents of one range as two sorted streams.
 *
 * - Values of different types compare by canonical type, lowest first: MinKey, undefined, null,
 *   numbers, strings and symbols, documents, arrays, binary, ObjectId, booleans, dates,
 *   timestamps, regular expressions, DBPointer, code, code with scope, MaxKey.
 * - Numbers compare by exact value whatever their type (Int32 1, Long 1, Double 1.0 and
 *   Decimal128 "1.00" are equal; NaN is below every other number).
 * - Strings compare by their UTF-8 bytes (the simple collation); documents field by field
 *   (canonical type, then name, then value), so field order matters; binary by length, then
 *   subtype and bytes.
 *
 * Equality here is MongoDB's `_id` equality, the one `sameId` in split-points.ts decides from
 * canonical bytes; unit tests hold the two together.
 */
import { Decimal128 } from 'mongodb';

import { canonicalDecimal, canonicalNumber } from './canonical-id.js';
import { rawElements, type RawValue, readInt32 } from './raw-bson.js';

/** `canonicalizeBSONType` of mongod, by BSON element type. */
function canonicalType(type: number): number {
  switch (type) {
    case 0xff:
      return -1; // MinKey
    case 0x06:
      return 0; // undefined
    case 0x0a:
      return 5; // null
    case 0x01:
    case 0x10:
    case 0x12:
    case 0x13:
      return 10; // numbers
    case 0x02:
    case 0x0e:
      return 15; // string, symbol
    case 0x03:
      return 20;
    case 0x04:
      return 25;
    case 0x05:
      return 30;
    case 0x07:
      return 35;
    case 0x08:
      return 40;
    case 0x09:
      return 45;
    case 0x11:
      return 47;
    case 0x0b:
      return 50;
    case 0x0c:
      return 55;
    case 0x0d:
      return 60;
    case 0x0f:
      return 65;
    case 0x7f:
      return 100; // MaxKey
    default:
      throw new RangeError(`Unknown BSON element type 0x${type.toString(16)}`);
  }
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

/**
 * Compares two raw BSON values in MongoDB's order: negative, 0 (equal as `_id`s) or positive.
 * @throws RangeError for malformed BSON
 * @internal
 */
export function compareRawValues(a: RawValue, b: RawValue): number {
  const types = canonicalType(a.type) - canonicalType(b.type);
  if (types !== 0) return sign(types);
  const x = a.bytes;
  const y = b.bytes;
  switch (a.type) {
    case 0xff:
    case 0x06:
    case 0x0a:
    case 0x7f:
      return 0;
    case 0x01:
    case 0x10:
    case 0x12:
    case 0x13:
      return compareNumbers(a, b);
    case 0x02:
    case 0x0e:
    case 0x0d:
      return compareStringValues(x, y);
    case 0x03:
    case 0x04:
      return compareDocuments(x, y);
    case 0x05: {
      const lengths = readInt32(x, 0) - readInt32(y, 0);
      // Then the subtype byte and the data, as one run of bytes.
      return lengths !== 0 ? sign(lengths) : compareBytes(x.subarray(4), y.subarray(4));
    }
    case 0x07: // ObjectId
    case 0x08: // boolean: 0 or 1
      return compareBytes(x, y);
    case 0x09: // date: signed milliseconds
      return compareBigInts(readInt64(x), readInt64(y));
    case 0x11: // timestamp: unsigned, the seconds in the high half
      return compareBigInts(readUint64(x), readUint64(y));
    case 0x0b: {
      // Pattern, then options; each C string ends with the NUL that the other's content lacks.
      const [patternX, optionsX] = splitCStrings(x);
      const [patternY, optionsY] = splitCStrings(y);
      return compareBytes(patternX, patternY) || compareBytes(optionsX, optionsY);
    }
    case 0x0c: {
      // mongod: the namespace string's length first, then the bytes.
      const lengths = readInt32(x, 0) - readInt32(y, 0);
      return lengths !== 0 ? sign(lengths) : compareBytes(x, y);
    }
    case 0x0f: {
      // Code with scope: total length, code string, scope document.
      const codeX = x.subarray(4, 8 + readInt32(x, 4));
      const codeY = y.subarray(4, 8 + readInt32(y, 4));
      return (
        compareStringValues(codeX, codeY) ||
        compareDocuments(x.subarray(4 + codeX.length), y.subarray(4 + codeY.length))
      );
    }
    default:
      throw new RangeError(`Unknown BSON element type 0x${a.type.toString(16)}`);
  }
}

/** Byte-wise, a shorter prefix first: `memcmp` and then lengths, as mongod compares. */
function compareBytes(x: Uint8Array, y: Uint8Array): number {
  return Buffer.compare(x, y);
}

/** A length-prefixed, NUL-terminated string value: its bytes without prefix and NUL. */
function compareStringValues(x: Uint8Array, y: Uint8Array): number {
  return compareBytes(x.subarray(4, x.length - 1), y.subarray(4, y.length - 1));
}

function splitCStrings(bytes: Uint8Array): [Uint8Array, Uint8Array] {
  const first = bytes.indexOf(0);
  return [bytes.subarray(0, first), bytes.subarray(first + 1, bytes.length - 1)];
}

/** Embedded documents (and arrays): element by element, canonical type, name, then value. */
function compareDocuments(x: Uint8Array, y: Uint8Array): number {
  const left = rawElements(x);
  const right = rawElements(y);
  for (;;) {
    const l = left.next();
    const r = right.next();
    if (l.done === true) return r.done === true ? 0 : -1;
    if (r.done === true) return 1;
    const types = canonicalType(l.value.type) - canonicalType(r.value.type);
    if (types !== 0) return sign(types);
    const names = compareBytes(l.value.name, r.value.name);
    if (names !== 0) return names;
    const values = compareRawValues(l.value, r.value);
    if (values !== 0) return values;
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function readInt64(bytes: Uint8Array): bigint {
  return view(bytes).getBigInt64(0, true);
}

function readUint64(bytes: Uint8Array): bigint {
  return view(bytes).getBigUint64(0, true);
}

function compareBigInts(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A numeric value: a double (int32 widened exactly), an int64, or a canonical decimal. */
type NumericValue =
  | { readonly kind: 'double'; readonly value: number }
  | { readonly kind: 'int64'; readonly value: bigint }
  | { readonly kind: 'decimal'; readonly value: string };

function numericValue(value: RawValue): NumericValue {
  switch (value.type) {
    case 0x01:
      return { kind: 'double', value: view(value.bytes).getFloat64(0, true) };
    case 0x10:
      return { kind: 'double', value: readInt32(value.bytes, 0) };
    case 0x12:
      return { kind: 'int64', value: readInt64(value.bytes) };
    default:
      return { kind: 'decimal', value: canonicalDecimal(new Decimal128(value.bytes).toString()) };
  }
}

/** Exact comparison across numeric types; NaN equals NaN and is below everything else. */
function compareNumbers(a: RawValue, b: RawValue): number {
  const x = numericValue(a);
  const y = numericValue(b);
  if (x.kind === 'double' && y.kind === 'double') return compareDoubles(x.value, y.value);
  if (x.kind === 'int64' && y.kind === 'int64') return compareBigInts(x.value, y.value);
  if (x.kind === 'double' && y.kind === 'int64') return compareDoubleToInteger(x.value, y.value);
  if (x.kind === 'int64' && y.kind === 'double')
    return 0 - compareDoubleToInteger(y.value, x.value);
  return compareCanonicalDecimals(canonicalOf(x), canonicalOf(y));
}

function canonicalOf(value: NumericValue): string {
  return value.kind === 'decimal' ? value.value : canonicalNumber(value.value);
}

function compareDoubles(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) {
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareDoubleToInteger(a: number, b: bigint): number {
  if (Number.isNaN(a)) return -1;
  if (a === Infinity) return 1;
  if (a === -Infinity) return -1;
  // floor(a) < b means a < floor(a) + 1 <= b; otherwise a >= floor(a) >= b.
  const floor = BigInt(Math.floor(a));
  if (floor < b) return -1;
  if (floor > b) return 1;
  return Number.isInteger(a) ? 0 : 1;
}

/** Where a canonical number falls before its digits matter. */
function numberClass(canonical: string): number {
  if (canonical === 'NaN') return 0;
  if (canonical === '-Inf') return 1;
  if (canonical === '0') return 3;
  if (canonical === 'Inf') return 5;
  return canonical.startsWith('-') ? 2 : 4;
}

/**
 * Compares two numbers in the canonical form of `canonicalNumber` (`[-]<digits>e<exponent>`,
 * digits without leading or trailing zeros, or `0`, `NaN`, `Inf`, `-Inf`).
 * @internal
 */
export function compareCanonicalDecimals(a: string, b: string): number {
  const classes = numberClass(a) - numberClass(b);
  if (classes !== 0) return sign(classes);
  const cls = numberClass(a);
  if (cls !== 2 && cls !== 4) return 0;
  const magnitude = compareMagnitudes(a.replace(/^-/, ''), b.replace(/^-/, ''));
  return cls === 2 ? 0 - magnitude : magnitude;
}

/** Two positive canonical numbers: by the position of the leading digit, then digit by digit. */
function compareMagnitudes(a: string, b: string): number {
  const [digitsA = '', exponentA = '0'] = a.split('e');
  const [digitsB = '', exponentB = '0'] = b.split('e');
  const leadingA = digitsA.length + Number(exponentA);
  const leadingB = digitsB.length + Number(exponentB);
  if (leadingA !== leadingB) return leadingA < leadingB ? -1 : 1;
  // Same leading position: no trailing zeros, so a digit string that is a prefix is smaller.
  return digitsA < digitsB ? -1 : digitsA > digitsB ? 1 : 0;
}
