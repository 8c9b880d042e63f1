/**
 * CollectionExecutor: the full copy's data mover. Several readers each take the next `_id` range
 * ({@link IdRange}) and read it with one cursor; they hand chunks of documents to a bounded queue
 * (by chunks and bytes, so memory stays bounded whatever the collection); several writers take
 * chunks and insert them with unordered `insertMany` into the target namespace.
 *
 * Exactness: documents are read raw and decoded with their exact BSON types (Int32 stays Int32),
 * so the target receives byte-equal documents. A range is reported done (`range` event) only once
 * every one of its documents is on the target; a checkpoint that records done ranges therefore
 * never skips a document, and a range that was not done is copied again on resume, where the
 * duplicates it meets are its own earlier writes and are replaced.
 *
 * Duplicates: an `_id` already on the target follows `onDuplicate` (`'fail'` stops with a
 * {@link TargetWriteError} naming it; `'replace'` overwrites it with the source document). In a
 * resumed range, and on a retried chunk, duplicates are always replaced: they are this copy's own.
 */
import { setMaxListeners } from 'node:events';

import { BSON, type Document } from 'mongodb';

import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { type ReplicationError } from '../errors.js';
import { BoundedQueue } from '../lifecycle/bounded-queue.js';
import { Stage } from '../lifecycle/stage.js';
import { insertChunk } from './chunk-writer.js';
import {
  type CollectionExecutorEvents,
  type CollectionExecutorOptions,
  type CopyTask,
  resolveCollectionExecutorOptions,
  type ResolvedCollectionExecutorOptions
} from './collection-executor-options.js';
import { copyTotals, NamespaceCopyStats, type OverallCopyCounts } from './copy-stats.js';
import { readRange } from './range-reader.js';

export {
  collectionExecutorDefaults,
  type CollectionExecutorEvents,
  type CollectionExecutorOptions,
  type CopyProgressEvent,
  type CopyTask,
  type CopyTotals,
  type DuplicatePolicy,
  type RangeCopiedEvent
} from './collection-executor-options.js';
import { sideError } from '../lifecycle/side-errors.js';

/** Documents of one range on their way to the target, as raw BSON until a writer takes them. */
interface Chunk {
  readonly task: TaskState;
  readonly documents: Uint8Array[];
  readonly bytes: number;
}

/** A range being copied: done once its reader ended and every chunk it produced is written. */
interface TaskState {
  readonly task: CopyTask;
  pendingChunks: number;
  readerDone: boolean;
  documents: number;
  bytes: number;
}

/**
 * Copies `_id` ranges of source collections into target namespaces with parallel readers and
 * writers; see the module comment for the rules.
 *
 * @example
 * ```ts
 * const executor = new CollectionExecutor({ source, target, tasks, onDuplicate: 'fail' });
 * executor.on('range', e => checkpoint.markDone(e.task));
 * executor.on('progress', p => console.log(p.namespace, p.documents, '/', p.estimatedDocuments));
 * await executor.start();
 * await executor.done; // every task copied
 * ```
 * @public
 */
export class CollectionExecutor extends Stage<CollectionExecutorEvents> {
  /** The resolved options. */
  readonly options: Readonly<ResolvedCollectionExecutorOptions>;
  readonly #chunks: BoundedQueue<Chunk>;
  readonly #stats = new Map<string, NamespaceCopyStats>();
  readonly #overall: OverallCopyCounts = { documents: 0, estimatedDocuments: 0 };
  #nextTask = 0;
  readonly #startedAt = performance.now();
  #readersStopping = false;
  #work: Promise<void> | undefined;

  /**
   * @param options - See {@link CollectionExecutorOptions}.
   * @throws {@link InvalidConfigError} for an invalid option (before any I/O)
   */
  constructor(options: CollectionExecutorOptions) {
    super('collection-executor', options);
    this.options = resolveCollectionExecutorOptions(options);
    this.#chunks = new BoundedQueue<Chunk>(
      this.options.bufferMaxChunks,
      this.options.bufferMaxBytes
    );
    for (const task of this.options.tasks) {
      let stats = this.#stats.get(task.targetNs);
      if (stats === undefined) {
        stats = new NamespaceCopyStats(task.range.namespace, task.targetNs, this.#overall);
        this.#stats.set(task.targetNs, stats);
      }
      stats.addRange(task.range.estimatedDocuments);
    }
  }

