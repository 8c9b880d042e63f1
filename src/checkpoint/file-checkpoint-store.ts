/** A checkpoint store in a directory: one Extended JSON file per checkpoint, replaced atomically. */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { CheckpointError, InvalidConfigError } from '../errors.js';
import { type Checkpoint, checkpointFromJson, checkpointToJson } from './checkpoint.js';
import { type CheckpointStore } from './checkpoint-store.js';
import { OrderedSaves } from './ordered-saves.js';

const SAFE_NAME = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Stores each checkpoint as `<directory>/<name>.checkpoint.json`. A save writes a temporary file,
 * flushes it to disk and renames it over the old one, so a crash leaves either the old or the new
 * checkpoint, never a torn one.
 * @public
 */
export class FileCheckpointStore implements CheckpointStore {
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
    const path = this.#path(name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CheckpointError(`Cannot read checkpoint file ${path}`, true, { cause: error });
    }
    return checkpointFromJson(text, path);
  }

  /**
   * Saves a checkpoint, replacing any with the same name. Saves of one name run one after the
   * other, in call order, so that saves a host fires without awaiting them neither collide on the
   * temporary file nor let an older checkpoint land last.
   * @throws {@link CheckpointError} when the file cannot be written
   */
  save(checkpoint: Checkpoint): Promise<void> {
    return this.#saves.run(checkpoint.name, () => this.#write(checkpoint));
  }

  readonly #saves = new OrderedSaves();

  async #write(checkpoint: Checkpoint): Promise<void> {
    const path = this.#path(checkpoint.name);
    const temporary = `${path}.${process.pid}.tmp`;
    try {
      await mkdir(this.directory, { recursive: true });
      const handle = await open(temporary, 'w');
      try {
        await handle.writeFile(checkpointToJson(checkpoint), 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw new CheckpointError(`Cannot write checkpoint file ${path}`, true, {
        cause: error,
        hint: 'Check that the directory exists, is writable and has free space'
      });
    }
  }

  /** {@inheritDoc CheckpointStore.delete} */
  async delete(name: string): Promise<void> {
    await rm(this.#path(name), { force: true });
  }

  #path(name: string): string {
    if (!SAFE_NAME.test(name)) {
      throw new InvalidConfigError(
        'checkpoint.name',
        `"${name}" must be 1-200 characters of A-Z, a-z, 0-9, '.', '_' or '-' to be a file name`
      );
    }
    return join(this.directory, `${name}.checkpoint.json`);
  }
}
