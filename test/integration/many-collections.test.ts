/**
 * A database of many collections (a collection per tenant), copied the way the copy takes its
 * shortcuts on such sources: every collection, empty ones and one with options included, lands
 * exactly, a secondary index on one of them is not missed when the others have none, and the
 * copy's state is one record per collection beside a checkpoint that only counts them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type Document } from 'mongodb';

import { MongoCheckpointStore } from '../../src/checkpoint/mongo-checkpoint-store.js';
import { Replicator } from '../../src/replicator.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments } from '../support/replication.js';
import { withTimeout } from '../support/timeout-signal.js';

const TENANTS = 40;

describe('copying a database of many collections', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  it('copies every collection, its options and its indexes, and records one state per collection', async () => {
    const src = uniqueDbName('tenants');
    const dst = `${src}_copy`;
    const db = d.source.db(src);
    for (let t = 0; t < TENANTS; t++) {
      // Tenants 0–2 are empty (still created), the others hold t documents.
      const docs = Array.from({ length: t < 3 ? 0 : t }, (_, i) => ({ _id: i, tenant: t, n: i }));
      if (docs.length > 0) await db.collection<{ _id: number }>(`t${t}`).insertMany(docs);
      else await db.createCollection(`t${t}`);
    }
    // One tenant with a unique secondary index, one with a validator and a collation.
    await db.collection('t7').createIndex({ n: 1 }, { unique: true, name: 'n_unique' });
    await db.createCollection('special', {
      validator: { n: { $type: 'number' } },
      collation: { locale: 'fr', strength: 2 }
    });
    await db.collection<{ _id: number; n: number }>('special').insertOne({ _id: 1, n: 1 });

    const name = `many-${src}`;
    const replicator = new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      mode: 'full',
      filter: { include: [`${src}.*`], rename: { [`${src}.*`]: `${dst}.*` } },
      checkpoint: { name }
    });
    await replicator.start();
    await withTimeout(replicator.done, 60_000, 'the copy of many collections');

    const listed = async (client: Deployments['source'], name: string) =>
      (await client.db(name).listCollections().toArray())
        .map(({ name: coll, options }: Document) => ({ coll, options }))
        .sort((a, b) => String(a.coll).localeCompare(String(b.coll)));
    const strip = (entries: Document[]) =>
      entries.map(({ coll, options }) => ({ coll, options: { ...options, uuid: undefined } }));
    assert.deepEqual(strip(await listed(d.target, dst)), strip(await listed(d.source, src)));
    for (let t = 0; t < TENANTS; t++) {
      assert.deepEqual(
        await rawDocuments(d.target, dst, `t${t}`),
        await rawDocuments(d.source, src, `t${t}`),
        `t${t}`
      );
    }
    const indexNames = async (coll: string) =>
      (await d.target.db(dst).collection(coll).listIndexes().toArray())
        .map(index => String(index.name))
        .sort();
    assert.deepEqual(await indexNames('t7'), ['_id_', 'n_unique']);
    assert.deepEqual(await indexNames('t8'), ['_id_']);
    const unique = (await d.target.db(dst).collection('t7').listIndexes().toArray()).find(
      index => index.name === 'n_unique'
    );
    assert.equal(unique?.unique, true, 'enforced again once the copy is done');

    const store = new MongoCheckpointStore(d.target);
    const checkpoint = await store.load(name);
    assert.equal(checkpoint?.copy, undefined, 'the checkpoint only counts the collections');
    assert.equal(checkpoint?.copyCollections, TENANTS + 1);
    const states = await store.loadCopyState(name);
    assert.equal(states.length, TENANTS + 1);
    assert.ok(states.every(state => state.ranges.every(range => range.done)));
    await store.delete(name);
  });
});
