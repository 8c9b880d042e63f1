/**
 * The canonical bytes of an `_id`: one byte form for every value MongoDB considers equal, so
 * that equal `_id`s hash, sort and compare alike whatever BSON type they were written with.
 * Lane routing hashes them (apply/lane-hash.ts), the splitter orders split points by them
 * (full/split-points.ts).
 *
 * - every number (Int32, Double, Long, Decimal128, JS number, bigint) becomes its exact decimal
 *   value, `[-]<digits>e<exponent>` with no leading or trailing zeros (`0`, `NaN`, `Inf`, `-Inf`
 *   for the special values, `-0` is `0`). A double's exact binary value is expanded in full, so
 *   Double 0.1 differs from Decimal128 "0.1", exactly as MongoDB compares them;
 * - strings (and the deprecated Symbol, which MongoDB compares as a string) as length-prefixed
 *   UTF-8; documents as their fields in order (MongoDB compares field order), arrays element by
 *   element, each value with a one-byte type tag, so `{a:1,b:2}` and `{b:2,a:1}` differ.
 */
/** One tag byte per MongoDB canonical type; numbers share one tag on purpose. */
const Tag = Object.freeze({
  minKey: 0x01,
  null: 0x02,
  number: 0x03,
  string: 0x04,
  document: 0x05,
  array: 0x06,
  binary: 0x07,
  objectId: 0x08,
  boolean: 0x09,
  date: 0x0a,
  timestamp: 0x0b,
  regex: 0x0c,
  code: 0x0d,
  maxKey: 0x0e
} as const);

/** Deeper than BSON's own nesting limit, so it only ever stops a cyclic JS object. */
const MAX_DEPTH = 200;
const utf8 = new TextEncoder();

/** A growable byte buffer, reused across calls (hashing is synchronous, so no one shares it). */
class ByteWriter {
  #buffer = new Uint8Array(256);
  #view = new DataView(this.#buffer.buffer);
  #length = 0;

  reset(): void {
    this.#length = 0;
  }

  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  u8(value: number): void {
    this.#reserve(1);
    this.#buffer[this.#length++] = value;
  }

  u32(value: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.#length, value, true);
    this.#length += 4;
  }

  f64(value: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.#length, value, true);
    this.#length += 8;
  }

