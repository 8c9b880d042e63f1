/**
 * Event payloads shared by every stage. Each event carries exactly one readonly object, so
 * fields can be added later without breaking listeners.
 */
import { type Timestamp } from 'mongodb';

/**
 * The lifecycle states of a stage, in order. `running` and `paused` alternate (`pause()`,
 * `resume()`); `stopping` can follow either. `failed` can follow `starting`, `standby`,
 * `running`, `paused` or `stopping`.
 * @public
 */
export const StageState = Object.freeze({
  /** Constructed; `start()` not called yet. */
  Idle: 'idle',
  /** `start()` is connecting and opening cursors. */
  Starting: 'starting',
  /**
   * A Replicator with `standby: true` waits for another replicator's lease on its checkpoint;
   * it goes back to `starting` once it holds the lease. `start()` has not resolved yet.
   */
  Standby: 'standby',
  /** The main loop is running. */
  Running: 'running',
  /**
   * Running, but writing nothing to the target until `resume()` (only a `Replicator` pauses):
   * fetching goes on until the bounded queues are full.
   */
  Paused: 'paused',
  /** `stop()` was called: no new input, buffered work is being written. */
  Stopping: 'stopping',
  /** Ended cleanly; `done` has resolved. */
  Stopped: 'stopped',
  /** Ended with a fatal error; `done` has rejected with it. */
  Failed: 'failed'
} as const);

/**
 * One of the values of {@link (StageState:variable)}.
 * @public
 */
export type StageState = (typeof StageState)[keyof typeof StageState];

/**
 * Payload of the `state` event: a stage moved from one lifecycle state to another.
 * @public
 */
export interface StateChangeEvent {
  /** The stage's name, such as `oplog-fetcher`. */
  readonly stage: string;
  /** The state before. */
  readonly from: StageState;
  /** The state now. */
  readonly to: StageState;
}

/**
 * One failed attempt that will be retried, as reported by `withRetry()`.
 * @public
 */
export interface RetryAttempt {
  /** What was attempted, such as `getMore local.oplog.rs`. */
  readonly operation: string;
  /** The number of the attempt that failed, from 1. */
  readonly attempt: number;
  /** How long the stage waits before the next attempt, in milliseconds. */
  readonly delayMs: number;
  /** Time since the first attempt began, in milliseconds. */
  readonly elapsedMs: number;
  /** The failure, with any credentials scrubbed from its message. */
  readonly error: Error;
  /** Why the failure is considered transient, in words an operator can act on. */
  readonly hint: string;
}

/**
 * Payload of the `retry` event: a transient failure that the stage retries after `delayMs`.
 * The host sees nothing else unless the retries run out.
 * @public
 */
export interface RetryEvent extends RetryAttempt {
  /** The stage that retries. */
  readonly stage: string;
}

/**
 * Payload of the `lag` event: how far the target is behind the source.
 * @public
 */
export interface LagEvent {
  /** The stage that measured it. */
  readonly stage: string;
  /** The newest optime the source has (or the newest one fetched, when that is all we know). */
  readonly sourceOptime: Timestamp;
  /** The last optime applied on the target everywhere (what a checkpoint would record). */
  readonly appliedOptime: Timestamp;
  /** `sourceOptime` minus `appliedOptime`, in seconds; 0 when caught up. */
  readonly seconds: number;
  /**
   * The optime of the last entry read from the source, when known: between it and
   * `appliedOptime` are the entries waiting in the pipeline's queues.
   */
  readonly fetchedOptime?: Timestamp;
  /** Present when the target is behind by the replicator's own doing; see {@link HeldBack}. */
  readonly heldBack?: HeldBack;
}

/**
 * Why the replicator holds writes back: `'paused'` (`pause()` until `resume()`), or
 * `'rateLimit'` (writes waited for the `rateLimit` within the last second: the target is written
 * to as fast as the limit allows).
 * @public
 */
export type HeldBack = 'paused' | 'rateLimit';

/**
 * Fields every `progress` event carries; stages extend it with their own counts (per-namespace
 * done/total for the full copy, ops by type for the applier).
 * @public
 */
export interface ProgressEvent {
  /** The stage reporting. */
  readonly stage: string;
  /** Which side of the pipeline: the full copy or the incremental (oplog) sync. */
  readonly phase: 'full' | 'incr';
  /** Documents copied (full) or oplog entries applied (incr) since the stage started. */
  readonly count: number;
  /** BSON bytes behind `count`. */
  readonly bytes: number;
  /** `count` per second over the last reporting interval. */
  readonly countPerSecond: number;
  /** `bytes` per second over the last reporting interval. */
  readonly bytesPerSecond: number;
  /** Time since the stage started, in milliseconds. */
  readonly elapsedMs: number;
  /** The stage's input queue, so a host can see where the pipeline stalls; absent without one. */
  readonly queue?: { readonly items: number; readonly bytes: number };
}
