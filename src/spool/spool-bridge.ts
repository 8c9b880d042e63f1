/**
 * The two halves of mode `all`'s oplog path, with the {@link OplogSpool} between them:
 *
 * ```
 * OplogFetcher.output ──pumpToSpool──► OplogSpool (disk) ──feedFromSpool──► queue ─► ReplBatcher
 * ```
 *
 * The fetcher runs from the moment the copy begins, whatever the copy's duration, so the source's
 * oplog window never has to outlast the copy; the applier reads the spool back in order once the
 * copy is done (and after a restart, from the checkpoint on).
 */
import { BSON, type Timestamp } from 'mongodb';

import { type BoundedQueue } from '../lifecycle/bounded-queue.js';
import { sourceBytesOf } from '../oplog/oplog-entry-bytes.js';
import { decodeOplogEntry } from '../pipeline/fetched-entry.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';
import { type OplogSpool, type SpooledEntry } from './oplog-spool.js';

/** Most entries appended in one write. */
const APPEND_BATCH = 1000;
/** The spool is fsynced at least this often while entries arrive. */
const SYNC_INTERVAL_MS = 1000;

/**
 * Moves everything the fetcher delivers into the spool until the fetcher's output is closed and
 * empty; then syncs and ends the spool's followers.
 * @internal
 */
export async function pumpToSpool(
  input: BoundedQueue<FetchedEntry>,
  spool: OplogSpool,
  signal: AbortSignal
): Promise<void> {
  let lastSync = Date.now();
  try {
    for (;;) {
      const first = await input.shift(signal);
      if (first === undefined) break;
      const entries: SpooledEntry[] = [toSpooled(first)];
      for (let next = input.tryShift(); next !== undefined; next = input.tryShift()) {
        entries.push(toSpooled(next));
        if (entries.length >= APPEND_BATCH) break;
      }
      await spool.append(entries);
      if (Date.now() - lastSync >= SYNC_INTERVAL_MS) {
        await spool.sync();
        lastSync = Date.now();
      }
    }
    await spool.sync();
  } finally {
    spool.endFollow();
  }
}

/**
 * The entry's BSON as the source logged it: the bytes it was parsed from when the fetcher kept
 * them (inserts, updates and deletes), else the entry encoded again. The fetcher decoded it with
 * exact types, so encoding the decoded document again gives the same values (numeric-looking
 * field names aside, which the driver's decoding already reorders; see the known limitations).
 */
function toSpooled(fetched: FetchedEntry): SpooledEntry {
  const raw = sourceBytesOf(fetched.entry) ?? BSON.serialize(fetched.entry.raw);
  return { raw, ts: fetched.entry.ts };
}

/**
 * Feeds the spooled entries after `after` into `output`, following the spool as it grows, until
 * the spool's followers are ended or `signal` aborts; closes `output` when done.
 * @internal
 */
export async function feedFromSpool(
  spool: OplogSpool,
  after: Timestamp,
  output: BoundedQueue<FetchedEntry>,
  signal: AbortSignal
): Promise<void> {
  try {
    for await (const record of spool.read(after, { follow: true, signal })) {
      const fetched = decodeOplogEntry(record.raw);
      if (!(await output.push(fetched, fetched.bytes, signal))) return;
    }
  } finally {
    output.close();
  }
}
