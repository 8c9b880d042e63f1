import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { MongoClient } from 'mongodb';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { type LagEvent } from '../../src/events.js';
import { ReplicatorMonitor } from '../../src/observability/replicator-monitor.js';
import { type ReplicatorStatus } from '../../src/observability/replicator-status.js';
import { startStatusServer, type StatusServer } from '../../src/observability/status-server.js';
import { Replicator } from '../../src/replicator.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { waitUntil, withTimeout } from '../support/timeout-signal.js';
import { parsePrometheusText, sampleValue } from '../unit/observability/prometheus-text.js';

const DOCUMENTS = { a: 150, b: 60 };
const TOTAL = DOCUMENTS.a + DOCUMENTS.b;
const RETRY = { minDelayMs: 5, maxDelayMs: 20, jitter: false };

describe('status server over a running Replicator (mode all)', () => {
  let d: Deployments;
  let spoolDir: string;
  /** The replicator's target: without the driver's own retry, a failed write reaches ours. */
  let target: MongoClient;
  before(async () => {
    d = await startDeployments();
    spoolDir = await mkdtemp(join(tmpdir(), 'mr-status-'));
    target = new MongoClient(d.targetUri, { retryWrites: false });
    await target.connect();
  });
  after(async () => {
    await target.close();
    await d.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  async function getStatus(server: StatusServer): Promise<ReplicatorStatus> {
    const response = await fetch(`${server.url}/status`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
    return (await response.json()) as ReplicatorStatus;
  }

  /** Polls /status until `condition` holds; returns the status that passed. */
  async function statusWhen(
    server: StatusServer,
    what: string,
    condition: (status: ReplicatorStatus) => boolean
  ): Promise<ReplicatorStatus> {
    let last: ReplicatorStatus | undefined;
    // withTimeout clears its timer once done (timeoutSignal's would hold the process open).
    const polling = new AbortController();
    try {
      await withTimeout(
        waitUntil(async () => condition((last = await getStatus(server))), polling.signal),
        30_000,
        what
      );
    } finally {
      polling.abort();
    }
    return last!;
  }

  async function getMetrics(server: StatusServer) {
    const response = await fetch(`${server.url}/metrics`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    return parsePrometheusText(await response.text());
  }

  it('shows the copy, the catch-up and the applied ops, as JSON and as metrics', async () => {
    const src = uniqueDbName('status');
    const dst = `${src}_copy`;
    for (const [coll, count] of Object.entries(DOCUMENTS)) {
      await d.source
        .db(src)
        .collection<{ _id: number; v: number }>(coll)
        .insertMany(Array.from({ length: count }, (_, i) => ({ _id: i, v: i })));
    }
    const replicator = new Replicator({
      source: d.sourceUri,
      target,
      mode: 'all',
      filter: { include: [`${src}.*`], rename: { [`${src}.*`]: `${dst}.*` } },
      checkpoint: { name: src, store: new MemoryCheckpointStore(), intervalMs: 0 },
      fetcher: { lagIntervalMs: 20 },
      applier: { retry: RETRY },
      full: {
        spoolDir,
        splitter: { minDocumentsPerRange: 20, maxRangesPerCollection: 4 },
        executor: { readers: 1, writers: 1, chunkDocuments: 10, readBatchSize: 10, retry: RETRY }
      }
    });
    const monitor = new ReplicatorMonitor(replicator);
    const server = await startStatusServer(monitor, { port: 0 });
    try {
      const idle = await getStatus(server);
      assert.equal(idle.state, 'idle');
      assert.equal(idle.phase, null);
      assert.equal(idle.copy, null);
      assert.equal(idle.mode, 'all');
      assert.equal(idle.checkpointName, src);

      // The target takes two chunks, then fails every insert until the fail point is off: the
      // copy is held in phase full, with progress and retries to show.
      await d.target.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { skip: 2 },
        data: { failCommands: ['insert'], errorCode: 6 }
      });
      const lags: LagEvent[] = [];
      replicator.on('lag', lag => lags.push(lag));
      let copying: ReplicatorStatus;
      try {
        await replicator.start();
        copying = await statusWhen(
          server,
          'copy progress and a retried insert',
          s => s.retries > 0 && (s.copy?.documentsCopied ?? 0) > 0
        );
        const metrics = await getMetrics(server);
        assert.equal(sampleValue(metrics, 'mongo_replicate_phase', { phase: 'full' }), 1);
        assert.equal(sampleValue(metrics, 'mongo_replicate_state', { state: 'running' }), 1);
        assert.ok(sampleValue(metrics, 'mongo_replicate_retries_total') > 0);
        assert.ok(sampleValue(metrics, 'mongo_replicate_copied_documents_total') > 0);
      } finally {
        await d.target.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
      }
      assert.equal(copying.state, 'running');
      assert.equal(copying.phase, 'full');
      assert.equal(copying.caughtUp, false);
      assert.ok(copying.startedAt !== null);
      const copy = copying.copy!;
      assert.ok(copy.documentsCopied < TOTAL, 'the copy is held');
      assert.ok(copy.bytesCopied > 0);
      assert.ok(copy.rangesDone < copy.rangesTotal);
      assert.ok(copy.namespaces.length >= 1);
      assert.ok(copy.namespaces.every(ns => ns.namespace.startsWith(`${dst}.`)));
      assert.equal(copying.applied.batches, 0, 'nothing is applied before the copy ends');
      assert.ok(copying.errors.length > 0);
      for (const error of copying.errors) {
        assert.equal(error.fatal, false);
        assert.equal(typeof error.code, 'string');
        assert.ok(!Number.isNaN(Date.parse(error.at)));
      }
      assert.ok(copying.lastCheckpoint !== null, 'mode all checkpoints fullBeginTs at once');

      const caughtUp = await statusWhen(server, 'the catch-up to end', s => s.caughtUp);
      assert.equal(caughtUp.phase, 'incr');
      assert.equal(caughtUp.copy!.documentsCopied, TOTAL);
      assert.equal(caughtUp.copy!.rangesDone, caughtUp.copy!.rangesTotal);
      assert.deepEqual(caughtUp.copy!.namespaces.map(ns => ns.namespace).sort(), [
        `${dst}.a`,
        `${dst}.b`
      ]);
      const caughtUpAt = caughtUp.lastAppliedOptime!;

      // Writes after catch-up travel through the oplog.
      const coll = d.source.db(src).collection<{ _id: number; v: number }>('a');
      await coll.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: 1000 + i, v: i })));
      await coll.updateMany({ _id: { $lt: 5 } }, { $set: { v: -1 } });
      await coll.deleteMany({ _id: { $gte: 140, $lt: 143 } });
      await d.source.db(src).createCollection('c');
      const applied = await statusWhen(
        server,
        'the writes to be applied',
        s =>
          s.applied.inserts >= 20 &&
          s.applied.updates >= 5 &&
          s.applied.deletes >= 3 &&
          s.applied.commands >= 1 &&
          s.lagSeconds !== null
      );
      assert.ok(applied.applied.batches > 0);
      assert.ok(applied.applied.ops >= 29);
      assert.equal(applied.applied.conflicts, 0);
      const last = applied.lastAppliedOptime!;
      assert.ok(last.t > caughtUpAt.t || (last.t === caughtUpAt.t && last.i > caughtUpAt.i));
      assert.equal(last.time, new Date(last.t * 1000).toISOString());
      // The lag shown is one the replicator reported, measured between the source's newest
      // optime and the applied one.
      assert.ok(lags.length > 0);
      for (const lag of lags) {
        assert.equal(lag.seconds, Math.max(0, lag.sourceOptime.t - lag.appliedOptime.t));
      }
      assert.ok(lags.some(lag => lag.seconds === applied.lagSeconds));

      const metrics = await getMetrics(server);
      const value = (name: string, labels?: Record<string, string>) =>
        sampleValue(metrics, `mongo_replicate_${name}`, labels);
      assert.equal(value('phase', { phase: 'incr' }), 1);
      assert.equal(value('phase', { phase: 'full' }), 0);
      assert.equal(value('state', { state: 'running' }), 1);
      assert.ok(value('applied_ops_total', { kind: 'insert' }) >= 20);
      assert.ok(value('applied_ops_total', { kind: 'update' }) >= 5);
      assert.ok(value('applied_ops_total', { kind: 'delete' }) >= 3);
      assert.ok(value('applied_ops_total', { kind: 'command' }) >= 1);
      assert.ok(value('applied_batches_total') > 0);
      assert.equal(value('copied_documents_total'), TOTAL);
      assert.ok(value('copied_bytes_total') > 0);
      assert.ok(value('copy_estimated_documents') > 0);
      assert.ok(value('copy_estimated_bytes') > 0);
      assert.ok(value('retries_total') > 0);
      assert.equal(value('errors_total'), 0);
      assert.equal(value('conflicts_total'), 0);
      assert.ok(lags.some(lag => lag.seconds === value('lag_seconds')));
      assert.ok(value('last_checkpoint_timestamp_seconds') > 0);
      assert.ok(value('last_applied_timestamp_seconds') >= last.t);

      const notFound = await fetch(`${server.url}/progress`);
      assert.equal(notFound.status, 404);
      assert.deepEqual(await notFound.json(), {
        error: 'Not found: /progress',
        paths: ['/status', '/metrics']
      });
      const notAllowed = await fetch(`${server.url}/metrics`, { method: 'POST' });
      assert.equal(notAllowed.status, 405);
      assert.equal(notAllowed.headers.get('allow'), 'GET, HEAD');
      await notAllowed.body?.cancel();

      await withTimeout(replicator.stop(), 30_000, 'the replicator to stop');
      const stopped = await getStatus(server);
      assert.equal(stopped.state, 'stopped');
      assert.equal(stopped.caughtUp, false);
    } finally {
      await replicator.stop();
      await server.close();
      monitor.close();
    }
  });
});
