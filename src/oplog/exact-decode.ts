/**
 * The BSON decode options that keep every value's exact type, shared by everything that decodes
 * source data the target will receive.
 */

/**
 * Numbers stay `Int32`/`Double`/`Long`/`Decimal128` and regular expressions stay `BSONRegExp`,
 * so the target receives exactly the source's types (a promoted `Int32(1)` and `Double(1)` would
 * both become the JavaScript number 1 and be re-encoded as one type).
 * @internal
 */
export const EXACT_DECODE_OPTIONS = Object.freeze({
  promoteValues: false,
  promoteLongs: false,
  bsonRegExp: true
});
