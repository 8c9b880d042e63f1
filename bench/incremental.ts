/**
 * `npm run bench:incremental`: incremental-sync throughput. A source and a target test server run
 * in their own processes; a workload of N oplog entries is written to the source; then
 *   1. the pipeline (OplogFetcher → ReplBatcher → HashedApplierPool, via Replicator) applies them,
 *   1b. the same pipeline reading a change stream instead (fetchMethod 'changeStream'),
 *   2. a naive baseline applies the same entries with one awaited write per entry (translated
 *      as the pipeline translates them),
 * both measured in this run, and their ratio printed. Also the CPU cost per entry of fetching and
 * batching (no target writes) against a bare BSON decode of the same entries, and the CPU each
 * process (replicator, source, target) spent per entry in each run.
 * BENCH_OPS sets the number of entries (20 000); BENCH_TARGET_OPLOG_MB the target's capped oplog (16:
 * nothing reads it, and the test server keeps it in its heap). Figures only: the
 * machine is shared and noisy, so nothing here asserts a time.
 */
import {
  type AnyBulkWriteOperation,
  BSON,
  type Document,
  MongoClient,
  type Timestamp
} from 'mongodb';

import { ReplBatcher } from '../src/batch/repl-batcher.js';
import { MemoryCheckpointStore } from '../src/checkpoint/memory-checkpoint-store.js';
import { OplogFetcher } from '../src/fetch/oplog-fetcher.js';
import { NamespaceFilter } from '../src/namespace/namespace-filter.js';
import { toWriteModel } from '../src/oplog/crud-ops.js';
import {
  type DeleteEntry,
  type InsertEntry,
  parseOplogEntry,
  type UpdateEntry
} from '../src/oplog/oplog-entry.js';
import { preImageUpdate } from '../src/oplog/update-diff.js';
import { Replicator } from '../src/replicator.js';
import { type FetchMethod } from '../src/replicator-options.js';
import { newestOplogTs } from '../test/server/support.js';
import { startServerProcess } from './server-process.js';

const OPS = Number(process.env.BENCH_OPS ?? 20_000);

/** N entries: inserts in batches, then updates and deletes of some of them (one entry per document). */
async function writeWorkload(client: MongoClient): Promise<void> {
  const coll = client.db('bench').collection<{ _id: number }>('items');
  const inserts = Math.floor(OPS * 0.6);
  for (let start = 0; start < inserts; start += 1000) {
    const docs = Array.from({ length: Math.min(1000, inserts - start) }, (_, k) => ({
      _id: start + k,
      name: `item ${start + k}`,
      n: k,
      tags: ['a', 'b'],
      nested: { x: k, y: 'text'.repeat(10) }
    }));
    await coll.insertMany(docs, { ordered: false });
  }
  const updates = Math.floor(OPS * 0.3);
  await coll.updateMany(
    { _id: { $lt: updates } },
    { $inc: { n: 1 }, $set: { 'nested.y': 'changed' } }
  );
  const deletes = OPS - inserts - updates;
  for (let i = 0; i < deletes; i++) await coll.deleteOne({ _id: inserts - 1 - i });
}

/** Replicates the entries in (from, until] with a Replicator; the seconds it took. */
async function pipelineRun(
  source: MongoClient,
  target: MongoClient,
  from: Timestamp,
  until: Timestamp,
  fetchMethod: FetchMethod,
  report = true
): Promise<number> {
  const replicator = new Replicator({
    source,
    target,
    fetchMethod,
    startAt: from,
    filter: { include: ['bench.*'] },
    checkpoint: { name: 'bench', store: new MemoryCheckpointStore(), intervalMs: 1000 }
  });
  const started = process.hrtime.bigint();
  const before = await cpuNow();
  await replicator.start();
  const reached = () =>
    replicator.appliedOptime !== undefined && !replicator.appliedOptime.lessThan(until);
  if (!reached()) await replicator.waitFor('batch', { filter: () => reached() });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (process.env.BENCH_MARKS === '1') {
    // Monotonic microseconds, the clock of --cpu-prof profiles: slices them to this run.
    console.error(`marks: ${started / 1000n} ${process.hrtime.bigint() / 1000n}`);
  }
  if (report) printCpu(fetchMethod, before, await cpuNow());
  await replicator.stop();
  return seconds;
}

async function readEntries(
  source: MongoClient,
  from: Timestamp,
  until: Timestamp
): Promise<Buffer[]> {
  const raw = (await source
    .db('local')
    .collection('oplog.rs')
    .find({ ts: { $gt: from, $lte: until } }, { raw: true, batchSize: 5000 })
    .toArray()) as unknown as Buffer[];
  return raw.map(doc => Buffer.from(doc));
}

/** The pipeline's translation of one entry (operator form where it applies), for a fair baseline. */
function naiveModel(entry: InsertEntry | UpdateEntry | DeleteEntry): AnyBulkWriteOperation {
  if (entry.op === 'u' && entry.kind === 'diff') {
    const translated = preImageUpdate(entry.o.diff as Document);
    if (translated.needsDocument !== true) {
      return { updateOne: { filter: entry.o2, update: translated.update } };
    }
  }
  return toWriteModel(entry);
}