  /** Length-prefixed, so adjacent values cannot run into each other. */
  raw(bytes: Uint8Array): void {
    this.u32(bytes.length);
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  text(value: string): void {
    // A UTF-8 encoding is at most 3 bytes per UTF-16 unit; encodeInto avoids an allocation.
    this.#reserve(4 + value.length * 3);
    const { written } = utf8.encodeInto(value, this.#buffer.subarray(this.#length + 4));
    this.#view.setUint32(this.#length, written, true);
    this.#length += 4 + written;
  }

  #reserve(extra: number): void {
    if (this.#length + extra <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = next;
    this.#view = new DataView(next.buffer);
  }
}

/** Shared by every call: encoding is synchronous, so no two calls interleave. */
const writer = new ByteWriter();

/**
 * The canonical bytes of `value` as a view of a shared buffer, valid only until the next call
 * (hashing reads it at once, without a copy).
 * @throws RangeError when `value` nests deeper than 200
 * @internal
 */
export function canonicalIdView(value: unknown): Uint8Array {
  writer.reset();
  writeValue(writer, value, 0);
  return writer.bytes();
}

/**
 * The canonical bytes of `value` (a copy).
 * @throws RangeError when `value` nests deeper than 200
 * @internal
 */
export function canonicalIdBytes(value: unknown): Uint8Array {
  return canonicalIdView(value).slice();
}

/** Duck-typed on `_bsontype`, so values from another loaded copy of `bson` hash the same. */
interface BsonLike {
  readonly _bsontype: string;
  [key: string]: unknown;
}

function writeValue(out: ByteWriter, value: unknown, depth: number): void {
  if (depth > MAX_DEPTH) throw new RangeError(`_id nests deeper than ${MAX_DEPTH} levels`);
  switch (typeof value) {
    case 'number':
    case 'bigint':
      out.u8(Tag.number);
      out.text(canonicalNumber(value));
      return;
    case 'string':
      out.u8(Tag.string);
      out.text(value);
      return;
    case 'boolean':
      out.u8(Tag.boolean);
      out.u8(value ? 1 : 0);
      return;
    case 'undefined':
      // The driver serialises undefined as null (ignoreUndefined is off by default).
      out.u8(Tag.null);
      return;
    case 'object':
      break;
    default:
      throw new TypeError(`Cannot hash a ${typeof value} _id`);
  }
  if (value === null) {
    out.u8(Tag.null);
    return;
  }
  if (typeof (value as BsonLike)._bsontype === 'string') {
    writeBsonValue(out, value as BsonLike, depth);
    return;
  }
  if (value instanceof Date) {
    out.u8(Tag.date);
    out.f64(value.getTime());
    return;
  }
  if (value instanceof Uint8Array) {
    // A Buffer or Uint8Array is serialised as Binary subtype 0.
    out.u8(Tag.binary);
    out.u8(0);
    out.raw(value);
    return;
  }
  if (value instanceof RegExp) {
    out.u8(Tag.regex);
    out.text(value.source);
    out.text([...value.flags].sort().join(''));
    return;
  }
  if (Array.isArray(value)) {
    out.u8(Tag.array);
    out.u32(value.length);
    for (const element of value) writeValue(out, element, depth + 1);
    return;
  }
  const withToBson = value as { toBSON?: () => unknown };
  if (typeof withToBson.toBSON === 'function') {
    writeValue(out, withToBson.toBSON(), depth + 1);
    return;
  }
  writeDocument(
    out,
    value instanceof Map ? [...value] : Object.entries(value as Record<string, unknown>),
    depth
  );
}

function writeDocument(
  out: ByteWriter,
  entries: Iterable<readonly [unknown, unknown]>,
  depth: number
): void {
  out.u8(Tag.document);
  for (const [key, field] of entries) {
    // The serializer skips functions; a field tag of 1 separates fields from the end marker.
    if (typeof field === 'function') continue;
    out.u8(1);
    out.text(String(key));
    writeValue(out, field, depth + 1);
  }
  out.u8(0);
}

function writeBsonValue(out: ByteWriter, value: BsonLike, depth: number): void {
  switch (value._bsontype) {
    case 'Int32':
    case 'Double':
      out.u8(Tag.number);
      out.text(canonicalNumber(value.value as number));
      return;
    case 'Long':
      out.u8(Tag.number);
      out.text(canonicalNumber((value as unknown as { toBigInt(): bigint }).toBigInt()));
      return;
    case 'Decimal128':
      out.u8(Tag.number);
      out.text(canonicalDecimal(String(value)));
      return;
    case 'ObjectId':
      out.u8(Tag.objectId);
      out.raw(value.id as Uint8Array);
      return;
    case 'Binary': {
      const buffer = value.buffer as Uint8Array;
      out.u8(Tag.binary);
      out.u8(value.sub_type as number);
      out.raw(buffer.subarray(0, value.position as number));
      return;
    }
    case 'Timestamp':
      out.u8(Tag.timestamp);
      out.u32(value.t as number);
      out.u32(value.i as number);
      return;
    case 'MinKey':
      out.u8(Tag.minKey);
      return;
    case 'MaxKey':
      out.u8(Tag.maxKey);
      return;
    case 'BSONSymbol':
      // MongoDB compares symbols as strings.
      out.u8(Tag.string);
      out.text(String(value.value));
      return;
    case 'BSONRegExp':
      out.u8(Tag.regex);
      out.text(String(value.pattern));
      out.text([...String(value.options)].sort().join(''));
      return;
    case 'Code': {
      out.u8(Tag.code);
      out.text(String(value.code));
      const scope = value.scope;
      if (scope == null) out.u8(0);
      else writeValue(out, scope, depth + 1);
      return;
    }
    case 'DBRef': {
      // The field order the serializer writes: $ref, $id, $db, then any extra fields.
      const entries: [string, unknown][] = [
        ['$ref', value.collection],
        ['$id', value.oid]
      ];
      if (value.db !== undefined) entries.push(['$db', value.db]);
      entries.push(...Object.entries((value.fields ?? {}) as Record<string, unknown>));
      writeDocument(out, entries, depth);
      return;
    }
    default:
      throw new TypeError(`Cannot hash a BSON ${value._bsontype} _id`);
  }
}

/**
 * `value` as `[-]<digits>e<exponent>` with the digits free of leading and trailing zeros, or
 * `0`, `NaN`, `Inf`, `-Inf`.
 * @internal
 */
export function canonicalNumber(value: number | bigint): string {
  if (typeof value === 'bigint')
    return normalizeDecimal(value < 0n, (value < 0n ? -value : value).toString(), 0);
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Inf';
  if (value === -Infinity) return '-Inf';
  if (value === 0) return '0';
  if (Number.isSafeInteger(value)) return normalizeDecimal(value < 0, String(Math.abs(value)), 0);
  if (Number.isInteger(value)) {
    return normalizeDecimal(value < 0, BigInt(Math.abs(value)).toString(), 0);
  }
  // A non-integer double is mantissa × 2^exponent with exponent < 0, which is exactly
  // mantissa × 5^-exponent × 10^exponent: a finite decimal, so equality stays exact.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(value));
  const bits = view.getBigUint64(0);
  const biased = Number(bits >> 52n);
  let mantissa = bits & 0xfffffffffffffn;
  let exponent: number;
  if (biased === 0) {
    exponent = -1074; // subnormal
  } else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  while ((mantissa & 1n) === 0n) {
    mantissa >>= 1n;
    exponent += 1;
  }
  return normalizeDecimal(value < 0, (mantissa * 5n ** BigInt(-exponent)).toString(), exponent);
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?(?:E([+-]\d+))?$/;

/**
 * A Decimal128's string form (`1.0`, `-1.00E+5`, `NaN`, `-Infinity`) in the canonical form of
 * {@link canonicalNumber}.
 * @internal
 */
export function canonicalDecimal(text: string): string {
  if (text === 'NaN' || text === '-NaN') return 'NaN';
  if (text === 'Infinity') return 'Inf';
  if (text === '-Infinity') return '-Inf';
  const match = DECIMAL.exec(text);
  if (!match) throw new TypeError(`Unexpected Decimal128 form ${JSON.stringify(text)}`);
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  return normalizeDecimal(sign === '-', whole + fraction, Number(exponent) - fraction.length);
}

function normalizeDecimal(negative: boolean, digits: string, exponent: number): string {
  let start = 0;
  while (start < digits.length && digits.charCodeAt(start) === 48) start++;
  if (start === digits.length) return '0';
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === 48) end--;
  return `${negative ? '-' : ''}${digits.slice(start, end)}e${exponent + digits.length - end}`;
}
