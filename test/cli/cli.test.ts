/**
 * The `mongo-replicate` command, run as a real child process (the built `dist/cli/main.js`, as
 * npm's `bin` links it) against the test servers: run, verify, checkpoint show/reset, bad input.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Int32 } from 'mongodb';

import { cli, start } from '../support/cli-process.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { timeoutSignal, waitUntil } from '../support/timeout-signal.js';

describe('mongo-replicate (CLI)', () => {
  let env: Deployments;
  let dir: string;
  before(async () => {
    env = await startDeployments();
    dir = await mkdtemp(join(tmpdir(), 'mr-cli-'));
  });
  after(async () => {
    await env.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The source, the target and `--include <db>.*`: what every command on a test database needs. */
  const deploymentArgs = (db: string) => [
    '--source',
    env.sourceUri,
    '--target',
    env.targetUri,
    '--include',
    `${db}.*`
  ];

  it('prints help for every command', async () => {
    const top = await cli(['--help']);
    assert.equal(top.code, 0);
    for (const command of ['run', 'verify', 'checkpoint'])
      assert.match(top.stdout, new RegExp(command));
    const run = await cli(['run', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /--fetch-method/);
    assert.match(run.stdout, /--until-fence/);
    const show = await cli(['checkpoint', 'show', '--help']);
    assert.equal(show.code, 0);
  });

  it('prints the installed package version with --version', async () => {
    const { version } = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8')
    ) as { version: string };
    for (const flag of ['--version', '-V']) {
      const printed = await cli([flag]);
      assert.equal(printed.code, 0, printed.stderr);
      assert.equal(printed.stdout.trim(), version);
    }
  });

  it('refuses a bad config with exit code 2, names the field, and writes nothing', async () => {
    const db = uniqueDbName('cli_bad');
    await env.source
      .db(db)
      .collection('c')
      .insertOne({ _id: 1 } as never);
    const config = join(dir, 'bad.json');
    await writeFile(
      config,
      JSON.stringify({ source: env.sourceUri, target: env.targetUri, mode: 'mirror' })
    );
    const bad = await cli(['run', '--config', config, '--include', `${db}.*`]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /mode/);
    const unknown = await cli([
      'run',
      '--source',
      'mongodb://alice:s3cret-pw@127.0.0.1:1/',
      '--target',
      'nope://x'
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /target/);
    const limited = join(dir, 'bad-limit.json');
    await writeFile(
      limited,
      JSON.stringify({
        source: env.sourceUri,
        target: env.targetUri,
        rateLimit: { opsPerSecond: -1 }
      })
    );
    const badLimit = await cli(['run', '--config', limited, '--include', `${db}.*`]);
    assert.equal(badLimit.code, 2, badLimit.stderr);
    assert.match(badLimit.stderr, /rateLimit\.opsPerSecond/);
    assert.ok(!unknown.stderr.includes('s3cret-pw'), 'credentials never reach the output');
    const uris = ['--source', env.sourceUri, '--target', env.targetUri];
    for (const [args, field] of [
      [['--mode', 'full', '--until-fence'], /untilFence/],
      [['--progress-interval', 'soon'], /progress-interval/],
      [['--status-port', '99999'], /status-port/],
      [['--start-at', '99999999999:0'], /startAt/],
      [['--checkpoint-name', '..'], /checkpoint\.name/],
      [['--skip', 'delete', '--skip', 'dropCollection'], /filter\.skip\[1\]/],
      [['--max-ops-per-second', '0'], /max-ops-per-second/],
      [['--max-bytes-per-second', 'lots'], /max-bytes-per-second/]
    ] as const) {
      const refused = await cli(['run', ...uris, '--include', `${db}.*`, ...args]);
      assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, field);
    }
    const badName = await cli([
      'checkpoint',
      'reset',
      '--checkpoint-dir',
      dir,
      '--checkpoint-name',
      '..'
    ]);
    assert.equal(badName.code, 2, badName.stderr);
    const dbs = await env.target.db('admin').admin().listDatabases({ nameOnly: true });
    assert.ok(!dbs.databases.some(d => d.name === db), 'nothing was written to the target');
  });

  it('copies with run (mode full), verifies, and shows and resets the checkpoint', async () => {
    const db = uniqueDbName('cli_full');
    const docs = Array.from({ length: 50 }, (_, i) => ({
      _id: i,
      n: new Int32(i),
      tag: `t${i % 3}`
    }));
    await env.source
      .db(db)
      .collection('items')
      .insertMany(docs as never[]);
    const checkpoints = join(dir, `ckpt-${db}`);
    const common = deploymentArgs(db);
    const ckpt = ['--checkpoint-dir', checkpoints, '--checkpoint-name', db];
    const run = await cli(['run', ...common, ...ckpt, '--mode', 'full', '--progress', 'none']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await env.target.db(db).collection('items').countDocuments(), 50);

    const equal = await cli(['verify', ...common]);
    assert.equal(equal.code, 0, equal.stdout + equal.stderr);
    assert.match(equal.stdout, /EQUAL/);

    await env.target
      .db(db)
      .collection('items')
      .deleteOne({ _id: 7 } as never);
    await env.target
      .db(db)
      .collection('items')
      .updateOne({ _id: 8 } as never, { $set: { n: 8.5 } });
    const different = await cli(['verify', ...common]);
    assert.equal(different.code, 3, different.stdout + different.stderr);
    assert.match(different.stdout, /1 missing/);
    assert.match(different.stdout, /1 different/);
    assert.match(different.stdout, /missing _ids: 7/);

    const show = await cli(['checkpoint', 'show', '--target', env.targetUri, ...ckpt]);
    assert.equal(show.code, 0, show.stderr);
    const shown = JSON.parse(show.stdout) as { name: string; mode: string };
    assert.equal(shown.name, db);
    assert.equal(shown.mode, 'full');
    // Checkpoints kept in files need no connection at all.
    const reset = await cli(['checkpoint', 'reset', ...ckpt]);
    assert.equal(reset.code, 0, reset.stderr);
    const gone = await cli(['checkpoint', 'show', '--target', env.targetUri, ...ckpt]);
    assert.equal(gone.code, 4);
  });

  it('runs continuously with a status server, stops gracefully on SIGINT', async () => {
    const db = uniqueDbName('cli_incr');
    const child = start([
      'run',
      ...deploymentArgs(db),
      '--skip',
      'delete',
      '--max-ops-per-second',
      '1000',
      '--checkpoint-dir',
      join(dir, `ckpt-${db}`),
      '--mode',
      'incr',
      '--status-port',
      '0',
      '--log-format',
      'json',
      '--progress-interval',
      '100'
    ]);
    const url = (await child.waitForStderr(/"status":"(http:\/\/[^"]+)\/status"/))[1]!;
    try {
      // The server answers from the start; the replicator is running once it has connected.
      let status: { state?: string; phase?: string; applied?: { inserts?: number } } = {};
      const read = async () => {
        status = (await (await fetch(`${url}/status`)).json()) as typeof status;
        return status;
      };
      await waitUntil(
        async () => (await read()).state === 'running',
        timeoutSignal(30_000, 'running')
      );
      assert.equal(status.phase, 'incr');
      const c = env.source.db(db).collection('c');
      await c.insertMany([{ _id: 1 }, { _id: 2 }] as never[]);
      await c.deleteOne({ _id: 1 } as never);
      await c.insertOne({ _id: 3 } as never);
      await waitUntil(
        async () => ((await read()).applied?.inserts ?? 0) >= 3,
        timeoutSignal(30_000, 'the inserts to be applied')
      );
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /mongo_replicate_applied_ops_total\{kind="insert"\} 3/);
      // --skip delete: the delete was counted, not applied.
      assert.match(metrics, /mongo_replicate_skipped_operations_total\{kind="delete"\} 1/);
      assert.match(metrics, /mongo_replicate_rate_limit_ops_per_second 1000/);
      assert.equal(await env.target.db(db).collection('c').countDocuments(), 3);
    } finally {
      child.child.kill('SIGINT');
    }
    const outcome = await child.exited();
    assert.equal(outcome.code, 0, outcome.stderr);
    // JSON progress lines went to stdout, one object per line.
    const lines = outcome.stdout.trim().split('\n').filter(Boolean);
    assert.ok(lines.length > 0);
    for (const line of lines)
      assert.equal(typeof (JSON.parse(line) as { phase: string }).phase, 'string');
  });

  it('mode all with --until-fence copies, catches up and exits once the fence is applied', async () => {
    const db = uniqueDbName('cli_fence');
    await env.source
      .db(db)
      .collection('c')
      .insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i })) as never[]);
    const outcome = await cli([
      'run',
      ...deploymentArgs(db),
      '--checkpoint-dir',
      join(dir, `ckpt-${db}`),
      '--spool-dir',
      join(dir, `spool-${db}`),
      '--mode',
      'all',
      '--until-fence',
      '--progress',
      'none'
    ]);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.match(outcome.stderr, /fence is applied/);
    assert.equal(await env.target.db(db).collection('c').countDocuments(), 30);
  });
});
