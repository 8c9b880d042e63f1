/**
 * The BSON decode options that keep every value's exact type, shared by everything that decodes
 * source data the target will receive: oplog entries, copied documents, catalog documents.
 */

/**
 * Numbers stay `Int32`/`Double`/`Long`/`Decimal128`, binaries stay `Binary` and regular
 * expressions stay `BSONRegExp` (with flags JavaScript lacks), so the target receives exactly
 * the source's types: a promoted `Int32(1)` and `Double(1)` would both become the JavaScript
 * number 1 and be re-encoded as one type, and a validator comparing against `NumberLong(5)` or a
 * TTL of `NumberLong(60)` would reach the target with another type.
 * @internal
 */
export const EXACT_DECODE_OPTIONS = Object.freeze({
  promoteValues: false,
  promoteLongs: false,
  promoteBuffers: false,
  bsonRegExp: true
} as const);
