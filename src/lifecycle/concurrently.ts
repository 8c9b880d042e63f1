/**
 * Runs one async step over many items with a bounded number in flight: the catalog steps of a
 * copy (list indexes, create, split, build indexes) per collection, where thousands of small
 * collections would otherwise cost thousands of sequential round trips.
 */

/**
 * Calls `fn` for every item, at most `limit` at once, in item order. After the first failure no
 * new call starts; once the calls under way have settled, that failure is thrown.
 * @internal
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        await fn(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * `fn` of every item, at most `limit` at once, results in item order; fails like
 * {@link forEachConcurrently}.
 * @internal
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>
): Promise<R[]> {
  const results = new Array<R>(items.length);
  await forEachConcurrently(items, limit, async (item, index) => {
    results[index] = await fn(item, index);
  });
  return results;
}
