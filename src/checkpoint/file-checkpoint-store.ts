/**
 * A checkpoint store in a directory: one Extended JSON file per checkpoint, and one per lease,
 * each replaced atomically and durably.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { BSON } from 'mongodb';

import { CheckpointError, InvalidConfigError, LeaseLostError } from '../errors.js';
import {
  type LeaseOwner,
  type LeaseRecord,
  type LeaseToken,
  type LeasingCheckpointStore
} from '../lease/lease.js';
import {
  acquire,
  isCurrent,
  leaseRecord,
  release,
  renew,
  type StoredLease
} from '../lease/lease-rules.js';
import { withLockFile, writeFileDurably } from '../lifecycle/durable-files.js';
import {
  type Checkpoint,
  checkpointFromJson,
  checkpointToJson,
  type CopiedCollection
} from './checkpoint.js';
import { type CheckpointSaveOptions } from './checkpoint-store.js';
import { CopyJournals } from './copy-journal.js';
import { type CopyStateSaveOptions, type CopyStateStore } from './copy-state-store.js';
import { OrderedSaves } from './ordered-saves.js';

const SAFE_NAME = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Stores each checkpoint as `<directory>/<name>.checkpoint.json` and its lease as
 * `<name>.lease.json`. A save writes a temporary file, flushes it, renames it over the old one
 * and flushes the directory, so a crash leaves either the old or the new checkpoint, never a
 * torn one, and a saved one is never lost.
 *
 * @remarks
 * Lease changes, and saves made under a lease, run under the lock file `<name>.lease.lock`, so
 * processes sharing the directory (one host, or several through a network file system) take
 * turns. Leases expire by the clock of the process that reads them: hosts sharing the directory
 * need synchronised clocks.
 * @public
 */
export class FileCheckpointStore implements LeasingCheckpointStore, CopyStateStore {
  /** The directory holding the checkpoint files. */
  readonly directory: string;

  constructor(directory: string) {
    if (typeof directory !== 'string' || directory.length === 0) {
      throw new InvalidConfigError('checkpoint.directory', 'must be a non-empty path');
    }
    this.directory = directory;
  }

  /** {@inheritDoc CheckpointStore.load} */
  async load(name: string): Promise<Checkpoint | undefined> {
    const path = this.#path(name, '.checkpoint.json');
    const text = await this.#read(path);
    return text === undefined ? undefined : checkpointFromJson(text, path);
  }

