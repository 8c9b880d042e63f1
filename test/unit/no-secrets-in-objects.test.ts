/**
 * Nothing secret in objects: a replicator, its options, its stages and its stores, inspected to
 * any depth or serialised, never show a connection string's password or secret options.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';

import { MongoClient } from 'mongodb';

import { HashedApplierPool } from '../../src/apply/hashed-applier-pool.js';
import { MongoCheckpointStore } from '../../src/checkpoint/mongo-checkpoint-store.js';
import { OplogFetcher } from '../../src/fetch/oplog-fetcher.js';
import { BoundedQueue } from '../../src/lifecycle/bounded-queue.js';
import { Replicator } from '../../src/replicator.js';

const SOURCE = 'mongodb://alice:s3cret-a@src1:27017,src2:27018/?replicaSet=rs0&authSource=admin';
const TARGET = 'mongodb://bob:s3cret-b@dst:27017/?tlsCertificateKeyFilePassword=s3cret-c';
const SECRETS = /s3cret/;

function assertClean(what: string, value: unknown): void {
  for (const text of [
    inspect(value, { depth: Infinity, showHidden: true }),
    inspect(value),
    JSON.stringify(value) ?? '',
    String(value)
  ]) {
    assert.doesNotMatch(text, SECRETS, `${what} shows a secret: ${text.slice(0, 300)}`);
  }
}

describe('no secrets in objects', () => {
  it('a replicator and its options show hosts, never credentials', () => {
    const replicator = new Replicator({
      source: SOURCE,
      target: TARGET,
      checkpoint: { name: 'x' }
    });
    assertClean('the replicator', replicator);
    assertClean('its options', replicator.options);
    assert.match(inspect(replicator), /^Replicator \{[^]*state: 'idle'/);
    assert.deepEqual(JSON.parse(JSON.stringify(replicator)), {
      stage: 'replicator',
      state: 'idle',
      mode: 'incr',
      fetchMethod: 'oplog',
      checkpoint: 'x',
      source: 'rs0/src1:27017,src2:27018',
      target: 'dst:27017'
    });
    assert.match(String(replicator.options.source), /<credentials>@src1/);
  });

  it('stages and stores given clients built from secret URIs show none of it', async () => {
    const source = new MongoClient(SOURCE);
    const target = new MongoClient(TARGET);
    try {
      assertClean('a fetcher', new OplogFetcher({ source, start: 'latest' }));
      assertClean(
        'a pool',
        new HashedApplierPool({ input: new BoundedQueue(1, Infinity), target })
      );
      assertClean('a checkpoint store', new MongoCheckpointStore(target));
    } finally {
      await Promise.all([source.close(), target.close()]);
    }
  });
});
