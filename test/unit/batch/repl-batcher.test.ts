import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Binary, type Document, Int32, Long, Timestamp, UUID } from 'mongodb';

import { ReplBatcher, type ReplBatchEvent } from '../../../src/batch/repl-batcher.js';
import {
  replBatcherDefaults,
  type ReplBatcherOptions
} from '../../../src/batch/repl-batcher-options.js';
import { InvalidConfigError, UnsupportedOplogEntryError } from '../../../src/errors.js';
import { type StageState } from '../../../src/events.js';
import { BoundedQueue } from '../../../src/lifecycle/bounded-queue.js';
import { NamespaceFilter } from '../../../src/namespace/namespace-filter.js';
import { parseOplogEntry } from '../../../src/oplog/oplog-entry.js';
import { shardEntriesEnvelope } from '../../../src/oplog/shard-entries.js';
import {
  type ApplyBatch,
  type CrudBatch,
  type DdlBatch,
  type FetchedEntry,
  type TxnBatch
} from '../../../src/pipeline/pipeline-items.js';
import { timeoutSignal, waitUntil, withTimeout } from '../../support/timeout-signal.js';

// ---- raw oplog entries --------------------------------------------------------------------

const ts = (t: number, i = 1): Timestamp => new Timestamp({ t, i });
const NULL_OPTIME = { ts: new Timestamp({ t: 0, i: 0 }), t: Long.fromNumber(-1) };

function fetched(fields: Document, bytes = 100): FetchedEntry {
  const raw = { t: Long.fromNumber(1), v: new Int32(2), wall: new Date(0), ...fields };
  return { entry: parseOplogEntry(raw), bytes };
}

const ins = (second: number, ns = 'shop.a', id: unknown = second, extra: Document = {}) =>
  fetched({ ts: ts(second), op: 'i', ns, o: { _id: id, n: second }, ...extra });
const upd = (second: number, id: unknown) =>
  fetched({ ts: ts(second), op: 'u', ns: 'shop.a', o: { $set: { n: 1 } }, o2: { _id: id } });
const del = (second: number, id: unknown, extra: Document = {}) =>
  fetched({ ts: ts(second), op: 'd', ns: 'shop.a', o: { _id: id }, ...extra });
const noop = (second: number) =>
  fetched({ ts: ts(second), op: 'n', ns: '', o: { msg: 'periodic noop' } });
const cmd = (second: number, db: string, o: Document, extra: Document = {}) =>
  fetched({ ts: ts(second), op: 'c', ns: `${db}.$cmd`, o, ...extra });

const session = (n = 1): Document => ({
  id: new UUID(`00000000-0000-4000-8000-00000000000${n}`).toBinary(),
  uid: new Binary(Buffer.alloc(32, n))
});
const innerInsert = (id: number, ns = 'shop.a'): Document => ({ op: 'i', ns, o: { _id: id } });

/** An entry of a transaction of `session(sessionNo)`, linked to `prev` (or starting a chain). */
function txn(second: number, o: Document, prev?: number, sessionNo = 1): FetchedEntry {
  return cmd(second, 'admin', o, {
    lsid: session(sessionNo),
    txnNumber: Long.fromNumber(7),
    prevOpTime: prev === undefined ? NULL_OPTIME : { ts: ts(prev), t: Long.fromNumber(1) }
  });
}

// ---- harness -------------------------------------------------------------------------------

interface Harness {
  readonly input: BoundedQueue<FetchedEntry>;
  readonly batcher: ReplBatcher;
  readonly events: ReplBatchEvent[];
  readonly states: StageState[];
}

function setup(options: Partial<ReplBatcherOptions> = {}): Harness {
  const input = new BoundedQueue<FetchedEntry>(100, Infinity);
  // A long fill time unless a test is about it: flushes then depend on input only.
  const batcher = new ReplBatcher({ input, maxFillMs: 60_000, ...options });
  const events: ReplBatchEvent[] = [];
  const states: StageState[] = [];
  batcher.on('batch', event => events.push(event));
  batcher.on('state', event => states.push(event.to));
  return { input, batcher, events, states };
}

async function collect(queue: BoundedQueue<ApplyBatch>): Promise<ApplyBatch[]> {
  const batches: ApplyBatch[] = [];
  for await (const batch of queue) batches.push(batch);
  return batches;
}

/** Queues `items`, closes the input, runs the batcher to its end and returns every batch. */
async function batch(
  items: FetchedEntry[],
  options: Partial<ReplBatcherOptions> = {}
): Promise<Harness & { batches: ApplyBatch[] }> {
  const harness = setup(options);
  for (const item of items) assert.equal(await harness.input.push(item, item.bytes), true);
  harness.input.close();
  await harness.batcher.start();
  const batches = await withTimeout(collect(harness.batcher.output), 2000, 'the output to close');
  await withTimeout(harness.batcher.done, 2000, 'done');
  return { ...harness, batches };
}

function crud(batch: ApplyBatch | undefined): CrudBatch {
  assert.equal(batch?.kind, 'crud');
  return batch as CrudBatch;
}

