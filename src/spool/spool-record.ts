/**
 * The record format of the oplog spool. Each record is a 16-byte little-endian header followed
 * by the raw BSON of one oplog entry:
 *
 * ```
 *  [u32 payload length][u32 crc32][u32 ts.t][u32 ts.i][payload: the entry's BSON]
 * ```
 *
 * The CRC covers the payload and then the 8 bytes of `ts`, so a flipped bit in the optime is
 * caught as surely as one in the document (the optime decides ordering and what is skipped).
 */
import { crc32 } from 'node:zlib';

import { Timestamp } from 'mongodb';

/**
 * Bytes of a record header.
 * @internal
 */
export const RECORD_HEADER_BYTES = 16;

/**
 * The smallest payload: an empty BSON document.
 * @internal
 */
export const MIN_RECORD_PAYLOAD_BYTES = 5;

/**
 * The largest payload accepted. No oplog entry exceeds 16 MiB plus a little overhead, so a
 * larger length in a header can only be corruption; the bound also keeps a corrupt length from
 * making a reader allocate gigabytes.
 * @internal
 */
export const MAX_RECORD_PAYLOAD_BYTES = 64 * 1024 * 1024;

/**
 * One entry in the spool: its raw BSON and its optime.
 * @public
 */
export interface SpooledEntry {
  /** The entry exactly as the source returned it (a BSON document). */
  readonly raw: Uint8Array;
  /** The entry's `ts`, which orders the spool. */
  readonly ts: Timestamp;
}

/**
 * What a record header says, before the payload is checked.
 * @internal
 */
export interface RecordHeader {
  /** Bytes of the payload that follows the header. */
  readonly length: number;
  /** The stored checksum. */
  readonly crc: number;
  /** The entry's optime. */
  readonly ts: Timestamp;
}

/**
 * Bytes `entry` takes on disk, header included.
 * @internal
 */
export function recordBytes(entry: SpooledEntry): number {
  return RECORD_HEADER_BYTES + entry.raw.byteLength;
}

/**
 * Writes `entry` as one record into `target` at `offset`; returns the offset after it.
 * @internal
 */
export function encodeRecord(entry: SpooledEntry, target: Buffer, offset: number): number {
  const { raw, ts } = entry;
  target.writeUInt32LE(raw.byteLength, offset);
  target.writeUInt32LE(ts.t, offset + 8);
  target.writeUInt32LE(ts.i, offset + 12);
  target.writeUInt32LE(checksum(raw, target.subarray(offset + 8, offset + 16)), offset + 4);
  target.set(raw, offset + RECORD_HEADER_BYTES);
  return offset + RECORD_HEADER_BYTES + raw.byteLength;
}

/**
 * Reads the header at `offset` of `source` (which must hold at least {@link RECORD_HEADER_BYTES}
 * from there).
 * @internal
 */
export function decodeRecordHeader(source: Buffer, offset: number): RecordHeader {
  return {
    length: source.readUInt32LE(offset),
    crc: source.readUInt32LE(offset + 4),
    ts: new Timestamp({ t: source.readUInt32LE(offset + 8), i: source.readUInt32LE(offset + 12) })
  };
}

/**
 * Why the record at `offset` of `source` (header and whole payload present) is invalid, or
 * `undefined` when it is sound.
 * @internal
 */
export function recordProblem(source: Buffer, offset: number, length: number): string | undefined {
  const payloadStart = offset + RECORD_HEADER_BYTES;
  const payload = source.subarray(payloadStart, payloadStart + length);
  if (
    checksum(payload, source.subarray(offset + 8, offset + 16)) !== source.readUInt32LE(offset + 4)
  )
    return 'checksum mismatch';
  if (payload.readInt32LE(0) !== length) return 'payload is not one BSON document';
  return undefined;
}

/**
 * Why a header's payload length cannot be right, or `undefined` when it is plausible.
 * @internal
 */
export function lengthProblem(length: number): string | undefined {
  if (length < MIN_RECORD_PAYLOAD_BYTES) return `payload length ${length} is below 5 bytes`;
  if (length > MAX_RECORD_PAYLOAD_BYTES) return `payload length ${length} is over 64 MiB`;
  return undefined;
}

function checksum(payload: Uint8Array, tsBytes: Uint8Array): number {
  return crc32(tsBytes, crc32(payload));
}
