/**
 * The events of the {@link OplogFetcher} and their payloads.
 */
import { type Timestamp } from 'mongodb';

import { type StageEvents } from '../lifecycle/stage.js';

/**
 * Payload of the fetcher's `batch` event: one `find`/`getMore` batch of the oplog was read and
 * its entries are now in the fetcher's `output`.
 * @public
 */
export interface OplogBatchEvent {
  /** The stage that read it (`oplog-fetcher`). */
  readonly stage: string;
  /** Entries delivered to `output` (the batch minus skipped `fromMigrate` entries). */
  readonly count: number;
  /** BSON bytes of the delivered entries. */
  readonly bytes: number;
  /** Optime of the batch's first entry (delivered or skipped). */
  readonly firstOptime: Timestamp;
  /** Optime of the batch's last entry (delivered or skipped): the fetcher's position now. */
  readonly lastOptime: Timestamp;
  /** Entries written by chunk migrations (`fromMigrate: true`), which are not replicated. */
  readonly skippedFromMigrate: number;
}

/**
 * Payload of the fetcher's `lag` event: how far the fetcher is behind the source's oplog.
 *
 * @remarks
 * This is the *fetch* lag. The lag of the target (what is applied) is the `lag` event of the
 * `Replicator`, which is at least this.
 * @public
 */
export interface OplogFetchLagEvent {
  /** The stage that measured it (`oplog-fetcher`). */
  readonly stage: string;
  /** The newest optime in the source oplog when sampled. */
  readonly sourceOptime: Timestamp;
  /** The optime of the last entry the fetcher read (delivered or skipped). */
  readonly fetchedOptime: Timestamp;
  /** `sourceOptime` minus `fetchedOptime`, in whole seconds; 0 when caught up. */
  readonly seconds: number;
}

/**
 * Events of the {@link OplogFetcher}.
 * @public
 */
export interface OplogFetcherEvents extends StageEvents {
  /**
   * A `find`/`getMore` batch was read and every entry of it to replicate was accepted by
   * `output`. Emitted after the pushes, so a full `output` holds the event back (backpressure).
   */
  batch: (event: OplogBatchEvent) => void;
  /**
   * The fetch lag, sampled every `lagIntervalMs` while someone listens (also while the fetcher
   * waits on a full `output`, so a stalled pipeline shows a growing lag).
   */
  lag: (event: OplogFetchLagEvent) => void;
}
