/**
 * The full copy's state as a journal file: one Extended JSON line per collection record,
 * appended (and flushed) on each save, so a save writes only what changed. The last line of a
 * collection wins. The journal is rewritten whole once it holds more than twice as many lines as
 * collections (plus some slack): the rewrite costs as much as the appends since the last one, so
 * a save stays O(1) amortized.
 *
 * A crash during an append can leave a torn last line: it is ignored when read (the record it
 * held is older than nothing else, and the replicator copies its range again after a restart).
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

import { BSON } from 'mongodb';

import { CheckpointError } from '../errors.js';
import { syncDirectory, writeFileDurably } from '../lifecycle/durable-files.js';
import { type CopiedCollection, isCopiedCollection, withNumericEstimates } from './checkpoint.js';

/** Lines a journal may hold beyond twice its collections before it is rewritten. */
const COMPACT_SLACK = 1000;

/** What is known about one journal file: its lines and its latest record per collection. */
interface JournalState {
  lines: number;
  /** The file ends with a line torn by a crash: the next write rewrites it instead of appending. */
  torn: boolean;
  readonly records: Map<string, CopiedCollection>;
}

/**
 * The copy-state journals of a directory, one file per checkpoint name.
 * @internal
 */
export class CopyJournals {
  readonly #states = new Map<string, JournalState>();

  /** Every collection's latest record in the journal at `path`. */
  async read(path: string): Promise<CopiedCollection[]> {
    const state = await this.#load(path);
    return [...state.records.values()];
  }

  /**
   * Appends `collections` (or, with `replace`, rewrites the journal with only them), durably.
   * @throws CheckpointError when the file cannot be written
   */
  async write(
    path: string,
    collections: readonly CopiedCollection[],
    replace: boolean
  ): Promise<void> {
    try {
      if (replace) {
        const records = new Map(collections.map(c => [c.sourceNs, c]));
        await writeFileDurably(path, linesOf(records.values()));
        this.#states.set(path, { lines: records.size, torn: false, records });
        return;
      }
      const state = await this.#load(path);
      for (const collection of collections) state.records.set(collection.sourceNs, collection);
      state.lines += collections.length;
      if (state.torn || state.lines > 2 * state.records.size + COMPACT_SLACK) {
        await writeFileDurably(path, linesOf(state.records.values()));
        state.lines = state.records.size;
        state.torn = false;
      } else await appendDurably(path, linesOf(collections));
    } catch (error) {
      this.#states.delete(path);
      if (error instanceof CheckpointError) throw error;
      throw new CheckpointError(`Cannot write the copy state file ${path}`, true, {
        cause: error,
        hint: 'Check that the directory exists, is writable and has free space'
      });
    }
  }

  /** Forgets what is known about `path` (its file was removed). */
  forget(path: string): void {
    this.#states.delete(path);
  }

  async #load(path: string): Promise<JournalState> {
    const known = this.#states.get(path);
    if (known) return known;
    const state = parseJournal(await readText(path), path);
    this.#states.set(path, state);
    return state;
  }
}

function linesOf(collections: Iterable<CopiedCollection>): string {
  let text = '';
  for (const collection of collections) {
    text += `${BSON.EJSON.stringify(collection, undefined, undefined, { relaxed: false })}\n`;
  }
  return text;
}

async function appendDurably(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'a');
  let created: boolean;
  try {
    // An empty file is one this append may have created: its name must reach the disk too.
    created = (await handle.stat()).size === 0;
    await handle.appendFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (created) await syncDirectory(dirname(path));
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new CheckpointError(`Cannot read ${path}`, true, { cause: error });
  }
}

function parseJournal(text: string, path: string): JournalState {
  const records = new Map<string, CopiedCollection>();
  const lines = text.split('\n');
  // A text ending with a newline splits into a last empty string; anything else there is a
  // line torn by a crash during an append.
  const complete = lines.slice(0, -1);
  complete.forEach((line, index) => {
    let parsed: unknown;
    try {
      parsed = BSON.EJSON.parse(line, { relaxed: false });
    } catch (error) {
      throw invalid(path, index, error);
    }
    if (!isCopiedCollection(parsed)) throw invalid(path, index, undefined);
    records.set(parsed.sourceNs, withNumericEstimates(parsed));
  });
  return { lines: complete.length, torn: lines.at(-1) !== '', records };
}

function invalid(path: string, index: number, cause: unknown): CheckpointError {
  return new CheckpointError(`Line ${index + 1} of the copy state file ${path} is invalid`, false, {
    ...(cause === undefined ? {} : { cause }),
    hint: 'Delete the checkpoint (checkpoint reset) and copy again'
  });
}
