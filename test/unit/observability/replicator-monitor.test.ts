import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Timestamp } from 'mongodb';
import { register as globalRegistry, Registry } from 'prom-client';

import { type AppliedBatchEvent } from '../../../src/apply/hashed-applier-pool.js';
import { InvalidConfigError, SourceReadError } from '../../../src/errors.js';
import { type CopyProgressEvent } from '../../../src/full/collection-executor.js';
import { ReplicatorMonitor } from '../../../src/observability/replicator-monitor.js';
import { Replicator } from '../../../src/replicator.js';
import { type ReplicatorOptions } from '../../../src/replicator-options.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

const SOURCE_URI = 'mongodb://alice:s3cret@src1:27017,src2:27018/?replicaSet=rs0&authSource=admin';
const TARGET_URI = 'mongodb://bob:hunter2@dst:27017/?tlsCertificateKeyFilePassword=keypw';
const SECRETS = /alice|s3cret|bob|hunter2|keypw/;

/** A Replicator that is never started: the tests drive the monitor through its events. */
function replicator(options: Partial<ReplicatorOptions> = {}): Replicator {
  return new Replicator({
    source: SOURCE_URI,
    target: TARGET_URI,
    mode: 'all',
    checkpoint: { name: 'unit' },
    ...options
  });
}

/** A clock that advances one second per reading, from a fixed instant. */
function steppingClock(start = Date.UTC(2026, 0, 2, 3, 4, 5)): () => number {
  let now = start - 1000;
  return () => (now += 1000);
}

function progress(
  namespace: string,
  documents: number,
  overall: { documents: number; estimatedDocuments: number; etaMs?: number },
  extra: Partial<CopyProgressEvent> = {}
): CopyProgressEvent {
  return {
    stage: 'collection-executor',
    phase: 'full',
    sourceNs: namespace.replace('_copy', ''),
    namespace,
    count: documents,
    documents,
    bytes: documents * 100,
    replaced: 0,
    countPerSecond: 50,
    bytesPerSecond: 5000,
    elapsedMs: 1000,
    estimatedDocuments: 100,
    rangesDone: 1,
    rangesTotal: 4,
    etaMs: undefined,
    overall: { etaMs: undefined, ...overall },
    ...extra
  };
}

function batch(counts: Partial<AppliedBatchEvent> & { optime: Timestamp }): AppliedBatchEvent {
  const { optime, ...rest } = counts;
  return {
    kind: 'crud',
    ops: 0,
    inserts: 0,
    updates: 0,
    deletes: 0,
    upserts: 0,
    conflicts: 0,
    expectedMissing: 0,
    skipped: 0,
    alreadyApplied: 0,
    lastOptime: optime,
    checkpointOptime: optime,
    durationMs: 3,
    ...rest
  };
}

