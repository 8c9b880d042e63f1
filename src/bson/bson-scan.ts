/**
 * Byte-level BSON primitives for reading documents in place, without decoding them: element
 * types, little-endian integers, how far an element's value extends, names, strings.
 */

/** BSON type of a UTF-8 string. @internal */
export const TYPE_STRING = 0x02;
/** BSON type of an embedded document. @internal */
export const TYPE_DOCUMENT = 0x03;
/** BSON type of a boolean. @internal */
export const TYPE_BOOLEAN = 0x08;
/** BSON type of a UTC datetime. @internal */
export const TYPE_DATE = 0x09;
/** BSON type of a timestamp. @internal */
export const TYPE_TIMESTAMP = 0x11;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A little-endian int32 at `at`. @internal */
export function int32(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
}

/** A little-endian uint32 at `at`. @internal */
export function uint32(bytes: Uint8Array, at: number): number {
  return int32(bytes, at) >>> 0;
}

/**
 * The offset just past the value of an element of `type` at `at`; -1 if it cannot be walked.
 * @internal
 */
export function valueEnd(bytes: Uint8Array, type: number, at: number, limit: number): number {
  let end: number;
  switch (type) {
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // MaxKey
    case 0xff: // MinKey
      end = at;
      break;
    case 0x08: // boolean
      end = at + 1;
      break;
    case 0x10: // int32
      end = at + 4;
      break;
    case 0x01: // double
    case 0x09: // date
    case 0x11: // timestamp
    case 0x12: // int64
      end = at + 8;
      break;
    case 0x07: // ObjectId
      end = at + 12;
      break;
    case 0x13: // Decimal128
      end = at + 16;
      break;
    case TYPE_STRING:
    case 0x0d: // JavaScript code
    case 0x0e: // symbol
      if (at + 4 > limit) return -1;
      end = at + 4 + int32(bytes, at);
      if (end <= at + 4) return -1;
      break;
    case 0x0c: // DBPointer: a string, then an ObjectId
      if (at + 4 > limit) return -1;
      end = at + 4 + int32(bytes, at) + 12;
      if (end <= at + 16) return -1;
      break;
    case TYPE_DOCUMENT:
    case 0x04: // array
    case 0x0f: // code with scope
      if (at + 4 > limit) return -1;
      end = at + int32(bytes, at);
      if (end < at + 5) return -1;
      break;
    case 0x05: // binary: length, subtype, bytes
      if (at + 4 > limit) return -1;
      end = at + 5 + int32(bytes, at);
      if (end < at + 5) return -1;
      break;
    case 0x0b: {
      // regular expression: two C strings
      const pattern = bytes.indexOf(0, at);
      if (pattern < 0 || pattern >= limit) return -1;
      const options = bytes.indexOf(0, pattern + 1);
      if (options < 0 || options >= limit) return -1;
      end = options + 1;
      break;
    }
    default:
      return -1;
  }
  return end <= limit ? end : -1;
}

/** Whether the bytes at `at` spell the ASCII `name`. @internal */
export function nameIs(bytes: Uint8Array, at: number, name: string): boolean {
  for (let k = 0; k < name.length; k++) if (bytes[at + k] !== name.charCodeAt(k)) return false;
  return true;
}

/** The UTF-8 string in [start, end), or `undefined` if it is not valid UTF-8. @internal */
export function utf8At(bytes: Uint8Array, start: number, end: number): string | undefined {
  try {
    return utf8.decode(bytes.subarray(start, end));
  } catch {
    return undefined;
  }
}
