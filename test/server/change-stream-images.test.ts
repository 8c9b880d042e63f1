/**
 * Change-stream pre- and post-images (MongoDB 6.0+), ported from the driver specs'
 * change-streams/tests/unified/change-streams-pre_and_post_images.yml, plus deletes, replaces,
 * transactions and batched deletes, and the stage errors of change-streams-errors.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import {
  type ChangeStreamDocument,
  type ChangeStreamOptions,
  type Collection,
  type Db,
  type Document,
  MongoServerError
} from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

type Event = ChangeStreamDocument<AnyDoc> & {
  fullDocument?: Document | null;
  fullDocumentBeforeChange?: Document | null;
};

describe('test server change stream pre- and post-images', () => {
  let started: Started;
  let db: Db;
  let coll: Collection<AnyDoc>;
  before(async () => {
    started = await startWithClient();
    db = started.client.db('images');
    coll = db.collection<AnyDoc>('test');
  });
  beforeEach(async () => {
    await db.dropDatabase();
    await coll.insertOne({ _id: 1 });
  });
  after(async () => {
    await started.close();
  });

  const images = (enabled: boolean) =>
    db.command({ collMod: 'test', changeStreamPreAndPostImages: { enabled } });

  /** The first event after an update of `{_id: 1}`, or the error reading it. */
  async function afterUpdate(options: ChangeStreamOptions): Promise<Event | unknown> {
    const stream = coll.watch([], options);
    try {
      await stream.tryNext();
      await coll.updateOne({ _id: 1 }, { $set: { x: 1 } });
      return await stream.next().catch((e: unknown) => e);
    } finally {
      await stream.close();
    }
  }

  for (const enabled of [true, false]) {
    const state = enabled ? 'enabled' : 'disabled';
    it(`fullDocument whenAvailable with images ${state}`, async () => {
      await images(enabled);
      const event = (await afterUpdate({ fullDocument: 'whenAvailable' })) as Event;
      assert.equal(event.operationType, 'update');
      assert.deepEqual(event.fullDocument, enabled ? { _id: 1, x: 1 } : null);
    });

    it(`fullDocument required with images ${state}`, async () => {
      await images(enabled);
      const result = await afterUpdate({ fullDocument: 'required' });
      if (enabled) assert.deepEqual((result as Event).fullDocument, { _id: 1, x: 1 });
      else {
        assert.ok(result instanceof MongoServerError);
        assert.equal(result.code, 47);
      }
    });

    it(`fullDocumentBeforeChange whenAvailable with images ${state}`, async () => {
      await images(enabled);
      const event = (await afterUpdate({ fullDocumentBeforeChange: 'whenAvailable' })) as Event;
      assert.deepEqual(event.fullDocumentBeforeChange, enabled ? { _id: 1 } : null);
    });

    it(`fullDocumentBeforeChange required with images ${state}`, async () => {
      await images(enabled);
      const result = await afterUpdate({ fullDocumentBeforeChange: 'required' });
      if (enabled) assert.deepEqual((result as Event).fullDocumentBeforeChange, { _id: 1 });
      else {
        assert.ok(result instanceof MongoServerError);
        assert.equal(result.code, 47);
      }
    });

    it(`fullDocumentBeforeChange off with images ${state}`, async () => {
      await images(enabled);
      const event = (await afterUpdate({ fullDocumentBeforeChange: 'off' })) as Event;
      assert.ok(!('fullDocumentBeforeChange' in event));
    });
  }

  it('keeps the images of replaces, deletes, batched deletes and transactions', async () => {
    await images(true);
    await coll.insertMany([
      { _id: 2, v: 2 },
      { _id: 3, v: 3 }
    ]);
    const stream = coll.watch([], {
      fullDocument: 'whenAvailable',
      fullDocumentBeforeChange: 'required'
    });
    try {
      await stream.tryNext();
      await coll.replaceOne({ _id: 1 }, { r: 1 });
      await coll.deleteMany({ _id: { $in: [2, 3] } });
      const session = started.client.startSession();
      try {
        await session.withTransaction(async () => {
          await coll.updateOne({ _id: 1 }, { $set: { t: 1 } }, { session });
          await coll.deleteOne({ _id: 1 }, { session });
        });
      } finally {
        await session.endSession();
      }
      const seen: [string, Document | null | undefined, Document | null | undefined][] = [];
      for (let i = 0; i < 5; i++) {
        const event = (await stream.next()) as Event;
        seen.push([event.operationType, event.fullDocumentBeforeChange, event.fullDocument]);
      }
      assert.deepEqual(seen, [
        ['replace', { _id: 1 }, { _id: 1, r: 1 }],
        ['delete', { _id: 2, v: 2 }, undefined],
        ['delete', { _id: 3, v: 3 }, undefined],
        ['update', { _id: 1, r: 1 }, { _id: 1, r: 1, t: 1 }],
        ['delete', { _id: 1, r: 1, t: 1 }, undefined]
      ]);
    } finally {
      await stream.close();
    }
  });

  it('refuses an unknown stage with 40324 and a known but disallowed one with 20', async () => {
    for (const [stage, code] of [
      [{ $unsupported: 'foo' }, 40324],
      [{ $group: { _id: null } }, 20]
    ] as const) {
      const stream = coll.watch([stage]);
      const error = await stream.tryNext().catch((e: unknown) => e);
      await stream.close();
      assert.ok(error instanceof MongoServerError);
      assert.equal(error.code, code);
    }
  });
});

describe('test server change stream images under 5.0', () => {
  it('does not know changeStreamPreAndPostImages (6.0+)', async () => {
    const started = await startWithClient({ version: '5.0' });
    try {
      const error = await started.client
        .db('images')
        .createCollection('c', { changeStreamPreAndPostImages: { enabled: true } })
        .catch((e: unknown) => e);
      assert.ok(error instanceof MongoServerError);
      assert.equal(error.code, 40415);
    } finally {
      await started.close();
    }
  });
});