describe('ReplicatorMonitor', () => {
  it('reports an idle replicator with nothing known yet', () => {
    const monitor = new ReplicatorMonitor(replicator(), { clock: () => 0 });
    assert.deepEqual(monitor.status(), {
      time: '1970-01-01T00:00:00.000Z',
      state: 'idle',
      phase: null,
      caughtUp: false,
      mode: 'all',
      fetchMethod: 'oplog',
      checkpointName: 'unit',
      directionMapping: { source: 'rs0/src1:27017,src2:27018', target: 'dst:27017' },
      startedAt: null,
      lagSeconds: null,
      heldBack: null,
      rateLimit: { opsPerSecond: null, bytesPerSecond: null, limiting: false, heldBackMs: 0 },
      lastAppliedOptime: null,
      lastCheckpoint: null,
      lease: null,
      copy: null,
      applied: {
        batches: 0,
        ops: 0,
        inserts: 0,
        updates: 0,
        deletes: 0,
        commands: 0,
        upserts: 0,
        expectedMissing: 0,
        conflicts: 0,
        skippedEvents: 0,
        skippedOperations: { inserts: 0, updates: 0, deletes: 0, commands: 0 }
      },
      relaxedUniqueIndexes: [],
      uniqueIndexesLeftRelaxed: [],
      retries: 0,
      errors: []
    });
    monitor.close();
  });

  it('lists the unique indexes left non-unique until one is enforced again', () => {
    const r = replicator();
    const monitor = new ReplicatorMonitor(r);
    const event = (action: 'relaxed' | 'enforced' | 'leftRelaxed', index: string) =>
      r.emit('uniqueIndex', {
        action,
        namespace: 'shop.users',
        index,
        reason:
          action === 'relaxed' ? 'conflict' : action === 'enforced' ? 'consistent' : 'duplicates'
      });
    event('relaxed', 'email_1');
    event('relaxed', 'handle_1');
    event('leftRelaxed', 'email_1');
    event('leftRelaxed', 'handle_1');
    assert.deepEqual(monitor.status().uniqueIndexesLeftRelaxed, [
      { namespace: 'shop.users', name: 'email_1' },
      { namespace: 'shop.users', name: 'handle_1' }
    ]);
    // A restart (another monitor would start empty) or a later run enforced one.
    event('enforced', 'email_1');
    assert.deepEqual(monitor.status().uniqueIndexesLeftRelaxed, [
      { namespace: 'shop.users', name: 'handle_1' }
    ]);
    monitor.close();
  });

  it('follows state, phase, copy progress, batches, lag and checkpoints', () => {
    const r = replicator();
    const monitor = new ReplicatorMonitor(r, { clock: steppingClock() });
    r.emit('state', { stage: 'replicator', from: 'idle', to: 'starting' });
    r.emit('state', { stage: 'replicator', from: 'starting', to: 'running' });
    r.emit('phase', { phase: 'full', optime: new Timestamp({ t: 1_700_000_000, i: 1 }) });
    r.emit('progress', progress('db_copy.a', 10, { documents: 10, estimatedDocuments: 300 }));
    r.emit('progress', progress('db_copy.b', 40, { documents: 50, estimatedDocuments: 300 }));
    r.emit(
      'progress',
      progress(
        'db_copy.a',
        30,
        { documents: 70, estimatedDocuments: 300, etaMs: 4000 },
        { rangesDone: 2, etaMs: 1400 }
      )
    );

    const copying = monitor.status();
    assert.equal(copying.state, 'running');
    assert.equal(copying.startedAt, '2026-01-02T03:04:05.000Z', 'the first clock reading');
    assert.equal(copying.phase, 'full');
    assert.equal(copying.caughtUp, false);
    assert.deepEqual(copying.copy, {
      documentsCopied: 70,
      bytesCopied: 7000,
      estimatedDocuments: 300,
      estimatedBytes: 30_000,
      rangesDone: 3,
      rangesTotal: 8,
      etaMs: 4000,
      namespaces: [
        {
          namespace: 'db_copy.a',
          sourceNs: 'db.a',
          documents: 30,
          bytes: 3000,
          estimatedDocuments: 100,
          rangesDone: 2,
          rangesTotal: 4,
          documentsPerSecond: 50,
          bytesPerSecond: 5000,
          etaMs: 1400
        },
        {
          namespace: 'db_copy.b',
          sourceNs: 'db.b',
          documents: 40,
          bytes: 4000,
          estimatedDocuments: 100,
          rangesDone: 1,
          rangesTotal: 4,
          documentsPerSecond: 50,
          bytesPerSecond: 5000,
          etaMs: null
        }
      ]
    });

    r.emit('phase', { phase: 'catchup' });
    r.emit(
      'batch',
      batch({
        optime: new Timestamp({ t: 1_700_000_010, i: 2 }),
        ops: 3,
        inserts: 2,
        upserts: 1,
        deletes: 1,
        expectedMissing: 1
      })
    );
    r.emit('phase', { phase: 'incr' });
    r.emit(
      'batch',
      batch({
        optime: new Timestamp({ t: 1_700_000_020, i: 7 }),
        ops: 4,
        updates: 4,
        skipped: 3,
        skippedOperations: { inserts: 0, updates: 0, deletes: 2, commands: 1 }
      })
    );
    r.emit(
      'batch',
      batch({ kind: 'ddl', optime: new Timestamp({ t: 1_700_000_021, i: 1 }), ops: 1 })
    );
    r.emit('batch', batch({ kind: 'progress', optime: new Timestamp({ t: 1_700_000_022, i: 1 }) }));
    r.emit('conflict', {
      namespace: 'db_copy.a',
      op: 'u',
      idType: 'int',
      optime: new Timestamp({ t: 1_700_000_020, i: 3 }),
      policy: 'ignore',
      action: 'ignored'
    });
    r.emit('skipped', {
      stage: 'change-stream-fetcher',
      operationType: 'refineCollectionShardKey',
      namespace: 'db.a',
      optime: new Timestamp({ t: 1_700_000_020, i: 4 }),
      reason: 'sharding event'
    });
    const lagOptime = new Timestamp({ t: 1_700_000_025, i: 1 });
    r.emit('lag', {
      stage: 'replicator',
      sourceOptime: lagOptime,
      appliedOptime: lagOptime,
      seconds: 3
    });
    r.emit('checkpoint', {
      name: 'unit',
      optime: new Timestamp({ t: 1_700_000_020, i: 7 }),
      savedAt: new Date(Date.UTC(2026, 0, 2, 3, 5))
    });

    const following = monitor.status();
    assert.equal(following.phase, 'incr');
    assert.equal(following.caughtUp, true);
    assert.equal(following.lagSeconds, 3);
    assert.deepEqual(following.lastAppliedOptime, {
      t: 1_700_000_022,
      i: 1,
      time: '2023-11-14T22:13:42.000Z'
    });
    assert.deepEqual(following.lastCheckpoint, {
      optime: { t: 1_700_000_020, i: 7, time: '2023-11-14T22:13:40.000Z' },
      savedAt: '2026-01-02T03:05:00.000Z'
    });
    assert.deepEqual(following.applied, {
      batches: 4,
      ops: 8,
      inserts: 2,
      updates: 4,
      deletes: 1,
      commands: 1,
      upserts: 1,
      expectedMissing: 1,
      conflicts: 1,
      skippedEvents: 1,
      skippedOperations: { inserts: 0, updates: 0, deletes: 2, commands: 1 }
    });
    // Plain data: JSON gives back exactly the same snapshot.
    assert.deepEqual(JSON.parse(JSON.stringify(following)), following);
    monitor.close();
  });

  it('keeps the most recent errors, redacted, and counts retries', () => {
    const r = replicator();
    const monitor = new ReplicatorMonitor(r, { recentErrors: 2, clock: steppingClock() });
    const retry = (attempt: number, error: Error) =>
      r.emit('retry', {
        stage: 'hashed-applier-pool',
        operation: 'insertMany db.a',
        attempt,
        delayMs: 10,
        elapsedMs: 10 * attempt,
        error,
        hint: 'transient'
      });
    retry(1, Object.assign(new Error('first'), { code: 'ECONNRESET' }));
    retry(
      2,
      Object.assign(new Error(`cannot reach ${SOURCE_URI}`), {
        code: 6,
        codeName: 'HostUnreachable'
      })
    );
    const fatal = new SourceReadError(`gave up on ${TARGET_URI}`, false);
    r.emit('error', fatal);

    const { errors, retries } = monitor.status();
    assert.equal(retries, 2);
    assert.deepEqual(
      errors.map(({ stage, code, fatal }) => ({ stage, code, fatal })),
      [
        { stage: 'hashed-applier-pool', code: 'HostUnreachable', fatal: false },
        { stage: 'replicator', code: 'MR_SOURCE_READ', fatal: true }
      ]
    );
    assert.match(errors[0]!.message, /^cannot reach mongodb:\/\/<credentials>@src1:27017/);
    assert.doesNotMatch(JSON.stringify(monitor.status()), SECRETS);
    assert.equal(errors[1]!.at, '2026-01-02T03:04:07.000Z', 'the third clock reading');
    // The error objects themselves are left alone: the host may still need them.
    assert.match(fatal.message, /hunter2/);

    const none = new ReplicatorMonitor(r, { recentErrors: 0 });
    r.emit('error', fatal);
    assert.deepEqual(none.status().errors, []);
    none.close();
    monitor.close();
  });

  it('reads the phase from the replicator when no phase event came (mode incr)', () => {
    const r = replicator({ mode: 'incr' });
    const monitor = new ReplicatorMonitor(r);
    r.emit('state', { stage: 'replicator', from: 'idle', to: 'starting' });
    assert.equal(monitor.status().phase, null, 'unknown until the replicator has opened');
    r.emit('state', { stage: 'replicator', from: 'starting', to: 'running' });
    assert.equal(monitor.status().phase, 'incr');
    assert.equal(monitor.status().caughtUp, true);
    r.emit('state', { stage: 'replicator', from: 'running', to: 'stopping' });
    assert.equal(monitor.status().caughtUp, false, 'only while running');
    monitor.close();
  });

  it('stops counting after close()', () => {
    const r = replicator();
    const before = r.listenerCount('batch');
    const monitor = new ReplicatorMonitor(r);
    assert.equal(r.listenerCount('batch'), before + 1);
    r.emit('batch', batch({ optime: new Timestamp({ t: 1, i: 1 }), ops: 1, inserts: 1 }));
    monitor.close();
    monitor.close();
    assert.equal(r.listenerCount('batch'), before);
    for (const event of ['state', 'phase', 'progress', 'lag', 'error', 'retry'] as const) {
      assert.equal(r.listenerCount(event), 0, event);
    }
    r.emit('batch', batch({ optime: new Timestamp({ t: 2, i: 1 }), ops: 5, inserts: 5 }));
    assert.equal(monitor.status().applied.inserts, 1);
  });

  it('rejects bad options', () => {
    for (const recentErrors of [-1, 1.5, Number.NaN]) {
      assert.throws(
        () => new ReplicatorMonitor(replicator(), { recentErrors }),
        (error: unknown) => error instanceof InvalidConfigError && error.field === 'recentErrors'
      );
    }
  });
});

