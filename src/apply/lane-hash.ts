/**
 * Lane routing for the applier pool: murmur3_x86_32(canonical _id bytes, seed = murmur3(ns))
 * mod lanes. All ops of one document land in one lane, so they stay in order without locks.
 *
 * "One document" is decided by MongoDB's equality, not by the BSON type: `_id: 1` written as an
 * Int32 and later matched as a Double 1.0 or a Decimal128 "1.0" names the same document, so
 * they must hash equal. Values are therefore hashed in their canonical byte form
 * ({@link canonicalIdView}, bson/canonical-id.ts).
 *
 * Unlike MongoShake, which sends every numeric `_id` to one worker, sequential numbers spread
 * evenly: the murmur3 avalanche does not care that the inputs are close.
 */
import murmurhash3 from 'murmurhash3js-revisited';

import { canonicalIdView } from '../bson/canonical-id.js';

const seedCache = new Map<string, number>();
const SEED_CACHE_LIMIT = 10_000;
const utf8 = new TextEncoder();

/**
 * The lane (`0 … lanes-1`) for the document `id` of namespace `ns`.
 *
 * @param ns - The namespace the op is applied to (use the same one for every op of a document).
 * @param id - The document's `_id` (from `o._id` for inserts and deletes, `o2._id` for updates).
 * @param lanes - The number of lanes; a positive integer.
 * @throws RangeError when `lanes` is not a positive integer, or `id` nests deeper than 200.
 * @internal
 */
export function laneOf(ns: string, id: unknown, lanes: number): number {
  if (!Number.isInteger(lanes) || lanes < 1) {
    throw new RangeError(`lanes must be a positive integer, got ${lanes}`);
  }
  if (lanes === 1) return 0;
  return hashId(ns, id) % lanes;
}

/**
 * The unsigned 32-bit murmur3 hash of `id`'s canonical bytes, seeded with the hash of `ns`.
 * @internal
 */
export function hashId(ns: string, id: unknown): number {
  return murmurhash3.x86.hash32(canonicalIdView(id), namespaceSeed(ns));
}

/** The hash of a namespace, the seed of its `_id` hashes (cached: a stream names few). */
function namespaceSeed(ns: string): number {
  let seed = seedCache.get(ns);
  if (seed === undefined) {
    seed = murmurhash3.x86.hash32(utf8.encode(ns));
    if (seedCache.size >= SEED_CACHE_LIMIT) seedCache.clear();
    seedCache.set(ns, seed);
  }
  return seed;
}
