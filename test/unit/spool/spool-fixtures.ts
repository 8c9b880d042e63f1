/** Entries, temporary directories and a recording logger for the oplog spool tests. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BSON, Timestamp } from 'mongodb';

/** What the spool stores for one entry. */
export interface Entry {
  readonly raw: Uint8Array;
  readonly ts: Timestamp;
}

/** An insert oplog entry at optime `t:i`, padded to roughly `pad` bytes more. */
export function entryAt(t: number, i: number, pad = 40): Entry {
  const ts = new Timestamp({ t, i });
  const raw = BSON.serialize({
    ts,
    op: 'i',
    ns: 'shop.orders',
    o: { _id: t * 1000 + i, pad: 'x'.repeat(pad) }
  });
  return { raw, ts };
}

/** `count` entries with increasing optimes, starting at `t:1`, padded by `padOf(n)`. */
export function entries(
  count: number,
  t = 1_700_000_000,
  padOf = (n: number) => 20 + (n % 7) * 30
): Entry[] {
  return Array.from({ length: count }, (_, n) =>
    entryAt(t + Math.floor(n / 3), (n % 3) + 1, padOf(n))
  );
}

/** `count` entries that all come after `last`. */
export function entriesAfter(last: Timestamp, count: number): Entry[] {
  return entries(count, last.t + 1);
}

/** Optimes as `t:i` strings, for readable assertions. */
export function optimes(list: readonly { readonly ts: Timestamp }[]): string[] {
  return list.map(({ ts }) => `${ts.t}:${ts.i}`);
}

/** Everything an async iterable yields. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** A fresh directory under the OS temp directory, and its clean-up. */
export async function tempDirectory(prefix = 'mr-spool-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Removes a directory made by {@link tempDirectory}. */
export async function removeDirectory(directory: string): Promise<void> {
  await rm(directory, { recursive: true, force: true });
}

/** The segment files of a spool directory, oldest first. */
export async function segmentPaths(directory: string): Promise<string[]> {
  const names = (await readdir(directory)).filter(name => name.endsWith('.spool')).sort();
  return names.map(name => join(directory, name));
}

export { recordingLogger } from '../../support/recording-logger.js';
