/**
 * Files that survive a crash: a file replaced through a temporary file that is flushed, renamed
 * over the old one, and whose directory is flushed too (without that last step a crash can lose
 * the rename, and the old content comes back), and a short-lived lock file for read-modify-write
 * sequences shared by processes.
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Makes the creation, renaming or removal of files in `directory` durable.
 * @internal
 */
export async function syncDirectory(directory: string): Promise<void> {
  // Windows cannot open a directory as a file, and its file system journals names itself.
  if (process.platform === 'win32') return;
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `path` with `text` atomically and durably: a crash leaves the old or the new content,
 * never a torn one, and once this resolves the new content survives a crash.
 * @internal
 */
export async function writeFileDurably(path: string, text: string): Promise<void> {
  const directory = dirname(path);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await mkdir(directory, { recursive: true });
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await syncDirectory(directory);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** A lock file older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 10_000;
/** Give up waiting for a lock file after this long. */
const LOCK_WAIT_MS = 30_000;

/**
 * Runs `fn` while holding the lock file `path` (created exclusively, removed afterwards), so
 * that processes sharing a directory run their read-modify-write sequences one at a time. A lock
 * file older than 10 s is taken to be left by a crash, and removed.
 * @internal
 */
export async function withLockFile<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  await mkdir(dirname(path), { recursive: true });
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      await (await open(path, 'wx')).close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const age = await stat(path).then(
      info => Date.now() - info.mtimeMs,
      () => 0
    );
    if (age > STALE_LOCK_MS) await rm(path, { force: true });
    else if (Date.now() > deadline) {
      throw new Error(`the lock file ${path} has been held for over ${LOCK_WAIT_MS / 1000} s`);
    } else await delay(wait);
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
