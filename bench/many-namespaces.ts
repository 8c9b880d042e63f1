/**
 * `npm run bench:many-namespaces`: how the cost grows with the number of namespaces, on the
 * shape of a multi-tenant source (many small collections, a hundred per tenant database). A
 * source and a target test server run in their own processes. In one run:
 *   1. full copy (`Replicator` mode `full`, its checkpoint in the target as by default) of C small
 *      collections, then of 2C others, each onto a fresh target server: times, the growth factor
 *      (2C against C; linear is 2), and the replicator's peak RSS against a 10-collection copy;
 *   2. a naive sequential loop (`listCollections`, then per collection one `find` and one
 *      `insertMany`) over the same 2C collections: the ratio pipeline / naive;
 *   3. incremental sync of one workload (inserts, then updates of each document) spread over
 *      FEW and over MANY namespaces: apply rates and their ratio.
 * Every copy is checked (document counts); a wrong one prints an error and exits non-zero.
 *
 * Environment: BENCH_C (1000: copies C and 2C collections), BENCH_DOCS (10 per collection),
 * BENCH_PER_DB (100 collections per database), BENCH_INCR_OPS (20 000),
 * BENCH_INCR_FEW (10) and BENCH_INCR_MANY (10 000) namespaces; BENCH_INDEXED=1 gives every
 * collection a secondary index (then the copy lists and builds each collection's indexes, which
 * the naive loop does not do). Figures only: the machine is shared and noisy, so nothing here
 * asserts a time.
 */
import { performance } from 'node:perf_hooks';

import { type Document, MongoClient, type Timestamp } from 'mongodb';

import { Replicator } from '../src/replicator.js';
import { type ServerProcess, startServerProcess } from './server-process.js';

const C = Number(process.env.BENCH_C ?? 1000);
const DOCS = Number(process.env.BENCH_DOCS ?? 10);
const PER_DB = Number(process.env.BENCH_PER_DB ?? 100);
const INCR_OPS = Number(process.env.BENCH_INCR_OPS ?? 20_000);
const INCR_FEW = Number(process.env.BENCH_INCR_FEW ?? 10);
const INCR_MANY = Number(process.env.BENCH_INCR_MANY ?? 10_000);
const INDEXED = process.env.BENCH_INDEXED === '1';

/** Collection `i` of the set `set`: a hundred per tenant database. */
function namespaceOf(set: string, i: number): { db: string; coll: string } {
  return { db: `${set}_t${Math.floor(i / PER_DB)}`, coll: `c${i % PER_DB}` };
}

async function writeCollections(client: MongoClient, set: string, count: number): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const { db, coll } = namespaceOf(set, i);
    const documents = Array.from({ length: DOCS }, (_, k) => ({
      _id: k,
      tenant: db,
      name: `item ${k}`,
      price: k * 1.5,
      tags: ['a', 'b']
    }));
    const collection = client.db(db).collection<{ _id: number }>(coll);
    pending.push(
      collection
        .insertMany(documents)
        .then(() => (INDEXED ? collection.createIndex({ name: 1 }) : undefined))
    );
    if (pending.length >= 32) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
}