  /** Documents and bytes copied so far, per target namespace. */
  get copied(): ReadonlyMap<string, { readonly documents: number; readonly bytes: number }> {
    return new Map(
      [...this.#stats].map(([ns, s]) => [ns, { documents: s.documents, bytes: s.bytes }])
    );
  }

  /** Nothing to open: the host connected the clients. */
  protected async open(): Promise<void> {}

  /** Runs the readers and writers until every task is copied. */
  protected run(signal: AbortSignal): Promise<void> {
    // Every reader and writer waits on the queue with this signal at once: expected, not a leak.
    setMaxListeners(this.options.readers + this.options.writers + 16, signal);
    this.#work = this.#runAll(signal);
    return this.#work;
  }

  async #runAll(signal: AbortSignal): Promise<void> {
    const { readers, writers } = this.options;
    const readersDone = Promise.all(
      Array.from({ length: readers }, () => this.#readerLoop(signal))
    ).finally(() => this.#chunks.close());
    const writersDone = Promise.all(
      Array.from({ length: writers }, () => this.#writerLoop(signal))
    );
    await Promise.all([readersDone, writersDone]);
  }

  /** Graceful stop: readers stop at their next chunk, writers write what is queued. */
  protected drain(): Promise<void> {
    this.#readersStopping = true;
    return this.#work ?? Promise.resolve();
  }

  /** Anything not already typed is a {@link TargetWriteError}. */
  protected toReplicationError(error: unknown): ReplicationError {
    return sideError('target', error, { action: 'The full copy', retryable: false });
  }

  async #readerLoop(signal: AbortSignal): Promise<void> {
    const { tasks } = this.options;
    while (!this.#readersStopping && this.#nextTask < tasks.length) {
      signal.throwIfAborted();
      const state: TaskState = {
        task: tasks[this.#nextTask++]!,
        pendingChunks: 0,
        readerDone: false,
        documents: 0,
        bytes: 0
      };
      await this.#readTask(state, signal);
      if (this.#readersStopping) return; // a stopped range is not done: it is copied again on resume
      state.readerDone = true;
      this.#maybeDone(state);
    }
  }

  async #readTask(state: TaskState, signal: AbortSignal): Promise<void> {
    const { source, readBatchSize, chunkDocuments, chunkBytes, retry } = this.options;
    let documents: Uint8Array[] = [];
    let bytes = 0;
    const flush = async (): Promise<boolean> => {
      if (documents.length === 0) return true;
      const chunk: Chunk = { task: state, documents, bytes };
      documents = [];
      bytes = 0;
      state.pendingChunks++;
      const accepted = await this.#chunks.push(chunk, chunk.bytes, signal);
      if (!accepted) state.pendingChunks--;
      return accepted;
    };
    await readRange({
      source,
      range: state.task.range,
      uuid: state.task.sourceUuid,
      logger: this.logger,
      batchSize: readBatchSize,
      signal,
      retry: (operation, fn) => this.retry(operation, fn, retry),
      onDocument: async raw => {
        documents.push(raw);
        bytes += raw.byteLength;
        if (documents.length >= chunkDocuments || bytes >= chunkBytes) {
          if (!(await flush()) || this.#readersStopping) return false;
        }
        return true;
      }
    });
    if (!this.#readersStopping) await flush();
  }

  async #writerLoop(signal: AbortSignal): Promise<void> {
    const { target, onDuplicate, writeConcern, bypassDocumentValidation, retry, beforeWrite } =
      this.options;
    const { throttle } = this.options;
    for (;;) {
      const chunk = await this.#chunks.shift(signal);
      if (chunk === undefined) return;
      const { task } = chunk.task;
      const insert = (raws: readonly Uint8Array[]) =>
        insertChunk({
          target,
          targetNs: task.targetNs,
          documents: raws.map(raw => BSON.deserialize(raw, EXACT_DECODE_OPTIONS) as Document),
          onDuplicate: task.resumed ? 'replace' : onDuplicate,
          writeConcern,
          bypassDocumentValidation,
          beforeWrite,
          retry: (operation, fn) => this.retry(operation, fn, retry)
        });
      const stats = this.#stats.get(task.targetNs)!;
      const record = (count: number, bytes: number, replaced: number) => {
        chunk.task.documents += count;
        chunk.task.bytes += bytes;
        stats.record(count, bytes, replaced);
        this.#emitProgress(stats);
      };
      if (throttle === undefined) {
        record(chunk.documents.length, chunk.bytes, await insert(chunk.documents));
      } else {
        // Pieces of one grant each, so the copy follows the rate limit smoothly (and reports
        // its progress as it goes).
        for (const piece of throttle.split(chunk.documents, raw => raw.byteLength)) {
          const bytes = piece.reduce((sum, raw) => sum + raw.byteLength, 0);
          const replaced = await throttle.write(piece.length, bytes, signal, () => insert(piece));
          record(piece.length, bytes, replaced);
        }
      }
      chunk.task.pendingChunks--;
      this.#maybeDone(chunk.task);
    }
  }

  #maybeDone(state: TaskState): void {
    if (!state.readerDone || state.pendingChunks > 0) return;
    const stats = this.#stats.get(state.task.targetNs)!;
    stats.rangeDone();
    this.safeEmit('range', {
      task: state.task,
      documents: state.documents,
      bytes: state.bytes,
      namespaceDone: stats.rangesDone === stats.rangesTotal
    });
    this.#emitProgress(stats);
  }

  #emitProgress(stats: NamespaceCopyStats): void {
    if (this.listenerCount('progress') === 0) return;
    this.safeEmit('progress', stats.event(copyTotals(this.#overall, this.#startedAt)));
  }
}
