/**
 * ReplicatorMetrics: a prom-client Registry of its own (never the global one, so two monitors,
 * or a host's own metrics, never clash) whose values are set from a status snapshot at each
 * scrape. Counters are rebuilt from the monitor's running totals rather than incremented by
 * events, because prom-client is only loaded on the first scrape: events seen before it would
 * otherwise be lost.
 *
 * Series whose value is unknown until something happens (lag, checkpoint and applied optimes,
 * copy estimates) are registered only once known: Prometheus reads an absent series as
 * "unknown", while a 0 would claim "no lag" or "nothing to copy".
 */
import type * as PromClient from 'prom-client';

import { type ReplicationPhase } from '../checkpoint/checkpoint.js';
import { StageState } from '../events.js';
import { type ReplicatorStatus } from './replicator-status.js';
import { type RecorderTotals } from './status-recorder.js';

/**
 * The prefix of every metric name.
 * @internal
 */
export const METRIC_PREFIX = 'mongo_replicate_';

const PHASES: readonly ReplicationPhase[] = ['full', 'catchup', 'incr'];
const STATES: readonly StageState[] = Object.values(StageState);
const OP_KINDS = ['insert', 'update', 'delete', 'command'] as const;
const SKIPPED_FIELDS = {
  insert: 'inserts',
  update: 'updates',
  delete: 'deletes',
  command: 'commands'
} as const;

type Counter<L extends string = never> = PromClient.Counter<L>;
type Gauge<L extends string = never> = PromClient.Gauge<L>;

/** Sets a counter to `value`: counters have no `set`, and the totals only ever grow. */
function setCounter(counter: Counter, value: number): void {
  counter.reset();
  counter.inc(value);
}

/**
 * The monitor's metrics in a registry of their own.
 * @internal
 */
export class ReplicatorMetrics {
  readonly #registry: PromClient.Registry;
  readonly #info: Gauge<'mode' | 'fetch_method' | 'checkpoint'>;
  readonly #state: Gauge<'state'>;
  readonly #phase: Gauge<'phase'>;
  readonly #ops: Counter<'kind'>;
  readonly #batches: Counter;
  readonly #conflicts: Counter;
  readonly #skipped: Counter;
  readonly #skippedOperations: Counter<'kind'>;
  readonly #rateLimited: Gauge;
  readonly #heldBack: Counter;
  readonly #opsLimit: Gauge;
  readonly #bytesLimit: Gauge;
  readonly #retries: Counter;
  readonly #errors: Counter;
  readonly #copiedDocuments: Counter;
  readonly #copiedBytes: Counter;
  readonly #relaxedUniqueIndexes: Gauge;
  readonly #leaseHeld: Gauge;
  readonly #lag: Gauge;
  readonly #estimatedDocuments: Gauge;
  readonly #estimatedBytes: Gauge;
  readonly #lastCheckpoint: Gauge;
  readonly #lastApplied: Gauge;
  /** The lazily registered gauges already in the registry. */
  readonly #registered = new Set<Gauge>();
  /** The names of the lazily registered gauges. */
  readonly #lazyNames = new Map<Gauge, string>();

  /** Loads prom-client (on first use only) and builds the metrics. */
  static async create(): Promise<ReplicatorMetrics> {
    return new ReplicatorMetrics(await import('prom-client'));
  }

