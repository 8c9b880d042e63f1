/**
 * Every option the Replicator and its stages take is checked in the constructor, before anything
 * connects: a bad value or an unknown key at any level throws InvalidConfigError naming its path.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type MongoClient } from 'mongodb';

import { HashedApplierPool } from '../../src/apply/hashed-applier-pool.js';
import { ReplBatcher } from '../../src/batch/repl-batcher.js';
import { CatalogCopier } from '../../src/catalog/catalog-copier.js';
import { MongoCheckpointStore } from '../../src/checkpoint/mongo-checkpoint-store.js';
import { InvalidConfigError } from '../../src/errors.js';
import { ChangeStreamFetcher } from '../../src/fetch/change-stream-fetcher.js';
import { OplogFetcher } from '../../src/fetch/oplog-fetcher.js';
import { CollectionExecutor } from '../../src/full/collection-executor.js';
import { BoundedQueue } from '../../src/lifecycle/bounded-queue.js';
import { NamespaceFilter } from '../../src/namespace/namespace-filter.js';
import { Replicator } from '../../src/replicator.js';
import { type ReplicatorOptions } from '../../src/replicator-options.js';
import { DocumentSplitter } from '../../src/split/document-splitter.js';
import { Verifier } from '../../src/verify/verifier.js';

/** A client that records any use: constructors must not touch it. */
function untouchedClient(): MongoClient {
  return new Proxy({} as MongoClient, {
    get(_, property) {
      if (property === 'db') {
        return () => assert.fail('a constructor used the client');
      }
      if (property === 'then') return undefined;
      return () => assert.fail(`a constructor called client.${String(property)}`);
    }
  });
}

const base = (): ReplicatorOptions => ({
  // Nothing listens here: a constructor that connected would fail loudly.
  source: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1',
  target: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1',
  checkpoint: { name: 'options-test' }
});

function rejects(create: () => unknown, field: string, message?: RegExp): void {
  assert.throws(create, (error: unknown) => {
    assert.ok(
      error instanceof InvalidConfigError,
      `expected InvalidConfigError, got ${String(error)}`
    );
    assert.equal(error.field, field);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('Replicator options', () => {
  it('needs no checkpoint options: the name defaults to "default", as in the CLI', () => {
    const { checkpoint: _checkpoint, ...withoutCheckpoint } = base();
    const replicator = new Replicator({ ...withoutCheckpoint, mode: 'full' });
    assert.equal(replicator.options.checkpoint.name, 'default');
    assert.equal(replicator.options.checkpoint.intervalMs, 1000);
    const named = new Replicator({ ...withoutCheckpoint, checkpoint: { intervalMs: 5 } });
    assert.equal(named.options.checkpoint.name, 'default');
    rejects(() => new Replicator({ ...base(), checkpoint: { name: '' } }), 'checkpoint.name');
  });

  it('refuses out-of-range stage options by their full path, synchronously', () => {
    rejects(
      () => new Replicator({ ...base(), mode: 'all', applier: { lanes: 100_000 } }),
      'applier.lanes',
      /≤ 1024/
    );
    rejects(() => new Replicator({ ...base(), batcher: { maxOps: 0 } }), 'batcher.maxOps');
    rejects(
      () => new Replicator({ ...base(), fetcher: { lagIntervalMs: 1 } }),
      'fetcher.lagIntervalMs'
    );
    rejects(
      () => new Replicator({ ...base(), full: { splitter: { samplesPerRange: 0 } } }),
      'full.splitter.samplesPerRange'
    );
    rejects(
      () => new Replicator({ ...base(), applier: { writeConcern: { w: -1 } } }),
      'applier.writeConcern.w'
    );
    rejects(
      () => new Replicator({ ...base(), checkpoint: { name: 'x', intervalMs: -1 } }),
      'checkpoint.intervalMs'
    );
  });

  it('checks shardWorker: a group, distinct shard names, the oplog and mode incr', () => {
    const worker = (shardWorker: unknown, extra: Partial<ReplicatorOptions> = {}) =>
      new Replicator({
        ...base(),
        mode: 'incr',
        ...extra,
        shardWorker: shardWorker as NonNullable<ReplicatorOptions['shardWorker']>
      });
    const ok = worker({ group: 'job', shards: ['shard0', 'shard1'] });
    assert.deepEqual(ok.options.shardWorker, { group: 'job', shards: ['shard0', 'shard1'] });
    rejects(() => worker({ group: '', shards: ['a'] }), 'shardWorker.group');
    rejects(() => worker({ group: 'job', shards: [] }), 'shardWorker.shards');
    rejects(() => worker({ group: 'job', shards: ['a', 'a'] }), 'shardWorker.shards');
    rejects(() => worker({ group: 'job', shards: ['a'], shard: 'b' }), 'shardWorker.shard');
    rejects(
      () => worker({ group: 'job', shards: ['a'] }, { fetchMethod: 'changeStream' }),
      'shardWorker',
      /fetchMethod 'oplog'/
    );
    rejects(() => worker({ group: 'job', shards: ['a'] }, { mode: 'all' }), 'shardWorker', /incr/);
  });

  it('refuses unknown keys at every level', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ modee: 'full' }, 'modee'],
      [{ filter: { inlcude: ['shop.*'] } }, 'filter.inlcude'],
      [{ fetcher: { unknown: 1 } }, 'fetcher.unknown'],
      [{ fetcher: { retry: { minDelay: 5 } } }, 'fetcher.retry.minDelay'],
      [{ batcher: { maxOp: 5 } }, 'batcher.maxOp'],
      [{ applier: { lanez: 4 } }, 'applier.lanez'],
      [{ applier: { retry: { jiter: false } } }, 'applier.retry.jiter'],
      [{ applier: { writeConcern: { wtimeout_ms: 5 } } }, 'applier.writeConcern.wtimeout_ms'],
      [{ full: { executor: { readerz: 2 } } }, 'full.executor.readerz'],
      [{ full: { splitter: { source: 'x' } } }, 'full.splitter.source'],
      [{ full: { spooldir: '/tmp' } }, 'full.spooldir'],
      [{ checkpoint: { name: 'x', nmae: 'y' } }, 'checkpoint.nmae'],
      // Stage wiring the Replicator supplies itself is not an option of its slices.
      [{ applier: { input: {} } }, 'applier.input'],
      [{ fetcher: { source: 'mongodb://x' } }, 'fetcher.source']
    ];
    for (const [extra, field] of cases) {
      rejects(
        () => new Replicator({ ...base(), ...extra } as ReplicatorOptions),
        field,
        /unknown option/
      );
    }
  });

  it('checks a given client by shape without using it', () => {
    const client = untouchedClient();
    const replicator = new Replicator({
      source: client,
      target: client,
      checkpoint: { name: 'x' }
    });
    assert.equal(replicator.state, 'idle');
  });
});

