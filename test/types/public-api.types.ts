/**
 * Compile-only checks of the public types, run by `tsc` (`npm run typecheck`, and
 * `public-api.test.ts` through `npm test`). Every `@ts-expect-error` must be an error: an unused
 * one fails the compile (TS2578), so each line proves the types refuse a mistake.
 */
import { MongoClient, Timestamp } from 'mongodb';

import {
  type AppliedBatchEvent,
  type CopyStateStore,
  HashedApplierPool,
  InvalidConfigError,
  isCopyStateStore,
  type LagEvent,
  type LeasingCheckpointStore,
  loadCheckpoint,
  MemoryCheckpointStore,
  NamespaceFilter,
  OplogFetcher,
  type ReplicationErrorCode,
  Replicator,
  type ReplicatorOptions,
  shardConnectionString,
  ShardedOplogFetcher,
  type StageState,
  Verifier,
  WriteThrottle
} from '../../src/index.js';

declare const client: MongoClient;

export function replicatorEvents(replicator: Replicator): void {
  replicator.on('batch', (event: AppliedBatchEvent) => event.checkpointOptime.t);
  replicator.on('lag', (event: LagEvent) => event.seconds);
  replicator.on('phase', event => event.phase satisfies 'full' | 'catchup' | 'incr');
  replicator.on('checkpoint', event => event.optime.t);
  replicator.on('error', error => error.code satisfies ReplicationErrorCode);
  // @ts-expect-error: no such event
  replicator.on('batches', () => undefined);
  // @ts-expect-error: a lag event has no `lag` field
  replicator.on('lag', event => event.lag);
  // @ts-expect-error: phase payloads carry the phase, not a mode
  replicator.on('phase', event => event.mode);
  // @ts-expect-error: `progress` listeners take one payload
  replicator.on('progress', (event, extra: number) => event.documents + extra);
}

export async function waitForIsTyped(replicator: Replicator): Promise<void> {
  const [event] = await replicator.waitFor('batch', { filter: e => e.ops > 0 });
  event.lastOptime satisfies Timestamp;
  // @ts-expect-error: the filter receives the event's payload
  await replicator.waitFor('batch', { filter: (e: string) => e.length > 0 });
}

export function replicatorOptions(): void {
  const options: ReplicatorOptions = {
    source: 'mongodb://src/?replicaSet=rs0',
    target: client,
    mode: 'all',
    fetchMethod: 'changeStream',
    filter: { include: ['shop.*'], rename: { 'shop.*': 'copy.*' } },
    startAt: new Timestamp({ t: 1, i: 1 }),
    checkpoint: { name: 'shop', store: new MemoryCheckpointStore(), intervalMs: 500 },
    applier: { lanes: 8, conflictPolicy: 'upsert', writeConcern: { w: 'majority' } },
    batcher: { maxOps: 1000 },
    fetcher: { batchSize: 500, retry: { maxRetryTimeMs: 10_000 } },
    full: { indexes: 'after', onExistingTarget: 'drop', executor: { readers: 2 } }
  };
  new Replicator(options);
  // @ts-expect-error: a misspelt top-level option
  new Replicator({ ...options, modee: 'full' });
  // @ts-expect-error: an unknown mode
  new Replicator({ ...options, mode: 'mirror' });
  // @ts-expect-error: a misspelt nested option
  new Replicator({ ...options, applier: { lanez: 4 } });
  // @ts-expect-error: lanes is a number
  new Replicator({ ...options, applier: { lanes: '4' } });
  // @ts-expect-error: the filter's include list is misspelt
  new Replicator({ ...options, filter: { inlcude: ['shop.*'] } });
  // @ts-expect-error: the Replicator wires the applier's input itself
  new Replicator({ ...options, applier: { input: undefined } });
  // @ts-expect-error: a source is required
  new Replicator({ target: client, checkpoint: { name: 'x' } });
  // The first line of a migration script: everything else has a default.
  new Replicator({ source: 'mongodb://src/', target: 'mongodb://dst/', mode: 'full' });
  new Replicator({
    ...options,
    filter: { include: ['shop.*'], skip: ['delete', 'drop', 'dropDatabase'] },
    rateLimit: { opsPerSecond: 500, bytesPerSecond: 8e6 }
  });
  // @ts-expect-error: skip names an operation kind or a DDL command the applier knows
  new Replicator({ ...options, filter: { skip: ['dropCollection'] } });
  // Sharded clusters: a worker of some shards, a target sharded like the source.
  new Replicator({
    ...options,
    mode: 'incr',
    fetchMethod: 'oplog',
    shardWorker: { group: 'job', shards: ['shard0'] },
    targetSharding: 'source'
  });
  // @ts-expect-error: targetSharding is 'none' or 'source'
  new Replicator({ ...options, targetSharding: 'hashed' });
  // @ts-expect-error: a worker names its shards
  new Replicator({ ...options, shardWorker: { group: 'job' } });
  new ShardedOplogFetcher({
    source: client,
    start: 'latest',
    connectShard: shard => new MongoClient(shardConnectionString('mongodb://mongos/', shard))
  });
  // @ts-expect-error: the fetcher connects to each shard through connectShard
  new ShardedOplogFetcher({ source: client, start: 'latest' });
  // @ts-expect-error: a misspelt rate limit
  new Replicator({ ...options, rateLimit: { opsPerSec: 5 } });
  // @ts-expect-error: the Replicator gives the applier its throttle itself
  new Replicator({ ...options, applier: { throttle: new WriteThrottle() } });
}