  private constructor(prom: typeof PromClient) {
    const registry = new prom.Registry();
    this.#registry = registry;
    const counter = <L extends string = never>(name: string, help: string, labelNames?: L[]) =>
      new prom.Counter<L>({
        name: METRIC_PREFIX + name,
        help,
        registers: [registry],
        ...(labelNames ? { labelNames } : {})
      });
    const gauge = <L extends string = never>(
      name: string,
      help: string,
      options: { labelNames?: L[]; lazy?: boolean } = {}
    ) => {
      const created = new prom.Gauge<L>({
        name: METRIC_PREFIX + name,
        help,
        registers: options.lazy ? [] : [registry],
        ...(options.labelNames ? { labelNames: options.labelNames } : {})
      });
      if (options.lazy) this.#lazyNames.set(created as Gauge, METRIC_PREFIX + name);
      return created;
    };
    this.#info = gauge('info', 'Always 1; the labels describe the replicator.', {
      labelNames: ['mode', 'fetch_method', 'checkpoint']
    });
    this.#state = gauge('state', 'Lifecycle state of the replicator: 1 for the current one.', {
      labelNames: ['state']
    });
    this.#phase = gauge('phase', 'Replication phase: 1 for the current one.', {
      labelNames: ['phase']
    });
    this.#ops = counter('applied_ops_total', 'Oplog operations applied on the target, by kind.', [
      'kind'
    ]);
    this.#batches = counter('applied_batches_total', 'Batches applied on the target.');
    this.#conflicts = counter(
      'conflicts_total',
      'Updates or deletes that matched no target document after catch-up.'
    );
    this.#skipped = counter(
      'skipped_events_total',
      'Change events with nothing to apply on the target.'
    );
    this.#skippedOperations = counter(
      'skipped_operations_total',
      'Operations filter.skip kept from the target, by kind.',
      ['kind']
    );
    this.#rateLimited = gauge(
      'rate_limited',
      '1 while the write rate limit holds replication back (writes wait for it), else 0.'
    );
    this.#heldBack = counter(
      'rate_limit_held_back_seconds_total',
      'Seconds during which writes to the target waited for the rate limit.'
    );
    this.#opsLimit = gauge(
      'rate_limit_ops_per_second',
      'The ops per second the target is written at most (absent: unlimited).',
      { lazy: true }
    );
    this.#bytesLimit = gauge(
      'rate_limit_bytes_per_second',
      'The BSON bytes per second the target is written at most (absent: unlimited).',
      { lazy: true }
    );
    this.#retries = counter('retries_total', 'Transient failures that were retried.');
    this.#errors = counter('errors_total', 'Fatal errors that stopped replication.');
    this.#copiedDocuments = counter('copied_documents_total', 'Documents copied by the full copy.');
    this.#copiedBytes = counter('copied_bytes_total', 'BSON bytes copied by the full copy.');
    this.#relaxedUniqueIndexes = gauge(
      'relaxed_unique_indexes',
      'Unique indexes of the target that are non-unique for now (duplicates accepted).'
    );
    this.#leaseHeld = gauge(
      'lease_held',
      "1 while this replicator holds its checkpoint's lease, 0 in standby or once lost.",
      { lazy: true }
    );
    this.#lag = gauge('lag_seconds', 'Seconds the target is behind the source.', { lazy: true });
    this.#estimatedDocuments = gauge(
      'copy_estimated_documents',
      'Estimated documents the full copy copies in total.',
      { lazy: true }
    );
    this.#estimatedBytes = gauge(
      'copy_estimated_bytes',
      'Estimated BSON bytes the full copy copies in total.',
      { lazy: true }
    );
    this.#lastCheckpoint = gauge(
      'last_checkpoint_timestamp_seconds',
      'Source time (seconds since the epoch) of the optime the last checkpoint recorded.',
      { lazy: true }
    );
    this.#lastApplied = gauge(
      'last_applied_timestamp_seconds',
      'Source time (seconds since the epoch) of the last optime applied on the target.',
      { lazy: true }
    );
  }

  /** What prom-client serves the exposition format as. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  /** The Prometheus text exposition of `status` and `totals`. */
  render(status: ReplicatorStatus, totals: RecorderTotals): Promise<string> {
    this.#update(status, totals);
    return this.#registry.metrics();
  }

  /** Synchronous on purpose: a concurrent scrape never sees half an update. */
  #update(status: ReplicatorStatus, totals: RecorderTotals): void {
    this.#info.reset();
    this.#info.set(
      { mode: status.mode, fetch_method: status.fetchMethod, checkpoint: status.checkpointName },
      1
    );
    for (const state of STATES) this.#state.set({ state }, state === status.state ? 1 : 0);
    for (const phase of PHASES) this.#phase.set({ phase }, phase === status.phase ? 1 : 0);

    const { applied, copy } = status;
    const byKind = {
      insert: applied.inserts,
      update: applied.updates,
      delete: applied.deletes,
      command: applied.commands
    };
    this.#ops.reset();
    for (const kind of OP_KINDS) this.#ops.inc({ kind }, byKind[kind]);
    setCounter(this.#batches, applied.batches);
    setCounter(this.#conflicts, applied.conflicts);
    setCounter(this.#skipped, applied.skippedEvents);
    this.#skippedOperations.reset();
    for (const kind of OP_KINDS) {
      this.#skippedOperations.inc({ kind }, applied.skippedOperations[SKIPPED_FIELDS[kind]]);
    }
    this.#rateLimited.set(status.rateLimit.limiting ? 1 : 0);
    setCounter(this.#heldBack, status.rateLimit.heldBackMs / 1000);
    this.#setOptional(this.#opsLimit, status.rateLimit.opsPerSecond);
    this.#setOptional(this.#bytesLimit, status.rateLimit.bytesPerSecond);
    setCounter(this.#retries, status.retries);
    setCounter(this.#errors, totals.fatalErrors);
    setCounter(this.#copiedDocuments, copy?.documentsCopied ?? 0);
    setCounter(this.#copiedBytes, copy?.bytesCopied ?? 0);
    this.#relaxedUniqueIndexes.set(status.relaxedUniqueIndexes.length);

    this.#setKnown(this.#leaseHeld, status.lease && (status.lease.held ? 1 : 0));
    this.#setKnown(this.#lag, status.lagSeconds);
    this.#setKnown(this.#estimatedDocuments, copy?.estimatedDocuments);
    this.#setKnown(this.#estimatedBytes, copy?.estimatedBytes);
    this.#setKnown(this.#lastCheckpoint, status.lastCheckpoint?.optime.t);
    this.#setKnown(this.#lastApplied, status.lastAppliedOptime?.t);
  }

  /**
   * Sets a lazily registered gauge whose value can also go away again (a limit lifted): absent
   * from the registry while `value` is null.
   */
  #setOptional(gauge: Gauge, value: number | null): void {
    if (value !== null) return this.#setKnown(gauge, value);
    if (!this.#registered.delete(gauge)) return;
    this.#registry.removeSingleMetric(this.#lazyNames.get(gauge)!);
  }

  /** Sets a lazily registered gauge, registering it the first time its value is known. */
  #setKnown(gauge: Gauge, value: number | null | undefined): void {
    if (value === null || value === undefined) return;
    if (!this.#registered.has(gauge)) {
      this.#registry.registerMetric(gauge);
      this.#registered.add(gauge);
    }
    gauge.set(value);
  }
}