function txnBatch(batch: ApplyBatch | undefined): TxnBatch {
  assert.equal(batch?.kind, 'txn');
  return batch as TxnBatch;
}

/** The ids a batch writes, whatever its kind; `ddl:<command>` or `progress` otherwise. */
const contents = (batch: ApplyBatch): string => {
  switch (batch.kind) {
    case 'crud':
    case 'txn':
      return `${batch.kind}:${batch.ops.map(op => String(op.id)).join(',')}`;
    case 'ddl':
      return `ddl:${batch.entry.command}`;
    case 'progress':
      return 'progress';
  }
};

const ids = (batch: ApplyBatch | undefined): unknown[] => crud(batch).ops.map(op => op.id);
const optime = (value: Timestamp): string => `${value.t}:${value.i}`;
const reasons = (events: ReplBatchEvent[]): string[] => events.map(e => `${e.kind}/${e.reason}`);

// ---- tests ---------------------------------------------------------------------------------

describe('ReplBatcher options', () => {
  it('has frozen defaults and validates every limit', () => {
    assert.deepEqual(replBatcherDefaults, {
      maxOps: 5_000,
      maxBytes: 16 * 1024 * 1024,
      maxFillMs: 50,
      outputMaxBatches: 4,
      transactions: 'flatten'
    });
    assert.ok(Object.isFrozen(replBatcherDefaults));
    const input = new BoundedQueue<FetchedEntry>(1, 1);
    const batcher = new ReplBatcher({ input });
    assert.equal(batcher.options.maxOps, 5_000);
    assert.equal(batcher.output.maxItems, 4);
    assert.ok(batcher.options.filter instanceof NamespaceFilter);
    assert.equal(batcher.options.transactions, 'flatten');
    assert.equal(
      new ReplBatcher({ input, transactions: 'preserve' }).options.transactions,
      'preserve'
    );

    const invalid: [Partial<ReplBatcherOptions>, string][] = [
      [{ maxOps: 0 }, 'maxOps'],
      [{ maxOps: 1.5 }, 'maxOps'],
      [{ maxBytes: -1 }, 'maxBytes'],
      [{ maxFillMs: 0 }, 'maxFillMs'],
      [{ maxFillMs: Infinity }, 'maxFillMs'],
      [{ outputMaxBatches: NaN }, 'outputMaxBatches'],
      [{ filter: {} as NamespaceFilter }, 'filter'],
      [{ resumeOptime: 5 as unknown as Timestamp }, 'resumeOptime'],
      [{ transactions: 'atomic' as never }, 'transactions']
    ];
    for (const [options, field] of invalid) {
      assert.throws(
        () => new ReplBatcher({ input, ...options }),
        (error: unknown) => error instanceof InvalidConfigError && error.field === field,
        field
      );
    }
    assert.throws(
      () => new ReplBatcher({} as ReplBatcherOptions),
      (error: unknown) => error instanceof InvalidConfigError && error.field === 'input'
    );
  });
});

