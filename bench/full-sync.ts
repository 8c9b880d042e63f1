/**
 * `npm run bench:full-sync`: full-copy throughput. A source and a target test server run in their
 * own processes; M collections of N documents of mixed sizes are written to the source; then
 *   1. the pipeline (`Replicator` in mode `full`: catalog → DocumentSplitter → CollectionExecutor
 *      with parallel range readers and unordered `insertMany` writers) copies them,
 *   2. a naive baseline copies them again, one collection after the other, with one cursor each and
 *      one awaited ordered `insertMany` of 1000 documents at a time,
 * each into its own empty target database, both measured in this run, and their ratio printed,
 * with the CPU seconds each process spent. Both copies are checked (document count of every
 * collection); an incomplete copy prints an error and exits non-zero.
 *
 * Environment: BENCH_COLLECTIONS (4) and BENCH_DOCS (25 000 per collection) size the workload;
 * BENCH_SWEEP=1 also runs the pipeline with several reader/writer counts (BENCH_SWEEP="2/4,8/8"
 * picks them); BENCH_ONLY=pipeline|naive runs one copy; BENCH_TARGET_OPLOG_MB (64) sizes the
 * target's oplog; for profiling, BENCH_SERVER_PROF=<dir> profiles both servers and BENCH_MARKS=1
 * prints each run's start and end on the profiles' clock. Figures only: the machine is shared and
 * noisy, so nothing here asserts a time.
 */
import { performance, PerformanceObserver } from 'node:perf_hooks';

import {
  Binary,
  BSON,
  Decimal128,
  type Document,
  Double,
  Int32,
  Long,
  MongoClient,
  ObjectId
} from 'mongodb';

import { MemoryCheckpointStore } from '../src/checkpoint/memory-checkpoint-store.js';
import { Replicator } from '../src/replicator.js';
import { type ReplicatorFullOptions } from '../src/replicator-options.js';
import { seededRandom } from '../test/support/workload.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

const COLLECTIONS = Number(process.env.BENCH_COLLECTIONS ?? 4);
const DOCS = Number(process.env.BENCH_DOCS ?? 25_000);
/**
 * The target's oplog. The test server keeps its oplog as objects in its heap: every copy adds
 * the whole workload to it, and with room for several copies, later runs are slowed by the
 * target's garbage collection (a real mongod keeps it on disk). A small capped oplog keeps
 * every run on an equal footing.
 */
const TARGET_OPLOG_MB = Number(process.env.BENCH_TARGET_OPLOG_MB ?? 64);
const SOURCE_DB = 'benchsrc';
const PIPELINE_DB = 'benchpipe';
const NAIVE_DB = 'benchnaive';
const NAIVE_BATCH = 1000;
const DEFAULT_SWEEP = '1/1,2/2,2/4,4/4,4/8,8/8,8/16';

type ExecutorOptions = NonNullable<ReplicatorFullOptions['executor']>;

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india'];

