import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Timestamp } from 'mongodb';

import { type Checkpoint, type CopiedCollection } from '../../../src/checkpoint/checkpoint.js';
import { type CheckpointStore } from '../../../src/checkpoint/checkpoint-store.js';
import { type CopyStateSaveOptions } from '../../../src/checkpoint/copy-state-store.js';
import { MemoryCheckpointStore } from '../../../src/checkpoint/memory-checkpoint-store.js';
import { CheckpointError } from '../../../src/errors.js';
import {
  CheckpointKeeper,
  type CheckpointKeeperOptions
} from '../../../src/orchestration/checkpoint-keeper.js';
import { type CheckpointEvent } from '../../../src/replicator-events.js';
import { copyPlan } from '../../support/copy-state-contract.js';

const ts = (t: number, i = 1) => new Timestamp({ t, i });

/** A store that records what each copy state save wrote, and can be told to fail them. */
class CopyRecordingStore extends MemoryCheckpointStore {
  readonly saved: Checkpoint[] = [];
  readonly copySaves: { collections: number; replace: boolean }[] = [];
  failCopyWith: Error | undefined;
  override async save(checkpoint: Checkpoint): Promise<void> {
    this.saved.push(checkpoint);
    await super.save(checkpoint);
  }
  override async saveCopyState(
    name: string,
    collections: readonly CopiedCollection[],
    options: CopyStateSaveOptions = {}
  ): Promise<void> {
    if (this.failCopyWith) throw this.failCopyWith;
    this.copySaves.push({ collections: collections.length, replace: options.replace === true });
    await super.saveCopyState(name, collections, options);
  }
}

/** A store that records every save and can be told to fail or to hold saves. */
class RecordingStore extends MemoryCheckpointStore {
  readonly saved: Checkpoint[] = [];
  failWith: Error | undefined;
  override async save(checkpoint: Checkpoint): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.saved.push(checkpoint);
    await super.save(checkpoint);
  }
}

function keeper(store: CheckpointStore, extra: Partial<CheckpointKeeperOptions> = {}) {
  return new CheckpointKeeper({
    store,
    name: 'job',
    mode: 'all',
    fetchMethod: 'oplog',
    intervalMs: 60_000,
    binding: { sourceId: 'replicaSet:rs0/aaaa', filterFingerprint: 'f1' },
    ...extra
  });
}