/** One awaited write per entry, no batching, no parallelism. */
async function naiveRun(target: MongoClient, entries: Buffer[]): Promise<number> {
  const started = process.hrtime.bigint();
  for (const bytes of entries) {
    const entry = parseOplogEntry(
      BSON.deserialize(bytes, { promoteValues: false, bsonRegExp: true })
    );
    if (entry.op === 'c') {
      // 7.0 logs deleteMany as one applyOps; the workload only uses deleteOne, so none here.
      continue;
    }
    if (entry.op === 'n' || !entry.ns.startsWith('bench.')) continue;
    const [db, coll] = [
      entry.ns.slice(0, entry.ns.indexOf('.')),
      entry.ns.slice(entry.ns.indexOf('.') + 1)
    ];
    await target
      .db(db)
      .collection(coll)
      .bulkWrite([naiveModel(entry)], { ordered: true });
  }
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** CPU per entry of fetching + batching with nothing written, and of a bare decode. */
async function cpuCosts(source: MongoClient, from: Timestamp, until: Timestamp, entries: Buffer[]) {
  const fetcher = new OplogFetcher({ source, start: from });
  const batcher = new ReplBatcher({
    input: fetcher.output,
    filter: new NamespaceFilter({ include: ['bench.*'] })
  });
  const cpuBefore = process.cpuUsage();
  await batcher.start();
  await fetcher.start();
  for (;;) {
    const batch = await batcher.output.shift();
    if (!batch || !batch.lastOptime.lessThan(until)) break;
  }
  const pipelineCpu = process.cpuUsage(cpuBefore);
  await fetcher.stop();
  await batcher.stop();
  const decodeBefore = process.cpuUsage();
  let sink = 0;
  for (const bytes of entries) sink += Object.keys(BSON.deserialize(bytes) as Document).length;
  const decodeCpu = process.cpuUsage(decodeBefore);
  const micros = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / entries.length;
  return { pipeline: micros(pipelineCpu), decode: micros(decodeCpu), sink };
}

/** CPU seconds used so far by this process (the replicator's), the source and the target. */
async function cpuNow(): Promise<number[]> {
  const own = process.cpuUsage();
  const [s, t] = await Promise.all([source.usage(), target.usage()]);
  return [(own.user + own.system) / 1e6, s?.cpuSeconds ?? NaN, t?.cpuSeconds ?? NaN];
}

/** Prints each process's CPU per entry between two {@link cpuNow} readings. */
function printCpu(label: string, before: number[], after: number[]): void {
  const us = after.map((v, i) => (((v - (before[i] ?? 0)) * 1e6) / OPS).toFixed(0));
  console.log(`CPU µs/entry (${label}): replicator ${us[0]}, source ${us[1]}, target ${us[2]}`);
}

const source = await startServerProcess('source');
const target = await startServerProcess('target', Number(process.env.BENCH_TARGET_OPLOG_MB ?? 16));
const sourceClient = new MongoClient(source.uri);
const targetClient = new MongoClient(target.uri);
const perSecond = (count: number, seconds: number) =>
  `${Math.round(count / seconds).toLocaleString('en-US')} entries/s (${seconds.toFixed(2)} s)`;
try {
  await Promise.all([sourceClient.connect(), targetClient.connect()]);
  const from = await newestOplogTs(sourceClient);
  await writeWorkload(sourceClient);
  const until = await newestOplogTs(sourceClient);
  const entries = await readEntries(sourceClient, from, until);
  // Untimed warm-up on the first entries (the naive baseline runs in a process that is warm by
  // then); the timed runs use connected clients, as the baseline does.
  const warmUntil = BSON.deserialize(entries[Math.min(4999, entries.length - 1)]!).ts as Timestamp;
  await pipelineRun(sourceClient, targetClient, from, warmUntil, 'oplog', false);
  await targetClient.db('bench').dropDatabase();
  const pipelineSeconds = await pipelineRun(sourceClient, targetClient, from, until, 'oplog');
  console.log(`oplog entries: ${entries.length}`);
  console.log(`pipeline (oplog):         ${perSecond(entries.length, pipelineSeconds)}`);
  if (process.env.BENCH_ONLY !== 'oplog') {
    await targetClient.db('bench').dropDatabase();
    const streamSeconds = await pipelineRun(
      sourceClient,
      targetClient,
      from,
      until,
      'changeStream'
    );
    console.log(`pipeline (change stream): ${perSecond(entries.length, streamSeconds)}`);
    // BENCH_ONLY=pipeline skips the baseline and the CPU figures, BENCH_ONLY=oplog the change
    // stream as well (for profiling; BENCH_MARKS=1 prints the run's clock marks for slicing).
    if (process.env.BENCH_ONLY === undefined) {
      await targetClient.db('bench').dropDatabase();
      await targetClient.db('bench').createCollection('items');
      const naiveBefore = await cpuNow();
      const naiveSeconds = await naiveRun(targetClient, entries);
      printCpu('naive', naiveBefore, await cpuNow());
      console.log(`naive:                    ${perSecond(entries.length, naiveSeconds)}`);
      console.log(`ratio (oplog):            ${(naiveSeconds / pipelineSeconds).toFixed(1)}x`);
      console.log(`ratio (change stream):    ${(naiveSeconds / streamSeconds).toFixed(1)}x`);
      const cpu = await cpuCosts(sourceClient, from, until, entries);
      console.log(
        `CPU per entry: fetch+batch ${cpu.pipeline.toFixed(1)} µs, bare BSON decode ${cpu.decode.toFixed(1)} µs`
      );
    }
  }
} finally {
  await Promise.allSettled([sourceClient.close(), targetClient.close()]);
  await Promise.allSettled([source.stop(), target.stop()]);
}
