/**
 * The pure half of the document splitter: how many ranges a collection gets, and where to cut it
 * given a sorted sample of its `_id`s. No I/O, so unit tests cover every edge.
 */
import { canonicalIdBytes } from '../bson/canonical-id.js';

/**
 * How a collection of `count` documents is cut: at most `maxRanges` ranges of at least
 * `minDocumentsPerRange` documents each (estimated), and always at least one.
 * @internal
 */
export function rangeCountFor(
  count: number,
  maxRanges: number,
  minDocumentsPerRange: number
): number {
  if (!Number.isFinite(count) || count <= 0) return 1;
  return Math.max(1, Math.min(maxRanges, Math.floor(count / minDocumentsPerRange)));
}

/**
 * A place to cut: the sampled `_id` that starts the next range, and the position of its first
 * occurrence in the sorted sample (the samples before it fall in earlier ranges).
 * @internal
 */
export interface SplitPoint {
  readonly id: unknown;
  readonly at: number;
}

/**
 * True when MongoDB considers the two `_id`s equal (1, 1.0 and Long 1 are one `_id`).
 * @internal
 */
export function sameId(a: unknown, b: unknown): boolean {
  const x = canonicalIdBytes(a);
  const y = canonicalIdBytes(b);
  return x.length === y.length && x.every((byte, i) => byte === y[i]);
}

/** MinKey and MaxKey can never bound a range: mongod's own ends of the index are those keys. */
function isIndexEnd(value: unknown): boolean {
  const type = (value as { _bsontype?: unknown } | null)?._bsontype;
  return type === 'MinKey' || type === 'MaxKey';
}

/**
 * Up to `ranges - 1` cut points at the sample's quantiles, strictly increasing.
 *
 * @remarks
 * Each quantile moves back to the first sample equal to it, so points that MongoDB compares
 * equal collapse into one (a range from 1 to 1.0 would be empty, and mongod refuses one). A point
 * equal to the smallest sample is dropped (the first range would hold no sampled document), as
 * are MinKey and MaxKey (a bound there makes mongod reject the range).
 *
 * @param sorted - Sampled `_id`s in the `_id` index order (BSON order), duplicates allowed.
 * @param ranges - How many ranges are wanted.
 * @internal
 */
export function chooseSplitPoints(sorted: readonly unknown[], ranges: number): SplitPoint[] {
  const points: SplitPoint[] = [];
  const m = sorted.length;
  for (let i = 1; i < ranges; i++) {
    let at = Math.floor((i * m) / ranges);
    if (at >= m) break;
    while (at > 0 && sameId(sorted[at - 1], sorted[at])) at--;
    const id = sorted[at];
    if (at === 0 || isIndexEnd(id) || at === points.at(-1)?.at) continue;
    points.push({ id, at });
  }
  return points;
}

/**
 * Shares of `total` for the ranges the points make, in proportion to the samples each holds;
 * they sum to `total` exactly.
 * @internal
 */
export function estimateShares(
  points: readonly SplitPoint[],
  samples: number,
  total: number
): number[] {
  if (samples <= 0 || points.length === 0) return [total];
  const edges = [0, ...points.map(p => p.at), samples];
  // Rounding the running total (not each share) keeps every share >= 0 and the sum exact.
  const upTo = (edge: number) => Math.round((total * edge) / samples);
  return edges.slice(1).map((edge, i) => upTo(edge) - upTo(edges[i]!));
}