export async function pauseAndLimit(replicator: Replicator): Promise<void> {
  await replicator.pause();
  replicator.resume();
  replicator.setRateLimit({ opsPerSecond: 100 });
  replicator.rateLimit.opsPerSecond satisfies number | undefined;
  replicator.rateLimitStats.limiting satisfies boolean;
  replicator.on('state', event => event.to satisfies StageState);
  replicator.on('lag', event => event.heldBack satisfies 'paused' | 'rateLimit' | undefined);
  replicator.on('batch', event => event.skippedOperations?.deletes satisfies number | undefined);
  // @ts-expect-error: resume() does not wait for anything
  await replicator.resume().then();
  // @ts-expect-error: a limit is an object of optional numbers
  replicator.setRateLimit(100);
}

export function stageOptions(): void {
  new OplogFetcher({ source: client, start: 'latest', batchSize: 100 });
  // @ts-expect-error: start is an optime or 'latest'
  new OplogFetcher({ source: client, start: 'earliest' });
  // @ts-expect-error: the pool needs its input queue
  new HashedApplierPool({ target: client, lanes: 4 });
  new NamespaceFilter({ exclude: [/tmp$/] });
  // @ts-expect-error: patterns are strings or RegExps
  new NamespaceFilter({ include: [42] });
  new Verifier({ source: client, target: client, sampleLimit: 5 });
  // @ts-expect-error: no such verifier option
  new Verifier({ source: client, target: client, samples: 5 });
}

export function errors(error: unknown): void {
  if (error instanceof InvalidConfigError) {
    error.field satisfies string;
    // @ts-expect-error: the error's fields are read-only
    error.field = 'x';
  }
  // @ts-expect-error: codes are a closed set
  const code: ReplicationErrorCode = 'MR_SOMETHING';
  void code;
}

export async function checkpointStores(): Promise<void> {
  const store = new MemoryCheckpointStore();
  // Every store of the package keeps leases and the copy's state apart.
  store satisfies LeasingCheckpointStore & CopyStateStore;
  const checkpoint = await loadCheckpoint(store, 'shop');
  checkpoint?.copy?.[0]?.ranges[0]?.done satisfies boolean | undefined;
  checkpoint?.copyCollections satisfies number | undefined;
  if (isCopyStateStore(store)) await store.saveCopyState('shop', [], { replace: true });
  // @ts-expect-error: a copy state is a list of collections, not one
  await store.saveCopyState('shop', { sourceNs: 'a.b', targetNs: 'a.b', ranges: [] });
  // @ts-expect-error: loadCheckpoint takes the store and the name
  await loadCheckpoint('shop');
}
