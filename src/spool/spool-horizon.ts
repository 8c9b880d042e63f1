/**
 * The spool's discard horizon: the newest optime of a segment deleted by `discardThrough`. It is
 * written (durably) before the segments go, so after a restart the spool still knows that a
 * read from before it would miss entries, and refuses it instead of silently starting later.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { Timestamp } from 'mongodb';

import { writeFileDurably } from '../lifecycle/durable-files.js';
import { spoolIoError } from './spool-errors.js';

const FILE = 'HORIZON';

/**
 * The stored horizon of the spool in `directory`, if any.
 * @throws {@link SpoolError} when the file cannot be read or is damaged
 * @internal
 */
export async function readHorizon(directory: string): Promise<Timestamp | undefined> {
  const path = join(directory, FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw spoolIoError('read the discard horizon', path, error);
  }
  const parsed = /^(\d+):(\d+)\s*$/.exec(text);
  if (!parsed) throw spoolIoError('read the discard horizon', path, new Error('not "t:i"'));
  return new Timestamp({ t: Number(parsed[1]), i: Number(parsed[2]) });
}

/**
 * Records `ts` as the horizon of the spool in `directory`.
 * @internal
 */
export async function writeHorizon(directory: string, ts: Timestamp): Promise<void> {
  const path = join(directory, FILE);
  try {
    await writeFileDurably(path, `${ts.t}:${ts.i}\n`);
  } catch (error) {
    throw spoolIoError('record the discard horizon', path, error);
  }
}

/**
 * Deletes the horizon file (the spool is destroyed).
 * @internal
 */
export async function removeHorizon(directory: string): Promise<void> {
  await rm(join(directory, FILE), { force: true });
}
