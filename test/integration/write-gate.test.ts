/**
 * The `beforeWrite` gate the Replicator's lease closes: once it throws, the applier pool, the
 * catalog copier and the collection executor make no further write to the target, whatever the
 * next write would have been, and fail with the gate's error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { CatalogCopier } from '../../src/catalog/catalog-copier.js';
import { LeaseLostError } from '../../src/errors.js';
import { CollectionExecutor } from '../../src/full/collection-executor.js';
import { NamespaceFilter } from '../../src/namespace/namespace-filter.js';
import { newestOplogTs } from '../server/support.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { applyAll, readOplog, toBatches } from '../support/pool-batches.js';
import { withTimeout } from '../support/timeout-signal.js';

/** A gate that lets `open` writes through, then refuses every one. */
function gate(open: number) {
  let calls = 0;
  const error = new LeaseLostError('The lease was taken over (test)');
  return {
    error,
    get refused() {
      return Math.max(0, calls - open);
    },
    beforeWrite: () => {
      calls++;
      if (calls > open) throw error;
    }
  };
}

describe('beforeWrite: no write once the gate closes', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  for (const next of ['insert', 'update', 'delete', 'ddl'] as const) {
    it(`the applier pool stops before a batch whose first write is ${next === 'ddl' ? 'a DDL command' : `an ${next}`}`, async () => {
      const db = uniqueDbName(`gate_${next}`);
      const items = d.source.db(db).collection<{ _id: number; v?: number }>('items');
      await d.source.db(db).createCollection('items');
      await d.target.db(db).createCollection('items');
      const since = await newestOplogTs(d.source);
      await items.insertMany([1, 2, 3].map(_id => ({ _id })));
      if (next === 'insert') await items.insertMany([4, 5, 6].map(_id => ({ _id })));
      if (next === 'update') await items.updateMany({}, { $set: { v: 1 } });
      if (next === 'delete') await items.deleteOne({ _id: 1 });
      if (next === 'ddl') await d.source.db(db).createCollection('other');
      const entries = await readOplog(d.source, db, since);
      // One write lets the first batch (three inserts in one lane) through.
      const closing = gate(1);
      const { beforeWrite, error } = closing;
      await assert.rejects(
        applyAll(d, toBatches(entries, 3), { lanes: 1, maxBatchesInFlight: 1, beforeWrite }),
        (thrown: unknown) => {
          assert.equal(thrown, error);
          return true;
        }
      );
      const onTarget = await d.target.db(db).collection('items').find().sort({ _id: 1 }).toArray();
      assert.deepEqual(onTarget, [{ _id: 1 }, { _id: 2 }, { _id: 3 }], 'only the first batch');
      const collections = await d.target.db(db).listCollections().toArray();
      assert.deepEqual(
        collections.map(c => c.name),
        ['items']
      );
      assert.equal(closing.refused, 1, 'refused once, then nothing more was tried');
    });
  }

  it('the catalog copier creates nothing once the gate is closed', async () => {
    const db = uniqueDbName('gate_catalog');
    await d.source.db(db).createCollection('c');
    const { beforeWrite, error } = gate(0);
    const copier = new CatalogCopier({
      source: d.source,
      target: d.target,
      filter: new NamespaceFilter({ include: [`${db}.*`] }),
      beforeWrite
    });
    const catalog = await copier.listSource();
    await assert.rejects(copier.prepareCollection(catalog.collections[0]!), error);
    const dbs = await d.target.db('admin').admin().listDatabases({ nameOnly: true });
    assert.ok(!dbs.databases.some(info => info.name === db));
  });

  it('the collection executor copies no more chunks once the gate is closed', async () => {
    const db = uniqueDbName('gate_copy');
    await d.source
      .db(db)
      .collection<{ _id: number }>('c')
      .insertMany(Array.from({ length: 100 }, (_, _id) => ({ _id })));
    const { beforeWrite, error } = gate(2);
    const executor = new CollectionExecutor({
      source: d.source,
      target: d.target,
      tasks: [
        {
          range: { namespace: `${db}.c`, index: 0, count: 1, estimatedDocuments: 100 },
          targetNs: `${db}.c`,
          resumed: false
        }
      ],
      readers: 1,
      writers: 1,
      chunkDocuments: 10,
      beforeWrite
    });
    await executor.start();
    await assert.rejects(withTimeout(executor.done, 30_000, 'the copy to fail'), error);
    assert.equal(await d.target.db(db).collection('c').countDocuments(), 20, 'two chunks only');
  });
});