function words(random: () => number, count: number): string {
  return Array.from({ length: count }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
}

/**
 * One document: ~200 B (80 %), ~2 KB (18 %, with an array of line items) or ~20 KB (2 %, with a
 * binary attachment too). Every shape holds nested documents, arrays and several BSON types.
 */
function documentOf(random: () => number, seq: number): Document {
  const kind = random();
  const document: Document = {
    _id: new ObjectId(),
    seq: new Int32(seq),
    name: `customer ${seq}`,
    active: random() < 0.5,
    score: new Double(random() * 100),
    balance: Decimal128.fromString((random() * 10_000).toFixed(2)),
    visits: Long.fromNumber(Math.floor(random() * 1e12)),
    createdAt: new Date(1_700_000_000_000 + seq * 1000),
    tags: [words(random, 1), words(random, 1)],
    address: { city: words(random, 1), zip: new Int32(10_000 + (seq % 90_000)) },
    note: null
  };
  if (kind < 0.8) return document;
  document.items = Array.from({ length: 16 }, (_, i) => ({
    sku: `SKU-${seq}-${i}`,
    qty: new Int32(1 + Math.floor(random() * 9)),
    price: new Double(random() * 500),
    description: words(random, 6)
  }));
  if (kind < 0.98) return document;
  document.attachment = {
    type: 'application/octet-stream',
    data: new Binary(Buffer.alloc(18_000, seq % 251))
  };
  return document;
}

/** Documents of one size class and their BSON bytes. */
interface SizeClass {
  count: number;
  bytes: number;
}

interface Workload {
  readonly collections: readonly string[];
  readonly documents: number;
  readonly bytes: number;
  readonly sizes: {
    readonly small: SizeClass;
    readonly medium: SizeClass;
    readonly large: SizeClass;
  };
}

async function writeWorkload(client: MongoClient): Promise<Workload> {
  const random = seededRandom(42);
  const collections = Array.from({ length: COLLECTIONS }, (_, i) => `items${i}`);
  const sizes = {
    small: { count: 0, bytes: 0 },
    medium: { count: 0, bytes: 0 },
    large: { count: 0, bytes: 0 }
  };
  let bytes = 0;
  for (const name of collections) {
    const collection = client.db(SOURCE_DB).collection(name);
    for (let start = 0; start < DOCS; start += 1000) {
      const batch = Array.from({ length: Math.min(1000, DOCS - start) }, (_, k) =>
        documentOf(random, start + k)
      );
      for (const document of batch) {
        const size = BSON.calculateObjectSize(document);
        bytes += size;
        const sizeClass = size < 1000 ? sizes.small : size < 10_000 ? sizes.medium : sizes.large;
        sizeClass.count++;
        sizeClass.bytes += size;
      }
      await collection.insertMany(batch, { ordered: false });
    }
  }
  return { collections, documents: COLLECTIONS * DOCS, bytes, sizes };
}

/** CPU seconds of this process and of both servers, this process's GC time, the target's RSS. */
interface Usage {
  readonly bench: number;
  readonly gcMs: number;
  readonly source: number | undefined;
  readonly target: number | undefined;
  readonly targetRssMb: number | undefined;
}

let gcMs = 0;
const gcObserver = new PerformanceObserver(list => {
  for (const entry of list.getEntries()) gcMs += entry.duration;
});
gcObserver.observe({ entryTypes: ['gc'] });

async function usageNow(source: ServerProcess, target: ServerProcess): Promise<Usage> {
  const own = process.cpuUsage();
  const [sourceUsage, targetUsage] = await Promise.all([source.usage(), target.usage()]);
  return {
    bench: (own.user + own.system) / 1e6,
    gcMs,
    source: sourceUsage?.cpuSeconds,
    target: targetUsage?.cpuSeconds,
    targetRssMb: targetUsage?.rssMb
  };
}

interface RunResult {
  readonly seconds: number;
  /** CPU seconds and GC time spent during the run; the target's RSS after it. */
  readonly usage: Usage;
}

async function measure(
  servers: readonly [ServerProcess, ServerProcess],
  run: () => Promise<void>
): Promise<RunResult> {
  const before = await usageNow(...servers);
  const started = performance.now();
  const startedAt = process.hrtime.bigint();
  await run();
  const seconds = (performance.now() - started) / 1000;
  if (process.env.BENCH_MARKS === '1') {
    // Monotonic microseconds, the clock of --cpu-prof profiles: slices them to this run.
    console.error(`marks: ${startedAt / 1000n} ${process.hrtime.bigint() / 1000n}`);
  }
  const after = await usageNow(...servers);
  const delta = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : b - a;
  return {
    seconds,
    usage: {
      bench: after.bench - before.bench,
      gcMs: after.gcMs - before.gcMs,
      source: delta(before.source, after.source),
      target: delta(before.target, after.target),
      targetRssMb: after.targetRssMb
    }
  };
}

let runs = 0;

/** The pipeline: `Replicator` in mode `full`, from `start()` until `done` resolves. */
async function pipelineCopy(
  sourceUri: string,
  targetUri: string,
  executor: ExecutorOptions | undefined
): Promise<void> {
  const replicator = new Replicator({
    mode: 'full',
    source: sourceUri,
    target: targetUri,
    filter: { include: [`${SOURCE_DB}.*`], rename: { [`${SOURCE_DB}.*`]: `${PIPELINE_DB}.*` } },
    checkpoint: { name: `bench-full-${++runs}`, store: new MemoryCheckpointStore() },
    ...(executor ? { full: { executor } } : {})
  });
  await replicator.start();
  await replicator.done;
}

/** The baseline: one collection at a time, one cursor, one awaited ordered insertMany per 1000. */
async function naiveCopy(
  source: MongoClient,
  target: MongoClient,
  collections: readonly string[]
): Promise<void> {
  for (const name of collections) {
    const into = target.db(NAIVE_DB).collection(name);
    const cursor = source
      .db(SOURCE_DB)
      .collection(name)
      .find({}, { promoteValues: false, batchSize: NAIVE_BATCH });
    let batch: Document[] = [];
    for await (const document of cursor) {
      batch.push(document);
      if (batch.length === NAIVE_BATCH) {
        await into.insertMany(batch, { ordered: true });
        batch = [];
      }
    }
    if (batch.length > 0) await into.insertMany(batch, { ordered: true });
  }
}

/** Names the collections of `db` whose document count differs from the source's. */
async function countMismatches(
  source: MongoClient,
  target: MongoClient,
  db: string,
  collections: readonly string[]
): Promise<string[]> {
  const wrong: string[] = [];
  for (const name of collections) {
    const [expected, actual] = await Promise.all([
      source.db(SOURCE_DB).collection(name).countDocuments({}),
      target.db(db).collection(name).countDocuments({})
    ]);
    if (expected !== actual) wrong.push(`${db}.${name}: ${actual} of ${expected} documents`);
  }
  return wrong;
}

function parseSweep(text: string): ExecutorOptions[] {
  return text.split(',').map(pair => {
    const [readers, writers] = pair.split('/').map(Number);
    if (!Number.isInteger(readers) || !Number.isInteger(writers)) {
      throw new Error(`BENCH_SWEEP: expected "readers/writers,…", got "${pair}"`);
    }
    return { readers: readers!, writers: writers! };
  });
}

const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function figures(workload: Workload, result: RunResult): string {
  const { seconds, usage } = result;
  const text = (value: number | undefined, digits: number) =>
    value === undefined ? '?' : number(value, digits);
  return (
    `${number(workload.documents / seconds).padStart(7)} docs/s, ` +
    `${number(workload.bytes / 1e6 / seconds, 1).padStart(5)} MB/s (${number(seconds, 2)} s); ` +
    `CPU s: bench ${text(usage.bench, 1)} (GC ${number(usage.gcMs / 1000, 1)}), ` +
    `source ${text(usage.source, 1)}, target ${text(usage.target, 1)}; ` +
    `target RSS ${text(usage.targetRssMb, 0)} MB`
  );
}

const servers: ServerProcess[] = [];
const clients: MongoClient[] = [];
try {
  const source = await startServerProcess('source');
  servers.push(source);
  const target = await startServerProcess('target', TARGET_OPLOG_MB);
  servers.push(target);
  const pair = [source, target] as const;
  const sourceClient = new MongoClient(source.uri);
  const targetClient = new MongoClient(target.uri);
  clients.push(sourceClient, targetClient);
  await Promise.all([sourceClient.connect(), targetClient.connect()]);

  const written = performance.now();
  const workload = await writeWorkload(sourceClient);
  const writeSeconds = (performance.now() - written) / 1000;
  const mix = Object.values(workload.sizes)
    .map(c => `${number(c.count)} of ~${number(c.count && c.bytes / c.count)} B`)
    .join(', ');
  console.log(
    `workload: ${COLLECTIONS} collections × ${number(DOCS)} documents = ` +
      `${number(workload.documents)} documents, ${number(workload.bytes / 1e6, 1)} MB of BSON ` +
      `(${mix}); written to the source at ${number(workload.documents / writeSeconds)} docs/s`
  );

  const dropTargets = () =>
    Promise.all([PIPELINE_DB, NAIVE_DB].map(db => targetClient.db(db).dropDatabase()));
  const failures: string[] = [];
  const check = async (db: string) =>
    failures.push(...(await countMismatches(sourceClient, targetClient, db, workload.collections)));

  // BENCH_ONLY=pipeline or BENCH_ONLY=naive runs only that copy (for profiling one of them).
  const only = process.env.BENCH_ONLY;
  let pipeline: RunResult | undefined;
  let naive: RunResult | undefined;
  if (only !== 'naive') {
    await dropTargets();
    pipeline = await measure(pair, () => pipelineCopy(source.uri, target.uri, undefined));
    await check(PIPELINE_DB);
    console.log(`pipeline: ${figures(workload, pipeline)}`);
  }
  if (only !== 'pipeline') {
    await dropTargets();
    naive = await measure(pair, () => naiveCopy(sourceClient, targetClient, workload.collections));
    await check(NAIVE_DB);
    console.log(`naive:    ${figures(workload, naive)}`);
  }
  if (pipeline && naive) {
    console.log(`ratio:    ${(naive.seconds / pipeline.seconds).toFixed(2)}x`);
  }

  const sweep = process.env.BENCH_SWEEP;
  if (sweep !== undefined && sweep !== '' && sweep !== '0') {
    for (const executor of parseSweep(sweep === '1' ? DEFAULT_SWEEP : sweep)) {
      await dropTargets();
      const result = await measure(pair, () => pipelineCopy(source.uri, target.uri, executor));
      await check(PIPELINE_DB);
      const label = `${executor.readers}/${executor.writers}`.padEnd(5);
      console.log(`sweep readers/writers ${label}: ${figures(workload, result)}`);
    }
  }
  await dropTargets();

  if (failures.length > 0) {
    console.error(`error: a copy is incomplete:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
} finally {
  gcObserver.disconnect();
  await Promise.allSettled(clients.map(client => client.close()));
  await Promise.allSettled(servers.map(server => server.stop()));
}