describe('ReplicatorMonitor.metrics', () => {
  it('exposes every series in Prometheus text, from its own registry', async () => {
    const r = replicator({ rateLimit: { opsPerSecond: 500 } });
    const monitor = new ReplicatorMonitor(r);
    assert.equal(monitor.metricsContentType, Registry.PROMETHEUS_CONTENT_TYPE);

    // Events before the first scrape (prom-client is not loaded yet) still count.
    r.emit('state', { stage: 'replicator', from: 'idle', to: 'starting' });
    r.emit('state', { stage: 'replicator', from: 'starting', to: 'running' });
    r.emit('phase', { phase: 'full' });
    r.emit('progress', progress('db_copy.a', 20, { documents: 20, estimatedDocuments: 80 }));
    const early = parsePrometheusText(await monitor.metrics());
    assert.equal(sampleValue(early, 'mongo_replicate_phase', { phase: 'full' }), 1);
    assert.equal(sampleValue(early, 'mongo_replicate_phase', { phase: 'incr' }), 0);
    assert.equal(sampleValue(early, 'mongo_replicate_copied_documents_total'), 20);
    assert.equal(sampleValue(early, 'mongo_replicate_copy_estimated_documents'), 80);
    assert.equal(sampleValue(early, 'mongo_replicate_copy_estimated_bytes'), 8000);
    // Unknown is absent, not 0 (0 would claim "no lag").
    assert.equal(early.has('mongo_replicate_lag_seconds'), false);
    assert.equal(early.has('mongo_replicate_last_checkpoint_timestamp_seconds'), false);

    r.emit('phase', { phase: 'incr' });
    r.emit(
      'batch',
      batch({
        optime: new Timestamp({ t: 1_700_000_100, i: 1 }),
        ops: 6,
        inserts: 3,
        updates: 2,
        deletes: 1,
        skipped: 4,
        skippedOperations: { inserts: 0, updates: 0, deletes: 4, commands: 0 }
      })
    );
    r.emit(
      'batch',
      batch({ kind: 'ddl', optime: new Timestamp({ t: 1_700_000_101, i: 1 }), ops: 1 })
    );
    r.emit('conflict', {
      namespace: 'db_copy.a',
      op: 'd',
      idType: 'int',
      optime: new Timestamp({ t: 1_700_000_100, i: 1 }),
      policy: 'ignore',
      action: 'ignored'
    });
    r.emit('skipped', {
      stage: 'change-stream-fetcher',
      operationType: 'shardCollection',
      namespace: undefined,
      optime: new Timestamp({ t: 1_700_000_100, i: 2 }),
      reason: 'sharding event'
    });
    r.emit('retry', {
      stage: 'oplog-fetcher',
      operation: 'getMore local.oplog.rs',
      attempt: 1,
      delayMs: 1,
      elapsedMs: 1,
      error: new Error(`lost ${SOURCE_URI}`),
      hint: 'network'
    });
    const ts = new Timestamp({ t: 1_700_000_101, i: 1 });
    r.emit('lag', { stage: 'replicator', sourceOptime: ts, appliedOptime: ts, seconds: 2.5 });
    r.emit('checkpoint', { name: 'unit', optime: ts, savedAt: new Date() });
    r.emit('lease', {
      action: 'acquired',
      name: 'unit',
      holder: { host: 'h', pid: 1, since: new Date(0), expiresAt: new Date(15_000), token: 3 }
    });

    const text = await monitor.metrics();
    assert.doesNotMatch(text, SECRETS);
    const families = parsePrometheusText(text);
    const expectTypes: Record<string, string> = {
      mongo_replicate_info: 'gauge',
      mongo_replicate_state: 'gauge',
      mongo_replicate_phase: 'gauge',
      mongo_replicate_applied_ops_total: 'counter',
      mongo_replicate_applied_batches_total: 'counter',
      mongo_replicate_conflicts_total: 'counter',
      mongo_replicate_skipped_events_total: 'counter',
      mongo_replicate_skipped_operations_total: 'counter',
      mongo_replicate_rate_limited: 'gauge',
      mongo_replicate_rate_limit_held_back_seconds_total: 'counter',
      mongo_replicate_relaxed_unique_indexes: 'gauge',
      mongo_replicate_retries_total: 'counter',
      mongo_replicate_errors_total: 'counter',
      mongo_replicate_copied_documents_total: 'counter',
      mongo_replicate_copied_bytes_total: 'counter',
      mongo_replicate_lag_seconds: 'gauge',
      mongo_replicate_copy_estimated_documents: 'gauge',
      mongo_replicate_copy_estimated_bytes: 'gauge',
      mongo_replicate_last_checkpoint_timestamp_seconds: 'gauge',
      mongo_replicate_last_applied_timestamp_seconds: 'gauge',
      mongo_replicate_lease_held: 'gauge',
      mongo_replicate_rate_limit_ops_per_second: 'gauge'
    };
    assert.deepEqual(
      Object.fromEntries([...families].map(([name, family]) => [name, family.type])),
      expectTypes
    );
    for (const family of families.values()) assert.ok(family.help.length > 0);

    const value = (name: string, labels?: Record<string, string>) =>
      sampleValue(families, `mongo_replicate_${name}`, labels);
    assert.equal(value('info', { mode: 'all', fetch_method: 'oplog', checkpoint: 'unit' }), 1);
    assert.equal(value('lease_held'), 1);
    assert.deepEqual(
      families.get('mongo_replicate_state')!.samples.map(s => [s.labels.state, s.value]),
      [
        ['idle', 0],
        ['starting', 0],
        ['standby', 0],
        ['running', 1],
        ['paused', 0],
        ['stopping', 0],
        ['stopped', 0],
        ['failed', 0]
      ]
    );
    assert.deepEqual(
      families.get('mongo_replicate_phase')!.samples.map(s => [s.labels.phase, s.value]),
      [
        ['full', 0],
        ['catchup', 0],
        ['incr', 1]
      ]
    );
    assert.equal(value('applied_ops_total', { kind: 'insert' }), 3);
    assert.equal(value('applied_ops_total', { kind: 'update' }), 2);
    assert.equal(value('applied_ops_total', { kind: 'delete' }), 1);
    assert.equal(value('applied_ops_total', { kind: 'command' }), 1);
    assert.equal(value('applied_batches_total'), 2);
    assert.equal(value('conflicts_total'), 1);
    assert.equal(value('skipped_events_total'), 1);
    assert.equal(value('skipped_operations_total', { kind: 'delete' }), 4);
    assert.equal(value('skipped_operations_total', { kind: 'insert' }), 0);
    assert.equal(value('rate_limited'), 0);
    assert.equal(value('rate_limit_held_back_seconds_total'), 0);
    assert.equal(value('rate_limit_ops_per_second'), 500);
    assert.equal(families.has('mongo_replicate_rate_limit_bytes_per_second'), false);
    assert.equal(value('retries_total'), 1);
    assert.equal(value('errors_total'), 0);
    assert.equal(value('copied_bytes_total'), 2000);
    assert.equal(value('lag_seconds'), 2.5);
    assert.equal(value('last_checkpoint_timestamp_seconds'), 1_700_000_101);
    assert.equal(value('last_applied_timestamp_seconds'), 1_700_000_101);

    // Scraping again does not double the counters.
    const again = parsePrometheusText(await monitor.metrics());
    assert.equal(sampleValue(again, 'mongo_replicate_applied_ops_total', { kind: 'insert' }), 3);

    // A lifted limit is absent again (unlimited), not 0.
    r.setRateLimit({ bytesPerSecond: 1_000_000 });
    const relimited = parsePrometheusText(await monitor.metrics());
    assert.equal(relimited.has('mongo_replicate_rate_limit_ops_per_second'), false);
    assert.equal(sampleValue(relimited, 'mongo_replicate_rate_limit_bytes_per_second'), 1_000_000);

    r.emit('error', new SourceReadError('gone', false));
    const failed = parsePrometheusText(await monitor.metrics());
    assert.equal(sampleValue(failed, 'mongo_replicate_errors_total'), 1);
    monitor.close();
  });

  it('gives each monitor its own registry and leaves the global one alone', async () => {
    const a = new ReplicatorMonitor(replicator());
    const b = new ReplicatorMonitor(replicator({ checkpoint: { name: 'other' } }));
    const [textA, textB] = await Promise.all([a.metrics(), b.metrics()]);
    assert.match(textA, /checkpoint="unit"/);
    assert.match(textB, /checkpoint="other"/);
    assert.doesNotMatch(textA, /checkpoint="other"/);
    assert.equal(globalRegistry.getMetricsAsArray().length, 0);
    a.close();
    b.close();
  });
});
