/**
 * MongoDB's KeyString (version 1) encoding of BSON values, as resume tokens use it: each value is a
 * type byte ("ctype") followed by a byte-comparable body, so tokens sort byte-wise in the order
 * mongod sorts the underlying tuples (mongo `key_string.cpp`; layout cross-checked with the npm
 * package mongodb-resumetoken-decoder).
 *
 * Exact for every type a resume token holds (Timestamp, int32, bool, UUID, strings, objects) and
 * for integral numbers in a documentKey. Not byte-exact, only order-preserving: non-integral
 * doubles and Decimal128 (encoded through their double value), and no `_typeBits` are produced.
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

import { type BValue } from '../bson/values.js';

/** KeyString type bytes (`key_string.cpp` `CType`). */
export const CType = Object.freeze({
  minKey: 0x0a,
  undefined: 0x0f,
  nullish: 0x14,
  /** kNumeric: also the generic type byte of every number in an object's field list. */
  numericNaN: 0x1e,
  negativeLargeMagnitude: 0x1f,
  negative1ByteInt: 0x27,
  negativeSmallMagnitude: 0x28,
  zero: 0x29,
  positiveSmallMagnitude: 0x2a,
  positive1ByteInt: 0x2b,
  positiveLargeMagnitude: 0x33,
  stringLike: 0x3c,
  object: 0x46,
  array: 0x50,
  binData: 0x5a,
  oid: 0x64,
  boolFalse: 0x6e,
  boolTrue: 0x6f,
  date: 0x78,
  timestamp: 0x82,
  regEx: 0x8c,
  code: 0xa0,
  codeWithScope: 0xaa,
  maxKey: 0xf0,
  end: 0x04
});

/** Appends KeyString bytes to a growing list. */
export class KeyStringBuilder {
  readonly #bytes: number[] = [];

  /** The encoded bytes so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.#bytes);
  }

  /** Closes the key (kEnd), as mongod does after the last value. */
  end(): this {
    this.#bytes.push(CType.end);
    return this;
  }

  /** Appends one value with its type byte; a JS number stands for an integer (int32 in mongod). */
  append(value: BValue | number): this {
    if (typeof value === 'number') {
      this.#integer(BigInt(value));
      return this;
    }
    this.#value(value);
    return this;
  }

  #push(...bytes: number[]): void {
    for (const b of bytes) this.#bytes.push(b & 0xff);
  }

  #raw(buffer: Uint8Array, invert = false): void {
    for (const b of buffer) this.#bytes.push(invert ? ~b & 0xff : b);
  }

  #value(value: BValue): void {
    if (value === undefined) return this.#push(CType.undefined);
    if (value === null) return this.#push(CType.nullish);
    if (typeof value === 'boolean') return this.#push(value ? CType.boolTrue : CType.boolFalse);
    if (typeof value === 'string') {
      this.#push(CType.stringLike);
      return this.#cstringEscaped(value);
    }
    if (value instanceof BSONSymbol) {
      this.#push(CType.stringLike);
      return this.#cstringEscaped(value.valueOf());
    }
    if (value instanceof Map) {
      this.#push(CType.object);
      for (const [name, field] of value) {
        // Fields order by (ctype, name, value): the ctype is written once before the name and
        // once more as part of the value.
        this.#push(ctypeOf(field));
        this.#raw(Buffer.from(name, 'utf8'));
        this.#push(0);
        this.#value(field);
      }
      return this.#push(0);
    }
    if (Array.isArray(value)) {
      this.#push(CType.array);
      for (const element of value) this.#value(element);
      return this.#push(0);
    }
    // Timestamp extends Long in bson 7, so it must be tested before the numbers.
    if (value instanceof Timestamp) {
      this.#push(CType.timestamp);
      return this.#uint32(value.t, value.i);
    }
    if (value instanceof Int32) return this.#integer(BigInt(value.value));
    if (value instanceof Long) return this.#integer(value.toBigInt());
    if (value instanceof Double) return this.#double(value.value);
    if (value instanceof Decimal128) return this.#double(Number(value.toString()));
    if (value instanceof ObjectId) {
      this.#push(CType.oid);
      return this.#raw(value.id);
    }
    if (value instanceof Binary) {
      const data = value.buffer.subarray(0, value.position);
      this.#push(CType.binData);
      if (data.length < 0xff) this.#push(data.length);
      else this.#push(0xff, ...uint32BE(data.length));
      this.#push(value.sub_type);
      return this.#raw(data);
    }
    if (value instanceof Date) {
      this.#push(CType.date);
      // int64 millis with the sign bit flipped, so negative dates sort first.
      const bits = BigInt.asUintN(64, BigInt(value.getTime())) ^ (1n << 63n);
      return this.#raw(uint64BE(bits));
    }
    if (value instanceof BSONRegExp) {
      this.#push(CType.regEx);
      this.#raw(Buffer.from(value.pattern, 'utf8'));
      this.#push(0);
      this.#raw(Buffer.from(value.options, 'utf8'));
      return this.#push(0);
    }
    if (value instanceof Code) {
      this.#push(value.scope ? CType.codeWithScope : CType.code);
      return this.#cstringEscaped(String(value.code));
    }
    if (value instanceof MinKey) return this.#push(CType.minKey);
    if (value instanceof MaxKey) return this.#push(CType.maxKey);
    throw new TypeError(`Cannot KeyString-encode ${String(value)}`);
  }

  #uint32(...values: number[]): void {
    for (const v of values) this.#push(...uint32BE(v));
  }

  /** A string body: UTF-8 with NUL escaped as 00 FF, terminated by 00. */
  #cstringEscaped(text: string): void {
    for (const b of Buffer.from(text, 'utf8')) {
      if (b === 0) this.#push(0, 0xff);
      else this.#push(b);
    }
    this.#push(0);
  }

  #integer(n: bigint): void {
    if (n === 0n) return this.#push(CType.zero);
    const negative = n < 0n;
    const magnitude = negative ? -n : n;
    if (magnitude >= 1n << 63n) return this.#double(Number(n));
    this.#preshifted(magnitude << 1n, negative);
  }

  /** `_appendPreshiftedIntegerPortion`: a length-tagged big-endian magnitude (inverted if < 0). */
  #preshifted(value: bigint, negative: boolean, fraction?: Uint8Array): void {
    let length = 0;
    for (let v = value; v > 0n; v >>= 8n) length++;
    this.#push(
      negative ? CType.negative1ByteInt - (length - 1) : CType.positive1ByteInt + length - 1
    );
    const bytes = uint64BE(value).subarray(8 - length);
    this.#raw(bytes, negative);
    if (fraction) this.#raw(fraction, negative);
  }

  #double(d: number): void {
    if (Number.isNaN(d)) return this.#push(CType.numericNaN);
    if (d === 0) return this.#push(CType.zero);
    const negative = d < 0;
    const magnitude = Math.abs(d);
    if (magnitude >= 2 ** 63) {
      this.#push(negative ? CType.negativeLargeMagnitude : CType.positiveLargeMagnitude);
      return this.#raw(doubleBits(magnitude), negative);
    }
    if (magnitude < 1) {
      this.#push(negative ? CType.negativeSmallMagnitude : CType.positiveSmallMagnitude);
      return this.#raw(doubleBits(magnitude), negative);
    }
    const integerPart = Math.floor(magnitude);
    if (integerPart === magnitude) return this.#integer(BigInt(d));
    // Order-preserving stand-in for mongod's fractional encoding: the integer part with its low
    // bit set (so x.y sorts after x), then the fraction as a 64-bit binary fraction.
    const fraction = BigInt(Math.floor((magnitude - integerPart) * 2 ** 53)) << 11n;
    this.#preshifted((BigInt(integerPart) << 1n) | 1n, negative, uint64BE(fraction));
  }
}

