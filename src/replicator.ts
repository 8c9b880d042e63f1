/**
 * Replicator: wires the stages together and forwards their events; it holds no replication logic.
 *
 * ```
 * open:  connect → load checkpoint (or resolve startAt) → start pool, batcher, fetcher
 * run:   until a stage fails (then abort the others) or all end
 * stop:  fetcher → batcher → pool drain in data-flow order → final checkpoint → close own clients
 * ```
 */
import { MongoClient, type Timestamp } from 'mongodb';

import { type Checkpoint } from './checkpoint/checkpoint.js';
import { type CheckpointStore } from './checkpoint/checkpoint-store.js';
import { MongoCheckpointStore } from './checkpoint/mongo-checkpoint-store.js';
import { ReplicationError, SourceReadError } from './errors.js';
import { type LagEvent } from './events.js';
import {
  type AppliedBatchEvent,
  type ApplierConflictEvent,
  HashedApplierPool
} from './incr/hashed-applier-pool.js';
import { OplogFetcher } from './incr/oplog-fetcher.js';
import { ReplBatcher } from './incr/repl-batcher.js';
import { classifyError } from './lifecycle/classify-error.js';
import { Stage, type StageEvents } from './lifecycle/stage.js';
import { redactText } from './logger.js';
import { NamespaceFilter } from './namespace/namespace-filter.js';
import {
  type ReplicatorOptions,
  type ResolvedReplicatorOptions,
  resolveReplicatorOptions
} from './replicator-options.js';

/**
 * A checkpoint was written.
 * @public
 */
export interface CheckpointEvent {
  /** The checkpoint's name. */
  readonly name: string;
  /** The optime it records: replication resumes after it. */
  readonly optime: Timestamp;
  /** When it was written. */
  readonly savedAt: Date;
}

/**
 * Events of {@link Replicator}: its own lifecycle plus what its stages report.
 * @public
 */
export interface ReplicatorEvents extends StageEvents {
  /** A batch was applied on the target (every lane finished it). */
  batch: (event: AppliedBatchEvent) => void;
  /** An update or delete found no document on the target after catch-up. */
  conflict: (event: ApplierConflictEvent) => void;
  /** Replication lag: the source's newest optime against the last applied one. */
  lag: (event: LagEvent) => void;
  /** A checkpoint was written. */
  checkpoint: (event: CheckpointEvent) => void;
}

/**
 * Replicates a MongoDB source into a target: tails the source oplog and applies it, resuming from
 * its checkpoint after a stop or a crash.
 *
 * @example
 * ```ts
 * const replicator = new Replicator({
 *   source: 'mongodb://src/?replicaSet=rs0',
 *   target: 'mongodb://dst/?replicaSet=rs1',
 *   filter: { include: ['shop.*'], rename: { 'shop.*': 'shop_copy.*' } },
 *   checkpoint: { name: 'shop' }
 * });
 * replicator.on('lag', lag => console.log(`${lag.seconds}s behind`));
 * await replicator.start();
 * // … later
 * await replicator.stop();
 * ```
 * @public
 */
export class Replicator extends Stage<ReplicatorEvents> {
  /** The options as resolved (defaults applied, validated). */
  readonly options: ResolvedReplicatorOptions;
  #source: MongoClient | undefined;
  #target: MongoClient | undefined;
  readonly #ownClients: MongoClient[] = [];
  #store: CheckpointStore | undefined;
  #fetcher: OplogFetcher | undefined;
  #batcher: ReplBatcher | undefined;
  #pool: HashedApplierPool | undefined;
  readonly #stagesAbort = new AbortController();
  #applied: Timestamp | undefined;
  #saved: Timestamp | undefined;
  #lastSaveAt = 0;
  #saving: Promise<void> = Promise.resolve();

  constructor(options: ReplicatorOptions) {
    const resolved = resolveReplicatorOptions(options);
    super('replicator', {
      ...(resolved.signal ? { signal: resolved.signal } : {}),
      ...(resolved.logger ? { logger: resolved.logger } : {})
    });
    this.options = resolved;
    // Constructing the filter validates it before any I/O.
    new NamespaceFilter(resolved.filter ?? {});
  }

  /** The optime of the last batch applied on the target, once one was. */
  get appliedOptime(): Timestamp | undefined {
    return this.#applied;
  }

