/**
 * Checks and descriptions of BSON values that the rest of the library shares: recognising a
 * Timestamp from any loaded copy of `bson`, and naming an `_id` by its type only.
 */
import { type Timestamp } from 'mongodb';

/**
 * True for a BSON Timestamp from any loaded copy of `bson`: checked by brand, not
 * `instanceof`, since a host may load a second copy.
 * @internal
 */
export function isTimestamp(value: unknown): value is Timestamp {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as { _bsontype?: unknown })._bsontype === 'Timestamp'
  );
}

/**
 * The BSON type name of a value as decoded (`string`, `int`, `ObjectId`, `document`, …).
 * @internal
 */
export function bsonTypeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') {
    const bson = (value as { _bsontype?: unknown })._bsontype;
    if (typeof bson === 'string') return bson;
    return Array.isArray(value) ? 'array' : 'document';
  }
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'double';
  return typeof value;
}

/**
 * An `_id` by its type only (`_id of type string`): an `_id` is document data too (an email, a
 * customer number), so its value never goes into messages, events or logs.
 * @internal
 */
export function describeId(id: unknown): string {
  return `_id of type ${bsonTypeName(id)}`;
}
