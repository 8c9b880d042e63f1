/**
 * The oplog fetcher's error decisions, kept pure so they are unit-tested without a server: which
 * read failures re-open the cursor, and the {@link OplogStartMissingError} raised when the
 * resume point is no longer the first entry a `$gte` query returns.
 */
import { type Timestamp } from 'mongodb';

import { OplogStartMissingError, ReplicationError, SourceReadError } from '../errors.js';
import { classifyError, type ErrorClassification } from '../lifecycle/classify-error.js';
import { describeFailure } from '../lifecycle/side-errors.js';
import { redactError } from '../logger.js';
import { compareOptimes, formatOptime } from '../oplog/oplog-entry.js';

/** Cursor codes that only mean "this cursor is gone": re-opening from the last optime heals them. */
const LOST_CURSOR_CODES: ReadonlyMap<number, string> = new Map([
  [43, 'CursorNotFound'],
  [237, 'CursorKilled']
]);

/**
 * {@link classifyError} with `{ fetcher: true }` (CappedPositionLost is transient: the fetcher
 * re-opens from the last fetched optime, and the exact-first-entry check turns a really lost
 * position into {@link OplogStartMissingError}), plus CursorNotFound (43) and CursorKilled (237),
 * for the same reason: the cursor died (idle timeout, a `killCursors` by an operator, a failover),
 * not the position.
 * @internal
 */
export function classifyFetcherError(error: unknown): ErrorClassification {
  const code =
    !ReplicationError.is(error) && typeof error === 'object' && error !== null
      ? (error as { code?: unknown }).code
      : undefined;
  const lost = typeof code === 'number' ? LOST_CURSOR_CODES.get(code) : undefined;
  if (lost !== undefined) {
    return {
      retryable: true,
      hint: `The oplog cursor was lost (${lost}); the fetcher re-opens it from the last fetched optime`
    };
  }
  return classifyError(error, { fetcher: true });
}

const WHAT_TO_DO = 'Run a full sync (mode "all"), or enlarge the source oplog and restart sooner';

/**
 * The error for a resume point that is not the first entry returned by `ts >= start`.
 *
 * @param start - the resume point: the last applied (or fetched) optime
 * @param found - the first entry the query returned, if any
 * @param oldest - the oldest entry of the source oplog, if any
 * @returns an {@link OplogStartMissingError} when the point fell off the oplog or was never in
 * it, or a non-retryable {@link SourceReadError} when the source has no oplog at all
 * @internal
 */
export function oplogStartMissing(
  start: Timestamp,
  found: Timestamp | undefined,
  oldest: Timestamp | undefined
): ReplicationError {
  const at = formatOptime(start);
  if (oldest === undefined) {
    return new SourceReadError(
      'The source has no oplog (local.oplog.rs is empty or missing)',
      false,
      {
        optime: start,
        hint: 'Connect to a member of a replica set; a standalone mongod has no oplog'
      }
    );
  }
  if (compareOptimes(oldest, start) > 0) {
    const behindSeconds = Math.max(oldest.t - start.t, 0);
    return new OplogStartMissingError(
      `Resume point ${at} fell off the source oplog (the oldest entry, ${formatOptime(oldest)}, is ${behindSeconds}s newer)`,
      behindSeconds,
      { optime: start, hint: WHAT_TO_DO }
    );
  }
  // The oplog still covers `start`, yet holds no entry with exactly that optime: the point was
  // rolled back, or comes from another deployment. Resuming would skip or repeat writes.
  const next =
    found === undefined
      ? 'it is newer than every entry'
      : `the next entry is ${formatOptime(found)}`;
  return new OplogStartMissingError(
    `Resume point ${at} is not an entry of the source oplog (${next}): it was rolled back, or belongs to another deployment`,
    0,
    { optime: start, hint: 'Check the source and the checkpoint name. ' + WHAT_TO_DO }
  );
}

/**
 * Wraps anything the fetcher throws into a {@link ReplicationError}; typed errors pass through.
 * @internal
 */
export function toFetcherError(
  error: unknown,
  lastFetched: Timestamp | undefined
): ReplicationError {
  if (ReplicationError.is(error)) return error;
  const verdict = classifyFetcherError(error);
  return redactError(
    new SourceReadError(
      `Reading the source oplog failed${describeFailure(error)}`,
      verdict.retryable,
      {
        ...(lastFetched === undefined ? {} : { optime: lastFetched }),
        hint: verdict.hint,
        cause: error
      }
    )
  );
}
