/**
 * Two `mongo-replicate run` processes on one checkpoint: the second exits naming the holder, or
 * with --standby takes over once the owner is killed (SIGKILL) or frozen (SIGSTOP); a frozen
 * owner that wakes up after the takeover writes nothing more. `checkpoint reset` respects the
 * lease.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { type Document } from 'mongodb';

import { cli, type CliProcess, start } from '../support/cli-process.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { rawDocuments } from '../support/replication.js';
import { timeoutSignal, waitUntil } from '../support/timeout-signal.js';

const TTL = 2000;
const TOOK = /Took the lease of checkpoint/;

describe('mongo-replicate run: one process per checkpoint', () => {
  let env: Deployments;
  const running: CliProcess[] = [];
  let dir: string;
  before(async () => {
    env = await startDeployments();
    dir = await mkdtemp(join(tmpdir(), 'mr-cli-lease-'));
  });
  after(async () => {
    for (const process of running) process.child.kill('SIGKILL');
    await env.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** `run --mode incr` on `db`, with a short lease; the checkpoint lives in the target. */
  const run = (db: string, ...extra: string[]) => {
    const child = start([
      'run',
      '--source',
      env.sourceUri,
      '--target',
      env.targetUri,
      '--include',
      `${db}.*`,
      '--checkpoint-name',
      db,
      '--mode',
      'incr',
      '--lease-ttl',
      String(TTL),
      '--progress',
      'none',
      ...extra
    ]);
    running.push(child);
    return child;
  };

  const items = (db: string) =>
    env.source.db(db).collection<{ _id: number | string; v: number }>('items');

  async function converge(db: string): Promise<void> {
    const same = async () =>
      JSON.stringify(await rawDocuments(env.target, db, 'items')) ===
      JSON.stringify(await rawDocuments(env.source, db, 'items'));
    // Polls the two deployments (each round trip yields), never a fixed sleep.
    await waitUntil(same, timeoutSignal(30_000, `the target to converge on ${db}`));
  }

  it('a second process exits within seconds with code 5, naming the holder', async () => {
    const db = uniqueDbName('cli_lease_held');
    const owner = run(db);
    await owner.waitForStderr(TOOK);
    const started = Date.now();
    const second = await cli([
      'run',
      '--source',
      env.sourceUri,
      '--target',
      env.targetUri,
      '--include',
      `${db}.*`,
      '--checkpoint-name',
      db,
      '--mode',
      'incr',
      '--progress',
      'none'
    ]);
    assert.equal(second.code, 5, second.stderr);
    assert.match(second.stderr, new RegExp(`held by process ${owner.child.pid} on `));
    assert.ok(Date.now() - started < 15_000, 'it exits within seconds');
    owner.child.kill('SIGTERM');
    assert.equal((await owner.exited()).code, 0);
  });

  it('--standby takes over within the ttl after the owner is SIGKILLed, and the target converges', async () => {
    const db = uniqueDbName('cli_lease_kill');
    const owner = run(db);
    await owner.waitForStderr(TOOK);
    const standby = run(db, '--standby');
    await standby.waitForStderr(/Standing by/);
    await items(db).insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, v: i })));
    await converge(db);
    owner.child.kill('SIGKILL');
    const killedAt = Date.now();
    for (let i = 0; i < 50; i++) await items(db).updateOne({ _id: i }, { $inc: { v: 100 } });
    await standby.waitForStderr(TOOK, TTL + 10_000);
    const takeover = Date.now() - killedAt;
    assert.ok(takeover < TTL + 5000, `took over after ${takeover} ms`);
    await items(db).insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: 100 + i, v: i })));
    await converge(db);
    standby.child.kill('SIGTERM');
    assert.equal((await standby.exited()).code, 0);
  });

  it('an owner frozen past its lease (SIGSTOP) writes nothing once woken, and exits', async () => {
    const db = uniqueDbName('cli_lease_stop');
    // Batches cut at every entry: woken up, the owner's first reaction to the entries waiting
    // on its socket is a write, before any of its timers (its lease deadline among them) runs.
    const config = join(dir, `${db}.json`);
    await writeFile(config, JSON.stringify({ batcher: { maxOps: 1 } }));
    const owner = run(db, '--config', config);
    await owner.waitForStderr(TOOK);
    const standby = run(db, '--standby');
    await standby.waitForStderr(/Standing by/);
    await items(db).insertOne({ _id: 'p', v: 0 });
    await converge(db);
    owner.child.kill('SIGSTOP');
    // Written while the owner is frozen: the answer to its pending getMore waits in its socket,
    // and applying these replacements would remove `probe`, written below.
    for (let v = 1; v <= 5; v++) await items(db).replaceOne({ _id: 'p' }, { v });
    await standby.waitForStderr(TOOK, TTL + 10_000);
    await converge(db);
    const onTarget = env.target.db(db).collection<{ _id: string; probe?: string }>('items');
    await onTarget.updateOne({ _id: 'p' }, { $set: { probe: 'written after the takeover' } });
    owner.child.kill('SIGCONT');
    const woken = await owner.exited(30_000);
    assert.equal(woken.code, 1, woken.stderr);
    assert.match(woken.stderr, /lease of checkpoint .* was (not renewed in time|taken over)/);
    const p = await onTarget.findOne({ _id: 'p' });
    assert.equal(p?.probe, 'written after the takeover', 'the woken owner wrote nothing');
    standby.child.kill('SIGTERM');
    assert.equal((await standby.exited()).code, 0);
  });

  it('checkpoint reset refuses while a replicator holds the lease, and works once it stopped', async () => {
    const db = uniqueDbName('cli_lease_reset');
    const owner = run(db);
    await owner.waitForStderr(TOOK);
    const args = ['checkpoint', 'reset', '--target', env.targetUri, '--checkpoint-name', db];
    const refused = await cli(args);
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(refused.stderr, /in use by process/);
    owner.child.kill('SIGTERM');
    assert.equal((await owner.exited()).code, 0);
    const reset = await cli(args);
    assert.equal(reset.code, 0, reset.stderr);
  });

  it('checkpoint reset of a lease that was not released needs --force', async () => {
    const db = uniqueDbName('cli_lease_crash');
    const owner = run(db);
    await owner.waitForStderr(TOOK);
    // Killed once its first checkpoint is saved.
    await waitUntil(
      async () =>
        (
          await env.target
            .db('mongo_replicate')
            .collection<Document>('checkpoints')
            .findOne({ _id: db as never })
        )?.name === db,
      timeoutSignal(10_000, 'the first checkpoint')
    );
    owner.child.kill('SIGKILL');
    await owner.exited();
    const args = ['checkpoint', 'reset', '--target', env.targetUri, '--checkpoint-name', db];
    // Until the lease expires it is live; then it is an unreleased one.
    await waitUntil(
      async () => /without being released/.test((await cli(args)).stderr),
      timeoutSignal(TTL + 10_000, 'the crashed lease to expire')
    );
    const forced = await cli([...args, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
  });
});
