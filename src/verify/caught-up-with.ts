/**
 * The `recheck.caughtUp` of a {@link Verifier} for a {@link Replicator} running in the same
 * process: waits on its `batch` events until it has applied the source's writes up to an optime.
 */
import { type Timestamp } from 'mongodb';

import { type Replicator } from '../replicator.js';

/**
 * A `recheck.caughtUp` function that resolves once `replicator` has applied everything up to
 * the given source optime (its `appliedOptime` is at or past it).
 *
 * @remarks
 * With fetch method `oplog`, every oplog entry (no-ops and filtered namespaces included)
 * advances `appliedOptime`, so a quiet source is caught up with at once. A change stream sees
 * only user writes: on a quiet source, `appliedOptime` may stay behind the source's optime until
 * the next write, so a recheck waits for one.
 *
 * The returned promise rejects with `signal.reason` when `signal` aborts, and with the
 * replicator's error if it fails (or an error if it stops) first.
 *
 * @example
 * ```ts
 * const verifier = new Verifier({ source, target, filter, recheck: { caughtUp: caughtUpWith(replicator) } });
 * const report = await verifier.verify();
 * ```
 * @public
 */
export function caughtUpWith(
  replicator: Replicator
): (optime: Timestamp, signal: AbortSignal) => Promise<void> {
  return async (optime, signal) => {
    const reached = (): boolean => {
      const applied = replicator.appliedOptime;
      return applied !== undefined && !applied.lessThan(optime);
    };
    signal.throwIfAborted();
    if (reached()) return;
    await replicator.waitFor('batch', { signal, filter: () => reached() });
  };
}