describe('CheckpointKeeper', () => {
  it('composes what it knows, leaving out what it does not', async () => {
    const k = keeper(new RecordingStore());
    k.phase = 'catchup';
    k.fullBeginTs = ts(10);
    k.copyEndTs = ts(20);
    await k.planCopy([{ sourceNs: 'a.b', targetNs: 'a.b', ranges: [] }]);
    const checkpoint = k.compose(ts(15));
    assert.equal(checkpoint.name, 'job');
    assert.equal(checkpoint.mode, 'all');
    assert.equal(checkpoint.phase, 'catchup');
    assert.ok(checkpoint.lastApplied?.equals(ts(15)));
    assert.ok(checkpoint.fullBeginTs?.equals(ts(10)));
    assert.ok(checkpoint.copyEndTs?.equals(ts(20)));
    assert.equal(checkpoint.copy?.length, 1);
    assert.equal('fetchMethod' in checkpoint, false, 'oplog is the default, not stored');
    assert.equal('resumeToken' in checkpoint, false);
    assert.equal('lastApplied' in k.compose(undefined), false);
  });

  it('keeps the change-stream token of the applied batch, never an older one', () => {
    const k = keeper(new RecordingStore(), { fetchMethod: 'changeStream' });
    k.recordApplied(ts(1), { _data: 'a' });
    assert.deepEqual(k.compose(k.applied).resumeToken, { _data: 'a' });
    k.recordApplied(ts(2), undefined);
    assert.equal(k.compose(k.applied).resumeToken, undefined);
    assert.equal(k.compose(k.applied).fetchMethod, 'changeStream');
  });

  it('ends the catch-up when the applied position reaches copyEndTs', () => {
    const k = keeper(new RecordingStore());
    k.startAt(ts(5));
    k.beginCatchUp(ts(8));
    assert.equal(k.endCatchUpIfReached(), false);
    assert.equal(k.recordApplied(ts(7), undefined), false);
    assert.equal(k.phase, 'catchup');
    assert.equal(k.recordApplied(ts(8), undefined), true);
    assert.equal(k.phase, 'incr');
    assert.equal(k.recordApplied(ts(9), undefined), false, 'only once');
  });

  it('throttles saves while batches are applied, and flushes only a moved position', async () => {
    const store = new RecordingStore();
    const events: CheckpointEvent[] = [];
    const k = keeper(store, { intervalMs: 60_000, onSaved: event => events.push(event) });
    k.startAt(ts(1));
    await k.save();
    k.recordApplied(ts(2), undefined);
    k.saveIfDue(); // within the interval: no save
    await k.flush();
    assert.deepEqual(
      store.saved.map(c => c.lastApplied?.t),
      [1, 2],
      'the flush saved the moved position once'
    );
    await k.flush();
    assert.equal(store.saved.length, 2, 'nothing moved since: no save');
    assert.deepEqual(
      events.map(e => e.optime.t),
      [1, 2]
    );
  });

  it('saves when the interval has passed, in call order, then runs afterSave', async () => {
    const store = new RecordingStore();
    const after: number[] = [];
    const k = keeper(store, {
      intervalMs: 0,
      afterSave: async optime => void after.push(optime.t)
    });
    for (let t = 1; t <= 5; t++) {
      k.recordApplied(ts(t), undefined);
      k.saveIfDue();
    }
    await k.flush();
    assert.deepEqual(
      store.saved.map(c => c.lastApplied?.t),
      [1, 2, 3, 4, 5]
    );
    assert.deepEqual(after, [1, 2, 3, 4, 5]);
  });

  it("turns a store's failure into a CheckpointError, to the caller or to onFailure", async () => {
    const store = new RecordingStore();
    const failures: unknown[] = [];
    const k = keeper(store, { intervalMs: 0, onFailure: error => failures.push(error) });
    store.failWith = new Error('read-only file system');
    k.startAt(ts(1));
    await assert.rejects(k.save(), (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      assert.match(error.message, /Saving checkpoint "job" failed/);
      assert.equal((error.cause as Error).message, 'read-only file system');
      return true;
    });
    k.recordApplied(ts(2), undefined);
    k.saveIfDue();
    await k.flush().catch(() => undefined);
    assert.ok(failures.length >= 1);
    assert.ok(failures.every(error => error instanceof CheckpointError));
  });

  it('refuses a checkpoint of another mode or fetch method, saying how to go on', async () => {
    const store = new RecordingStore();
    await keeper(store, { mode: 'incr' }).save();
    await assert.rejects(keeper(store, { mode: 'all' }).load(), (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      assert.match(error.message, /mode "incr", not "all".*Restart with mode "incr"/);
      return true;
    });
    await assert.rejects(
      keeper(store, { mode: 'incr', fetchMethod: 'changeStream' }).load(),
      /fetchMethod "oplog", not "changeStream"/
    );
  });

  it("refuses a shard worker's checkpoint to a replicator reading other shards", async () => {
    const store = new RecordingStore();
    const worker = (sourceShards?: string[]) =>
      keeper(store, {
        mode: 'incr',
        binding: {
          sourceId: 'cluster:1',
          filterFingerprint: 'f1',
          ...(sourceShards ? { sourceShards } : {})
        }
      });
    await worker(['shard0', 'shard1']).save();
    assert.deepEqual((await worker(['shard0', 'shard1']).load())?.sourceShards, [
      'shard0',
      'shard1'
    ]);
    await assert.rejects(worker(['shard0']).load(), (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      assert.match(error.message, /reading shard0,shard1; this replicator reads shard0/);
      return true;
    });
    await assert.rejects(worker().load(), /this replicator reads every shard/);
  });

  it('takes the stored state on load', async () => {
    const store = new RecordingStore();
    const first = keeper(store);
    first.phase = 'catchup';
    first.fullBeginTs = ts(3);
    first.copyEndTs = ts(9);
    first.startAt(ts(4));
    await first.save();
    const second = keeper(store);
    const loaded = await second.load();
    assert.ok(loaded);
    assert.equal(second.phase, 'catchup');
    assert.ok(second.applied?.equals(ts(4)));
    assert.ok(second.copyEndTs?.equals(ts(9)));
    await second.flush();
    assert.equal(store.saved.length, 1, 'a loaded position counts as saved');
  });

  it('saves a finished range as one collection record, and loads the copy back whole', async () => {
    const store = new CopyRecordingStore();
    const k = keeper(store, { intervalMs: 0 });
    await k.planCopy(copyPlan(1000, 4));
    assert.deepEqual(store.copySaves, [{ collections: 1000, replace: true }]);
    k.copyRangeDone('tenant3.c7', 2);
    await k.flush();
    assert.deepEqual(store.copySaves.at(-1), { collections: 1, replace: false });
    const stored = store.saved.at(-1)!;
    assert.equal(stored.copy, undefined, 'the checkpoint only counts the collections');
    assert.equal(stored.copyCollections, 1000);

    const resumed = keeper(store);
    await resumed.load();
    const state = resumed.copyState!;
    assert.equal(state.length, 1000);
    const ranges = state.find(c => c.sourceNs === 'tenant3.c7')!.ranges;
    assert.deepEqual(
      ranges.map(r => r.done),
      [false, false, true, false]
    );
  });

  it('moves a copy kept inside an older checkpoint into records at its next save', async () => {
    const store = new CopyRecordingStore();
    const inline = { ...keeper(store).compose(ts(1)), copy: copyPlan(5, 2) };
    await MemoryCheckpointStore.prototype.save.call(store, inline);
    const k = keeper(store);
    await k.load();
    assert.equal(k.copyState?.length, 5);
    await k.save();
    assert.deepEqual(store.copySaves, [{ collections: 5, replace: true }]);
    assert.equal(store.saved.at(-1)!.copy, undefined);
    assert.equal(store.saved.at(-1)!.copyCollections, 5);
  });

  it('saves again the ranges of a copy save that failed', async () => {
    const store = new CopyRecordingStore();
    const k = keeper(store, { intervalMs: 0 });
    await k.planCopy(copyPlan(10, 2));
    store.failCopyWith = new Error('disk full');
    k.copyRangeDone('tenant0.c1', 0);
    await assert.rejects(k.flush(), CheckpointError);
    store.failCopyWith = undefined;
    k.copyRangeDone('tenant0.c2', 1);
    await k.flush();
    const resumed = keeper(store);
    await resumed.load();
    const done = resumed.copyState!.flatMap(c =>
      c.ranges.flatMap((r, i) => (r.done ? [`${c.sourceNs}#${i}`] : []))
    );
    assert.deepEqual(done.sort(), ['tenant0.c1#0', 'tenant0.c2#1']);
  });
});
