/**
 * What a Replicator builds once connected, in order: the deployments identified (and the filter
 * that follows), the checkpoint's lease held, its keeper, and the incremental pipeline. The
 * copy side (`copy-phase.ts`) is built by the Replicator afterwards, only in modes that copy.
 */
import { type MongoClient } from 'mongodb';

import { type ReplicationError } from '../errors.js';
import { type SourceShard } from '../fetch/source-shards.js';
import { type LeaseKeeper } from '../lease/lease-keeper.js';
import { type Logger } from '../logger.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import { type ReplicatorEvents } from '../replicator-events.js';
import { type ResolvedReplicatorOptions } from '../replicator-options.js';
import { type OplogSpool } from '../spool/oplog-spool.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';
import { type CheckpointKeeper } from './checkpoint-keeper.js';
import { type DeploymentClients } from './deployment-clients.js';
import { identifyDeployments } from './deployment-identity.js';
import { IncrementalPipeline, type PipelineEmit } from './incremental-pipeline.js';
import { checkpointStoreOf, replicatorKeeper } from './replicator-checkpoint.js';
import { holdLease } from './replicator-lease.js';
import { ShardWorker } from './shard-workers.js';
import { requireShardedSides, requireShardedSource } from './sharding-checks.js';

/**
 * The Replicator's events this module reports: the pipeline's, its lease and its checkpoints.
 * @internal
 */
export type AssemblyEmit = <
  K extends
    'retry' | 'lag' | 'skipped' | 'batch' | 'conflict' | 'uniqueIndex' | 'lease' | 'checkpoint'
>(
  event: K,
  ...args: Parameters<ReplicatorEvents[K]>
) => void;

/**
 * What the Replicator lends to {@link assembleReplicator}.
 * @internal
 */
export interface AssemblyHost {
  readonly options: ResolvedReplicatorOptions;
  readonly logger: Logger;
  readonly throttle: WriteThrottle;
  /** The lease check before every write to the target. */
  readonly beforeWrite: () => void;
  readonly emit: AssemblyEmit;
  /** Waiting for another replicator's lease (state `standby`), or done waiting. */
  readonly setStandby: (waiting: boolean) => void;
  readonly fail: (error: ReplicationError) => void;
  /** Mode `all`'s spool, once open (discarded up to each saved position). */
  readonly spool: () => OplogSpool | undefined;
  readonly onCatchUpEnd: () => void;
  /** A new client of one shard of a sharded source (its oplog is read through it). */
  readonly connectShard: (shard: SourceShard) => MongoClient;
}

/**
 * The parts {@link assembleReplicator} built.
 * @internal
 */
export interface ReplicatorAssembly {
  readonly filter: NamespaceFilter;
  /** The source is a sharded cluster (a mongos). */
  readonly sourceSharded: boolean;
  /** Undefined when the checkpoint store keeps no leases. */
  readonly lease: LeaseKeeper | undefined;
  readonly keeper: CheckpointKeeper;
  readonly pipeline: IncrementalPipeline;
}

/**
 * Identifies the deployments, takes the checkpoint's lease (waiting in standby if so told), and
 * builds the keeper and the pipeline; nothing is loaded or started yet.
 * @throws {@link InvalidConfigError} for a source or target the options cannot work with (a
 * deployment onto itself), {@link LeaseHeldError} when another
 * replicator holds the lease
 * @internal
 */
export async function assembleReplicator(
  host: AssemblyHost,
  clients: DeploymentClients,
  signal: AbortSignal
): Promise<ReplicatorAssembly> {
  const { options, logger } = host;
  const { sourceId, sourceSharded, targetSharded, filter } = await identifyDeployments(
    clients,
    options,
    logger
  );
  if (options.shardWorker !== undefined) requireShardedSource(sourceSharded);
  if (options.targetSharding === 'source') requireShardedSides(sourceSharded, targetSharded);
  const store = checkpointStoreOf(options, clients.target);
  const lease = await holdLease({
    options,
    store,
    logger,
    signal,
    onStandby: host.setStandby,
    onEvent: event => host.emit('lease', event),
    onLost: host.fail
  });
  let worker: ShardWorker | undefined;
  const keeper = replicatorKeeper(options, {
    store,
    sourceId,
    spool: host.spool,
    onSaved: event => host.emit('checkpoint', event),
    onFailure: host.fail,
    lease: () => lease?.token,
    // Best effort: the next save publishes again, and a barrier publishes (with retries) itself.
    afterSave: async optime =>
      worker?.publish(optime).catch((error: unknown) =>
        logger.warn('Publishing the shard worker position failed; the next save tries again', {
          error: error instanceof Error ? error.message : String(error)
        })
      )
  });
  const settings = options.shardWorker;
  if (settings !== undefined) {
    worker = new ShardWorker({
      target: clients.target,
      group: settings.group,
      name: options.checkpoint.name,
      shards: settings.shards,
      // Only called once the pipeline's fetcher runs.
      clusterShards: () => pipeline.clusterShards,
      applied: () => keeper.applied,
      appliedThrough: () => pipeline.appliedThrough,
      save: () => keeper.save(),
      beforeWrite: host.beforeWrite,
      logger
    });
  }
  const pipeline: IncrementalPipeline = new IncrementalPipeline({
    source: clients.source,
    target: clients.target,
    settings: options,
    filter,
    logger,
    signal,
    keeper,
    emit: host.emit as PipelineEmit,
    onCatchUpEnd: host.onCatchUpEnd,
    beforeWrite: host.beforeWrite,
    throttle: host.throttle,
    ...(sourceSharded ? { connectShard: host.connectShard } : {}),
    ...(worker === undefined ? {} : { shardWorker: worker, shards: settings?.shards })
  });
  return { filter, sourceSharded, lease, keeper, pipeline };
}
