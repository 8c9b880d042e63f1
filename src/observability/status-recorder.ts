/**
 * StatusRecorder: listens to a Replicator's events and keeps what a status snapshot needs. It
 * only tallies; the events stay the source of truth, and nothing here can slow or break the
 * replicator (the listeners do constant work and never throw).
 */
import { type EventEmitter } from 'eventemitter3';
import { type Timestamp } from 'mongodb';

import { type UniqueIndexRef } from '../catalog/unique-indexes.js';
import { type ReplicationPhase } from '../checkpoint/checkpoint.js';
import { type StageState } from '../events.js';
import { type CopyProgressEvent } from '../full/collection-executor.js';
import { type SkippedOperations } from '../pipeline/pipeline-items.js';
import { type Replicator } from '../replicator.js';
import { type ReplicatorEvents } from '../replicator-events.js';
import { directionMapping } from './direction-mapping.js';
import { errorCode, errorMessage } from './error-summary.js';
import {
  type AppliedStatus,
  type CheckpointStatus,
  type CopyStatus,
  type DirectionMapping,
  type LeaseStatus,
  type NamespaceCopyStatus,
  type OptimeStatus,
  type RecentError,
  type ReplicatorStatus
} from './replicator-status.js';

/**
 * Options of {@link StatusRecorder}.
 * @internal
 */
export interface StatusRecorderOptions {
  /** How many recent errors to keep. */
  readonly recentErrors: number;
  /** Milliseconds since the Unix epoch, now. */
  readonly clock: () => number;
}

/**
 * Running totals the metrics need beyond the snapshot.
 * @internal
 */
export interface RecorderTotals {
  /** Fatal errors (`error` events). */
  readonly fatalErrors: number;
}

type MutableApplied = {
  -readonly [K in keyof AppliedStatus]: K extends 'skippedOperations'
    ? { -readonly [C in keyof SkippedOperations]: number }
    : AppliedStatus[K];
};

/**
 * `optime` as JSON: `{t, i}` and the seconds as an ISO date.
 * @internal
 */
export function optimeStatus(optime: Timestamp): OptimeStatus {
  return { t: optime.t, i: optime.i, time: new Date(optime.t * 1000).toISOString() };
}

const SKIPPED_KINDS = ['inserts', 'updates', 'deletes', 'commands'] as const;

/** A rate or ETA as JSON: `undefined` and non-finite numbers become null. */
function finiteOrNull(value: number | undefined): number | null {
  return value !== undefined && Number.isFinite(value) ? value : null;
}

/**
 * Keeps the tallies of one Replicator's events and builds {@link ReplicatorStatus} snapshots.
 * @internal
 */
