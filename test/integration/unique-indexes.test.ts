/**
 * Unique secondary indexes whose values move between documents never stop replication of a
 * consistent source: a duplicate key while applying relaxes the index, the batches are applied
 * again in source order, and the index is unique again once the target is consistent. A
 * duplicate that remains then is real, and the policy decides.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { type Document, Timestamp } from 'mongodb';

import { type UniqueGuardState, type UniqueIndexEvent } from '../../src/apply/unique-guard.js';
import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { ApplyConflictError } from '../../src/errors.js';
import { ReplicatorMonitor } from '../../src/observability/replicator-monitor.js';
import { type ReplicatorStatus } from '../../src/observability/replicator-status.js';
import { Replicator } from '../../src/replicator.js';
import { newestOplogTs } from '../server/support.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { applyAll, readOplog, toBatches } from '../support/pool-batches.js';
import { rawDocuments } from '../support/replication.js';
import { timeoutSignal, waitUntil } from '../support/timeout-signal.js';

type User = { _id: string; email: string; name?: string };

describe('unique indexes while applying', () => {
  let d: Deployments;
  let spoolDir: string;
  before(async () => {
    d = await startDeployments();
    spoolDir = await mkdtemp(join(tmpdir(), 'mr-unique-'));
  });
  after(async () => {
    await d.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  async function usersOn(side: 'source' | 'target', db: string) {
    const users = d[side].db(db).collection<User>('users');
    await users.createIndex({ email: 1 }, { unique: true });
    return users;
  }

  async function emailIndexOnTarget(db: string): Promise<Document | undefined> {
    const indexes = await d.target.db(db).collection('users').listIndexes().toArray();
    return indexes.find(index => index.name === 'email_1');
  }

  /**
   * The source creates `a` with x, moves it to `a2`, creates `b` with x: the target, which
   * already holds the end state (a crash after applying past the checkpoint), meets `a` with x
   * while `b` holds x.
   */
  async function replayOverLaterState(prefix: string) {
    const db = uniqueDbName(prefix);
    const users = await usersOn('source', db);
    const since = await newestOplogTs(d.source);
    await users.insertOne({ _id: 'a', email: 'x@example.com', name: 'sentinel-value' });
    await users.updateOne({ _id: 'a' }, { $set: { email: 'a2@example.com' } });
    await users.insertOne({ _id: 'b', email: 'x@example.com' });
    const target = await usersOn('target', db);
    await target.insertMany(await users.find({}, { sort: { _id: 1 } }).toArray());
    const entries = await readOplog(d.source, db, since);
    return { db, entries };
  }

  it('relaxes the index on a duplicate, applies in source order, and enforces it at the end of the window', async () => {
    const { db, entries } = await replayOverLaterState('unique_window');
    const last = entries.at(-1)!.ts;
    const { uniqueIndexes, conflicts } = await applyAll(d, toBatches(entries, 10), {
      replayUntil: last,
      lanes: 4
    });
    assert.deepEqual(
      uniqueIndexes.map(e => [e.action, e.namespace, e.index, e.reason]),
      [
        ['relaxed', `${db}.users`, 'email_1', 'conflict'],
        ['enforced', `${db}.users`, 'email_1', 'consistent']
      ]
    );
    assert.deepEqual(conflicts, []);
    assert.deepEqual(
      await rawDocuments(d.target, db, 'users'),
      await rawDocuments(d.source, db, 'users')
    );
    assert.equal((await emailIndexOnTarget(db))?.unique, true, 'unique again');
  });

  it('relaxes an index once when several lanes collide on it in the same round', async () => {
    const db = uniqueDbName('unique_lanes');
    const users = await usersOn('source', db);
    const since = await newestOplogTs(d.source);
    // Eight documents each take a value another document gives up later: replayed over the end
    // state, every first write collides, in whichever lanes their _ids hash to.
    for (let n = 0; n < 8; n++) {
      await users.insertOne({ _id: `a${n}`, email: `${n}@example.com` });
      await users.updateOne({ _id: `a${n}` }, { $set: { email: `moved-${n}@example.com` } });
      await users.insertOne({ _id: `b${n}`, email: `${n}@example.com` });
    }
    const target = await usersOn('target', db);
    await target.insertMany(await users.find({}, { sort: { _id: 1 } }).toArray());
    const entries = await readOplog(d.source, db, since);
    const { uniqueIndexes } = await applyAll(d, toBatches(entries, 100), {
      replayUntil: entries.at(-1)!.ts,
      lanes: 16
    });
    assert.deepEqual(
      uniqueIndexes.map(e => [e.action, e.reason]),
      [
        ['relaxed', 'conflict'],
        ['enforced', 'consistent']
      ]
    );
    assert.deepEqual(
      await rawDocuments(d.target, db, 'users'),
      await rawDocuments(d.source, db, 'users')
    );
    assert.equal((await emailIndexOnTarget(db))?.unique, true);
  });

  it('relaxes an index recorded as relaxed but still unique (a crash came in between)', async () => {
    const { db, entries } = await replayOverLaterState('unique_recorded');
    const recorded: UniqueGuardState = {
      relaxedIndexes: [{ namespace: `${db}.users`, name: 'email_1' }],
      orderedNamespaces: [`${db}.users`]
    };
    const { uniqueIndexes } = await applyAll(d, toBatches(entries, 10), {
      replayUntil: entries.at(-1)!.ts,
      uniqueIndexes: recorded
    });
    assert.deepEqual(
      uniqueIndexes.map(e => [e.action, e.reason]),
      [
        ['relaxed', 'conflict'],
        ['enforced', 'consistent']
      ]
    );
    assert.deepEqual(
      await rawDocuments(d.target, db, 'users'),
      await rawDocuments(d.source, db, 'users')
    );
  });

  it('keeps the index relaxed while the window lasts, and persists it for a restart', async () => {
    const { db, entries } = await replayOverLaterState('unique_open_window');
    const states: unknown[] = [];
    const far = new Timestamp({ t: entries.at(-1)!.ts.t + 3600, i: 1 });
    const { uniqueIndexes } = await applyAll(d, toBatches(entries, 10), {
      replayUntil: far,
      onUniqueIndexes: async state => void states.push(state)
    });
    assert.deepEqual(
      uniqueIndexes.map(e => e.action),
      ['relaxed'],
      'nothing is enforced before the window ends'
    );
    assert.notEqual((await emailIndexOnTarget(db))?.unique, true);
    // Recorded before the index was relaxed, so a crash cannot lose it.
    assert.deepEqual(states.at(-1), {
      relaxedIndexes: [{ namespace: `${db}.users`, name: 'email_1' }],
      orderedNamespaces: [`${db}.users`]
    });
    // The next run starts with that state and enforces it at the first batch past its window.
    const after = new Timestamp({ t: far.t + 1, i: 1 });
    const next = await applyAll(
      d,
      [{ kind: 'progress', lastOptime: after, checkpointOptime: after, skipped: 1 }],
      { uniqueIndexes: states.at(-1) as UniqueGuardState }
    );
    assert.deepEqual(
      next.uniqueIndexes.map(e => [e.action, e.index]),
      [['enforced', 'email_1']]
    );
    assert.equal((await emailIndexOnTarget(db))?.unique, true);
  });

  it('fails naming the index (never the key) when a duplicate is real', async () => {
    const db = uniqueDbName('unique_real');
    const users = await usersOn('source', db);
    const target = await usersOn('target', db);
    // Something besides the source wrote this to the target.
    await target.insertOne({ _id: 'stranger', email: 'taken@example.com' });
    const since = await newestOplogTs(d.source);
    await users.insertOne({ _id: 'c', email: 'taken@example.com' });
    const entries = await readOplog(d.source, db, since);
    await assert.rejects(applyAll(d, toBatches(entries, 10)), (error: unknown) => {
      assert.ok(error instanceof ApplyConflictError, String(error));
      assert.match(error.message, /email_1/);
      assert.doesNotMatch(error.message, /taken@example\.com/);
      assert.doesNotMatch(JSON.stringify(error, Object.getOwnPropertyNames(error)), /taken@/);
      return true;
    });
  });

  it("with uniqueConflictPolicy 'ignore', leaves the index non-unique and says so", async () => {
    const db = uniqueDbName('unique_ignore');
    const users = await usersOn('source', db);
    const target = await usersOn('target', db);
    await target.insertOne({ _id: 'stranger', email: 'taken@example.com' });
    const since = await newestOplogTs(d.source);
    await users.insertOne({ _id: 'c', email: 'taken@example.com' });
    await users.insertOne({ _id: 'd', email: 'free@example.com' });
    const entries = await readOplog(d.source, db, since);
    const { uniqueIndexes } = await applyAll(d, toBatches(entries, 10), {
      uniqueConflictPolicy: 'ignore'
    });
    assert.deepEqual(
      uniqueIndexes.map(e => e.action),
      ['relaxed', 'leftRelaxed']
    );
    assert.equal(await target.countDocuments(), 3, 'every source write reached the target');
    assert.notEqual((await emailIndexOnTarget(db))?.unique, true);
  });

  it('a Replicator reports the indexes a copy relaxed (status, metrics) until it enforces them', async () => {
    const db = uniqueDbName('unique_status');
    const users = await usersOn('source', db);
    await users.insertMany([1, 2, 3].map(n => ({ _id: `u${n}`, email: `${n}@example.com` })));
    const replicator = new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      mode: 'all',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db, store: new MemoryCheckpointStore() },
      full: { spoolDir }
    });
    const monitor = new ReplicatorMonitor(replicator);
    const events: UniqueIndexEvent[] = [];
    const whileRelaxed: ReplicatorStatus[] = [];
    replicator.on('uniqueIndex', event => {
      events.push(event);
      if (event.action === 'relaxed') whileRelaxed.push(monitor.status());
    });
    try {
      await replicator.start();
      // The first write after the copy ends the catch-up window: the index is enforced then.
      await users.updateOne({ _id: 'u1' }, { $set: { email: 'u1@example.com' } });
      await waitUntil(
        () => events.some(event => event.action === 'enforced'),
        timeoutSignal(30_000, 'the copied unique index to be enforced')
      );
      assert.deepEqual(
        events.map(e => [e.action, e.namespace, e.index, e.reason]),
        [
          ['relaxed', `${db}.users`, 'email_1', 'copy'],
          ['enforced', `${db}.users`, 'email_1', 'consistent']
        ]
      );
      assert.deepEqual(whileRelaxed[0]?.relaxedUniqueIndexes, [
        { namespace: `${db}.users`, name: 'email_1' }
      ]);
      assert.deepEqual(monitor.status().relaxedUniqueIndexes, []);
      assert.match(await monitor.metrics(), /^mongo_replicate_relaxed_unique_indexes 0$/m);
      assert.equal((await emailIndexOnTarget(db))?.unique, true);
    } finally {
      monitor.close();
      await replicator.stop();
    }
  });

  it('a plain copy over a target holding a duplicate fails naming the index, or leaves it non-unique under ignore', async () => {
    for (const policy of ['fail', 'ignore'] as const) {
      const db = uniqueDbName(`unique_full_${policy}`);
      const users = await usersOn('source', db);
      await users.insertMany([1, 2].map(n => ({ _id: `u${n}`, email: `${n}@example.com` })));
      // Written to the target by something else: the copy appends next to it.
      await d.target
        .db(db)
        .collection<User>('users')
        .insertOne({ _id: 'x', email: '2@example.com' });
      const replicator = new Replicator({
        source: d.sourceUri,
        target: d.targetUri,
        mode: 'full',
        filter: { include: [`${db}.*`] },
        checkpoint: { name: db, store: new MemoryCheckpointStore() },
        full: { onExistingTarget: 'append' },
        applier: { uniqueConflictPolicy: policy }
      });
      const events: UniqueIndexEvent[] = [];
      replicator.on('uniqueIndex', event => events.push(event));
      await replicator.start();
      if (policy === 'fail') {
        await assert.rejects(replicator.done, (error: Error) => {
          assert.equal((error as { code?: string }).code, 'MR_TARGET_WRITE');
          assert.match(error.message, /email_1 of .*users.*duplicate keys/);
          assert.doesNotMatch(error.message, /2@example/);
          return true;
        });
      } else {
        await replicator.done;
        assert.deepEqual(
          events.map(e => [e.action, e.index, e.reason]),
          [['leftRelaxed', 'email_1', 'duplicates']]
        );
        assert.deepEqual(replicator.relaxedUniqueIndexes, [
          { namespace: `${db}.users`, name: 'email_1' }
        ]);
        assert.equal(await d.target.db(db).collection('users').countDocuments(), 3);
      }
      assert.notEqual((await emailIndexOnTarget(db))?.unique, true);
      await replicator.stop();
    }
  });
});