describe('ReplBatcher', () => {
  it('flushes at maxOps, then the rest when the input ends; ids from o or o2', async () => {
    const items = [ins(1), upd(2, 'u2'), del(3, 'd3'), ins(4), ins(5), ins(6), ins(7)];
    const { batches, events } = await batch(items, { maxOps: 3 });
    assert.deepEqual(batches.map(ids), [[1, 'u2', 'd3'], [4, 5, 6], [7]]);
    assert.deepEqual(reasons(events), ['crud/maxOps', 'crud/maxOps', 'crud/inputEnd']);
    const first = crud(batches[0]);
    assert.equal(first.ops[0]?.targetNs, 'shop.a');
    assert.equal(first.ops[1]?.entry, items[1]?.entry);
    assert.equal(first.bytes, 300);
    assert.equal(optime(first.lastOptime), '3:1');
    assert.equal(optime(first.checkpointOptime), '3:1');
    assert.deepEqual(
      events.map(e => [e.ops, e.bytes, optime(e.firstOptime), optime(e.lastOptime), e.skipped]),
      [
        [3, 300, '1:1', '3:1', 0],
        [3, 300, '4:1', '6:1', 0],
        [1, 100, '7:1', '7:1', 0]
      ]
    );
  });

  it('flushes before an op that would cross maxBytes, and once it is reached', async () => {
    const five = [ins(1), ins(2), ins(3), ins(4), ins(5)];
    const crossing = await batch(five, { maxBytes: 250 });
    assert.deepEqual(crossing.batches.map(ids), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(reasons(crossing.events), ['crud/maxBytes', 'crud/maxBytes', 'crud/inputEnd']);

    const reaching = await batch(five, { maxBytes: 200 });
    assert.deepEqual(reaching.batches.map(ids), [[1, 2], [3, 4], [5]]);
    assert.deepEqual(reasons(reaching.events), ['crud/maxBytes', 'crud/maxBytes', 'crud/inputEnd']);

    // One operation larger than the limit still travels, alone.
    const big = await batch(
      [ins(1), fetched({ ts: ts(2), op: 'i', ns: 'a.b', o: { _id: 2 } }, 900), ins(3)],
      {
        maxBytes: 250
      }
    );
    assert.deepEqual(big.batches.map(ids), [[1], [2], [3]]);
  });

  it('flushes a partial batch maxFillMs after its first entry, without more input', async () => {
    const { input, batcher } = setup({ maxFillMs: 20 });
    await batcher.start();
    const flushed = batcher.waitFor('batch', { signal: timeoutSignal(2000, 'a maxFillMs flush') });
    await input.push(ins(1), 100);
    await input.push(ins(2), 100);
    const [event] = await flushed;
    assert.equal(event.reason, 'maxFillMs');
    assert.equal(event.ops, 2);
    assert.deepEqual(ids(batcher.output.tryShift()), [1, 2]);
    await batcher.stop();
  });

  it('sends each DDL alone, in order, after the operations before it', async () => {
    const { batches, events } = await batch([
      ins(1),
      ins(2),
      cmd(3, 'shop', { create: 'b' }),
      ins(4),
      noop(5),
      cmd(6, 'shop', { drop: 'b' }),
      noop(7),
      cmd(8, 'shop', { startIndexBuild: 'a', indexBuildUUID: new UUID(), indexes: [] }),
      cmd(9, 'shop', { createIndexes: 'a', v: 2, key: { n: 1 }, name: 'n_1' }),
      ins(10)
    ]);
    assert.deepEqual(reasons(events), [
      'crud/ddl',
      'ddl/ddl',
      'crud/ddl',
      'ddl/ddl',
      'ddl/ddl',
      'crud/inputEnd'
    ]);
    assert.deepEqual(ids(batches[0]), [1, 2]);
    const create = batches[1] as DdlBatch;
    assert.deepEqual(create.command, { db: 'shop', command: { create: 'b' } });
    assert.equal(optime(create.lastOptime), '3:1');
    assert.equal(optime(create.checkpointOptime), '3:1');
    assert.equal(create.entry.command, 'create');
    assert.deepEqual(ids(batches[2]), [4]);
    assert.equal(batches[2]?.skipped, 1, 'the noop rides with the CRUD batch');
    assert.equal(optime(batches[2]!.lastOptime), '5:1');
    assert.deepEqual((batches[3] as DdlBatch).command.command, { drop: 'b' });
    // The noop and startIndexBuild (nothing to replay) ride with the next DDL, counted.
    const index = batches[4] as DdlBatch;
    assert.equal(index.skipped, 2);
    assert.equal(optime(events[4]!.firstOptime), '7:1');
    assert.deepEqual(index.command.command, {
      createIndexes: 'a',
      indexes: [{ v: 2, key: { n: 1 }, name: 'n_1' }]
    });
    assert.deepEqual(ids(batches[5]), [10]);
  });

  it('takes apart the entries of several shards at one optime, each as if it came alone', async () => {
    // Shard a: a two-entry transaction whose last entry shares optime 3 with shard b's insert and
    // shard c's drop.
    const first = txn(2, { applyOps: [innerInsert(1)], partialTxn: true });
    const last = txn(3, { applyOps: [innerInsert(2)] }, 2);
    const envelope = fetched(
      shardEntriesEnvelope(ts(3), [
        last.entry.raw,
        ins(3, 'shop.a', 30).entry.raw,
        cmd(3, 'shop', { drop: 'gone' }).entry.raw
      ])
    );
    const { batches } = await batch([ins(1), first, envelope, ins(4)], { maxOps: 2 });
    // The transaction's writes stay together; shard b's insert and shard c's drop follow.
    assert.deepEqual(batches.map(contents), [
      'crud:1',
      'crud:1,2',
      'crud:30',
      'ddl:drop',
      'crud:4'
    ]);
    // No batch that covers only part of optime 3 names it as its checkpoint.
    const cut = batches.slice(0, 4).map(b => optime(b.checkpointOptime));
    assert.ok(!cut.includes('3:1'), cut.join(' '));
    assert.equal(optime(batches[4]!.checkpointOptime), '4:1');
  });

  it('replays a shardCollection record as DDL only when told to', async () => {
    const sharded = fetched({
      ts: ts(2),
      op: 'n',
      ns: 'shop.a',
      o: { msg: { shardCollection: 'shop.a' } },
      o2: { shardCollection: 'shop.a', shardKey: { k: 1 }, unique: false }
    });
    const replayed = await batch([ins(1), sharded, ins(3)], { shardCollections: true });
    assert.deepEqual(replayed.batches.map(contents), ['crud:1', 'ddl:shardCollection', 'crud:3']);
    assert.deepEqual((replayed.batches[1] as DdlBatch).command, {
      db: 'admin',
      command: { shardCollection: 'shop.a', key: { k: 1 }, collation: { locale: 'simple' } }
    });
    const passed = await batch([ins(1), sharded, ins(3)]);
    assert.deepEqual(passed.batches.map(contents), ['crud:1,3']);
    assert.equal(passed.batches[0]?.skipped, 1, 'a no-op like any other');
  });

  it('filters and renames CRUD ops, ops inside applyOps, and DDL namespaces', async () => {
    const filter = new NamespaceFilter({ include: ['shop.*'], rename: { 'shop.*': 'copy.*' } });
    const { batches } = await batch(
      [
        ins(1, 'shop.a'),
        ins(2, 'other.b'),
        cmd(3, 'admin', { applyOps: [innerInsert(31, 'other.x'), innerInsert(32, 'shop.c')] }),
        cmd(4, 'shop', { renameCollection: 'shop.a', to: 'shop.b', dropTarget: false }),
        cmd(5, 'other', { create: 'z' }),
        cmd(6, 'shop', { dropDatabase: 1 }),
        cmd(7, 'other', { dropDatabase: 1 })
      ],
      { filter }
    );
    assert.equal(batches.length, 4);
    const first = crud(batches[0]);
    assert.deepEqual(
      first.ops.map(op => [op.id, op.targetNs, op.entry.ns]),
      [
        [1, 'copy.a', 'shop.a'],
        [32, 'copy.c', 'shop.c']
      ]
    );
    assert.equal(first.skipped, 2, 'other.b and the inner other.x');
    assert.ok(first.bytes > 100, 'inner operations are sized on their own');
    assert.deepEqual((batches[1] as DdlBatch).command, {
      db: 'admin',
      command: { renameCollection: 'copy.a', to: 'copy.b', dropTarget: false }
    });
    const drop = batches[2] as DdlBatch;
    assert.deepEqual(drop.command, { db: 'copy', command: { dropDatabase: 1 } });
    assert.equal(drop.skipped, 1, 'the filtered create rides along');
    assert.equal(batches[3]?.kind, 'progress');
    assert.equal(batches[3]?.skipped, 1, 'the filtered dropDatabase');
    assert.equal(optime(batches[3]!.checkpointOptime), '7:1');
  });

  it('keeps a committed transaction whole in one batch, even past maxOps', async () => {
    const { batches, events } = await batch(
      [
        ins(1),
        txn(2, { applyOps: [1, 2, 3, 4, 5].map(n => innerInsert(20 + n)) }),
        ins(3),
        cmd(4, 'admin', { applyOps: [innerInsert(41), innerInsert(42)] })
      ],
      { maxOps: 2 }
    );
    assert.deepEqual(batches.map(ids), [[1], [21, 22, 23, 24, 25], [3], [41, 42]]);
    assert.deepEqual(reasons(events), ['crud/maxOps', 'crud/maxOps', 'crud/maxOps', 'crud/maxOps']);
    assert.equal(optime(batches[1]!.lastOptime), '2:1');
    assert.equal(optime(batches[1]!.checkpointOptime), '2:1');
  });

  it('holds a partialTxn chain, checkpointing before it, then releases it in one batch', async () => {
    const { batches, batcher } = await batch(
      [
        ins(10),
        txn(11, { applyOps: [innerInsert(111), innerInsert(112)], partialTxn: true }),
        ins(12),
        txn(13, { applyOps: [innerInsert(131)], partialTxn: true }, 11),
        noop(14),
        txn(15, { applyOps: [innerInsert(151)], count: 4 }, 13),
        ins(16)
      ],
      { maxOps: 1 }
    );
    assert.deepEqual(batches.map(ids), [[10], [12], [111, 112, 131, 151], [16]]);
    assert.deepEqual(
      batches.map(b => [optime(b.lastOptime), optime(b.checkpointOptime)]),
      [
        ['10:1', '10:1'],
        ['12:1', '10:1'], // the chain began at 11: a restart must read it again
        ['15:1', '15:1'],
        ['16:1', '16:1']
      ]
    );
    assert.equal(batches[2]?.skipped, 1, 'the noop inside the chain');
    assert.equal(batcher.pendingTransactions, 0);
  });

  it('checkpoints before a chain that begins with the first entry', async () => {
    const items = (): FetchedEntry[] => [
      txn(20, { applyOps: [innerInsert(201)], partialTxn: true }),
      ins(21)
    ];
    const withResume = await batch(items(), { maxOps: 1, resumeOptime: ts(5) });
    assert.deepEqual(withResume.batches.map(ids), [[21]]);
    assert.equal(optime(withResume.batches[0]!.checkpointOptime), '5:1');
    assert.equal(withResume.batcher.pendingTransactions, 1);
    const without = await batch(items(), { maxOps: 1 });
    assert.equal(optime(without.batches[0]!.checkpointOptime), '20:0');
  });

  it('drops an aborted chain and counts the abort', async () => {
    const { batches, batcher } = await batch([
      txn(11, { applyOps: [innerInsert(111)], partialTxn: true }),
      ins(12),
      txn(13, { abortTransaction: 1 }, 11),
      ins(14)
    ]);
    assert.equal(batches.length, 1);
    assert.deepEqual(ids(batches[0]), [12, 14]);
    assert.equal(batches[0]?.skipped, 1);
    assert.equal(optime(batches[0]!.checkpointOptime), '14:1');
    assert.equal(batcher.pendingTransactions, 0);
  });

  it('runs a command inside a transaction alone, between the ops around it', async () => {
    const { batches } = await batch([
      txn(30, {
        applyOps: [
          innerInsert(1, 'shop.y'),
          { op: 'c', ns: 'shop.$cmd', o: { create: 'z' } },
          innerInsert(2, 'shop.z')
        ]
      })
    ]);
    assert.deepEqual(
      batches.map(b => b.kind),
      ['crud', 'ddl', 'crud']
    );
    assert.deepEqual(ids(batches[0]), [1]);
    assert.deepEqual((batches[1] as DdlBatch).command, { db: 'shop', command: { create: 'z' } });
    assert.deepEqual(ids(batches[2]), [2]);
    // Until the whole transaction is in, a restart must read it again.
    assert.equal(optime(batches[1]!.checkpointOptime), '30:0');
    assert.equal(optime(batches[2]!.checkpointOptime), '30:1');
  });

  it('lets noops ride along on a busy stream, and flushes them as progress when idle', async () => {
    const busy = await batch([ins(1), noop(2), ins(3), noop(4)]);
    assert.equal(busy.batches.length, 1);
    assert.deepEqual(ids(busy.batches[0]), [1, 3]);
    assert.equal(busy.batches[0]?.skipped, 2);
    assert.equal(optime(busy.batches[0]!.lastOptime), '4:1');

    const { input, batcher, events } = setup({ maxFillMs: 20 });
    await batcher.start();
    const signal = timeoutSignal(2000, 'progress batches');
    const first = batcher.waitFor('batch', { signal });
    await input.push(noop(5), 100);
    const [progress] = await first;
    assert.equal(progress.kind, 'progress');
    assert.equal(progress.reason, 'progress');
    assert.equal(progress.skipped, 1);
    assert.equal(optime(progress.checkpointOptime), '5:1');
    const second = batcher.waitFor('batch', { signal });
    await input.push(noop(6), 100);
    await input.push(noop(7), 100);
    const [both] = await second;
    assert.equal(both.skipped, 2, 'one progress batch for noops that arrive together');
    assert.equal(optime(both.lastOptime), '7:1');
    assert.equal(events.length, 2);
    await batcher.stop();
  });

  it('skips and counts fromMigrate entries', async () => {
    const { batches } = await batch([
      ins(1, 'shop.a', 1, { fromMigrate: true }),
      del(2, 1, { fromMigrate: true }),
      ins(3)
    ]);
    assert.deepEqual(batches.map(ids), [[3]]);
    assert.equal(batches[0]?.skipped, 2);
  });

  it('stops taking input while the output is full', async () => {
    const { input, batcher } = setup({ maxOps: 1, outputMaxBatches: 1 });
    for (let n = 1; n <= 5; n++) await input.push(ins(n), 100);
    await batcher.start();
    const signal = timeoutSignal(2000, 'the batcher to block');
    // Batch 1 is queued; batch 2 waits for room, so entries 3-5 stay in the input.
    await waitUntil(() => batcher.output.size === 1 && input.size === 3, signal);
    for (let turn = 0; turn < 20; turn++) await new Promise(resolve => setImmediate(resolve));
    assert.equal(input.size, 3);
    assert.deepEqual(ids(batcher.output.tryShift()), [1]);
    await waitUntil(() => input.size === 2, signal);
    input.close();
    const rest = await withTimeout(collect(batcher.output), 2000, 'the rest');
    assert.deepEqual(rest.map(ids), [[2], [3], [4], [5]]);
  });

  it('stops gracefully: closes the input, flushes, closes the output; exact states', async () => {
    const { input, batcher, states, events } = setup();
    await batcher.start();
    await input.push(ins(1), 100);
    await input.push(ins(2), 100);
    const output = collect(batcher.output);
    await withTimeout(batcher.stop(), 2000, 'stop');
    assert.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    assert.deepEqual((await output).map(ids), [[1, 2]]);
    assert.deepEqual(reasons(events), ['crud/inputEnd']);
    assert.equal(batcher.output.closed, true);
    assert.equal(await input.push(ins(3), 100), false, 'the fetcher is told to stop');
    await batcher.done;
  });

  it('stops at once on a forced abort', async () => {
    const controller = new AbortController();
    const { input, batcher, states, events } = setup({ signal: controller.signal });
    await batcher.start();
    await input.push(ins(1), 100);
    controller.abort(new Error('forced'));
    await withTimeout(batcher.done, 2000, 'done');
    assert.deepEqual(states, ['starting', 'running', 'stopped']);
    assert.deepEqual(events, [], 'nothing flushed');
    assert.equal(batcher.output.closed, true);
    assert.equal(input.closed, false, 'no drain');
  });

  it('fails with UnsupportedOplogEntryError on an entry it cannot replay', async () => {
    const cases: [FetchedEntry[], RegExp][] = [
      [[ins(1), cmd(2, 'shop', { fooBar: 1 })], /unknown command "fooBar"/],
      [[txn(3, { applyOps: [innerInsert(1)] }, 2)], /earlier entries .* were not seen/],
      [[cmd(4, 'admin', { applyOps: 'nope' })], /"applyOps" is not an array/]
    ];
    for (const [items, message] of cases) {
      const { input, batcher, states, events } = setup();
      const errors: unknown[] = [];
      batcher.on('error', error => errors.push(error));
      for (const item of items) await input.push(item, item.bytes);
      await batcher.start();
      await assert.rejects(
        withTimeout(batcher.done, 2000, 'done'),
        (error: unknown) =>
          error instanceof UnsupportedOplogEntryError && message.test(error.message)
      );
      assert.deepEqual(states, ['starting', 'running', 'failed']);
      assert.equal(errors.length, 1);
      assert.deepEqual(events, [], 'the batch before the bad entry is not flushed');
      assert.equal(batcher.output.closed, true, 'a consumer does not hang');
    }
  });
});

describe("ReplBatcher transactions: 'preserve'", () => {
  const preserve = { transactions: 'preserve' } as const;

  it('sends a transaction alone as a txn batch, after flushing the CRUD batch so far', async () => {
    const items = (): FetchedEntry[] => [
      ins(1),
      noop(2),
      txn(3, { applyOps: [1, 2, 3, 4, 5].map(n => innerInsert(30 + n)) }),
      ins(4)
    ];
    const { batches, events } = await batch(items(), { ...preserve, maxOps: 2 });
    assert.deepEqual(batches.map(contents), ['crud:1', 'txn:31,32,33,34,35', 'crud:4']);
    assert.deepEqual(reasons(events), ['crud/txn', 'txn/txn', 'crud/inputEnd']);
    assert.equal(optime(batches[0]!.lastOptime), '2:1', 'the noop before it rides along');
    const transaction = txnBatch(batches[1]);
    assert.deepEqual(transaction.lsid, session(1));
    assert.equal(Number(transaction.txnNumber), 7);
    assert.equal(optime(transaction.lastOptime), '3:1');
    assert.equal(optime(transaction.checkpointOptime), '3:1');
    assert.equal(transaction.skipped, 0);
    assert.ok(transaction.bytes > 0);
    assert.equal(transaction.ops[0]?.targetNs, 'shop.a');
    assert.equal(events[1]?.ops, 5);
    assert.equal(events[1]?.bytes, transaction.bytes);

    // Flatten (the default) leaves the transaction among the other writes.
    const flat = await batch(items());
    assert.deepEqual(flat.batches.map(contents), ['crud:1,31,32,33,34,35,4']);
  });

  it('sends a partialTxn chain at its commit, checkpointing the batch before it before the chain', async () => {
    const { batches, events, batcher } = await batch(
      [
        ins(10),
        txn(11, { applyOps: [innerInsert(111), innerInsert(112)], partialTxn: true }),
        ins(12),
        txn(13, { applyOps: [innerInsert(131)], partialTxn: true }, 11),
        noop(14),
        txn(15, { applyOps: [innerInsert(151)], count: 4 }, 13),
        ins(16)
      ],
      preserve
    );
    assert.deepEqual(batches.map(contents), ['crud:10,12', 'txn:111,112,131,151', 'crud:16']);
    assert.deepEqual(reasons(events), ['crud/txn', 'txn/txn', 'crud/inputEnd']);
    assert.deepEqual(
      batches.map(b => [optime(b.lastOptime), optime(b.checkpointOptime), b.skipped]),
      [
        ['14:1', '10:1', 1], // the chain began at 11: a restart must read it again
        ['15:1', '15:1', 0],
        ['16:1', '16:1', 0]
      ]
    );
    assert.equal(batcher.pendingTransactions, 0);
  });

  it('sends a prepared transaction at its commitTransaction', async () => {
    const { batches } = await batch(
      [
        txn(20, { applyOps: [innerInsert(201)], prepare: true }),
        ins(21),
        txn(22, { commitTransaction: 1, commitTimestamp: ts(22) }, 20)
      ],
      preserve
    );
    assert.deepEqual(batches.map(contents), ['crud:21', 'txn:201']);
    assert.equal(optime(batches[0]!.checkpointOptime), '20:0');
    assert.equal(optime(batches[1]!.checkpointOptime), '22:1');
  });

  it('flattens a batched write without a session, and skips a transaction that writes nothing kept', async () => {
    const filter = new NamespaceFilter({ include: ['shop.*'] });
    const { batches, events } = await batch(
      [
        ins(1),
        cmd(2, 'admin', { applyOps: [innerInsert(21), innerInsert(22)] }),
        txn(3, { applyOps: [innerInsert(31, 'other.x'), innerInsert(32, 'other.y')] }),
        ins(4)
      ],
      { ...preserve, filter }
    );
    assert.deepEqual(batches.map(contents), ['crud:1,21,22,4']);
    assert.deepEqual(reasons(events), ['crud/inputEnd']);
    assert.equal(batches[0]?.skipped, 2, 'the filtered writes of the transaction');
  });

  it('counts filtered writes of a transaction in its txn batch', async () => {
    const filter = new NamespaceFilter({ include: ['shop.*'] });
    const { batches } = await batch(
      [ins(1), txn(2, { applyOps: [innerInsert(21, 'other.x'), innerInsert(22)] })],
      { ...preserve, filter }
    );
    assert.deepEqual(batches.map(contents), ['crud:1', 'txn:22']);
    assert.equal(batches[0]?.skipped, 0);
    assert.equal(batches[1]?.skipped, 1);
  });

  it('runs a command inside a transaction alone, splitting the transaction around it', async () => {
    const create = { op: 'c', ns: 'shop.$cmd', o: { create: 'z' } };
    const split = await batch(
      [ins(1), txn(30, { applyOps: [innerInsert(2, 'shop.y'), create, innerInsert(3, 'shop.z')] })],
      preserve
    );
    assert.deepEqual(split.batches.map(contents), ['crud:1', 'txn:2', 'ddl:create', 'txn:3']);
    assert.deepEqual(reasons(split.events), ['crud/txn', 'txn/txn', 'ddl/ddl', 'txn/txn']);
    // Until the whole transaction is in, a restart must read it again.
    assert.deepEqual(
      split.batches.map(b => optime(b.checkpointOptime)),
      ['1:1', '1:1', '1:1', '30:1']
    );

    // Ending with the command: a progress batch then moves the checkpoint past the entry.
    const last = await batch([txn(31, { applyOps: [innerInsert(4, 'shop.y'), create] })], preserve);
    assert.deepEqual(last.batches.map(contents), ['txn:4', 'ddl:create', 'progress']);
    assert.deepEqual(
      last.batches.map(b => optime(b.checkpointOptime)),
      ['31:0', '31:0', '31:1']
    );
  });
});

describe('ReplBatcher filter.skip', () => {
  const skipping = (skip: string[], extra: ConstructorParameters<typeof NamespaceFilter>[0] = {}) =>
    new NamespaceFilter({ ...extra, skip: skip as never });

  it('drops the writes of a skipped kind, counts them by kind, and applies the rest', async () => {
    const { batches, events } = await batch(
      [ins(1), upd(2, 1), del(3, 1), ins(4), del(5, 4), noop(6)],
      { filter: skipping(['delete']) }
    );
    assert.deepEqual(batches.map(contents), ['crud:1,1,4']);
    assert.equal(batches[0]?.skipped, 3, 'two deletes and the noop');
    assert.deepEqual(batches[0]?.skippedOperations, {
      inserts: 0,
      updates: 0,
      deletes: 2,
      commands: 0
    });
    assert.deepEqual(events[0]?.skippedOperations, batches[0]?.skippedOperations);
    assert.equal(optime(batches[0]!.checkpointOptime), '6:1', 'the checkpoint moves past them');
  });

  it('counts a write of a filtered namespace as filtered, not as a skipped operation', async () => {
    const { batches } = await batch([del(1, 1), ins(2, 'other.b'), del(3, 2)], {
      filter: skipping(['delete', 'insert'], { include: ['other.*'] })
    });
    assert.deepEqual(batches.map(contents), ['progress']);
    assert.equal(batches[0]?.skipped, 3);
    assert.deepEqual(batches[0]?.skippedOperations, {
      inserts: 1,
      updates: 0,
      deletes: 0,
      commands: 0
    });
  });

  it('skips updates and replacements alike', async () => {
    const replace = fetched({
      ts: ts(3),
      op: 'u',
      ns: 'shop.a',
      o: { _id: 1, v: 2 },
      o2: { _id: 1 }
    });
    const { batches } = await batch([ins(1), upd(2, 1), replace], {
      filter: skipping(['update'])
    });
    assert.deepEqual(batches.map(contents), ['crud:1']);
    assert.equal(batches[0]?.skippedOperations?.updates, 2);
  });

  it('drops the skipped operations of a transaction and applies the rest of it', async () => {
    const innerDelete = (id: number): Document => ({ op: 'd', ns: 'shop.a', o: { _id: id } });
    const entries = [
      txn(2, { applyOps: [innerInsert(21), innerDelete(1), innerInsert(22), innerDelete(2)] })
    ];
    const flat = await batch(entries, { filter: skipping(['delete']) });
    assert.deepEqual(flat.batches.map(contents), ['crud:21,22']);
    assert.equal(flat.batches[0]?.skippedOperations?.deletes, 2);
    const kept = await batch(entries, { filter: skipping(['delete']), transactions: 'preserve' });
    assert.deepEqual(kept.batches.map(contents), ['txn:21,22']);
    assert.equal(kept.batches[0]?.skippedOperations?.deletes, 2);
    // A transaction left with nothing to write sends no txn batch.
    const none = await batch([txn(3, { applyOps: [innerDelete(5)] })], {
      filter: skipping(['delete']),
      transactions: 'preserve'
    });
    assert.deepEqual(none.batches.map(contents), ['progress']);
  });

  it('skips a DDL command by name, its oplog spellings, or every command with "ddl"', async () => {
    const entries = [
      ins(1),
      cmd(2, 'shop', { drop: 'b' }),
      cmd(3, 'shop', { create: 'c' }),
      cmd(4, 'shop', {
        commitIndexBuild: 'a',
        indexBuildUUID: new UUID(),
        indexes: [{ v: 2, key: { n: 1 }, name: 'n_1' }]
      }),
      cmd(5, 'shop', { deleteIndexes: 'a', index: 'n_1' }),
      cmd(6, 'shop', { dropDatabase: 1 }),
      ins(7)
    ];
    const drops = await batch(entries, { filter: skipping(['drop', 'dropDatabase']) });
    // A skipped command flushes nothing: the inserts around it could share a batch.
    assert.deepEqual(drops.batches.map(contents), [
      'crud:1',
      'ddl:create',
      'ddl:commitIndexBuild',
      'ddl:deleteIndexes',
      'crud:7'
    ]);
    assert.equal(drops.batches[0]?.skippedOperations?.commands, 1);
    assert.equal(drops.batches[4]?.skippedOperations?.commands, 1);
    const indexes = await batch(entries, { filter: skipping(['createIndexes', 'dropIndexes']) });
    assert.deepEqual(indexes.batches.map(contents), [
      'crud:1',
      'ddl:drop',
      'ddl:create',
      'ddl:dropDatabase',
      'crud:7'
    ]);
    const all = await batch(entries, { filter: skipping(['ddl']) });
    assert.deepEqual(all.batches.map(contents), ['crud:1,7']);
    assert.equal(all.batches[0]?.skippedOperations?.commands, 5);
  });

  it('keeps a collection renamed out of the filter when drops are skipped', async () => {
    const { batches } = await batch(
      [cmd(1, 'shop', { renameCollection: 'shop.a', to: 'gone.a', dropTarget: false })],
      { filter: skipping(['drop'], { include: ['shop.*'] }) }
    );
    assert.deepEqual(batches.map(contents), ['progress']);
    assert.equal(batches[0]?.skippedOperations?.commands, 1);
  });

  it('turns a rename into a merge into what the target keeps when drops are skipped', async () => {
    const rename = cmd(1, 'shop', {
      renameCollection: 'shop.a',
      to: 'shop.b',
      dropTarget: new UUID().toBinary()
    });
    const kept = await batch([rename], { filter: skipping(['drop']) });
    const merge = kept.batches[0] as DdlBatch;
    assert.equal(merge.mergeIntoExisting, true);
    assert.deepEqual(merge.command.command, {
      renameCollection: 'shop.a',
      to: 'shop.b',
      dropTarget: false
    });
    const plain = (await batch([rename])).batches[0] as DdlBatch;
    assert.equal(plain.mergeIntoExisting, undefined);
    assert.equal(plain.command.command.dropTarget, true);
    // Skipping renames wins: a rename into the filter from outside, which cannot be replayed,
    // is then not an error.
    const into = cmd(2, 'other', { renameCollection: 'other.x', to: 'shop.x', dropTarget: false });
    const skipped = await batch([into], {
      filter: skipping(['renameCollection'], { include: ['shop.*'] })
    });
    assert.deepEqual(skipped.batches.map(contents), ['progress']);
    assert.equal(skipped.batches[0]?.skippedOperations?.commands, 1);
  });

  it('still refuses a command it does not know, whatever is skipped', async () => {
    const harness = setup({ filter: skipping(['ddl']) });
    await harness.input.push(cmd(1, 'shop', { frobnicate: 'a' }), 100);
    harness.input.close();
    await harness.batcher.start();
    await assert.rejects(
      withTimeout(harness.batcher.done, 2000, 'the batcher to fail'),
      UnsupportedOplogEntryError
    );
  });
});

describe('ReplBatcher resume tokens', () => {
  const token = (n: number): Document => ({ _data: `token-${n}` });
  const withToken = (item: FetchedEntry, n: number): FetchedEntry => ({
    ...item,
    resumeToken: token(n)
  });

  it('gives a batch the token of the last entry taken when it checkpoints there', async () => {
    const { batches } = await batch(
      [
        withToken(ins(1), 1),
        withToken(ins(2), 2),
        withToken(cmd(3, 'shop', { create: 'b' }), 3),
        withToken(ins(4), 4),
        ins(5),
        withToken(noop(6), 6)
      ],
      { maxOps: 2 }
    );
    assert.deepEqual(
      batches.map(b => [contents(b), optime(b.checkpointOptime), b.resumeToken?._data]),
      [
        ['crud:1,2', '2:1', 'token-2'],
        ['ddl:create', '3:1', 'token-3'],
        ['crud:4,5', '5:1', undefined], // entry 5 has no token: none rather than a wrong one
        ['progress', '6:1', 'token-6']
      ]
    );
    assert.equal('resumeToken' in batches[2]!, false);
  });

  it('gives none while a transaction chain holds the checkpoint back, and the commit one', async () => {
    const { batches } = await batch(
      [
        withToken(ins(10), 10),
        withToken(txn(11, { applyOps: [innerInsert(111)], partialTxn: true }), 11),
        withToken(ins(12), 12),
        withToken(txn(13, { applyOps: [innerInsert(131)] }, 11), 13)
      ],
      { maxOps: 1, transactions: 'preserve' }
    );
    assert.deepEqual(
      batches.map(b => [contents(b), optime(b.checkpointOptime), b.resumeToken?._data]),
      [
        ['crud:10', '10:1', 'token-10'],
        ['crud:12', '10:1', undefined],
        ['txn:111,131', '13:1', 'token-13']
      ]
    );
  });
});
