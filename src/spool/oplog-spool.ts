/**
 * OplogSpool: a durable, append-only queue of oplog entries on disk. During a full copy the
 * source's oplog is fetched into it, so no entry is lost if the source truncates its oplog
 * before the copy ends, nor if this process crashes; afterwards it is read back in order.
 *
 * ```
 *  directory/
 *    0000000000000001.spool   [record][record]…   flushed when the next segment was created
 *    0000000000000002.spool   [record][record]…   the newest: appends go here
 *  record = [u32 length][u32 crc32][u32 ts.t][u32 ts.i][raw BSON]   (see spool-record.ts)
 * ```
 */
import { type FileHandle, mkdir, open, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

import { type Timestamp } from 'mongodb';

import { SpoolError } from '../errors.js';
import { syncDirectory } from '../lifecycle/durable-files.js';
import { compareOptimes, formatOptime } from '../oplog/oplog-entry.js';
import {
  type OplogSpoolOptions,
  type ResolvedOplogSpoolOptions,
  resolveOplogSpoolOptions
} from './oplog-spool-options.js';
import { corruptSegment, spoolClosed, spoolIoError } from './spool-errors.js';
import { readHorizon, removeHorizon, writeHorizon } from './spool-horizon.js';
import { acquireSpoolLock, type SpoolLock } from './spool-lock.js';
import {
  encodeRecord,
  MAX_RECORD_PAYLOAD_BYTES,
  recordBytes,
  type SpooledEntry
} from './spool-record.js';
import { recoverSegments } from './spool-recovery.js';
import { listSegmentFiles, segmentFileName, type SegmentInfo } from './spool-segment.js';
import { readSegmentRecords } from './spool-segment-reader.js';

export { oplogSpoolDefaults, type OplogSpoolOptions } from './oplog-spool-options.js';
export { type SpooledEntry } from './spool-record.js';

/**
 * Options of {@link OplogSpool.read}.
 * @public
 */
export interface SpoolReadOptions {
  /**
   * Keep waiting for entries appended later, until {@link OplogSpool.endFollow} is called;
   * then end after the last entry.
   * @defaultValue false: end at the last entry on disk
   */
  follow?: boolean;
  /** Aborting makes the iteration throw the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A durable on-disk queue of oplog entries, in segment files of a directory.
 *
 * @remarks
 * Entries are appended in strictly increasing optime order and are durable once `sync()` has
 * resolved (or the spool was closed). Opening an existing spool checks every record: a torn
 * tail of the newest segment, left by a crash in the middle of a write, is dropped with a
 * warning; damage anywhere else is a {@link SpoolError}, because entries would be lost.
 *
 * One process at a time may open a directory: it is locked with a `LOCK` file unless `lock: false`.
 *
 * @example
 * ```ts
 * const spool = await OplogSpool.open('/var/lib/replicator/spool');
 * await spool.append(entries);           // from the fetcher, in oplog order
 * await spool.sync();
 * for await (const { raw, ts } of spool.read(checkpoint.lastApplied)) apply(raw, ts);
 * await spool.destroy();
 * ```
 * @public
 */
export class OplogSpool {
  /** The spool's directory. */
  readonly directory: string;
  readonly #options: ResolvedOplogSpoolOptions;
  /** Oldest first; consecutive sequence numbers; the last one takes the appends. */
  readonly #segments: SegmentInfo[];
  /** The newest segment, open for writing; opened on the first write. */
  #writer: FileHandle | undefined;
  /** A segment was created since the directory was last flushed. */
  #directoryDirty = false;
  /** Appends, syncs, discards and close run one at a time, in call order. */
  #queue: Promise<void> = Promise.resolve();
  /** The optime of the last entry `append()` accepted, written or not. */
  #accepted: Timestamp | undefined;
  /** Appends accepted and not yet settled. */
  #appending = 0;
  #bytes: number;
  /** The newest optime of a discarded segment: reads after an earlier optime would miss entries. */
  #discardedThrough: Timestamp | undefined;
  /** A write failed: the file may end in a partial record, so nothing more is appended. */
  #failure: SpoolError | undefined;
  #followEnded = false;
  #closing: Promise<void> | undefined;
  /** Keeps other processes out of the directory until close. */
  readonly #lock: SpoolLock;
  /** Readers waiting for an append, `endFollow()` or `close()`. */
  readonly #waiters = new Set<() => void>();

  private constructor(
    directory: string,
    options: ResolvedOplogSpoolOptions,
    segments: SegmentInfo[],
    lock: SpoolLock,
    horizon: Timestamp | undefined
  ) {
    this.#lock = lock;
    this.#discardedThrough = horizon;
    this.directory = directory;
    this.#options = options;
    this.#segments = segments;
    this.#bytes = segments.reduce((sum, segment) => sum + segment.size, 0);
    this.#accepted = this.lastOptime;
  }

  /**
   * Opens the spool in `directory`, creating the directory if needed. An existing spool is
   * recovered: every record is checked, and a torn tail of the newest segment is truncated
   * (logged as a warning with the bytes dropped).
   * @throws {@link InvalidConfigError} on an invalid option
   * @throws {@link SpoolError} when a segment is damaged or a file cannot be read
   */
  static async open(directory: string, options: OplogSpoolOptions = {}): Promise<OplogSpool> {
    const resolved = resolveOplogSpoolOptions(directory, options);
    try {
      await mkdir(directory, { recursive: true });
    } catch (error) {
      throw spoolIoError('create the oplog spool directory', directory, error);
    }
    const lock: SpoolLock = resolved.lock
      ? await acquireSpoolLock(directory)
      : { release: () => Promise.resolve() };
    try {
      const segments = await recoverSegments(directory, resolved.readChunkBytes, resolved.logger);
      // Segment files a crashed process created may not be durable in the directory yet.
      if (segments.length > 0) await syncDirectory(directory);
      const horizon = await readHorizon(directory);
      return new OplogSpool(directory, resolved, segments, lock, horizon);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** The optime of the oldest entry in the spool, or `undefined` when it is empty. */
  get firstOptime(): Timestamp | undefined {
    for (const segment of this.#segments) if (segment.firstTs) return segment.firstTs;
    return undefined;
  }

  /** True once `close()` was called: the spool takes no more reads, writes or discards. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** The optime of the newest entry written, or `undefined` when the spool is empty. */
  get lastOptime(): Timestamp | undefined {
    for (let index = this.#segments.length - 1; index >= 0; index--) {
      const last = this.#segments[index]?.lastTs;
      if (last) return last;
    }
    return undefined;
  }

  /** Bytes of records on disk, in all segments. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Appends `entries` with one write per segment they land in (one, unless a segment fills).
   * They are durable after the next {@link OplogSpool.sync}.
   * @throws {@link SpoolError} when an entry's optime is not after the one before it (or after
   * {@link OplogSpool.lastOptime}), an entry is not one BSON document, or the write fails (the
   * spool then refuses further appends; reopen it)
   */
  async append(entries: readonly SpooledEntry[]): Promise<void> {
    this.#assertWritable();
    if (entries.length === 0) return;
    let previous = this.#accepted;
    for (const [index, entry] of entries.entries()) {
      checkEntry(entry, index, previous);
      previous = entry.ts;
    }
    this.#accepted = previous;
    this.#appending++;
    try {
      await this.#serially(() => this.#write(entries));
    } finally {
      this.#appending--;
      this.#wakeReaders();
    }
  }

  /** Flushes the newest segment to disk, and the directory if a segment was created. */
  async sync(): Promise<void> {
    this.#assertWritable();
    await this.#serially(() => this.#flush());
  }

  /**
   * The entries with an optime after `after` (all of them without it), oldest first, read a
   * chunk at a time. Entries appended while reading are included; with `follow`, the iteration
   * waits for more until {@link OplogSpool.endFollow} is called.
   *
   * @remarks
   * Each yielded `raw` is a copy the caller may keep. The iteration throws a
   * {@link SpoolError} if the spool is closed while it runs, if a record no longer checks out,
   * or if entries it has not reached yet were discarded.
   */
  async *read(
    after?: Timestamp,
    options: SpoolReadOptions = {}
  ): AsyncGenerator<SpooledEntry, void, undefined> {
    const { follow = false, signal } = options;
    this.#assertOpen();
    if (after && this.#discardedThrough && compareOptimes(after, this.#discardedThrough) < 0) {
      throw new SpoolError(
        `Cannot read the oplog spool after ${formatOptime(after)}: entries up to ${formatOptime(this.#discardedThrough)} were discarded`,
        {
          optime: after,
          path: this.directory,
          hint: 'Read from a checkpoint at or after the discarded optime'
        }
      );
    }
    let { segment, offset } = this.#readStart(after);
    let handle: FileHandle | undefined;
    try {
      for (;;) {
        signal?.throwIfAborted();
        this.#assertOpen();
        segment ??= this.#segments[0];
        if (segment !== undefined && offset < segment.size) {
          handle ??= await openForReading(segment.path);
          const end = segment.size;
          for await (const item of readSegmentRecords(
            handle,
            offset,
            end,
            this.#options.readChunkBytes
          )) {
            if (item.kind !== 'record') {
              throw corruptSegment(
                this.directory,
                segment.path,
                item.offset,
                item.reason,
                undefined
              );
            }
            offset = item.end;
            if (after !== undefined && compareOptimes(item.ts, after) <= 0) continue;
            yield { raw: Buffer.from(item.payload), ts: item.ts };
            signal?.throwIfAborted();
            this.#assertOpen();
          }
          continue;
        }
        const next = segment === undefined ? undefined : this.#segmentAfter(segment);
        if (next !== undefined) {
          await handle?.close();
          handle = undefined;
          segment = next;
          offset = 0;
          continue;
        }
        if (this.#failure) throw this.#failure;
        if (!follow || (this.#followEnded && this.#appending === 0)) return;
        await this.#nextChange(signal);
      }
    } finally {
      await handle?.close();
    }
  }

  /**
   * Lets following readers finish: once they reach the last entry (including appends still in
   * progress), their iteration ends instead of waiting.
   */
  endFollow(): void {
    this.#followEnded = true;
    this.#wakeReaders();
  }

  /**
   * Deletes every segment whose last entry is at or before `ts`, because a checkpoint has passed
   * it. The newest segment is kept, so the spool still knows its last optime after a restart.
   *
   * @remarks
   * The newest optime discarded (the horizon) is recorded durably first, in a `HORIZON` file:
   * the spool refuses a read that would need a discarded entry, also after a reopen.
   */
  async discardThrough(ts: Timestamp): Promise<void> {
    this.#assertOpen();
    await this.#serially(async () => {
      const doomed = this.#segments
        .slice(0, -1)
        .filter(segment => !segment.lastTs || compareOptimes(segment.lastTs, ts) <= 0);
      const horizon = doomed.findLast(segment => segment.lastTs)?.lastTs;
      if (horizon && !(this.#discardedThrough && !this.#discardedThrough.lessThan(horizon))) {
        await writeHorizon(this.directory, horizon);
      }
      while (this.#segments.length > 1) {
        const oldest = this.#segments[0]!;
        if (oldest.lastTs && compareOptimes(oldest.lastTs, ts) > 0) return;
        try {
          await rm(oldest.path, { force: true });
        } catch (error) {
          throw spoolIoError('delete oplog spool segment', oldest.path, error);
        }
        this.#segments.shift();
        this.#bytes -= oldest.size;
        if (oldest.lastTs) this.#discardedThrough = oldest.lastTs;
      }
    });
  }

  /**
   * Waits for appends in progress, flushes, and closes the files. Readers still iterating throw
   * a {@link SpoolError}. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // Settle the queue first: appends already accepted are written, then flushed below.
      await this.#queue;
      const writer = this.#writer;
      this.#writer = undefined;
      try {
        if (writer && !this.#failure) await writer.sync();
        if (this.#directoryDirty) await syncDirectory(this.directory);
        this.#directoryDirty = false;
      } catch (error) {
        throw spoolIoError('flush the oplog spool in', this.directory, error);
      } finally {
        await writer?.close();
        await this.#lock.release();
        this.#wakeReaders();
      }
    })();
    this.#wakeReaders();
    return this.#closing;
  }

  /** Closes the spool, deletes its segment files, then its directory if nothing else is in it. */
  async destroy(): Promise<void> {
    await this.close().catch(() => undefined);
    try {
      for (const file of await listSegmentFiles(this.directory))
        await rm(file.path, { force: true });
      await removeHorizon(this.directory);
      this.#segments.length = 0;
      this.#bytes = 0;
      await rmdir(this.directory);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        this.#options.logger.warn('Kept the oplog spool directory: it holds files of others', {
          directory: this.directory
        });
        return;
      }
      throw spoolIoError('delete the oplog spool in', this.directory, error);
    }
  }

  /** Same as {@link OplogSpool.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Runs `task` after everything queued before it, whether that succeeded or not. */
  #serially(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #write(entries: readonly SpooledEntry[]): Promise<void> {
    if (this.#failure) throw this.#failure;
    let path = this.directory;
    try {
      let index = 0;
      while (index < entries.length) {
        let segment = this.#segments.at(-1);
        const first = recordBytes(entries[index]!);
        if (!segment || (segment.size > 0 && segment.size + first > this.#options.segmentBytes)) {
          segment = await this.#roll();
        }
        path = segment.path;
        let bytes = first;
        let end = index + 1;
        for (; end < entries.length; end++) {
          const more = recordBytes(entries[end]!);
          if (segment.size + bytes + more > this.#options.segmentBytes) break;
          bytes += more;
        }
        const buffer = Buffer.allocUnsafe(bytes);
        for (let at = 0, k = index; k < end; k++) at = encodeRecord(entries[k]!, buffer, at);
        this.#writer ??= await open(segment.path, 'r+');
        await writeFully(this.#writer, buffer, segment.size);
        segment.size += bytes;
        segment.firstTs ??= entries[index]!.ts;
        segment.lastTs = entries[end - 1]!.ts;
        this.#bytes += bytes;
        index = end;
        this.#wakeReaders();
      }
    } catch (error) {
      this.#failure = spoolIoError('write oplog spool segment', path, error);
      throw this.#failure;
    }
  }

  /** Flushes and closes the newest segment, then creates the next one. */
  async #roll(): Promise<SegmentInfo> {
    const previous = this.#segments.at(-1);
    if (this.#writer) {
      const writer = this.#writer;
      this.#writer = undefined;
      try {
        await writer.sync();
      } finally {
        await writer.close();
      }
    }
    const seq = previous ? previous.seq + 1 : 1;
    const path = join(this.directory, segmentFileName(seq));
    this.#writer = await open(path, 'wx');
    this.#directoryDirty = true;
    const segment: SegmentInfo = { seq, path, size: 0, firstTs: undefined, lastTs: undefined };
    this.#segments.push(segment);
    return segment;
  }

  async #flush(): Promise<void> {
    if (this.#failure) throw this.#failure;
    try {
      await this.#writer?.sync();
      if (this.#directoryDirty) await syncDirectory(this.directory);
      this.#directoryDirty = false;
    } catch (error) {
      throw spoolIoError('flush the oplog spool in', this.directory, error);
    }
  }

  /** Where a read after `after` starts: the first segment that may hold a later entry. */
  #readStart(after: Timestamp | undefined): { segment: SegmentInfo | undefined; offset: number } {
    if (after === undefined) return { segment: this.#segments[0], offset: 0 };
    const segment = this.#segments.find(s => !s.lastTs || compareOptimes(s.lastTs, after) > 0);
    if (segment) return { segment, offset: 0 };
    const newest = this.#segments.at(-1);
    return { segment: newest, offset: newest?.size ?? 0 };
  }

  /** The segment after `segment`, if there is one yet. */
  #segmentAfter(segment: SegmentInfo): SegmentInfo | undefined {
    const oldest = this.#segments[0];
    if (oldest === undefined) return undefined;
    if (oldest.seq > segment.seq + 1) {
      throw new SpoolError(
        `Oplog spool segments were discarded before a reader reached them, after ${segment.path}`,
        {
          path: segment.path,
          hint: 'Call discardThrough() only with an optime every reader of the spool has passed'
        }
      );
    }
    return this.#segments[segment.seq + 1 - oldest.seq];
  }

  /** Resolves at the next append, `endFollow()` or `close()`; rejects when `signal` aborts. */
  #nextChange(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const onAbort = () => {
        this.#waiters.delete(wake);
        reject(signal?.reason as Error);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #wakeReaders(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  #assertOpen(): void {
    if (this.#closing) throw spoolClosed(this.directory);
  }

  #assertWritable(): void {
    this.#assertOpen();
    if (this.#failure) throw this.#failure;
  }
}

/** Rejects an entry that is out of order or not a BSON document, before anything is written. */
function checkEntry(entry: SpooledEntry, index: number, previous: Timestamp | undefined): void {
  const { raw, ts } = entry;
  if (previous !== undefined && compareOptimes(ts, previous) <= 0) {
    throw new SpoolError(
      `Entry ${index} of the batch has optime ${formatOptime(ts)}, which is not after ${formatOptime(previous)}`,
      { optime: ts, hint: 'Append entries once each, in strictly increasing optime order' }
    );
  }
  const size = raw.byteLength;
  const declared =
    size >= 4 ? new DataView(raw.buffer, raw.byteOffset, size).getInt32(0, true) : -1;
  if (size < 5 || size > MAX_RECORD_PAYLOAD_BYTES || declared !== size) {
    throw new SpoolError(
      `Entry ${index} of the batch (optime ${formatOptime(ts)}) is not one BSON document of at most 64 MiB`,
      { optime: ts, hint: 'Append the raw BSON of each oplog entry' }
    );
  }
}

async function openForReading(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SpoolError(`Oplog spool segment ${path} was discarded before a reader reached it`, {
        path,
        hint: 'Call discardThrough() only with an optime every reader of the spool has passed'
      });
    }
    throw spoolIoError('open oplog spool segment', path, error);
  }
}

async function writeFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buffer.length;) {
    const { bytesWritten } = await handle.write(
      buffer,
      done,
      buffer.length - done,
      position + done
    );
    if (bytesWritten === 0) throw new Error('the file system accepted no bytes');
    done += bytesWritten;
  }
}