  /** Connects, loads the checkpoint (or resolves `startAt`) and starts the stages. */
  protected override async open(signal: AbortSignal): Promise<void> {
    const { options } = this;
    this.#source = await this.#connect(options.source, 'source');
    this.#target = await this.#connect(options.target, 'target');
    signal.throwIfAborted();
    this.#store = options.checkpoint.store ?? new MongoCheckpointStore(this.#target);
    const checkpoint = await this.#store.load(options.checkpoint.name);
    const start = checkpoint?.lastApplied ?? (await this.#resolveStart());
    this.#applied = start;
    if (checkpoint) this.#saved = start;
    else await this.#save(start, true);
    const filter = new NamespaceFilter(options.filter ?? {});
    const stageOptions = { signal: this.#stagesAbort.signal, logger: this.logger };
    this.#fetcher = new OplogFetcher({
      ...options.fetcher,
      ...stageOptions,
      source: this.#source,
      start
    });
    this.#batcher = new ReplBatcher({
      ...options.batcher,
      ...stageOptions,
      input: this.#fetcher.output,
      filter,
      resumeOptime: start
    });
    this.#pool = new HashedApplierPool({
      ...options.applier,
      ...stageOptions,
      input: this.#batcher.output,
      target: this.#target,
      source: this.#source
    });
    this.#forwardEvents();
    // Consumers first, so nothing is produced into a queue nobody reads.
    await this.#pool.start();
    await this.#batcher.start();
    await this.#fetcher.start();
  }

  /** Runs until a stage fails (the others are then aborted) or every stage has ended. */
  protected override async run(signal: AbortSignal): Promise<void> {
    const stages = [this.#fetcher!, this.#batcher!, this.#pool!];
    // A forced stop reaches every stage: each ends at its next safe point without draining.
    const abortStages = () => this.#stagesAbort.abort(signal.reason);
    if (signal.aborted) abortStages();
    else signal.addEventListener('abort', abortStages, { once: true });
    try {
      await new Promise<void>((resolve, reject) => {
        for (const stage of stages) stage.done.catch(reject);
        Promise.all(stages.map(stage => stage.done)).then(() => resolve(), reject);
      });
    } catch (error) {
      // One stage failed: the others cannot make progress; stop them at once.
      this.#stagesAbort.abort(error);
      await Promise.allSettled(stages.map(stage => stage.done));
      await this.#closeClients();
      throw error;
    } finally {
      signal.removeEventListener('abort', abortStages);
    }
    // Every stage ended without an error: a forced stop (or the source ended); release the clients.
    if (signal.aborted) await this.#closeClients();
  }

  /** Stops the stages in data-flow order, writes the last checkpoint, closes own clients. */
  protected override async drain(): Promise<void> {
    // Data-flow order: the fetcher closes its output, the batcher drains it and closes its own,
    // the pool applies what is left. Then the last checkpoint, then the connections.
    await this.#fetcher?.stop();
    await this.#batcher?.stop();
    await this.#pool?.stop();
    await this.#saving;
    if (this.#applied && !(this.#saved && this.#applied.equals(this.#saved))) {
      await this.#save(this.#applied, true);
    }
    await this.#closeClients();
  }

  /** Wraps anything thrown into a typed error (a ReplicationError passes through). */
  protected override toReplicationError(error: unknown): ReplicationError {
    if (ReplicationError.is(error)) return error;
    const { retryable, hint } = classifyError(error);
    return new SourceReadError(
      redactText(error instanceof Error ? error.message : String(error)),
      retryable,
      {
        cause: error,
        hint
      }
    );
  }

  async #connect(value: string | MongoClient, role: 'source' | 'target'): Promise<MongoClient> {
    if (typeof value !== 'string') return value;
    const client = new MongoClient(value);
    this.#ownClients.push(client);
    try {
      await client.connect();
    } catch (error) {
      throw new SourceReadError(
        `Cannot connect to the ${role}: ${redactText(error instanceof Error ? error.message : String(error))}`,
        true,
        {
          cause: error,
          hint: `Check the ${role} connection string, that the deployment is reachable and that it is a replica set`
        }
      );
    }
    return client;
  }

  /** `startAt` as an optime; 'latest' is the source's newest entry now. */
  async #resolveStart(): Promise<Timestamp> {
    const startAt = this.options.startAt;
    if (startAt !== 'latest') return startAt;
    const [newest] = await this.#source!.db('local')
      .collection('oplog.rs')
      .find({}, { sort: { $natural: -1 }, limit: 1, projection: { ts: 1 } })
      .toArray();
    if (!newest) {
      throw new SourceReadError('The source has an empty oplog', false, {
        hint: 'The source must be a replica set member with an oplog (local.oplog.rs)'
      });
    }
    return newest.ts as Timestamp;
  }

  #forwardEvents(): void {
    for (const stage of [this.#fetcher!, this.#batcher!, this.#pool!] as Stage<StageEvents>[]) {
      stage.on('retry', event => this.safeEmit('retry', event));
    }
    this.#pool!.on('applied', event => {
      this.#applied = event.checkpointOptime;
      this.safeEmit('batch', event);
      if (Date.now() - this.#lastSaveAt >= this.options.checkpointIntervalMs) {
        void this.#save(event.checkpointOptime, false);
      }
    });
    this.#pool!.on('conflict', event => this.safeEmit('conflict', event));
    this.#fetcher!.on('lag', event => {
      const applied = this.#applied ?? event.fetchedOptime;
      this.safeEmit('lag', {
        stage: 'replicator',
        sourceOptime: event.sourceOptime,
        appliedOptime: applied,
        seconds: Math.max(0, event.sourceOptime.t - applied.t)
      });
    });
  }

  /** Writes a checkpoint; saves are serialized so an older one never overwrites a newer one. */
  #save(optime: Timestamp, wait: boolean): Promise<void> {
    this.#lastSaveAt = Date.now();
    const checkpoint: Checkpoint = {
      name: this.options.checkpoint.name,
      version: 1,
      mode: 'incr',
      phase: 'incr',
      lastApplied: optime,
      updatedAt: new Date()
    };
    const next = this.#saving.then(async () => {
      await this.#store!.save(checkpoint);
      this.#saved = optime;
      this.safeEmit('checkpoint', { name: checkpoint.name, optime, savedAt: checkpoint.updatedAt });
    });
    this.#saving = next.catch(error => {
      this.fail(this.toReplicationError(error));
    });
    if (wait) return next;
    return this.#saving;
  }

  async #closeClients(): Promise<void> {
    const clients = this.#ownClients.splice(0);
    await Promise.allSettled(clients.map(client => client.close()));
  }
}
