/**
 * Several replicators on one sharded source, each reading a subset of its shards (`shardWorker`),
 * coordinated through the target.
 *
 * Writes of different shards are independent, with two exceptions: a DDL command (which the
 * other shards' writes must be ordered around), and a chunk migration (a document's writes before
 * it are on the donor shard, after it on the recipient). Each worker publishes in
 * `mongo_replicate.shard_workers` how far it has applied and saved its checkpoint (`through`:
 * every entry of its shards up to it). Before a worker releases a DDL command at `T`, or the first
 * write after migration entries up to `M`, it waits until every other worker is through
 * `T - 1` (`M`): everything before the barrier is then on the target, whichever worker read it.
 * Entries a worker holds are published as its `through` once everything before them is applied
 * and saved, so two workers waiting at their own copies of one DDL (a sharded collection's DDL is
 * logged by every shard holding it) both move on.
 *
 * Published positions are saved checkpoints, never positions only applied: a worker that crashes
 * replays from its checkpoint, and a replay must never put back a write that another worker has
 * since ordered after it (a migrated document).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { type MongoClient, type Timestamp } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { type BoundedQueue } from '../lifecycle/bounded-queue.js';
import { withRetry } from '../lifecycle/retry.js';
import { type Logger } from '../logger.js';
import { REPLICATOR_DATABASE } from '../namespace/namespace-filter.js';
import { shardCollectionEntry } from '../oplog/ddl-ops.js';
import { compareOptimes, formatOptime, type OplogEntry } from '../oplog/oplog-entry.js';
import { shardEntriesOf } from '../oplog/shard-entries.js';
import { TRANSACTION_COMMANDS } from '../oplog/transactions.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';
import { justBefore } from '../pipeline/resume-token.js';

/** Where workers publish their positions, in the target. */
export const SHARD_WORKERS_COLLECTION = 'shard_workers';

/** How often a waiting worker reads the others' positions. */
const POLL_MS = 100;
/** How often a worker still waiting says so in the log. */
const REPORT_MS = 30_000;
/** How long a checkpoint held back by a transaction may keep a barrier's position unpublished. */
const HELD_BACK_MS = 5000;

/**
 * One worker's document in `mongo_replicate.shard_workers`.
 * @internal
 */
interface WorkerDocument {
  readonly _id: string;
  readonly group: string;
  readonly shards: readonly string[];
  readonly through?: Timestamp;
  readonly updatedAt: Date;
}

/**
 * What a worker needs to take part in its group.
 * @internal
 */
export interface ShardWorkerOptions {
  readonly target: MongoClient;
  /** The name shared by every worker of the job. */
  readonly group: string;
  /** This worker's name in the group: its checkpoint's name. */
  readonly name: string;
  /** The shards this worker reads. */
  readonly shards: readonly string[];
  /** Every shard of the cluster (listShards), once known. */
  readonly clusterShards: () => readonly string[];
  /** The optime of the last applied batch's checkpoint (see CheckpointKeeper.applied). */
  readonly applied: () => Timestamp | undefined;
  /** The last entry the applied batches cover (held transactions included). */
  readonly appliedThrough: () => Timestamp | undefined;
  /** Saves the checkpoint now; resolves once durable. */
  readonly save: () => Promise<void>;
  /** The lease check before every write to the target. */
  readonly beforeWrite: () => void;
  readonly logger: Logger;
}

/**
 * A worker of a group: publishes its position, and gates its fetched entries on the others'.
 * @internal
 */
export class ShardWorker {
  readonly #options: ShardWorkerOptions;
  #lastReleased: Timestamp | undefined;
  #published: Timestamp | undefined;
  #publishing: Promise<void> = Promise.resolve();

  constructor(options: ShardWorkerOptions) {
    this.#options = options;
  }

  /**
   * Publishes `through` (a saved checkpoint's optime, or just before a held barrier), one write
   * at a time and only forward: a save of a batch before a held barrier must not take back what
   * was said.
   */
  publish(through: Timestamp): Promise<void> {
    const write = async () => {
      if (this.#published !== undefined && compareOptimes(through, this.#published) <= 0) return;
      const { group, name, shards, beforeWrite } = this.#options;
      beforeWrite();
      await this.#collection().updateOne(
        { _id: `${group}\u0000${name}` },
        { $set: { group, shards: [...shards], through, updatedAt: new Date() } },
        { upsert: true }
      );
      this.#published = through;
    };
    const next = this.#publishing.then(write, write);
    this.#publishing = next.catch(() => undefined);
    return next;
  }

  /**
   * Moves `input` to `output`, holding each barrier until every other worker is through it; ends
   * when `input` ends (closing `output`) or `signal` aborts.
   */
  async gate(
    input: BoundedQueue<FetchedEntry>,
    output: BoundedQueue<FetchedEntry>,
    signal: AbortSignal
  ): Promise<void> {
    let migratedThrough: Timestamp | undefined;
    try {
      for (;;) {
        const item = await input.shift(signal);
        if (item === undefined) return;
        const { entry } = item;
        // Several shards' entries of one optime travel together: they are concurrent, so the
        // envelope waits if any of them must, and what follows is after any migration in it.
        const parts = shardEntriesOf(entry) ?? [entry];
        // A chunk migration's entries are skipped when applying, but they order what follows.
        if (!parts.every(part => part.fromMigrate)) {
          const barrier = parts.some(isBarrier) ? justBefore(entry.ts) : migratedThrough;
          if (barrier !== undefined) await this.#waitForOthers(barrier, entry.ts, signal);
          migratedThrough = undefined;
        }
        if (parts.some(part => part.fromMigrate)) migratedThrough = entry.ts;
        if (!(await output.push(item, item.bytes, signal))) return;
        this.#lastReleased = entry.ts;
      }
    } finally {
      output.close();
    }
  }

