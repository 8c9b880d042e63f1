/**
 * Reads the records of one spool segment in chunks, so memory stays bounded by the chunk size
 * (or by one record, when a record is larger), and checks every record on the way.
 */
import { type FileHandle } from 'node:fs/promises';

import { type Timestamp } from 'mongodb';

import {
  decodeRecordHeader,
  lengthProblem,
  RECORD_HEADER_BYTES,
  recordProblem
} from './spool-record.js';

/**
 * One step through a segment: a sound record, or the point where the records stop being sound.
 * `torn` means the file ends inside a record (a write cut short); `corrupt` means the bytes are
 * there but wrong. Either one is the last item.
 * @internal
 */
export type SegmentItem =
  | {
      readonly kind: 'record';
      /** Where the record starts in the file. */
      readonly offset: number;
      /** Where the next record starts. */
      readonly end: number;
      readonly ts: Timestamp;
      /** A view into the reader's buffer, valid only until the next step: copy it to keep it. */
      readonly payload: Buffer;
    }
  | {
      readonly kind: 'torn' | 'corrupt';
      /** Where the bad record starts: the length of the sound prefix of the file. */
      readonly offset: number;
      readonly reason: string;
    };

/**
 * The records of `handle` between file offsets `start` (a record boundary) and `end`, read
 * `chunkBytes` at a time.
 * @internal
 */
export async function* readSegmentRecords(
  handle: FileHandle,
  start: number,
  end: number,
  chunkBytes: number
): AsyncGenerator<SegmentItem, void, void> {
  let buffer = Buffer.allocUnsafe(Math.max(RECORD_HEADER_BYTES, Math.min(chunkBytes, end - start)));
  /** The file offset of `buffer[0]`. */
  let bufferStart = start;
  /** Bytes of `buffer` holding file data. */
  let filled = 0;
  let position = start;

  /** Makes `buffer` hold at least `need` bytes from `position`; false if the file ends first. */
  const fill = async (need: number): Promise<boolean> => {
    const kept = bufferStart + filled - position;
    if (need > buffer.length) {
      const larger = Buffer.allocUnsafe(Math.max(need, chunkBytes));
      buffer.copy(larger, 0, position - bufferStart, filled);
      buffer = larger;
    } else {
      buffer.copy(buffer, 0, position - bufferStart, filled);
    }
    bufferStart = position;
    filled = kept;
    while (filled < need) {
      const room = Math.min(buffer.length - filled, end - (bufferStart + filled));
      if (room <= 0) return false;
      const { bytesRead } = await handle.read(buffer, filled, room, bufferStart + filled);
      if (bytesRead === 0) return false;
      filled += bytesRead;
    }
    return true;
  };

  while (position < end) {
    const available = bufferStart + filled - position;
    if (available < RECORD_HEADER_BYTES && !(await fill(RECORD_HEADER_BYTES))) {
      yield { kind: 'torn', offset: position, reason: 'the file ends inside a record header' };
      return;
    }
    const header = decodeRecordHeader(buffer, position - bufferStart);
    const badLength = lengthProblem(header.length);
    if (badLength !== undefined) {
      yield { kind: 'corrupt', offset: position, reason: badLength };
      return;
    }
    const total = RECORD_HEADER_BYTES + header.length;
    if (bufferStart + filled - position < total && !(await fill(total))) {
      yield { kind: 'torn', offset: position, reason: 'the file ends inside a record' };
      return;
    }
    const at = position - bufferStart;
    const problem = recordProblem(buffer, at, header.length);
    if (problem !== undefined) {
      yield { kind: 'corrupt', offset: position, reason: problem };
      return;
    }
    const payload = buffer.subarray(at + RECORD_HEADER_BYTES, at + total);
    yield { kind: 'record', offset: position, end: position + total, ts: header.ts, payload };
    position += total;
  }
}
