import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Timestamp } from 'mongodb';

import { type Checkpoint } from '../../../src/checkpoint/checkpoint.js';
import { type CheckpointStore } from '../../../src/checkpoint/checkpoint-store.js';
import { FileCheckpointStore } from '../../../src/checkpoint/file-checkpoint-store.js';
import { MemoryCheckpointStore } from '../../../src/checkpoint/memory-checkpoint-store.js';
import { CheckpointError, InvalidConfigError } from '../../../src/errors.js';
import { copyPlan, copyStateContract } from '../../support/copy-state-contract.js';
import { leaseContract } from '../../support/lease-contract.js';

const sample: Checkpoint = {
  name: 'shop-migration',
  version: 1,
  mode: 'all',
  phase: 'incr',
  sourceReplicaSet: 'rs0',
  lastApplied: new Timestamp({ t: 1_700_000_123, i: 7 }),
  fullBeginTs: new Timestamp({ t: 1_700_000_000, i: 1 }),
  updatedAt: new Date(1_700_000_124_000)
};

function contract(name: string, make: () => Promise<CheckpointStore>) {
  describe(`${name} checkpoint store`, () => {
    it('returns undefined for an unknown name, then what was saved, then nothing after delete', async () => {
      const store = await make();
      assert.equal(await store.load('shop-migration'), undefined);
      await store.save(sample);
      const loaded = await store.load('shop-migration');
      assert.deepEqual(loaded, sample);
      assert.ok(loaded!.lastApplied!.equals(sample.lastApplied!));
      await store.save({ ...sample, lastApplied: new Timestamp({ t: 1_700_000_200, i: 1 }) });
      assert.equal((await store.load('shop-migration'))!.lastApplied!.t, 1_700_000_200);
      await store.delete('shop-migration');
      assert.equal(await store.load('shop-migration'), undefined);
    });

    it('keeps the last of several saves made without awaiting each other', async () => {
      const store = await make();
      const optimes = Array.from({ length: 20 }, (_, i) => new Timestamp({ t: 1_700_000_300, i }));
      await Promise.all(optimes.map(lastApplied => store.save({ ...sample, lastApplied })));
      assert.ok((await store.load('shop-migration'))!.lastApplied!.equals(optimes.at(-1)!));
    });
  });
}

let directory: string;
before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mr-checkpoints-'));
});
after(async () => {
  await rm(directory, { recursive: true, force: true });
});

contract('memory', async () => new MemoryCheckpointStore());
contract('file', async () => new FileCheckpointStore(await mkdtemp(join(directory, 'store-'))));

describe('file checkpoint store', () => {
  it('keeps Timestamps exact in Extended JSON and leaves no temporary file', async () => {
    const store = new FileCheckpointStore(directory);
    await store.save(sample);
    const text = await readFile(join(directory, 'shop-migration.checkpoint.json'), 'utf8');
    assert.match(text, /"\$timestamp"/);
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(
      (await readdir(directory)).filter(f => f.endsWith('.tmp')),
      []
    );
  });

  it('refuses a corrupt file with a CheckpointError that says what to do', async () => {
    const store = new FileCheckpointStore(directory);
    await writeFile(join(directory, 'broken.checkpoint.json'), '{"name": "broken", "version": 7}');
    await assert.rejects(store.load('broken'), (error: unknown) => {
      assert.ok(error instanceof CheckpointError);
      assert.equal(error.code, 'MR_CHECKPOINT');
      assert.match(error.message, /unsupported "version" 7/);
      assert.match(error.message, /Fix or delete/);
      return true;
    });
  });

  it('refuses names that are not safe file names', async () => {
    const store = new FileCheckpointStore(directory);
    await assert.rejects(
      store.load('../escape'),
      (error: unknown) => error instanceof InvalidConfigError
    );
  });
});

let leaseNames = 0;
leaseContract('memory', async () => ({
  store: new MemoryCheckpointStore(),
  name: `lease-${++leaseNames}`
}));
leaseContract('file', async () => ({
  store: new FileCheckpointStore(await mkdtemp(join(directory, 'leases-'))),
  name: `lease-${++leaseNames}`
}));

let copyNames = 0;
copyStateContract('memory', async () => ({
  store: new MemoryCheckpointStore(),
  name: `copy-${++copyNames}`
}));
copyStateContract('file', async () => ({
  store: new FileCheckpointStore(await mkdtemp(join(directory, 'copies-'))),
  name: `copy-${++copyNames}`
}));

describe('file checkpoint store: the copy state journal', () => {
  it('ignores a line torn by a crash, and rewrites the file before appending again', async () => {
    const store = new FileCheckpointStore(await mkdtemp(join(directory, 'torn-')));
    const plan = copyPlan(3, 2);
    await store.saveCopyState('torn', plan, { replace: true });
    const path = join(store.directory, 'torn.copy.jsonl');
    await writeFile(path, `${await readFile(path, 'utf8')}{"sourceNs":"tenant0.c0","tar`);
    const reopened = new FileCheckpointStore(store.directory);
    assert.equal((await reopened.loadCopyState('torn')).length, 3);
    const done = { ...plan[1]!, ranges: plan[1]!.ranges.map(r => ({ ...r, done: true })) };
    await reopened.saveCopyState('torn', [done]);
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.equal(lines.at(-1), '', 'the file ends with a whole line');
    const states = await new FileCheckpointStore(store.directory).loadCopyState('torn');
    assert.equal(states.length, 3);
    assert.deepEqual(states.find(c => c.sourceNs === done.sourceNs)?.ranges, done.ranges);
  });

  it('rewrites the journal once it holds more than twice its collections in lines', async () => {
    const store = new FileCheckpointStore(await mkdtemp(join(directory, 'compact-')));
    const plan = copyPlan(10, 1);
    await store.saveCopyState('compact', plan, { replace: true });
    for (let k = 0; k < 1100; k++) await store.saveCopyState('compact', [plan[k % 10]!]);
    const lines = (await readFile(join(store.directory, 'compact.copy.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean);
    assert.ok(lines.length <= 2 * 10 + 1000, `${lines.length} lines`);
    assert.equal(
      (await new FileCheckpointStore(store.directory).loadCopyState('compact')).length,
      10
    );
  });
});
