/**
 * The lock that keeps two processes from using one spool directory at once (two replicators
 * started with the same checkpoint name and spool directory would interleave their appends and
 * discard each other's entries). A `LOCK` file created exclusively holds the owner's pid, host
 * and start time; a lock whose process is gone (same host, pid not running) is stale and taken
 * over. Within one process a spool is not locked against itself.
 */
import { open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { SpoolError } from '../errors.js';

/** What the lock file holds. */
interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

/**
 * A held spool lock.
 * @internal
 */
export interface SpoolLock {
  /** Deletes the lock file (never throws). */
  release(): Promise<void>;
}

/** True while a process with this pid runs on this host. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (typeof owner.pid === 'number' && typeof owner.host === 'string') {
      return { pid: owner.pid, host: owner.host, since: String(owner.since ?? '?') };
    }
  } catch {
    // Unreadable or half written: treated as stale below.
  }
  return undefined;
}

/**
 * Takes the lock of the spool in `directory`.
 * @throws {@link SpoolError} when another live process holds it
 * @internal
 */
export async function acquireSpoolLock(directory: string): Promise<SpoolLock> {
  const path = join(directory, 'LOCK');
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(me));
        await handle.sync();
      } finally {
        await handle.close();
      }
      return { release: () => rm(path, { force: true }).catch(() => undefined) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new SpoolError(`Cannot lock the oplog spool ${directory}`, {
          path,
          cause: error,
          hint: 'Check that the spool directory is writable'
        });
      }
    }
    const owner = await readOwner(path);
    const otherLiveProcess =
      owner !== undefined &&
      owner.pid !== process.pid &&
      (owner.host !== me.host || running(owner.pid));
    if (otherLiveProcess) {
      throw new SpoolError(
        `The oplog spool ${directory} is in use by process ${owner.pid} on ${owner.host} (since ${owner.since})`,
        {
          path,
          hint: `Stop that replicator first, or use another checkpoint name; delete ${path} only if no process uses the spool any more`
        }
      );
    }
    // Stale (its process is gone), unreadable, or our own: take it over.
    await rm(path, { force: true });
  }
  throw new SpoolError(
    `Cannot lock the oplog spool ${directory}: another process keeps taking it`,
    {
      path,
      hint: 'Stop the other replicator using this spool directory'
    }
  );
}