/** Peak RSS of this process (the replicator runs in it) while `run` runs, sampled every 50 ms. */
async function withPeakRss<T>(run: () => Promise<T>): Promise<{ value: T; peakMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    const value = await run();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakMb: peak / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

async function timed<T>(run: () => Promise<T>): Promise<{ seconds: number; peakMb: number }> {
  global.gc?.();
  const started = performance.now();
  const { peakMb } = await withPeakRss(run);
  return { seconds: (performance.now() - started) / 1000, peakMb };
}

async function pipelineCopy(sourceUri: string, targetUri: string, set: string): Promise<void> {
  const replicator = new Replicator({
    mode: 'full',
    source: sourceUri,
    target: targetUri,
    filter: { include: [`${set}_t*.*`] },
    checkpoint: { name: `bench-${set}` }
  });
  await replicator.start();
  await replicator.done;
}

async function naiveCopy(source: MongoClient, target: MongoClient, set: string): Promise<void> {
  const { databases } = await source.db('admin').admin().listDatabases({ nameOnly: true });
  for (const { name } of databases) {
    if (!name.startsWith(`${set}_t`)) continue;
    const collections = await source.db(name).listCollections({}, { nameOnly: true }).toArray();
    for (const { name: coll } of collections) {
      const documents = await source.db(name).collection(coll).find({}).toArray();
      if (documents.length > 0) await target.db(name).collection(coll).insertMany(documents);
    }
  }
}

async function countMismatches(target: MongoClient, set: string, count: number): Promise<string[]> {
  const wrong: string[] = [];
  for (let i = 0; i < count; i++) {
    const { db, coll } = namespaceOf(set, i);
    const actual = await target.db(db).collection(coll).countDocuments();
    if (actual !== DOCS) wrong.push(`${db}.${coll}: ${actual} of ${DOCS}`);
    if (wrong.length >= 5) break;
  }
  return wrong;
}

const servers: ServerProcess[] = [];
const clients: MongoClient[] = [];
const failures: string[] = [];
const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A fresh target server and a client to it; the previous one is stopped. */
async function freshTarget(): Promise<{ server: ServerProcess; client: MongoClient }> {
  const server = await startServerProcess('target', 256);
  servers.push(server);
  const client = new MongoClient(server.uri);
  clients.push(client);
  await client.connect();
  return { server, client };
}

async function stopTarget(target: { server: ServerProcess; client: MongoClient }): Promise<void> {
  await target.client.close();
  await target.server.stop();
}

/** Incremental sync of INCR_OPS ops over `namespaces` namespaces: seconds to apply them. */
async function incremental(
  source: ServerProcess,
  sourceClient: MongoClient,
  set: string,
  namespaces: number
): Promise<number> {
  const target = await freshTarget();
  try {
    const hello = (await sourceClient.db('admin').command({ hello: 1 })) as Document;
    const startAt = (hello.lastWrite as { opTime: { ts: Timestamp } }).opTime.ts;
    const inserts = Math.floor(INCR_OPS / 2);
    const pending: Promise<unknown>[] = [];
    for (let k = 0; k < inserts; k++) {
      const { db, coll } = namespaceOf(set, k % namespaces);
      pending.push(
        sourceClient.db(db).collection<{ _id: number; v: number }>(coll).insertOne({ _id: k, v: 0 })
      );
      if (pending.length >= 64) await Promise.all(pending.splice(0));
    }
    for (let k = 0; k < INCR_OPS - inserts; k++) {
      const { db, coll } = namespaceOf(set, k % namespaces);
      pending.push(
        sourceClient
          .db(db)
          .collection<{ _id: number; v: number }>(coll)
          .updateOne({ _id: k % inserts }, { $inc: { v: 1 } })
      );
      if (pending.length >= 64) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    const end = (
      ((await sourceClient.db('admin').command({ hello: 1 })) as Document).lastWrite as {
        opTime: { ts: Timestamp };
      }
    ).opTime.ts;
    const replicator = new Replicator({
      mode: 'incr',
      source: source.uri,
      target: target.server.uri,
      startAt,
      filter: { include: [`${set}_t*.*`] },
      checkpoint: { name: `bench-incr-${set}` }
    });
    const started = performance.now();
    await replicator.start();
    await replicator.waitFor('batch', {
      filter: batch => !batch.lastOptime.lessThan(end)
    });
    const seconds = (performance.now() - started) / 1000;
    await replicator.stop();
    return seconds;
  } finally {
    await stopTarget(target);
  }
}

try {
  const source = await startServerProcess('source', 1024);
  servers.push(source);
  const sourceClient = new MongoClient(source.uri);
  clients.push(sourceClient);
  await sourceClient.connect();

  const sets = { small: 10, c: C, c2: 2 * C } as const;
  const written = performance.now();
  for (const [set, count] of Object.entries(sets)) await writeCollections(sourceClient, set, count);
  console.log(
    `workload: collections of ${DOCS} documents${INDEXED ? ' and a secondary index' : ''}, ` +
      `${PER_DB} per database: ` +
      `${sets.small}, C = ${C} and 2C = ${2 * C} (written in ` +
      `${number((performance.now() - written) / 1000, 1)} s)`
  );

  const copies: Record<string, { seconds: number; peakMb: number }> = {};
  for (const [set, count] of Object.entries(sets)) {
    const target = await freshTarget();
    try {
      copies[set] = await timed(() => pipelineCopy(source.uri, target.server.uri, set));
      failures.push(...(await countMismatches(target.client, set, count)));
    } finally {
      await stopTarget(target);
    }
    const { seconds, peakMb } = copies[set]!;
    console.log(
      `pipeline, ${String(count).padStart(6)} collections: ${number(seconds, 2).padStart(7)} s ` +
        `(${number(count / seconds).padStart(6)} collections/s), peak RSS ${number(peakMb)} MB`
    );
  }
  const naiveTarget = await freshTarget();
  let naiveSeconds: number;
  try {
    naiveSeconds = (await timed(() => naiveCopy(sourceClient, naiveTarget.client, 'c2'))).seconds;
    failures.push(...(await countMismatches(naiveTarget.client, 'c2', 2 * C)));
  } finally {
    await stopTarget(naiveTarget);
  }
  console.log(
    `naive,    ${String(2 * C).padStart(6)} collections: ${number(naiveSeconds, 2).padStart(7)} s`
  );
  const c = copies.c!;
  const c2 = copies.c2!;
  console.log(
    `growth (2C / C): ${number(c2.seconds / c.seconds, 2)}x (linear: 2x); ` +
      `pipeline vs naive at 2C: ${number(naiveSeconds / c2.seconds, 2)}x as fast; ` +
      `peak RSS at 2C vs 10 collections: ${number(c2.peakMb / copies.small!.peakMb, 2)}x`
  );

  const few = await incremental(source, sourceClient, 'incrfew', INCR_FEW);
  const many = await incremental(source, sourceClient, 'incrmany', INCR_MANY);
  console.log(
    `incremental, ${number(INCR_OPS)} ops: over ${INCR_FEW} namespaces ` +
      `${number(INCR_OPS / few)} ops/s, over ${number(INCR_MANY)} namespaces ` +
      `${number(INCR_OPS / many)} ops/s (many / few: ${number(few / many, 2)})`
  );
} finally {
  await Promise.allSettled(clients.map(client => client.close()));
  await Promise.allSettled(servers.map(server => server.stop()));
}
if (failures.length > 0) {
  console.error(`ERROR: incomplete copies:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
}
