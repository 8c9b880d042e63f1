/**
 * Continuous replication embedded in an existing HTTP service: the service answers its own
 * routes and, next to them, `/replication/status` (JSON) and `/replication/metrics`
 * (Prometheus) from a ReplicatorMonitor; SIGINT/SIGTERM stop replication gracefully, then the
 * server.
 *
 *   node --import tsx examples/http-service.ts            # test servers, port 8080
 *   PORT=0 EXAMPLE_RUN_MS=10000 node --import tsx examples/http-service.ts  # scripted, at most 10 s
 */
import { createServer } from 'node:http';

import { MongoClient } from 'mongodb';

import { Replicator, ReplicatorMonitor } from '../src/index.js';
import { openDeployments } from './support/deployments.js';

const env = await openDeployments();
const replicator = new Replicator({
  source: env.sourceUri,
  target: env.targetUri,
  mode: 'incr',
  filter: { include: ['app.*'] },
  checkpoint: { name: 'http-service' }
});
const monitor = new ReplicatorMonitor(replicator);

const server = createServer((request, response) => {
  void (async () => {
    if (request.url === '/replication/status') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(monitor.status()));
    } else if (request.url === '/replication/metrics') {
      response.writeHead(200, { 'content-type': monitor.metricsContentType });
      response.end(await monitor.metrics());
    } else if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.end('the service itself\n');
    } else {
      response.writeHead(404).end();
    }
  })().catch(() => response.writeHead(500).end());
});

await replicator.start();
await new Promise<void>(resolve =>
  server.listen(Number(process.env.PORT ?? 8080), '127.0.0.1', resolve)
);
const address = server.address();
const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
console.log(`serving ${url}/replication/status and ${url}/replication/metrics`);

let stopping: Promise<void> | undefined;
const shutdown = () => {
  stopping ??= (async () => {
    await replicator.stop();
    monitor.close();
    await new Promise(resolve => server.close(resolve));
    server.closeAllConnections();
    await env.close();
  })();
  return stopping;
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());

if (env.local) {
  // Something for the status to show: the application writes to its source database.
  const client = new MongoClient(env.sourceUri);
  await client.connect();
  await client
    .db('app')
    .collection('events')
    .insertMany([{ kind: 'signup' }, { kind: 'login' }]);
  await client.close();
}
const runMs = Number(process.env.EXAMPLE_RUN_MS ?? 0);
if (runMs > 0) {
  // A scripted run: read the status route like a monitoring system would, then shut down.
  const deadline = Date.now() + runMs;
  let status: { phase: string; applied: { ops: number } };
  do {
    status = (await (await fetch(`${url}/replication/status`)).json()) as typeof status;
    if (status.applied.ops >= 2) break;
    await replicator.waitFor('batch', { signal: AbortSignal.timeout(100) }).catch(() => undefined);
  } while (Date.now() < deadline);
  console.log(`status: phase ${status.phase}, ${status.applied.ops} writes applied`);
  await shutdown();
}
