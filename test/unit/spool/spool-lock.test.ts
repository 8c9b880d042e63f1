import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { SpoolError } from '../../../src/errors.js';
import { OplogSpool } from '../../../src/spool/oplog-spool.js';

describe('OplogSpool lock', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'mr-spool-lock-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function lockedBy(name: string, owner: { pid: number; host: string }): Promise<string> {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ ...owner, since: 'earlier' }));
    return dir;
  }

  it('refuses a spool another running process holds, naming it', async () => {
    // The parent of this test process is alive, and is not this process.
    const dir = await lockedBy('busy', { pid: process.ppid, host: hostname() });
    await assert.rejects(OplogSpool.open(dir), (error: unknown) => {
      assert.ok(error instanceof SpoolError);
      assert.match(error.message, new RegExp(`in use by process ${process.ppid}`));
      return true;
    });
  });

  it('refuses a lock taken on another host, which it cannot check', async () => {
    const dir = await lockedBy('remote', { pid: 1, host: 'another-host.example' });
    await assert.rejects(OplogSpool.open(dir), SpoolError);
  });

  it('takes over the lock of a process that is gone', async () => {
    const exited = spawnSync(process.execPath, ['-e', '0']);
    const dir = await lockedBy('stale', { pid: exited.pid!, host: hostname() });
    const spool = await OplogSpool.open(dir);
    const owner = JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')) as { pid: number };
    assert.equal(owner.pid, process.pid, 'the lock now names this process');
    assert.notEqual(owner.pid, exited.pid);
    await spool.close();
  });

  it('holds the lock while open and releases it on close', async () => {
    const dir = join(root, 'cycle');
    const spool = await OplogSpool.open(dir);
    await access(join(dir, 'LOCK'));
    await spool.close();
    await assert.rejects(access(join(dir, 'LOCK')), { code: 'ENOENT' });
    // Reopened by the same process after a close: no conflict.
    await (await OplogSpool.open(dir)).close();
  });
});
