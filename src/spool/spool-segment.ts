/**
 * Segment files of the oplog spool: how they are named and found, and what the spool knows
 * about each one. A segment is named by its zero-padded sequence number, so a directory listing
 * sorts in spool order; numbers are consecutive, since only the oldest segments are ever deleted.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { type Timestamp } from 'mongodb';

const SEGMENT_NAME = /^(\d{16})\.spool$/;

/**
 * What the spool knows about one segment file. `size` counts only validated or written bytes.
 * @internal
 */
export interface SegmentInfo {
  /** The segment's sequence number. */
  readonly seq: number;
  /** The segment file. */
  readonly path: string;
  /** Bytes of whole records in the file. */
  size: number;
  /** The optime of its first record; `undefined` while it has none. */
  firstTs: Timestamp | undefined;
  /** The optime of its last record; `undefined` while it has none. */
  lastTs: Timestamp | undefined;
}

/**
 * The file name of segment `seq`.
 * @internal
 */
export function segmentFileName(seq: number): string {
  return `${String(seq).padStart(16, '0')}.spool`;
}

/**
 * The segment files in `directory`, oldest first; other files are ignored.
 * @internal
 */
export async function listSegmentFiles(
  directory: string
): Promise<{ readonly seq: number; readonly path: string }[]> {
  const found: { seq: number; path: string }[] = [];
  for (const name of await readdir(directory)) {
    const match = SEGMENT_NAME.exec(name);
    if (match) found.push({ seq: Number(match[1]), path: join(directory, name) });
  }
  return found.sort((a, b) => a.seq - b.seq);
}
