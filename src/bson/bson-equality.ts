/**
 * Comparing option values read from two servers. The servers may store one number as different
 * BSON types (a capped `size` as int32 on one, int64 on the other), which says nothing about the
 * collection, so numbers compare by value. Field order is kept: it matters in key patterns,
 * `$sort` stages and embedded-document equality in validators.
 */
import { BSON } from 'mongodb';

/**
 * A string that is equal for two values exactly when they are equal up to numeric BSON type
 * (relaxed Extended JSON renders int32, int64 and double alike; decimal128 stays distinct).
 * @internal
 */
export function canonicalBson(value: unknown): string {
  if (value === undefined) return 'undefined';
  return BSON.EJSON.stringify(value as BSON.Document, { relaxed: true });
}

/**
 * True when `a` and `b` are the same value up to numeric BSON type; field order matters.
 * @internal
 */
export function sameBsonValue(a: unknown, b: unknown): boolean {
  return canonicalBson(a) === canonicalBson(b);
}