  /**
   * Saves a checkpoint, replacing any with the same name. Saves of one name run one after the
   * other, in call order, so that saves a host fires without awaiting them neither collide on the
   * temporary file nor let an older checkpoint land last.
   * @throws {@link CheckpointError} when the file cannot be written
   * @throws {@link LeaseLostError} when `options.lease` is no longer the current lease
   */
  save(checkpoint: Checkpoint, options: CheckpointSaveOptions = {}): Promise<void> {
    return this.#fencedSave(checkpoint.name, options.lease, `Checkpoint "${checkpoint.name}"`, () =>
      this.#write(checkpoint)
    );
  }

  /** Runs `write` in the name's save order, under the lease's lock when made under a lease. */
  #fencedSave(
    name: string,
    lease: LeaseToken | undefined,
    what: string,
    write: () => Promise<void>
  ): Promise<void> {
    return this.#saves.run(name, () =>
      lease === undefined
        ? write()
        : this.#withLease(name, async stored => {
            if (!isCurrent(stored, lease)) {
              throw new LeaseLostError(`${what} was not saved: its lease was taken over`);
            }
            await write();
          })
    );
  }

  readonly #saves = new OrderedSaves();

  async #write(checkpoint: Checkpoint): Promise<void> {
    const path = this.#path(checkpoint.name, '.checkpoint.json');
    try {
      await writeFileDurably(path, checkpointToJson(checkpoint));
    } catch (error) {
      throw new CheckpointError(`Cannot write checkpoint file ${path}`, true, {
        cause: error,
        hint: 'Check that the directory exists, is writable and has free space'
      });
    }
  }

  /**
   * Stores the state of `collections` under checkpoint `name` as lines appended to
   * `<name>.copy.jsonl` (flushed before this resolves); the file is rewritten once it holds
   * more than twice as many lines as collections. See {@link CopyStateStore.saveCopyState}.
   */
  saveCopyState(
    name: string,
    collections: readonly CopiedCollection[],
    options: CopyStateSaveOptions = {}
  ): Promise<void> {
    const path = this.#path(name, '.copy.jsonl');
    return this.#fencedSave(name, options.lease, `The copy state of checkpoint "${name}"`, () =>
      this.#journals.write(path, collections, options.replace === true)
    );
  }

  /** {@inheritDoc CopyStateStore.loadCopyState} */
  loadCopyState(name: string): Promise<CopiedCollection[]> {
    return this.#journals.read(this.#path(name, '.copy.jsonl'));
  }

  readonly #journals = new CopyJournals();

  /** {@inheritDoc CheckpointStore.delete} */
  async delete(name: string): Promise<void> {
    const journal = this.#path(name, '.copy.jsonl');
    await rm(journal, { force: true });
    this.#journals.forget(journal);
    await rm(this.#path(name, '.checkpoint.json'), { force: true });
  }

  /** {@inheritDoc LeasingCheckpointStore.acquireLease} */
  acquireLease(name: string, owner: LeaseOwner, ttlMs: number): Promise<LeaseRecord> {
    return this.#withLease(name, async (stored, now) => {
      const { next, record } = acquire(stored, owner, ttlMs, now);
      if (next) await this.#writeLease(name, next);
      return record;
    });
  }

  /** {@inheritDoc LeasingCheckpointStore.renewLease} */
  renewLease(name: string, lease: LeaseToken, ttlMs: number): Promise<LeaseRecord | undefined> {
    return this.#withLease(name, async (stored, now) => {
      const next = renew(stored, lease, ttlMs, now);
      if (!next) return undefined;
      await this.#writeLease(name, next);
      return leaseRecord(next, now);
    });
  }

  /** {@inheritDoc LeasingCheckpointStore.releaseLease} */
  releaseLease(name: string, lease: LeaseToken): Promise<void> {
    return this.#withLease(name, async (stored, now) => {
      const next = release(stored, lease, now);
      if (next) await this.#writeLease(name, next);
    });
  }

  /** {@inheritDoc LeasingCheckpointStore.readLease} */
  async readLease(name: string): Promise<LeaseRecord | undefined> {
    const stored = await this.#readLease(name);
    return stored && leaseRecord(stored, Date.now());
  }

  /** Runs `fn` with the stored lease under the lease's lock file. */
  async #withLease<T>(
    name: string,
    fn: (stored: StoredLease | undefined, now: number) => Promise<T>
  ): Promise<T> {
    const lockPath = this.#path(name, '.lease.lock');
    let locked = false;
    try {
      return await withLockFile(lockPath, async () => {
        locked = true;
        return fn(await this.#readLease(name), Date.now());
      });
    } catch (error) {
      if (locked) throw error;
      throw new CheckpointError(`Cannot lock the lease of checkpoint "${name}"`, true, {
        cause: error,
        hint: `Check that ${this.directory} is writable; delete ${lockPath} only if no replicator runs`
      });
    }
  }

  async #readLease(name: string): Promise<StoredLease | undefined> {
    const path = this.#path(name, '.lease.json');
    const text = await this.#read(path);
    if (text === undefined) return undefined;
    try {
      const raw = BSON.EJSON.parse(text, { relaxed: true }) as Record<string, unknown>;
      const owner = raw.owner as Record<string, unknown> | undefined;
      if (
        typeof raw.token !== 'number' ||
        typeof owner?.id !== 'string' ||
        typeof owner.host !== 'string' ||
        typeof owner.pid !== 'number' ||
        !(raw.since instanceof Date) ||
        !(raw.expiresAt instanceof Date) ||
        (raw.releasedAt !== undefined && !(raw.releasedAt instanceof Date))
      ) {
        throw new Error('fields missing or of the wrong type');
      }
      return {
        token: raw.token,
        owner: { id: owner.id, host: owner.host, pid: owner.pid },
        since: raw.since,
        expiresAt: raw.expiresAt,
        ...(raw.releasedAt instanceof Date ? { releasedAt: raw.releasedAt } : {})
      };
    } catch (error) {
      throw new CheckpointError(`The lease file ${path} is invalid`, false, {
        cause: error,
        hint: 'Delete it once no replicator uses this checkpoint name'
      });
    }
  }

  async #writeLease(name: string, lease: StoredLease): Promise<void> {
    const path = this.#path(name, '.lease.json');
    try {
      await writeFileDurably(path, BSON.EJSON.stringify(lease, undefined, 2, { relaxed: true }));
    } catch (error) {
      throw new CheckpointError(`Cannot write the lease file ${path}`, true, { cause: error });
    }
  }

  async #read(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CheckpointError(`Cannot read ${path}`, true, { cause: error });
    }
  }

  #path(
    name: string,
    suffix: '.checkpoint.json' | '.copy.jsonl' | '.lease.json' | '.lease.lock'
  ): string {
    if (!SAFE_NAME.test(name)) {
      throw new InvalidConfigError(
        'checkpoint.name',
        `"${name}" must be 1-200 characters of A-Z, a-z, 0-9, '.', '_' or '-' to be a file name`
      );
    }
    return join(this.directory, `${name}${suffix}`);
  }
}
