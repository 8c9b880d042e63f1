/**
 * An `_id` range of one collection, and the `find` options that read exactly that range.
 *
 * Ranges are read the way mongodump and mongosync read them: `hint: {_id: 1}` with the `min` and
 * `max` cursor options, which bound the `_id` index scan in BSON order across every type. A filter
 * such as `{_id: {$gte: a, $lt: b}}` would not do: MongoDB brackets comparisons by type, so a
 * numeric range never matches a string `_id` and documents would be skipped.
 */
import { type Document } from 'mongodb';

/**
 * One `_id` range of a collection, as the {@link DocumentSplitter} cuts it: `min` inclusive, `max`
 * exclusive, `undefined` for an unbounded end. The ranges of a collection are contiguous and
 * cover it whole: the first has no `min`, the last no `max`.
 * @public
 */
export interface IdRange {
  /** The source collection, `db.coll`. */
  readonly namespace: string;
  /** This range's position among the collection's ranges, from 0. */
  readonly index: number;
  /** How many ranges the collection was cut into. */
  readonly count: number;
  /** The smallest `_id` in the range (inclusive), with its exact BSON type; none for the first. */
  readonly min?: unknown;
  /** The `_id` the next range starts at (exclusive); none for the last. */
  readonly max?: unknown;
  /** About how many documents the range holds (from a sample; the collection's sum is its count). */
  readonly estimatedDocuments: number;
}

/**
 * The driver `find` options that read exactly `range`.
 *
 * @remarks
 * A range with no bounds (the collection is one range) needs no hint: `{}`. Otherwise
 * `hint: {_id: 1}` with `min: {_id: …}` and/or `max: {_id: …}`, results in `_id` order. Pass them
 * with an empty filter: `collection.find({}, rangeFindOptions(range))`.
 *
 * @example
 * ```ts
 * for (const range of await splitter.split('shop.orders')) {
 *   const cursor = source.db('shop').collection('orders').find({}, rangeFindOptions(range));
 * }
 * ```
 * @public
 */
export function rangeFindOptions(range: IdRange): {
  hint?: Document;
  min?: Document;
  max?: Document;
} {
  if (range.min === undefined && range.max === undefined) return {};
  return {
    hint: { _id: 1 },
    ...(range.min === undefined ? {} : { min: { _id: range.min } }),
    ...(range.max === undefined ? {} : { max: { _id: range.max } })
  };
}
