/**
 * Pure helper of the oplog fetcher: sorting a fetched batch into entries to deliver and
 * `fromMigrate` entries to skip, checking their order.
 */
import { type Timestamp } from 'mongodb';

import { SourceReadError } from '../errors.js';
import { compareOptimes, formatOptime } from '../oplog/oplog-entry.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';

/**
 * One fetched batch sorted out: what to deliver, what was skipped, where the fetcher now is.
 * @internal
 */
export interface SortedBatch {
  /** Entries to push to the output, in oplog order. */
  readonly deliver: readonly FetchedEntry[];
  /** BSON bytes of `deliver`. */
  readonly bytes: number;
  /** How many `fromMigrate` entries were dropped. */
  readonly skippedFromMigrate: number;
  /** Optime of the first entry of the batch (delivered or skipped). */
  readonly firstOptime: Timestamp;
  /** Optime of the last entry of the batch: the new last fetched position. */
  readonly lastOptime: Timestamp;
}

/**
 * Drops chunk-migration entries (`fromMigrate: true`: not user writes, DESIGN §3) and checks that
 * the batch continues strictly after `after`, as a secondary's `validateDocuments()` does; an
 * out-of-order or repeated entry would mean a lost or doubled write, so it is fatal.
 *
 * @param after - the last fetched optime before this batch
 * @param entries - the decoded batch, non-empty
 * @param fromMigrate - `'deliver'`: keep `fromMigrate` entries (see OplogFetcherOptions)
 * @throws {@link SourceReadError} (not retryable) when an entry is not newer than its predecessor
 * @internal
 */
export function sortOutBatch(
  after: Timestamp,
  entries: readonly FetchedEntry[],
  fromMigrate: 'skip' | 'deliver' = 'skip'
): SortedBatch {
  const deliver: FetchedEntry[] = [];
  let bytes = 0;
  let skippedFromMigrate = 0;
  let previous = after;
  for (const fetched of entries) {
    const ts = fetched.entry.ts;
    if (compareOptimes(ts, previous) <= 0) {
      throw new SourceReadError(
        `The source oplog returned entry ${formatOptime(ts)} after ${formatOptime(previous)}`,
        false,
        {
          optime: ts,
          hint: 'Entries must arrive in strictly increasing order; restart from the last checkpoint, and report this if it repeats'
        }
      );
    }
    previous = ts;
    if (fetched.entry.fromMigrate && fromMigrate === 'skip') {
      skippedFromMigrate += 1;
      continue;
    }
    deliver.push(fetched);
    bytes += fetched.bytes;
  }
  const first = entries[0];
  if (first === undefined) throw new RangeError('sortOutBatch needs at least one entry');
  return { deliver, bytes, skippedFromMigrate, firstOptime: first.entry.ts, lastOptime: previous };
}
