/**
 * No document value ever leaves the library: runs that meet duplicate keys (transient and real),
 * conflicts, a validator refusing a document and a failing end, with a sentinel stored in every
 * kind of field (`_id`, unique keys, validated fields, nested values), and every error (with its
 * causes), event, log line and status they produce is searched for it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';

import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { type Logger } from '../../src/logger.js';
import { ReplicatorMonitor } from '../../src/observability/replicator-monitor.js';
import { Replicator } from '../../src/replicator.js';
import { type ReplicatorEvents } from '../../src/replicator-events.js';
import { type ReplicatorOptions } from '../../src/replicator-options.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { withTimeout } from '../support/timeout-signal.js';

const SENTINEL = 'SENTINEL-c0ffee';

const EVENTS: (keyof ReplicatorEvents)[] = [
  'state',
  'retry',
  'error',
  'progress',
  'phase',
  'batch',
  'skipped',
  'conflict',
  'lag',
  'checkpoint',
  'uniqueIndex'
];

/** Everything a run lets out, as text. */
class Outlet {
  readonly seen: string[] = [];

  readonly logger: Logger = {
    debug: (message, fields) => this.add(message, fields),
    info: (message, fields) => this.add(message, fields),
    warn: (message, fields) => this.add(message, fields),
    error: (message, fields) => this.add(message, fields)
  };

  add(...values: unknown[]): void {
    for (const value of values) this.seen.push(inspect(value, { depth: Infinity }));
  }

  watch(replicator: Replicator): void {
    for (const event of EVENTS) {
      replicator.on(event, (payload: unknown) => this.add(event, payload));
    }
  }

  assertClean(what: string): void {
    const leaks = this.seen.filter(text => text.includes(SENTINEL));
    assert.deepEqual(leaks, [], `${what}: a document value left the library`);
    assert.ok(this.seen.length > 10, `${what}: the run let out ${this.seen.length} items only`);
  }
}

describe('no document values in errors, events, logs or status', () => {
  let d: Deployments;
  let spoolDir: string;
  before(async () => {
    d = await startDeployments();
    spoolDir = await mkdtemp(join(tmpdir(), 'mr-sentinel-'));
  });
  after(async () => {
    await d.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  const user = (n: number) => ({
    _id: `${SENTINEL}-id-${n}`,
    email: `${SENTINEL}-${n}@example.com`,
    profile: { secret: `${SENTINEL}-nested`, list: [SENTINEL] }
  });

  async function run(
    options: Partial<ReplicatorOptions>,
    outlet: Outlet,
    until: (replicator: Replicator) => Promise<unknown>
  ) {
    const replicator = new Replicator({
      source: d.sourceUri,
      target: d.targetUri,
      checkpoint: { name: uniqueDbName('sentinel'), store: new MemoryCheckpointStore() },
      logger: outlet.logger,
      full: { spoolDir },
      ...options
    });
    outlet.watch(replicator);
    const monitor = new ReplicatorMonitor(replicator);
    try {
      await replicator.start();
      await until(replicator).catch((error: unknown) => outlet.add(error));
      outlet.add(monitor.status(), await monitor.metrics());
      await replicator.done.catch((error: unknown) => outlet.add(error));
    } finally {
      monitor.close();
      await replicator.stop().catch((error: unknown) => outlet.add(error));
    }
    return replicator;
  }

  it('a copy and catch-up that end on a real duplicate key', async () => {
    const db = uniqueDbName('sentinel_dup');
    const users = d.source.db(db).collection<ReturnType<typeof user>>('users');
    await users.createIndex({ email: 1 }, { unique: true });
    await users.insertMany([1, 2, 3].map(user));
    // Something else wrote to the target: the last source document's email is taken there.
    const stranger = { ...user(9), email: user(3).email };
    await d.target
      .db(db)
      .collection('users')
      .insertOne(stranger as never);
    const outlet = new Outlet();
    const replicator = await run(
      {
        mode: 'all',
        filter: { include: [`${db}.*`] },
        full: { spoolDir, onExistingTarget: 'append' },
        // A document missing on the target after the catch-up: a conflict event.
        applier: { conflictPolicy: 'ignore' }
      },
      outlet,
      async replicator => {
        // Swaps during the catch-up (transient duplicates), then an update of a missing document.
        await users.updateOne({ _id: user(1)._id }, { $set: { email: `${SENTINEL}-tmp` } });
        await users.updateOne({ _id: user(2)._id }, { $set: { email: user(1).email } });
        await users.updateOne({ _id: user(1)._id }, { $set: { email: user(2).email } });
        await withTimeout(
          replicator.done.then(
            () => undefined,
            () => undefined
          ),
          30_000,
          'the run to end on the duplicate'
        );
      }
    );
    assert.equal(replicator.state, 'failed', 'the real duplicate stopped it');
    outlet.assertClean('duplicate keys');
  });

  it('a validator refusing a document when validation is not bypassed', async () => {
    const db = uniqueDbName('sentinel_valid');
    await d.target.db(db).createCollection('items', {
      validator: { $jsonSchema: { required: ['kind'] } }
    });
    const outlet = new Outlet();
    const replicator = await run(
      { mode: 'incr', bypassDocumentValidation: false, filter: { include: [`${db}.*`] } },
      outlet,
      async replicator => {
        await d.source
          .db(db)
          .collection('items')
          .insertOne({ _id: `${SENTINEL}-item`, note: SENTINEL } as never);
        await withTimeout(
          replicator.done.then(
            () => undefined,
            () => undefined
          ),
          30_000,
          'the refused document to stop the run'
        );
      }
    );
    assert.equal(replicator.state, 'failed');
    outlet.assertClean('a validation failure');
  });
});
