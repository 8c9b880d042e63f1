/**
 * What every checkpoint store that keeps the copy's state apart must do (memory and file in unit
 * tests, MongoDB through the driver in integration tests): records replace one collection each,
 * a plan replaces them all, a checkpoint of a copy of 100 000 ranges saves and loads, and saving
 * one finished range writes one small record.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Int32, ObjectId, Timestamp } from 'mongodb';

import { type Checkpoint, type CopiedCollection } from '../../src/checkpoint/checkpoint.js';
import { type CopyStateStore, loadCheckpoint } from '../../src/checkpoint/copy-state-store.js';
import { CheckpointError } from '../../src/errors.js';

/** `collections` collections of `ranges` ranges each, with exact BSON bounds. */
export function copyPlan(collections: number, ranges: number): CopiedCollection[] {
  return Array.from({ length: collections }, (_, c) => ({
    sourceNs: `tenant${Math.floor(c / 100)}.c${c % 100}`,
    targetNs: `tenant${Math.floor(c / 100)}.c${c % 100}`,
    uuid: `uuid-${c}`,
    ranges: Array.from({ length: ranges }, (_, r) => ({
      ...(r === 0 ? {} : { min: r % 2 === 0 ? new Int32(r * 1000) : new ObjectId() }),
      ...(r === ranges - 1 ? {} : { max: new Int32((r + 1) * 1000) }),
      estimatedDocuments: 1000,
      done: false
    }))
  }));
}

const head = (name: string, copyCollections: number): Checkpoint => ({
  name,
  version: 1,
  mode: 'full',
  phase: 'full',
  copyCollections,
  fullBeginTs: new Timestamp({ t: 1_700_000_000, i: 1 }),
  updatedAt: new Date(1_700_000_001_000)
});

export function copyStateContract(
  storeName: string,
  make: () => Promise<{ store: CopyStateStore; name: string }>
): void {
  describe(`${storeName} store: the copy's state apart from the checkpoint`, () => {
    it('replaces one collection per record, all of them with a new plan, and deletes them', async () => {
      const { store, name } = await make();
      const plan = copyPlan(3, 4);
      await store.saveCopyState(name, plan, { replace: true });
      await store.save(head(name, 3));
      const [first] = plan;
      const done = { ...first!, ranges: first!.ranges.map((r, i) => ({ ...r, done: i < 2 })) };
      await store.saveCopyState(name, [done]);
      const loaded = await loadCheckpoint(store, name);
      assert.equal(loaded?.copy?.length, 3);
      const stored = loaded!.copy!.find(c => c.sourceNs === first!.sourceNs)!;
      assert.deepEqual(
        stored.ranges.map(r => r.done),
        [true, true, false, false]
      );
      // Bounds come back as the same BSON values (an Int32 stays an Int32: ranges are reread).
      assert.ok(stored.ranges[2]!.min instanceof Int32);
      assert.deepEqual(stored.ranges, done.ranges);

      await store.saveCopyState(name, copyPlan(1, 1), { replace: true });
      await store.save(head(name, 1));
      assert.equal((await loadCheckpoint(store, name))?.copy?.length, 1);

      await store.delete(name);
      assert.equal(await loadCheckpoint(store, name), undefined);
      assert.deepEqual(await store.loadCopyState(name), []);
    });

    it('refuses a checkpoint that counts records its store does not hold', async () => {
      const { store, name } = await make();
      await store.saveCopyState(name, copyPlan(2, 1), { replace: true });
      await store.save(head(name, 3));
      await assert.rejects(loadCheckpoint(store, name), (error: unknown) => {
        assert.ok(error instanceof CheckpointError);
        assert.match(error.message, /3 collections, but its store holds the state of 2/);
        return true;
      });
    });

    it('saves and loads a copy of 100 000 ranges, one finished range at a time', async () => {
      const { store, name } = await make();
      // 6 250 collections of 16 ranges: the splitter's default most ranges per collection.
      const plan = copyPlan(6250, 16);
      await store.saveCopyState(name, plan, { replace: true });
      await store.save(head(name, plan.length));
      const finished = new Map(plan.map(c => [c.sourceNs, c]));
      for (let k = 0; k < 200; k++) {
        const collection = finished.get(plan[(k * 31) % plan.length]!.sourceNs)!;
        const index = k % 16;
        const ranges = collection.ranges.map((r, i) => (i === index ? { ...r, done: true } : r));
        const updated = { ...collection, ranges };
        finished.set(collection.sourceNs, updated);
        await store.saveCopyState(name, [updated]);
      }
      const loaded = await loadCheckpoint(store, name);
      assert.equal(loaded?.copy?.length, 6250);
      const ranges = loaded!.copy!.reduce((sum, c) => sum + c.ranges.length, 0);
      assert.equal(ranges, 100_000);
      const doneCount = loaded!.copy!.reduce(
        (sum, c) => sum + c.ranges.filter(r => r.done).length,
        0
      );
      const expected = [...finished.values()].reduce(
        (sum, c) => sum + c.ranges.filter(r => r.done).length,
        0
      );
      assert.equal(doneCount, expected);
      // The checkpoint itself only counts the collections.
      assert.equal((await store.load(name))?.copy, undefined);
      await store.delete(name);
    });
  });
}