/**
 * The generic type byte written before a field name (`bsonTypeToGenericKeyStringType`): one per
 * BSON type bracket, so all numbers share kNumeric and both booleans kBool.
 */
function ctypeOf(value: BValue): number {
  if (value === null) return CType.nullish;
  if (typeof value === 'boolean') return CType.boolFalse;
  if (value instanceof Timestamp) return CType.timestamp;
  if (
    value instanceof Int32 ||
    value instanceof Long ||
    value instanceof Double ||
    value instanceof Decimal128
  ) {
    return CType.numericNaN;
  }
  return new KeyStringBuilder().append(value).toBuffer()[0]!;
}

function uint32BE(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function uint64BE(n: bigint): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt.asUintN(64, n));
  return out;
}

function doubleBits(d: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeDoubleBE(d);
  return out;
}

/** Reads the leading, fixed-shape values of a KeyString (what a resume token's prefix holds). */
export class KeyStringReader {
  #offset = 0;
  constructor(private readonly bytes: Buffer) {}

  get offset(): number {
    return this.#offset;
  }

  peek(): number | undefined {
    return this.bytes[this.#offset];
  }

  /** The undecoded remainder, e.g. a token's eventIdentifier, kept as bytes. */
  rest(): Buffer {
    return this.bytes.subarray(this.#offset);
  }

  readTimestamp(): Timestamp {
    this.#expect(CType.timestamp);
    const t = this.#u32();
    const i = this.#u32();
    return new Timestamp({ t, i });
  }

  /** A non-negative integer below 2^63 (token version, tokenType, txnOpIndex). */
  readUnsigned(): number {
    const ctype = this.#byte();
    if (ctype === CType.zero) return 0;
    const length = ctype - CType.positive1ByteInt + 1;
    if (length < 1 || length > 8) throw new Error(`not a non-negative integer: ctype ${ctype}`);
    let value = 0n;
    for (let k = 0; k < length; k++) value = (value << 8n) | BigInt(this.#byte());
    if ((value & 1n) !== 0n) throw new Error('not an integer');
    return Number(value >> 1n);
  }

  readBool(): boolean {
    const ctype = this.#byte();
    if (ctype !== CType.boolFalse && ctype !== CType.boolTrue) throw new Error('not a bool');
    return ctype === CType.boolTrue;
  }

  /** A UUID (BinData subtype 4 of 16 bytes), or undefined for an explicit null. */
  readUuidOrNull(): Binary | undefined {
    const ctype = this.#byte();
    if (ctype === CType.nullish) return undefined;
    if (ctype !== CType.binData) throw new Error('not a UUID');
    const size = this.#byte();
    const subtype = this.#byte();
    const data = this.bytes.subarray(this.#offset, this.#offset + size);
    if (data.length !== size) throw new Error('truncated BinData');
    this.#offset += size;
    return new Binary(Buffer.from(data), subtype);
  }

  #expect(ctype: number): void {
    const got = this.#byte();
    if (got !== ctype) throw new Error(`expected ctype ${ctype}, found ${got}`);
  }

  #byte(): number {
    const b = this.bytes[this.#offset];
    if (b === undefined) throw new Error('KeyString ended early');
    this.#offset++;
    return b;
  }

  #u32(): number {
    if (this.#offset + 4 > this.bytes.length) throw new Error('KeyString ended early');
    const v = this.bytes.readUInt32BE(this.#offset);
    this.#offset += 4;
    return v;
  }
}
