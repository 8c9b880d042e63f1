/**
 * takeBufferedRaw reads a raw cursor's buffered batch through driver internals. These tests pin
 * that path to the driver in the lockfile (an upgrade that changes the internals fails here
 * instead of silently slowing the fetcher) and check it yields exactly what the public
 * `readBufferedDocuments()` yields.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type Document, type FindCursor } from 'mongodb';

import { takeBufferedRaw } from '../../src/bson/raw-batch.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';

describe('takeBufferedRaw', () => {
  let deployments: Deployments;
  let database: string;
  before(async () => {
    deployments = await startDeployments();
    database = uniqueDbName('rawbatch');
    const docs = Array.from({ length: 250 }, (_, i) => ({ _id: i, text: 'x'.repeat(i % 40) }));
    await deployments.source
      .db(database)
      .collection<{ _id: number; text: string }>('items')
      .insertMany(docs);
  });
  after(async () => {
    await deployments.source.db(database).dropDatabase();
    await deployments.close();
  });

  const open = (): FindCursor<Document> =>
    deployments.source
      .db(database)
      .collection('items')
      .find({}, { raw: true, batchSize: 100, sort: { _id: 1 } });

  /** Every document of `cursor`, one `tryNext` then the buffered rest, batch after batch. */
  async function drain(
    cursor: FindCursor<Document>,
    take: (cursor: FindCursor<Document>) => Uint8Array[]
  ): Promise<Buffer[]> {
    const all: Buffer[] = [];
    for (;;) {
      const first = (await cursor.tryNext()) as unknown as Uint8Array | null;
      if (first === null) break;
      all.push(Buffer.from(first));
      for (const raw of take(cursor)) all.push(Buffer.from(raw));
      assert.equal(cursor.bufferedCount(), 0, 'the batch is consumed');
    }
    await cursor.close();
    return all;
  }

  it('reads the batch directly with this driver, yielding what the public method yields', async () => {
    let direct = 0;
    const taken = await drain(open(), cursor => {
      const result = takeBufferedRaw(cursor);
      if (result.direct) direct += 1;
      return result.documents;
    });
    const expected = await drain(
      open(),
      cursor => cursor.readBufferedDocuments() as unknown as Uint8Array[]
    );
    assert.equal(taken.length, 250);
    assert.deepEqual(taken, expected);
    assert.ok(direct >= 3, `the direct path was taken for ${direct} of 3 batches`);
  });

  it('falls back to the public method when the cursor does not look as expected', () => {
    const fake = {
      documents: { batch: { bson: 'not bytes', elements: [] }, iterated: 0, clear: () => {} },
      readBufferedDocuments: () => [new Uint8Array([5, 0, 0, 0, 0])]
    } as unknown as FindCursor<Document>;
    const result = takeBufferedRaw(fake);
    assert.equal(result.direct, false);
    assert.equal(result.documents.length, 1);
  });
});
