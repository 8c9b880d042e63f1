/**
 * A fixed number of workers draining one lazy task stream: tasks are produced only as workers
 * become free, so listing and splitting namespaces overlaps with comparing ranges and nothing
 * queues up in memory.
 */

/**
 * Runs `work` on every task of `tasks` with at most `concurrency` at once. The first failure
 * aborts `abort` (so running work stops early), lets the other workers end, and is rethrown.
 * @internal
 */
export async function runPool<T>(
  tasks: AsyncIterable<T>,
  concurrency: number,
  work: (task: T) => Promise<void>,
  abort: AbortController
): Promise<void> {
  const iterator = tasks[Symbol.asyncIterator]();
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    try {
      // Concurrent next() calls on an async generator are queued: each task goes to one worker.
      for (;;) {
        if (failure !== undefined) return;
        const next = await iterator.next();
        if (next.done === true) return;
        await work(next.value);
      }
    } catch (error) {
      failure ??= { error };
      abort.abort(error);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await iterator.return?.();
  if (failure !== undefined) throw failure.error;
}
