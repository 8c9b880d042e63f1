/**
 * Driver read options that keep every BSON value as it is stored: an int32 stays an `Int32`, an
 * int64 a `Long`, a regular expression a `BSONRegExp` (with flags JavaScript lacks). Catalog
 * documents read this way are written back unchanged, so a validator comparing against
 * `NumberLong(5)` or a TTL of `NumberLong(60)` reaches the target with the same types.
 */

/**
 * BSON deserialisation options for catalog reads.
 * @internal
 */
export const EXACT_TYPES = Object.freeze({
  promoteValues: false,
  promoteLongs: false,
  promoteBuffers: false,
  bsonRegExp: true
} as const);
