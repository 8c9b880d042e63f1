/**
 * The Replicator's checkpoint keeper, built from its options: the store (a MongoCheckpointStore
 * in the target unless one was given), the binding to the source and the filter, and the spool
 * discarded up to each saved position once the copy is over.
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { type CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { MongoCheckpointStore } from '../checkpoint/mongo-checkpoint-store.js';
import { type ReplicationError } from '../errors.js';
import { type LeaseToken } from '../lease/lease.js';
import { filterFingerprint } from '../namespace/filter-fingerprint.js';
import { type CheckpointEvent } from '../replicator-events.js';
import { type ResolvedReplicatorOptions } from '../replicator-options.js';
import { type OplogSpool } from '../spool/oplog-spool.js';
import { CheckpointKeeper } from './checkpoint-keeper.js';

/**
 * What {@link replicatorKeeper} needs besides the options.
 * @internal
 */
export interface ReplicatorKeeperContext {
  /** From {@link checkpointStoreOf}. */
  readonly store: CheckpointStore;
  readonly sourceId: string | undefined;
  /** The spool of mode `all`, once opened. */
  readonly spool: () => OplogSpool | undefined;
  readonly onSaved: (event: CheckpointEvent) => void;
  readonly onFailure: (error: ReplicationError) => void;
  /** The lease saves are made under, once held. */
  readonly lease: () => LeaseToken | undefined;
  /** After each save that names an optime (a shard worker publishes it). */
  readonly afterSave?: (optime: Timestamp) => Promise<void>;
}

/**
 * Where a Replicator with `options` keeps its checkpoint (and lease): the store it was given, or
 * a {@link MongoCheckpointStore} in the target.
 * @internal
 */
export function checkpointStoreOf(
  options: Pick<ResolvedReplicatorOptions, 'checkpoint'>,
  target: MongoClient
): CheckpointStore {
  return options.checkpoint.store ?? new MongoCheckpointStore(target);
}

/**
 * A {@link CheckpointKeeper} for a Replicator with `options`.
 * @internal
 */
export function replicatorKeeper(
  options: ResolvedReplicatorOptions,
  context: ReplicatorKeeperContext
): CheckpointKeeper {
  const keeper: CheckpointKeeper = new CheckpointKeeper({
    store: context.store,
    name: options.checkpoint.name,
    mode: options.mode,
    fetchMethod: options.fetchMethod,
    intervalMs: options.checkpointIntervalMs,
    binding: {
      sourceId: context.sourceId,
      filterFingerprint: filterFingerprint(options.filter),
      ...(options.shardWorker ? { sourceShards: [...options.shardWorker.shards].sort() } : {})
    },
    onSaved: context.onSaved,
    // A save that finishes after a forced stop closed the spool leaves the segments: the next
    // run's next save discards them.
    afterSave: async optime => {
      const spool = context.spool();
      if (keeper.phase !== 'full' && spool?.closed === false) await spool.discardThrough(optime);
      await context.afterSave?.(optime);
    },
    onFailure: context.onFailure,
    lease: context.lease
  });
  return keeper;
}
