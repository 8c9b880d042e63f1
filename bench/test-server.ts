/**
 * `npm run bench:test-server`: the test server's own throughput, so later benchmarks know how much
 * headroom it leaves. The server runs in its own process (started through its CLI) and the driver
 * in this one, over loopback; prints documents per second for insertMany of ~1 KB documents and a
 * full-collection find with batchSize 1000. Figures only: the machine is shared and noisy, so
 * nothing here asserts a time.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

import { MongoClient } from 'mongodb';

const DOCS = Number(process.env.BENCH_DOCS ?? 50_000);
const BATCH = 1000;

function documentOf(i: number) {
  return { _id: i, name: `document ${i}`, n: i, tags: ['a', 'b', 'c'], payload: 'x'.repeat(900) };
}

const server = spawn(
  process.execPath,
  [
    ...(process.env.BENCH_SERVER_PROF
      ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_SERVER_PROF]
      : []),
    '--import',
    'tsx',
    'test/server/cli.ts',
    '--port',
    '0',
    '--oplog-size-mb',
    '2048'
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] }
);
const lines = createInterface({ input: server.stdout });
const [uri] = (await once(lines, 'line')) as [string];
lines.close();
const client = new MongoClient(uri);
try {
  await client.connect();
  const collection = client.db('bench').collection<{ _id: number }>('docs');
  const insertStart = process.hrtime.bigint();
  for (let start = 0; start < DOCS; start += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, DOCS - start) }, (_, k) =>
      documentOf(start + k)
    );
    await collection.insertMany(batch, { ordered: false });
  }
  const insertSeconds = Number(process.hrtime.bigint() - insertStart) / 1e9;

  const findStart = process.hrtime.bigint();
  let read = 0;
  for await (const _doc of collection.find({}, { batchSize: 1000 })) read++;
  const findSeconds = Number(process.hrtime.bigint() - findStart) / 1e9;

  const rate = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString('en-US');
  console.log(`documents: ${DOCS} of ~1 KB`);
  console.log(
    `insertMany (batches of ${BATCH}): ${rate(DOCS, insertSeconds)} docs/s (${insertSeconds.toFixed(2)} s)`
  );
  console.log(
    `find (batchSize 1000):          ${rate(read, findSeconds)} docs/s (${findSeconds.toFixed(2)} s)`
  );
} finally {
  await client.close();
  server.kill('SIGTERM');
  await once(server, 'exit');
}