  /**
   * Waits until every shard of the cluster is read by a worker and every other worker is through
   * `barrier`. Meanwhile, once everything released is applied and saved, publishes `held - 1`, so
   * that workers waiting at their own barriers move on too. A transaction prepared before `held`
   * and decided after it keeps the checkpoint before it: then `held - 1` is published once
   * everything released is applied (or held in such a transaction) and the checkpoint has stayed
   * behind for `HELD_BACK_MS`, because two workers could otherwise wait for each other for
   * ever (the cost: a crash of this worker in that window replays what it applied since its
   * checkpoint).
   */
  async #waitForOthers(barrier: Timestamp, held: Timestamp, signal: AbortSignal): Promise<void> {
    const { logger, group, name } = this.#options;
    let published = false;
    const heldBackUntil = Date.now() + HELD_BACK_MS;
    let reportAt = Date.now() + REPORT_MS;
    for (;;) {
      if (!published && (this.#releasedSaved() || this.#releasedHeldBack(heldBackUntil))) {
        await this.#options.save();
        await this.#retried('publish its position', () => this.publish(justBefore(held)), signal);
        published = true;
      }
      const behind = await this.#retried(
        "read the other workers' positions",
        () => this.#behind(barrier),
        signal
      );
      if (behind.length === 0) return;
      if (Date.now() >= reportAt) {
        reportAt = Date.now() + REPORT_MS;
        logger.warn('Waiting for the other shard workers before a DDL command or a migration', {
          group,
          worker: name,
          optime: formatOptime(held),
          waitingFor: behind.join('; ')
        });
      }
      await sleep(POLL_MS, undefined, { signal });
    }
  }

  /** A read or write of the workers' positions, retried while the target is unreachable. */
  #retried<T>(operation: string, fn: () => Promise<T>, signal: AbortSignal): Promise<T> {
    return withRetry(fn, {
      operation: `Shard worker ${this.#options.name}: ${operation}`,
      signal,
      onRetry: attempt =>
        this.#options.logger.warn(`${attempt.operation} failed; retrying`, {
          error: attempt.error.message,
          delayMs: attempt.delayMs
        })
    });
  }

  /** Every entry released is applied, and the checkpoint (saved next) reaches the last one. */
  #releasedSaved(): boolean {
    return this.#reached(this.#options.applied());
  }

  /** Every entry released is applied or held in a transaction, and `until` has passed. */
  #releasedHeldBack(until: number): boolean {
    return Date.now() >= until && this.#reached(this.#options.appliedThrough());
  }

  #reached(position: Timestamp | undefined): boolean {
    const released = this.#lastReleased;
    return (
      released === undefined || (position !== undefined && compareOptimes(position, released) >= 0)
    );
  }

  /** What keeps a barrier closed: shards no worker reads, workers not through it yet. */
  async #behind(barrier: Timestamp): Promise<string[]> {
    const { group, name, shards } = this.#options;
    const docs = await this.#collection().find({ group }).toArray();
    const others = docs.filter(doc => doc._id !== `${group}\u0000${name}`);
    for (const doc of others) {
      const shared = doc.shards.filter(shard => shards.includes(shard));
      if (shared.length > 0) {
        throw new InvalidConfigError(
          'shardWorker.shards',
          `worker ${doc._id.slice(group.length + 1)} of group "${group}" reads ${shared.join(', ')} too: each shard must have one worker (two would apply its writes in racing order). Give each worker other shards, or use another group name`
        );
      }
    }
    const covered = new Set([...shards, ...others.flatMap(doc => doc.shards)]);
    const unread = this.#options.clusterShards().filter(shard => !covered.has(shard));
    const reasons = unread.map(shard => `shard ${shard} has no worker`);
    for (const doc of others) {
      if (doc.through === undefined || compareOptimes(doc.through, barrier) < 0) {
        const at = doc.through === undefined ? 'nothing yet' : formatOptime(doc.through);
        reasons.push(`worker ${doc._id.slice(group.length + 1)} is through ${at}`);
      }
    }
    return reasons;
  }

  #collection() {
    return this.#options.target
      .db(REPLICATOR_DATABASE)
      .collection<WorkerDocument>(SHARD_WORKERS_COLLECTION);
  }
}

/**
 * A DDL command (or the record of a `shardCollection`): the other workers' earlier writes must
 * be applied before it. An `applyOps` is not one: a transaction (or a batched write) that holds
 * DDL of a collection it creates touches only that collection's shard.
 */
function isBarrier(entry: OplogEntry): boolean {
  if (entry.op === 'n') return shardCollectionEntry(entry) !== undefined;
  return entry.op === 'c' && !TRANSACTION_COMMANDS.has(entry.command);
}