describe('stage constructors refuse unknown keys too', () => {
  const client = untouchedClient();
  const queue = new BoundedQueue<never>(1, 1);
  const cases: [string, () => unknown, string][] = [
    [
      'OplogFetcher',
      () => new OplogFetcher({ source: client, start: 'latest', batchSise: 1 } as never),
      'batchSise'
    ],
    [
      'ChangeStreamFetcher',
      () => new ChangeStreamFetcher({ source: client, start: 'latest', resumeTokn: {} } as never),
      'resumeTokn'
    ],
    ['ReplBatcher', () => new ReplBatcher({ input: queue, maxOpz: 1 } as never), 'maxOpz'],
    [
      'HashedApplierPool',
      () => new HashedApplierPool({ input: queue, target: client, lanes: 2, lanez: 1 } as never),
      'lanez'
    ],
    [
      'CollectionExecutor',
      () =>
        new CollectionExecutor({ source: client, target: client, tasks: [], writerz: 1 } as never),
      'writerz'
    ],
    [
      'DocumentSplitter',
      () => new DocumentSplitter({ source: client, maxRanges: 1 } as never),
      'maxRanges'
    ],
    [
      'CatalogCopier',
      () =>
        new CatalogCopier({
          source: client,
          target: client,
          filter: new NamespaceFilter(),
          onExisting: 'drop'
        } as never),
      'onExisting'
    ],
    [
      'Verifier',
      () => new Verifier({ source: client, target: client, sampleLimt: 1 } as never),
      'sampleLimt'
    ],
    ['NamespaceFilter', () => new NamespaceFilter({ exlude: [] } as never), 'filter.exlude'],
    [
      'MongoCheckpointStore',
      () => new MongoCheckpointStore(client, { colection: 'c' } as never),
      'colection'
    ]
  ];
  for (const [name, create, field] of cases) {
    it(name, () => rejects(create, field, /unknown option/));
  }
});
