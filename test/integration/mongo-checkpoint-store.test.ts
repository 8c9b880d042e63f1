import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BSON, Timestamp } from 'mongodb';

import { MongoCheckpointStore } from '../../src/checkpoint/mongo-checkpoint-store.js';
import { copyPlan, copyStateContract } from '../support/copy-state-contract.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { leaseContract } from '../support/lease-contract.js';

describe('MongoCheckpointStore', () => {
  let deployments: Deployments;
  let database: string;
  before(async () => {
    deployments = await startDeployments();
    database = uniqueDbName('ckpt');
  });
  after(async () => {
    await deployments.target.db(database).dropDatabase();
    await deployments.close();
  });

  it('stores checkpoints in the target and reads them back exactly', async () => {
    const store = new MongoCheckpointStore(deployments.target, { database });
    const checkpoint = {
      name: 'orders',
      version: 1 as const,
      mode: 'incr' as const,
      phase: 'incr' as const,
      lastApplied: new Timestamp({ t: 1_700_000_000, i: 42 }),
      resumeToken: { _data: '82612F653E000000022B0229296E04' },
      updatedAt: new Date(1_700_000_001_000)
    };
    assert.equal(await store.load('orders'), undefined);
    await store.save(checkpoint);
    const loaded = await store.load('orders');
    assert.ok(loaded);
    assert.ok(loaded.lastApplied!.equals(checkpoint.lastApplied));
    assert.deepEqual(loaded.resumeToken, checkpoint.resumeToken);
    assert.equal(loaded.updatedAt.getTime(), checkpoint.updatedAt.getTime());
    const raw = await deployments.target
      .db(database)
      .collection('checkpoints')
      .findOne({ _id: 'orders' as never });
    assert.equal(raw?.mode, 'incr');
    await store.delete('orders');
    assert.equal(await store.load('orders'), undefined);
  });

  it('keeps the last of several saves made without awaiting each other', async () => {
    const store = new MongoCheckpointStore(deployments.target, { database });
    const optimes = Array.from({ length: 20 }, (_, i) => new Timestamp({ t: 1_700_000_300, i }));
    const base = {
      name: 'burst',
      version: 1 as const,
      mode: 'incr' as const,
      phase: 'incr' as const
    };
    await Promise.all(
      optimes.map(lastApplied => store.save({ ...base, lastApplied, updatedAt: new Date() }))
    );
    assert.ok((await store.load('burst'))!.lastApplied!.equals(optimes.at(-1)!));
  });
});

describe('MongoCheckpointStore leases and copy state', () => {
  let deployments: Deployments;
  const database = uniqueDbName('contracts');
  let n = 0;
  before(async () => {
    deployments = await startDeployments();
  });
  after(async () => {
    await deployments.target.db(database).dropDatabase();
    await deployments.close();
  });
  leaseContract('mongo', async () => ({
    store: new MongoCheckpointStore(deployments.target, { database }),
    name: `lease-${++n}`
  }));
  copyStateContract('mongo', async () => ({
    store: new MongoCheckpointStore(deployments.target, { database }),
    name: `copy-${++n}`
  }));

  it('keeps the checkpoint document small, and one small record per collection', async () => {
    const store = new MongoCheckpointStore(deployments.target, { database });
    const plan = copyPlan(2000, 16);
    await store.saveCopyState('small', plan, { replace: true });
    await store.save({
      name: 'small',
      version: 1,
      mode: 'full',
      phase: 'full',
      copyCollections: plan.length,
      updatedAt: new Date()
    });
    const db = deployments.target.db(database);
    const checkpoint = await db.collection('checkpoints').findOne({ _id: 'small' as never });
    assert.ok(BSON.calculateObjectSize(checkpoint!) < 1024, 'the checkpoint only counts records');
    const records = await db.collection('checkpoints.copy').find({ checkpoint: 'small' }).toArray();
    assert.equal(records.length, 2000);
    const largest = Math.max(...records.map(record => BSON.calculateObjectSize(record)));
    assert.ok(largest < 4096, `a record of 16 ranges is ${largest} bytes`);
  });
});