export class StatusRecorder {
  readonly #replicator: Replicator;
  readonly #options: StatusRecorderOptions;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #direction: DirectionMapping;
  #state: StageState;
  #phase: ReplicationPhase | undefined;
  #startedAt: string | null = null;
  #lag: number | null = null;
  #lastBatchOptime: Timestamp | undefined;
  #checkpoint: CheckpointStatus | null = null;
  /** The latest progress event of each target namespace, in first-seen order. */
  readonly #copy = new Map<string, CopyProgressEvent>();
  #latestCopy: CopyProgressEvent | undefined;
  readonly #applied: MutableApplied = {
    batches: 0,
    ops: 0,
    inserts: 0,
    updates: 0,
    deletes: 0,
    commands: 0,
    upserts: 0,
    expectedMissing: 0,
    conflicts: 0,
    skippedEvents: 0,
    skippedOperations: { inserts: 0, updates: 0, deletes: 0, commands: 0 }
  };
  /** Indexes left relaxed by the `ignore` policy, by namespace and name. */
  readonly #leftRelaxed = new Map<string, UniqueIndexRef>();
  #lease: LeaseStatus | null = null;
  #retries = 0;
  #fatalErrors = 0;
  readonly #errors: RecentError[] = [];

  constructor(replicator: Replicator, options: StatusRecorderOptions) {
    this.#replicator = replicator;
    this.#options = options;
    this.#state = replicator.state;
    this.#direction = directionMapping(replicator.options.source, replicator.options.target);
    this.#listen('state', event => {
      this.#state = event.to;
      if (event.to === 'starting') this.#startedAt = this.#now();
    });
    this.#listen('phase', event => {
      this.#phase = event.phase;
    });
    this.#listen('progress', event => {
      this.#copy.set(event.namespace, event);
      this.#latestCopy = event;
    });
    this.#listen('batch', event => {
      const applied = this.#applied;
      applied.batches++;
      applied.ops += event.ops;
      applied.inserts += event.inserts;
      applied.updates += event.updates;
      applied.deletes += event.deletes;
      if (event.kind === 'ddl') applied.commands += event.ops;
      applied.upserts += event.upserts;
      applied.expectedMissing += event.expectedMissing;
      const skipped = event.skippedOperations;
      if (skipped !== undefined) {
        for (const kind of SKIPPED_KINDS) applied.skippedOperations[kind] += skipped[kind];
      }
      this.#lastBatchOptime = event.checkpointOptime;
    });
    this.#listen('conflict', () => {
      this.#applied.conflicts++;
    });
    this.#listen('skipped', () => {
      this.#applied.skippedEvents++;
    });
    this.#listen('lag', event => {
      this.#lag = event.seconds;
    });
    this.#listen('checkpoint', event => {
      this.#checkpoint = {
        optime: optimeStatus(event.optime),
        savedAt: event.savedAt.toISOString()
      };
    });
    this.#listen('uniqueIndex', event => {
      const ref = { namespace: event.namespace, name: event.index };
      const id = `${ref.namespace}\u0000${ref.name}`;
      if (event.action === 'leftRelaxed') this.#leftRelaxed.set(id, ref);
      else if (event.action === 'enforced') this.#leftRelaxed.delete(id);
    });
    this.#listen('lease', event => {
      const { holder } = event;
      this.#lease = {
        held: event.action === 'acquired',
        lastAction: event.action,
        holder: holder
          ? {
              host: holder.host,
              pid: holder.pid,
              since: holder.since.toISOString(),
              expiresAt: holder.expiresAt.toISOString(),
              token: holder.token
            }
          : null
      };
    });
    this.#listen('retry', event => {
      this.#retries++;
      this.#recordError(event.stage, event.error, false);
    });
    this.#listen('error', error => {
      this.#fatalErrors++;
      this.#recordError('replicator', error, true);
    });
  }

  /** Stops listening; the tallies stay readable. Safe to call twice. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
  }

  /** Totals that are not part of the snapshot. */
  get totals(): RecorderTotals {
    return { fatalErrors: this.#fatalErrors };
  }

  /** A snapshot of everything recorded, as plain JSON-ready data. */
  status(): ReplicatorStatus {
    const replicator = this.#replicator;
    const { mode, fetchMethod, checkpoint } = replicator.options;
    const phase = this.#currentPhase();
    const applied = replicator.appliedOptime ?? this.#lastBatchOptime;
    const limit = replicator.rateLimit;
    const limitStats = replicator.rateLimitStats;
    return {
      time: this.#now(),
      state: this.#state,
      phase,
      caughtUp: this.#state === 'running' && phase === 'incr',
      mode,
      fetchMethod,
      checkpointName: checkpoint.name,
      directionMapping: this.#direction,
      startedAt: this.#startedAt,
      lagSeconds: this.#lag,
      heldBack: this.#state === 'paused' ? 'paused' : limitStats.limiting ? 'rateLimit' : null,
      rateLimit: {
        opsPerSecond: limit.opsPerSecond ?? null,
        bytesPerSecond: limit.bytesPerSecond ?? null,
        limiting: limitStats.limiting,
        heldBackMs: Math.round(limitStats.heldBackMs)
      },
      lastAppliedOptime: applied ? optimeStatus(applied) : null,
      lastCheckpoint: this.#checkpoint,
      copy: this.#copyStatus(),
      applied: { ...this.#applied, skippedOperations: { ...this.#applied.skippedOperations } },
      relaxedUniqueIndexes: replicator.relaxedUniqueIndexes.map(ref => ({ ...ref })),
      uniqueIndexesLeftRelaxed: [...this.#leftRelaxed.values()],
      lease: this.#lease,
      retries: this.#retries,
      errors: [...this.#errors]
    };
  }

  /**
   * The last `phase` event; without one (mode incr emits none, or the monitor was attached
   * late), the replicator's own phase once it has opened, since before that it is a default.
   */
  #currentPhase(): ReplicationPhase | null {
    if (this.#phase) return this.#phase;
    if (this.#state === 'idle' || this.#state === 'starting') return null;
    return this.#replicator.phase;
  }

  #copyStatus(): CopyStatus | null {
    const latest = this.#latestCopy;
    if (!latest) return null;
    let documentsCopied = 0;
    let bytesCopied = 0;
    let rangesDone = 0;
    let rangesTotal = 0;
    const namespaces: NamespaceCopyStatus[] = [];
    for (const event of this.#copy.values()) {
      documentsCopied += event.documents;
      bytesCopied += event.bytes;
      rangesDone += event.rangesDone;
      rangesTotal += event.rangesTotal;
      namespaces.push({
        namespace: event.namespace,
        sourceNs: event.sourceNs,
        documents: event.documents,
        bytes: event.bytes,
        estimatedDocuments: event.estimatedDocuments,
        rangesDone: event.rangesDone,
        rangesTotal: event.rangesTotal,
        documentsPerSecond: finiteOrNull(event.countPerSecond) ?? 0,
        bytesPerSecond: finiteOrNull(event.bytesPerSecond) ?? 0,
        etaMs: finiteOrNull(event.etaMs)
      });
    }
    // Every event carries the totals of the whole run, so the latest one is the freshest.
    const { estimatedDocuments, etaMs } = latest.overall;
    return {
      documentsCopied,
      bytesCopied,
      estimatedDocuments,
      ...(documentsCopied > 0
        ? {
            estimatedBytes: Math.round(
              Math.max(estimatedDocuments, documentsCopied) * (bytesCopied / documentsCopied)
            )
          }
        : {}),
      rangesDone,
      rangesTotal,
      etaMs: finiteOrNull(etaMs),
      namespaces
    };
  }

  #recordError(stage: string, error: unknown, fatal: boolean): void {
    const limit = this.#options.recentErrors;
    if (limit === 0) return;
    this.#errors.push({
      at: this.#now(),
      stage,
      code: errorCode(error),
      message: errorMessage(error),
      fatal
    });
    if (this.#errors.length > limit) this.#errors.splice(0, this.#errors.length - limit);
  }

  #now(): string {
    return new Date(this.#options.clock()).toISOString();
  }

  #listen<K extends EventEmitter.EventNames<ReplicatorEvents>>(
    event: K,
    listener: EventEmitter.EventListener<ReplicatorEvents, K>
  ): void {
    this.#replicator.on(event, listener);
    this.#unsubscribe.push(() => this.#replicator.off(event, listener));
  }
}
