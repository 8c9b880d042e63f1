/**
 * Recovery of an existing oplog spool when it is opened: every record of every segment is
 * checked (length, checksum, BSON size, increasing optimes). Only the newest segment can have
 * been cut short by a crash, since older ones were flushed before the next one was created, so a
 * bad tail there is truncated with a warning, while a bad byte anywhere else is a {@link SpoolError}.
 */
import { open } from 'node:fs/promises';

import { type Timestamp } from 'mongodb';

import { SpoolError } from '../errors.js';
import { type Logger } from '../logger.js';
import { compareOptimes, formatOptime } from '../oplog/oplog-entry.js';
import { corruptSegment, spoolIoError } from './spool-errors.js';
import { listSegmentFiles, type SegmentInfo } from './spool-segment.js';
import { readSegmentRecords } from './spool-segment-reader.js';

/**
 * Checks the segments in `directory` and repairs a torn tail of the newest one; returns what is
 * known about each, oldest first.
 * @internal
 */
export async function recoverSegments(
  directory: string,
  chunkBytes: number,
  logger: Logger
): Promise<SegmentInfo[]> {
  const files = await listSegmentFiles(directory).catch((error: unknown) => {
    throw spoolIoError('list the oplog spool directory', directory, error);
  });
  const segments: SegmentInfo[] = [];
  let previous: Timestamp | undefined;
  for (const [index, file] of files.entries()) {
    const expected = (files[0]?.seq ?? 0) + index;
    if (file.seq !== expected) {
      throw corruptSegment(directory, file.path, 0, `segment ${expected} is missing`, previous);
    }
    const segment = await recoverSegment(directory, file, index === files.length - 1, {
      chunkBytes,
      logger,
      previous
    });
    previous = segment.lastTs ?? previous;
    segments.push(segment);
  }
  return segments;
}

async function recoverSegment(
  directory: string,
  file: { readonly seq: number; readonly path: string },
  newest: boolean,
  context: { chunkBytes: number; logger: Logger; previous: Timestamp | undefined }
): Promise<SegmentInfo> {
  const segment: SegmentInfo = { ...file, size: 0, firstTs: undefined, lastTs: undefined };
  let previous = context.previous;
  const handle = await open(file.path, newest ? 'r+' : 'r').catch((error: unknown) => {
    throw spoolIoError('open oplog spool segment', file.path, error);
  });
  try {
    const { size } = await handle.stat();
    for await (const item of readSegmentRecords(handle, 0, size, context.chunkBytes)) {
      if (item.kind === 'record') {
        if (previous !== undefined && compareOptimes(item.ts, previous) <= 0) {
          const order = `optime ${formatOptime(item.ts)} does not follow ${formatOptime(previous)}`;
          throw corruptSegment(directory, file.path, item.offset, order, previous);
        }
        segment.firstTs ??= item.ts;
        segment.lastTs = previous = item.ts;
        segment.size = item.end;
        continue;
      }
      if (!newest) throw corruptSegment(directory, file.path, item.offset, item.reason, previous);
      await handle.truncate(item.offset);
      context.logger.warn('Dropped the torn tail of the oplog spool left by an interrupted write', {
        segment: file.path,
        droppedBytes: size - item.offset,
        reason: item.reason,
        ...(previous === undefined ? {} : { lastOptime: formatOptime(previous) })
      });
    }
    // The newest segment may hold data a crashed process never flushed; it is about to become
    // an older segment, which recovery trusts, so flush it now.
    if (newest) await handle.sync();
    return segment;
  } catch (error) {
    if (error instanceof SpoolError) throw error;
    throw spoolIoError('recover oplog spool segment', file.path, error);
  } finally {
    await handle.close();
  }
}
