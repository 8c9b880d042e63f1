import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  type ChangeStream,
  type ChangeStreamDocument,
  type Document,
  type Long,
  MongoClient,
  type MongoServerError,
  type ResumeToken,
  Timestamp
} from 'mongodb';

import { withTimeout } from '../support/timeout-signal.js';
import { type AnyDoc, type Started, startWithClient } from './support.js';

type Event = ChangeStreamDocument<AnyDoc> & Document;

/** The next `n` events of a stream (each wait bounded). */
async function take(stream: ChangeStream<AnyDoc>, n: number): Promise<Event[]> {
  const out: Event[] = [];
  for (let k = 0; k < n; k++) {
    out.push((await withTimeout(stream.next(), 5000, `change event ${k + 1}/${n}`)) as Event);
  }
  return out;
}

/**
 * Opens a fresh stream (no start option) and waits until its initial aggregate ran, so later writes
 * are seen. Not for resumed streams: the first batch's event would be consumed here.
 */
async function opened<T extends ChangeStream<AnyDoc>>(stream: T): Promise<T> {
  await withTimeout(stream.tryNext(), 5000, 'the change stream to open');
  return stream;
}

describe('change streams (7.0)', () => {
  let started: Started;
  let client: MongoClient;
  before(async () => {
    started = await startWithClient({ version: '7.0' });
    client = started.client;
  });
  after(async () => {
    await started.close();
  });

  it('collection.watch: insert, update, replace, delete, drop, invalidate', async () => {
    const coll = client.db('cs1').collection<AnyDoc>('items');
    await coll.insertOne({ _id: 0 });
    const stream = await opened(coll.watch());
    await coll.insertOne({ _id: 1, a: [1, 2, 3], b: { c: 1 } });
    await coll.updateOne(
      { _id: 1 },
      { $set: { 'b.c': 2, n: 1 }, $unset: { gone: '' }, $pop: { a: 1 } }
    );
    await coll.replaceOne({ _id: 1 }, { x: 1 });
    await coll.deleteOne({ _id: 1 });
    await coll.drop();
    const events = await take(stream, 6);
    assert.deepEqual(
      events.map(e => e.operationType),
      ['insert', 'update', 'replace', 'delete', 'drop', 'invalidate']
    );
    const [insert, update, replace, del, drop, invalidate] = events as [
      Event,
      Event,
      Event,
      Event,
      Event,
      Event
    ];
    assert.deepEqual(Object.keys(insert), [
      '_id',
      'operationType',
      'clusterTime',
      'wallTime',
      'fullDocument',
      'ns',
      'documentKey'
    ]);
    assert.deepEqual(insert.fullDocument, { _id: 1, a: [1, 2, 3], b: { c: 1 } });
    assert.deepEqual(insert.ns, { db: 'cs1', coll: 'items' });
    assert.deepEqual(insert.documentKey, { _id: 1 });
    assert.match((insert._id as { _data: string })._data, /^82[0-9A-F]+04$/);
    assert.deepEqual(update.updateDescription, {
      updatedFields: { 'b.c': 2, n: 1 },
      removedFields: [],
      truncatedArrays: [{ field: 'a', newSize: 2 }]
    });
    assert.equal('fullDocument' in update, false);
    assert.deepEqual(replace.fullDocument, { _id: 1, x: 1 });
    assert.deepEqual(Object.keys(del), [
      '_id',
      'operationType',
      'clusterTime',
      'wallTime',
      'ns',
      'documentKey'
    ]);
    assert.deepEqual(drop.ns, { db: 'cs1', coll: 'items' });
    assert.deepEqual(Object.keys(invalidate), ['_id', 'operationType', 'clusterTime', 'wallTime']);
    assert.ok(invalidate.clusterTime!.equals(drop.clusterTime!));
    await withTimeout(
      (async () => {
        while (!stream.closed) await stream.tryNext().catch(() => null);
      })(),
      5000,
      'the invalidated stream to close'
    );
    await stream.close();
  });

  it('fullDocument updateLookup returns the current document (null once deleted)', async () => {
    const coll = client.db('cs2').collection<AnyDoc>('items');
    await coll.insertOne({ _id: 1, v: 0 });
    const stream = await opened(coll.watch([], { fullDocument: 'updateLookup' }));
    await coll.updateOne({ _id: 1 }, { $inc: { v: 1 } });
    const [update] = await take(stream, 1);
    assert.deepEqual(update!.fullDocument, { _id: 1, v: 1 });
    await coll.updateOne({ _id: 1 }, { $inc: { v: 1 } });
    await coll.deleteOne({ _id: 1 });
    const [late] = await take(stream, 1);
    assert.equal(late!.fullDocument, null);
    await stream.close();
  });

  it('db.watch sees every collection, then dropDatabase and invalidate', async () => {
    const db = client.db('cs3');
    await db.collection<AnyDoc>('a').insertOne({ _id: 0 });
    const stream = await opened(db.watch<AnyDoc>());
    await db.collection<AnyDoc>('a').insertOne({ _id: 1 });
    await db.collection<AnyDoc>('b').insertOne({ _id: 2 });
    await db.collection('a').rename('c');
    await db.dropDatabase();
    const events = await take(stream, 7);
    assert.deepEqual(
      events.map(e => e.operationType),
      ['insert', 'insert', 'rename', 'drop', 'drop', 'dropDatabase', 'invalidate']
    );
    const rename = events[2]!;
    assert.deepEqual(Object.keys(rename).slice(0, 2), ['to', '_id']);
    assert.deepEqual(rename.ns, { db: 'cs3', coll: 'a' });
    assert.deepEqual(rename.to, { db: 'cs3', coll: 'c' });
    assert.deepEqual(events[5]!.ns, { db: 'cs3' });
    await stream.close();
  });

  it('client.watch sees all user databases but not admin/config', async () => {
    const stream = await opened(client.watch<AnyDoc>());
    await client
      .db('admin')
      .collection<AnyDoc>('x')
      .insertOne({ _id: 1 })
      .catch(() => undefined);
    await client.db('cs4a').collection<AnyDoc>('x').insertOne({ _id: 1 });
    await client.db('cs4b').collection<AnyDoc>('y').insertOne({ _id: 2 });
    const events = await take(stream, 2);
    assert.deepEqual(
      events.map(e => e.ns),
      [
        { db: 'cs4a', coll: 'x' },
        { db: 'cs4b', coll: 'y' }
      ]
    );
    await stream.close();
  });

  it('showExpandedEvents: create, createIndexes, dropIndexes, modify, collectionUUID', async () => {
    const db = client.db('cs5');
    const stream = await opened(db.watch<AnyDoc>([], { showExpandedEvents: true }));
    await db.createCollection('e');
    await db.collection('e').createIndex({ k: 1 });
    await db.collection('e').dropIndex('k_1');
    await db.command({ collMod: 'e', validationLevel: 'moderate' });
    await db.collection<AnyDoc>('e').insertOne({ _id: 1 });
    await db.collection<AnyDoc>('e').insertOne({ _id: 2 });
    await db.collection('e').createIndex({ j: 1 });
    const events = await take(stream, 7);
    assert.deepEqual(
      events.map(e => e.operationType),
      ['create', 'createIndexes', 'dropIndexes', 'modify', 'insert', 'insert', 'createIndexes']
    );
    const [create, createIndexes, dropIndexes, modify, insert] = events as Event[];
    assert.ok(create!.collectionUUID);
    assert.deepEqual(create!.operationDescription, {
      idIndex: { v: 2, key: { _id: 1 }, name: '_id_' }
    });
    assert.deepEqual(createIndexes!.operationDescription, {
      indexes: [{ v: 2, key: { k: 1 }, name: 'k_1' }]
    });
    assert.deepEqual(dropIndexes!.operationDescription, {
      indexes: [{ v: 2, key: { k: 1 }, name: 'k_1' }]
    });
    assert.deepEqual(modify!.operationDescription, { validationLevel: 'moderate' });
    assert.deepEqual(Object.keys(insert!).slice(0, 4), [
      '_id',
      'operationType',
      'clusterTime',
      'collectionUUID'
    ]);
    assert.deepEqual(events[6]!.operationDescription, {
      indexes: [{ v: 2, key: { j: 1 }, name: 'j_1' }]
    });
    await stream.close();
  });

  it('a batched multi-delete (7.0 applyOps) gives one delete event per document', async () => {
    const coll = client.db('cs6').collection<AnyDoc>('items');
    await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    const stream = await opened(coll.watch());
    await coll.deleteMany({});
    const events = await take(stream, 3);
    assert.deepEqual(
      events.map(e => e.documentKey),
      [{ _id: 1 }, { _id: 2 }, { _id: 3 }]
    );
    assert.ok(events.every(e => e.clusterTime!.equals(events[0]!.clusterTime!)));
    assert.ok(events.every(e => !('lsid' in e)));
    const tokens = events.map(e => (e._id as { _data: string })._data);
    assert.deepEqual([...tokens].sort(), tokens);
    await stream.close();
  });

  it('transactions: events carry lsid and txnNumber and share the commit clusterTime', async () => {
    const coll = client.db('cs7').collection<AnyDoc>('items');
    await coll.insertOne({ _id: 0 });
    const stream = await opened(coll.watch());
    const session = client.startSession();
    try {
      await session.withTransaction(async () => {
        await coll.insertOne({ _id: 1 } as AnyDoc, { session });
        await coll.updateOne({ _id: 0 }, { $set: { t: 1 } }, { session });
        await coll.deleteOne({ _id: 1 }, { session });
      });
    } finally {
      await session.endSession();
    }
    const events = await take(stream, 3);
    assert.deepEqual(
      events.map(e => e.operationType),
      ['insert', 'update', 'delete']
    );
    for (const event of events) {
      assert.deepEqual(Object.keys(event).slice(0, 3), ['txnNumber', 'lsid', '_id']);
      assert.ok(event.clusterTime!.equals(events[0]!.clusterTime!));
      assert.ok((event.lsid as { id: unknown }).id);
    }
    await stream.close();
  });

  it('resumeAfter, startAfter and startAtOperationTime resume exactly after their point', async () => {
    const coll = client.db('cs8').collection<AnyDoc>('items');
    await coll.insertOne({ _id: 0 });
    const first = await opened(coll.watch());
    await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    const events = await take(first, 3);
    await first.close();
    const resumed = coll.watch([], { resumeAfter: events[0]!._id });
    assert.deepEqual(
      (await take(resumed, 2)).map(e => e.documentKey),
      [{ _id: 2 }, { _id: 3 }]
    );
    await resumed.close();
    const after = coll.watch([], { startAfter: events[1]!._id });
    assert.deepEqual(
      (await take(after, 1)).map(e => e.documentKey),
      [{ _id: 3 }]
    );
    await after.close();
    const atTime = coll.watch([], { startAtOperationTime: events[1]!.clusterTime! });
    assert.deepEqual(
      (await take(atTime, 2)).map(e => e.documentKey),
      [{ _id: 2 }, { _id: 3 }]
    );
    await atTime.close();
  });

  it('startAfter an invalidate continues with the re-created collection; resumeAfter refuses it', async () => {
    const coll = client.db('cs9').collection<AnyDoc>('items');
    await coll.insertOne({ _id: 0 });
    const stream = await opened(coll.watch());
    await coll.drop();
    const [, invalidate] = await take(stream, 2);
    await stream.close();
    await coll.insertOne({ _id: 'again' });
    const after = coll.watch([], { startAfter: invalidate!._id });
    assert.deepEqual((await take(after, 1))[0]!.documentKey, { _id: 'again' });
    await after.close();
    const refused = coll.watch([], { resumeAfter: invalidate!._id });
    await assert.rejects(withTimeout(refused.tryNext(), 5000, 'the refusal'), { code: 260 });
    await refused.close();
  });

  it('resuming from any cached token (pbrt or event _id) neither loses nor repeats events', async () => {
    const coll = client.db('cs10').collection<AnyDoc>('items');
    const other = client.db('cs10').collection<AnyDoc>('other');
    await coll.insertOne({ _id: 'seed' });
    const stream = await opened(coll.watch([], { batchSize: 2, maxAwaitTimeMS: 10 }));
    // Each cached token with the number of events returned before it was cached.
    const tokens: [ResumeToken, number][] = [[stream.resumeToken, 0]];
    const seen: unknown[] = [];
    let next = 0;
    const read = async () => {
      const event = await withTimeout(stream.tryNext(), 5000, 'a batch');
      if (event) seen.push((event as Event).documentKey!._id);
      tokens.push([stream.resumeToken, seen.length]);
      return event;
    };
    // Interleave writes the stream sees with writes it filters out (other namespaces), reading
    // in small batches so the cache holds pbrts of empty, partial and full batches.
    for (let round = 0; round < 12; round++) {
      if (round % 3 === 0) await other.insertOne({ _id: round });
      if (round % 4 !== 1) {
        const n = (round % 3) + 1;
        await coll.insertMany(Array.from({ length: n }, () => ({ _id: next++ })));
      }
      await read();
    }
    while (await read());
    await stream.close();
    assert.deepEqual(
      seen,
      Array.from({ length: next }, (_, i) => i)
    );
    for (const [k, [token, count]] of tokens.entries()) {
      const resumed = coll.watch([], { resumeAfter: token, maxAwaitTimeMS: 10 });
      const rest: unknown[] = [];
      for (;;) {
        const event = await withTimeout(resumed.tryNext(), 5000, 'resumed events');
        if (!event) break;
        rest.push((event as Event).documentKey!._id);
      }
      await resumed.close();
      assert.deepEqual(rest, seen.slice(count), `resuming from cached token ${k}`);
    }
  });

  it('a start point older than the oplog fails with 286 ChangeStreamHistoryLost', async () => {
    const stream = client
      .db('cs11')
      .collection<AnyDoc>('x')
      .watch([], {
        startAtOperationTime: new Timestamp({ t: 1, i: 1 })
      });
    await assert.rejects(
      withTimeout(stream.tryNext(), 5000, 'the 286'),
      (error: MongoServerError) => {
        assert.equal(error.code, 286);
        assert.ok(error.hasErrorLabel('NonResumableChangeStreamError'));
        assert.match(
          error.message,
          /^PlanExecutor error during aggregation :: caused by :: Resume of change stream was not possible/
        );
        return true;
      }
    );
    await stream.close();
  });

  it('mongod errors: disallowed stage, internal databases, conflicting start options', async () => {
    const run = (db: string, pipeline: Document[], aggregate: string | number = 'x') =>
      client.db(db).command({ aggregate, pipeline, cursor: {} });
    await assert.rejects(run('cs12', [{ $changeStream: {} }, { $group: { _id: 1 } }]), {
      code: 20
    });
    await assert.rejects(run('local', [{ $changeStream: {} }]), { code: 73 });
    await assert.rejects(run('admin', [{ $changeStream: {} }], 1), { code: 73 });
    await assert.rejects(run('cs12', [{ $changeStream: { bogus: 1 } }]), { code: 40415 });
    await assert.rejects(run('cs12', [{ $changeStream: { allChangesForCluster: true } }], 1), {
      code: 72
    });
    const reply = await run('cs12', [{ $changeStream: {} }]);
    const token = (reply.cursor as Document).postBatchResumeToken as ResumeToken;
    assert.match((token as { _data: string })._data, /^82[0-9A-F]{16}2B0429296E1404$/);
    await assert.rejects(
      run('cs12', [
        {
          $changeStream: { resumeAfter: token, startAtOperationTime: new Timestamp({ t: 1, i: 1 }) }
        }
      ]),
      { code: 40674 }
    );
    await client
      .db('cs12')
      .command({ killCursors: 'x', cursors: [(reply.cursor as Document).id as Long] });
  });

  it('a pipeline that removes _id fails the stream with 280', async () => {
    const coll = client.db('cs13').collection<AnyDoc>('x');
    const stream = await opened(coll.watch([{ $project: { _id: 0 } }]));
    await coll.insertOne({ _id: 1 });
    await assert.rejects(withTimeout(stream.next(), 5000, 'the 280'), { code: 280 });
    await stream.close();
  });

  it('user $match and $project after $changeStream', async () => {
    const coll = client.db('cs14').collection<AnyDoc>('x');
    const stream = await opened(
      coll.watch([{ $match: { 'fullDocument.keep': true } }, { $project: { documentKey: 1 } }])
    );
    await coll.insertMany([{ _id: 1 }, { _id: 2, keep: true }]);
    const [event] = await take(stream, 1);
    assert.deepEqual(Object.keys(event!), ['_id', 'documentKey']);
    assert.deepEqual(event!.documentKey, { _id: 2 });
    await stream.close();
  });

  it('the driver resumes automatically after the server drops its connections', async () => {
    const coll = client.db('cs15').collection<AnyDoc>('x');
    const stream = await opened(coll.watch());
    await coll.insertOne({ _id: 1 });
    await take(stream, 1);
    started.server.dropConnections();
    // The write goes through a fresh client: what is under test is the stream's own resume.
    const writer = new MongoClient(started.server.uri);
    try {
      await writer.db('cs15').collection<AnyDoc>('x').insertOne({ _id: 2 });
    } finally {
      await writer.close();
    }
    const [event] = await take(stream, 1);
    assert.deepEqual(event!.documentKey, { _id: 2 });
    await stream.close();
  });
});
