/**
 * Just enough of a BSON reader to find a raw document's `_id` and walk embedded documents, so
 * the verifier orders and compares documents without decoding them: decoding would cost far
 * more than the comparison, and could blur what is compared (BSON `undefined` decodes as `null`).
 */
import { BSON } from 'mongodb';

import { int32, valueEnd } from './bson-scan.js';
import { EXACT_DECODE_OPTIONS } from './exact-decode.js';

/**
 * One BSON value as stored: its element type byte and the bytes of its value (a view into the
 * document, not a copy).
 * @internal
 */
export interface RawValue {
  /** The BSON element type (0x01 double … 0x13 decimal128, 0xff MinKey, 0x7f MaxKey). */
  readonly type: number;
  /** The value's bytes, without the type byte and the field name. */
  readonly bytes: Uint8Array;
}

/**
 * One element of a raw BSON document.
 * @internal
 */
export interface RawElement extends RawValue {
  /** The field name's UTF-8 bytes, without the terminating NUL. */
  readonly name: Uint8Array;
}

/** The document's own length prefix and final NUL. */
const DOCUMENT_OVERHEAD = 5;
const ID_NAME = new Uint8Array([0x5f, 0x69, 0x64]); // "_id"

/**
 * The little-endian signed int32 at `offset`.
 * @throws RangeError when fewer than four bytes are left
 * @internal
 */
export function readInt32(bytes: Uint8Array, offset: number): number {
  if (offset + 4 > bytes.length) throw new RangeError('Truncated BSON');
  return int32(bytes, offset);
}

function cstringEnd(bytes: Uint8Array, offset: number, end: number): number {
  const at = bytes.indexOf(0, offset);
  if (at < 0 || at >= end) throw new RangeError('Unterminated BSON string');
  return at;
}

/**
 * The elements of a raw BSON document (or array, or the scope of code with scope), in order.
 * @throws RangeError for malformed BSON
 * @internal
 */
export function* rawElements(document: Uint8Array): Generator<RawElement, void, void> {
  const size = readInt32(document, 0);
  if (size < DOCUMENT_OVERHEAD || size > document.length) throw new RangeError('Bad BSON length');
  const end = size - 1;
  let offset = 4;
  while (offset < end) {
    const type = document[offset]!;
    const nameEnd = cstringEnd(document, offset + 1, end);
    const start = nameEnd + 1;
    const valueStop = valueEnd(document, type, start, end);
    if (valueStop < 0)
      throw new RangeError(`Truncated or unknown BSON element (type 0x${type.toString(16)})`);
    yield {
      type,
      name: document.subarray(offset + 1, nameEnd),
      bytes: document.subarray(start, valueStop)
    };
    offset = valueStop;
  }
}

function isIdName(name: Uint8Array): boolean {
  return (
    name.length === 3 && name[0] === ID_NAME[0] && name[1] === ID_NAME[1] && name[2] === ID_NAME[2]
  );
}

/**
 * The `_id` of a raw document, or `undefined` when it has none. mongod stores `_id` first, so
 * this usually reads one element.
 * @throws RangeError for malformed BSON
 * @internal
 */
export function rawId(document: Uint8Array): RawValue | undefined {
  for (const element of rawElements(document)) {
    if (isIdName(element.name)) return { type: element.type, bytes: element.bytes };
  }
  return undefined;
}

/**
 * `value` decoded with its exact BSON type (an Int32 stays an Int32), for reports and events.
 * @internal
 */
export function decodeRawValue(value: RawValue): unknown {
  // A one-field document {_id: value}: length, type, "_id\0", the value, the final NUL.
  const size = 4 + 1 + 4 + value.bytes.length + 1;
  const document = new Uint8Array(size);
  new DataView(document.buffer).setInt32(0, size, true);
  document[4] = value.type;
  document.set(ID_NAME, 5);
  document.set(value.bytes, 9);
  return BSON.deserialize(document, EXACT_DECODE_OPTIONS)._id as unknown;
}
