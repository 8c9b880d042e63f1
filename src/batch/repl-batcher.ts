/**
 * ReplBatcher: turns the fetched oplog stream into batches the applier pool applies as units, the
 * job of a MongoDB secondary's ReplBatcher thread (`SyncTail::tryPopAndWaitForMore`).
 *
 * ```
 *               entry (CRUD / noop / skipped / held txn entry)
 *               ┌────────┐
 *               ▼        │        ops ≥ maxOps, bytes ≥ maxBytes,
 *   empty ──► filling ───┴──────► maxFillMs since its first entry, ──► flush ──► empty
 *     ▲          │                or the input ended
 *     │          │ DDL entry: flush the CRUD ops first (reason 'ddl'),
 *     │          ├──────────► then the DDL travels alone as a `ddl` batch ─────────────┤
 *     │          │ transaction ('preserve'): flush the CRUD ops first (reason 'txn'),  │
 *     │          └──────────► then its writes travel alone as a `txn` batch ───────────┘
 *     └──── input closed and drained: flush ('inputEnd'), close the output, stop
 * ```
 *
 * Per entry, in oplog order:
 * - `i`/`u`/`d`: the namespace goes through the filter; kept operations join the batch renamed,
 *   filtered ones are counted in `skipped`. `fromMigrate` entries are skipped (counted).
 * - `n`: counted in `skipped`; it only moves `lastOptime`. A quiet stream still flushes it (as a
 *   `progress` batch, `maxFillMs` after it arrived), so the checkpoint keeps up; on a busy stream
 *   noops ride along in CRUD batches instead of producing one batch each.
 * - `applyOps`, `commitTransaction`, `abortTransaction`: through {@link TransactionAssembler}.
 *   What one entry releases (a transaction, a chain at its commit, a batched delete) is one unit
 *   that is never split across batches, even past `maxOps`/`maxBytes`: a secondary applies a
 *   transaction in one batch, and the `'preserve'` transaction mode needs it whole. When a unit
 *   would overflow the current batch, that batch is flushed first. The one exception is a command
 *   inside a transaction (MongoDB 4.4+ can create collections in one): it must run alone like any
 *   DDL, so the unit is split around it.
 * - With `transactions: 'preserve'`, a unit released by an entry with a session (`lsid`: a real
 *   transaction, not a batched write) does not join the CRUD batch: the batch so far is flushed
 *   (reason `'txn'`) and the unit travels alone as a `txn` batch, which the applier writes in one
 *   target transaction. A command inside it still splits it (the atomicity is lost around it).
 * - Any other `c` entry is DDL: the batch so far is flushed, then the command (renamed by
 *   {@link toTargetCommand}) travels alone. A DDL with nothing to replay (index build start,
 *   filtered namespace) is counted in `skipped`.
 * - Anything malformed or unknown fails the stage with {@link UnsupportedOplogEntryError}.
 *
 * Checkpoints: every batch's `checkpointOptime` is its `lastOptime`, unless a `partialTxn` chain
 * is held; then it is the entry just before the oldest held chain ({@link ResumePoint}). A batch
 * whose `checkpointOptime` is the optime of the last entry taken carries that entry's change-stream
 * `resumeToken`, when it has one.
 *
 * Backpressure: while the output is full the batcher waits in `push` and takes no input, so the
 * fetcher's queue fills and the fetcher waits in turn.
 */
import { BSON, type Document, type Timestamp } from 'mongodb';

import { ReplicationError, UnsupportedOplogEntryError } from '../errors.js';
import { BoundedQueue } from '../lifecycle/bounded-queue.js';
import { Stage, type StageEvents } from '../lifecycle/stage.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import {
  type NamespaceMapper,
  shardCollectionEntry,
  type TargetCommand,
  toTargetCommand
} from '../oplog/ddl-ops.js';
import { type CommandEntry, compareOptimes, type OplogEntry } from '../oplog/oplog-entry.js';
import { documentIdOf } from '../oplog/oplog-entry-bytes.js';
import { shardEntriesOf } from '../oplog/shard-entries.js';
import { TRANSACTION_COMMANDS } from '../oplog/transactions.js';
import {
  type ApplyBatch,
  type ApplyBatchBase,
  type CrudOp,
  type DdlBatch,
  type FetchedEntry,
  type SkippedOperations,
  type TxnBatch
} from '../pipeline/pipeline-items.js';
import { PendingBatch, type TakenBatch } from './pending-batch.js';
import {
  type ReplBatcherOptions,
  type ResolvedReplBatcherOptions,
  resolveReplBatcherOptions
} from './repl-batcher-options.js';
import { ResumePoint } from './resume-point.js';

export {
  replBatcherDefaults,
  type ReplBatcherOptions,
  type ResolvedReplBatcherOptions,
  type TransactionMode
} from './repl-batcher-options.js';

/**
 * Why a batch was flushed.
 * - `'maxOps'`, `'maxBytes'`: the batch reached a limit, or the next unit would have crossed it.
 * - `'maxFillMs'`: the batch's first entry arrived `maxFillMs` ago.
 * - `'ddl'`: a DDL batch, or the CRUD batch flushed ahead of one.
 * - `'txn'`: a `txn` batch (`transactions: 'preserve'`), or the CRUD batch flushed ahead of one.
 * - `'inputEnd'`: the input was closed and drained.
 * - `'progress'`: a batch with nothing to write (noops, skipped entries) flushed on the fill
 *   timer, so the checkpoint advances on a quiet or filtered stream.
 * @public
 */
export type ReplBatchReason =
  'maxOps' | 'maxBytes' | 'maxFillMs' | 'ddl' | 'txn' | 'inputEnd' | 'progress';

/**
 * Payload of the `batch` event of {@link ReplBatcher}: a batch entered the output queue.
 * @public
 */
export interface ReplBatchEvent {
  /** The batch's kind. */
  readonly kind: ApplyBatch['kind'];
  /** Writes in the batch (0 for `ddl` and `progress` batches). */
  readonly ops: number;
  /** BSON bytes of those writes. */
  readonly bytes: number;
  /** Optime of the first source entry the batch covers. */
  readonly firstOptime: Timestamp;
  /** Optime of the last source entry the batch covers. */
  readonly lastOptime: Timestamp;
  /** The optime a checkpoint may record once the batch is applied. */
  readonly checkpointOptime: Timestamp;
  /** Source entries or operations covered with nothing to apply. */
  readonly skipped: number;
  /** Of `skipped`, the operations `filter.skip` kept from the target; absent when none. */
  readonly skippedOperations?: SkippedOperations;
  /** Why the batch was flushed. */
  readonly reason: ReplBatchReason;
}

/**
 * Events of {@link ReplBatcher}.
 * @public
 */
export interface ReplBatcherEvents extends StageEvents {
  /** A batch entered the output queue (after any wait for room in it). */
  batch: (event: ReplBatchEvent) => void;
}

/** The `skippedOperations` field counting a skipped write of each oplog kind. */
const SKIPPED_KIND = { i: 'inserts', u: 'updates', d: 'deletes' } as const;

/** The abort reason of a fill-timer wait: "stop waiting for input, flush". */
const FILL_TIMEOUT = Symbol('maxFillMs');

/** The filter as a {@link NamespaceMapper}: `db.$cmd` (dropDatabase) asks for the whole db. */
function mapperOf(filter: NamespaceFilter): NamespaceMapper {
  return ns => {
    if (!ns.endsWith('.$cmd')) return filter.map(ns);
    const target = filter.mapDatabase(ns.slice(0, -'.$cmd'.length));
    return target === null ? null : `${target}.$cmd`;
  };
}

/** The name of the command a {@link TargetCommand} runs (its first key). */
function commandName(command: TargetCommand): string {
  return Object.keys(command.command)[0] ?? '';
}

/** A batch's `skipped` and, when `filter.skip` dropped something, `skippedOperations`. */
function skippedFields(taken: TakenBatch): Pick<ApplyBatchBase, 'skipped' | 'skippedOperations'> {
  const { skipped, skippedOperations } = taken;
  return skippedOperations === undefined ? { skipped } : { skipped, skippedOperations };
}

/** An `applyOps` whose operations wait for a later entry of their transaction. */
function isHeld(entry: OplogEntry): boolean {
  return (
    entry.op === 'c' &&
    entry.command === 'applyOps' &&
    (entry.o.partialTxn === true || entry.o.prepare === true)
  );
}

/**
 * Groups fetched oplog entries into {@link ApplyBatch}es: CRUD operations batched by count, bytes
 * and fill time; each DDL command alone; transactions whole (and, in the `'preserve'`
 * transaction mode, each alone as a `txn` batch).
 *
 * @remarks
 * See the flush rules at the top of `repl-batcher.ts`. The batcher keeps oplog order: batches
 * leave in order, operations inside a batch are in source order.
 *
 * `stop()` closes the input (the fetcher's `push` then resolves `false`), batches what is left,
 * flushes, and closes {@link ReplBatcher.output}. The output is also closed when the batcher
 * fails or is aborted, so a consumer waiting on it never hangs; a transaction chain still held
 * then is not applied, and the checkpoint does not pass its first entry.
 *
 * @example
 * ```ts
 * const batcher = new ReplBatcher({ input: fetcher.output, filter, maxOps: 1_000 });
 * batcher.on('batch', e => metrics.batchOps.observe(e.ops));
 * await batcher.start();
 * for await (const batch of batcher.output) await applier.apply(batch);
 * ```
 * @public
 */
export class ReplBatcher extends Stage<ReplBatcherEvents> {
  /** The batches, in oplog order, for the applier pool. Closed when the batcher ends. */
  readonly output: BoundedQueue<ApplyBatch>;
  /** The resolved options. */
  readonly options: Readonly<ResolvedReplBatcherOptions>;
  readonly #input: BoundedQueue<FetchedEntry>;
  readonly #mapNs: NamespaceMapper;
  readonly #pending = new PendingBatch();
  readonly #resume: ResumePoint;
  /** Whether `filter.skip` names any kind of write (the hot path then skips the lookup). */
  readonly #skipsWrites: boolean;
  /** The entry being taken, for error context. */
  #current: OplogEntry | undefined;
  /** The change-stream resume token of the entry being taken. */
  #currentToken: Document | undefined;
  /** The last entry completed, and its resume token: batches checkpointed at it carry the token. */
  #lastTakenTs: Timestamp | undefined;
  /** While true, the entries taken are parts of one envelope of several shards' entries. */
  #takingShardEntries = false;
  #lastTakenToken: Document | undefined;
  readonly #ended: Promise<void>;
  #markEnded!: () => void;

  /**
   * Resolves and validates the options; no I/O.
   * @throws {@link InvalidConfigError} for an invalid option.
   */
  constructor(options: ReplBatcherOptions) {
    super('repl-batcher', options);
    this.options = resolveReplBatcherOptions(options);
    this.#input = this.options.input;
    this.#mapNs = mapperOf(this.options.filter);
    this.#resume = new ResumePoint(this.options.resumeOptime);
    const { filter } = this.options;
    this.#skipsWrites = filter.skipsWrite('i') || filter.skipsWrite('u') || filter.skipsWrite('d');
    // Batches are bounded by maxBytes themselves, so counting them bounds the bytes too.
    this.output = new BoundedQueue<ApplyBatch>(this.options.outputMaxBatches, Infinity);
    this.#ended = new Promise(resolve => (this.#markEnded = resolve));
  }

  /** Transaction chains held, waiting for their commit or abort. */
  get pendingTransactions(): number {
    return this.#resume.pendingTransactions;
  }

  /** Nothing to open: the batcher only moves data between two in-memory queues. */
  protected async open(): Promise<void> {}

  /** Takes entries until the input is closed and drained, then flushes and closes the output. */
  protected async run(signal: AbortSignal): Promise<void> {
    try {
      for (;;) {
        // Entries already queued are taken without awaiting anything: most entries are single
        // writes that only join the pending batch, and a promise per entry costs more than that.
        const ready = this.#readyEntry();
        if (ready !== undefined && this.#takeWrite(ready)) continue;
        const next = ready ?? (await this.#next(signal));
        if (next === undefined) break;
        if (next === FILL_TIMEOUT) await this.#flush('maxFillMs', signal);
        else await this.#take(next, signal);
      }
      await this.#flush('inputEnd', signal);
    } finally {
      this.output.close();
      this.#markEnded();
    }
  }

  /** Takes no new input; resolves once what was buffered has been batched and the output closed. */
  protected drain(): Promise<void> {
    this.#input.close();
    return this.#ended;
  }

  /** Typed errors pass through; anything else is reported against the entry being taken. */
  protected toReplicationError(error: unknown): ReplicationError {
    if (ReplicationError.is(error)) return error;
    const entry = this.#current;
    const message = error instanceof Error ? error.message : String(error);
    return new UnsupportedOplogEntryError(`Batching an oplog entry failed: ${message}`, entry?.op, {
      ...(entry === undefined ? {} : { namespace: entry.ns, optime: entry.ts }),
      cause: error
    });
  }

  /**
   * The next input entry, `undefined` once the input is closed and drained, or `FILL_TIMEOUT`
   * when the pending batch has waited `maxFillMs`. Only an empty input costs a timer.
   */
  async #next(signal: AbortSignal): Promise<FetchedEntry | undefined | typeof FILL_TIMEOUT> {
    if (this.#pending.isEmpty) return this.#input.shift(signal);
    const remaining = this.#pending.startedAt + this.options.maxFillMs - performance.now();
    if (remaining <= 0) return FILL_TIMEOUT;
    const ready = this.#input.tryShift();
    if (ready !== undefined) return ready;
    signal.throwIfAborted();
    const wait = new AbortController();
    const forward = () => wait.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    const timer = setTimeout(() => wait.abort(FILL_TIMEOUT), remaining);
    try {
      // BoundedQueue.shift loses no item when its signal aborts.
      return await this.#input.shift(wait.signal);
    } catch (error) {
      if (error === FILL_TIMEOUT) return FILL_TIMEOUT;
      throw error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    }
  }

  /** An entry already queued, while the pending batch may still wait for more; else undefined. */
  #readyEntry(): FetchedEntry | undefined {
    const pending = this.#pending;
    if (pending.isEmpty) return undefined;
    if (performance.now() >= pending.startedAt + this.options.maxFillMs) return undefined;
    return this.#input.tryShift();
  }

  /**
   * Takes an insert, update or delete outside any transaction when it fits the pending batch
   * and leaves it below its limits: what {@link ReplBatcher.#take} does for it, without awaiting.
   * False, having done nothing, for any other entry (the caller takes it the general way).
   */
  #takeWrite(item: FetchedEntry): boolean {
    const { entry } = item;
    if ((entry.op !== 'i' && entry.op !== 'u' && entry.op !== 'd') || entry.fromMigrate) {
      return false;
    }
    const pending = this.#pending;
    const { maxOps, maxBytes } = this.options;
    const targetNs = this.#targetOf(entry);
    if (targetNs !== undefined) {
      if (pending.opCount + 1 >= maxOps || pending.bytes + item.bytes >= maxBytes) return false;
      pending.addOne({ entry, targetNs, id: documentIdOf(entry) }, item.bytes);
    }
    this.#current = entry;
    this.#currentToken = item.resumeToken;
    if (targetNs === undefined) this.#skipWrite(entry);
    else pending.cover(entry.ts);
    this.#complete(entry.ts);
    return true;
  }

  async #take(item: FetchedEntry, signal: AbortSignal): Promise<void> {
    const parts = shardEntriesOf(item.entry);
    if (parts !== undefined) return this.#takeShardEntries(item.entry, parts, signal);
    const { entry } = item;
    this.#current = entry;
    this.#currentToken = item.resumeToken;
    const pending = this.#pending;
    const transactional = entry.op === 'c' && TRANSACTION_COMMANDS.has(entry.command);
    const sharding = this.#shardCollection(entry);
    if (sharding !== undefined) {
      await this.#takeDdl(sharding, sharding, signal);
    } else if (entry.fromMigrate && !(transactional && entry.lsid !== undefined)) {
      // Chunk migrations copy documents that already exist elsewhere; a transaction entry with a
      // session still goes to the assembler, so its chain is not broken (its inner operations are
      // checked one by one).
      pending.skip(entry.ts);
      this.#complete(entry.ts);
    } else if (entry.op === 'c' && !transactional) {
      await this.#takeDdl(entry, entry, signal);
    } else {
      const released = entry.op === 'c' ? this.#resume.pushTransaction(entry) : [entry];
      // Only a real transaction (an entry with a session) is preserved; a batched write without
      // one (a 7.0 batched delete) is flattened like any other applyOps.
      const txn =
        this.options.transactions === 'preserve' && entry.op === 'c' && entry.lsid !== undefined
          ? entry
          : undefined;
      // Flushed before anything of the transaction is counted, so that batch ends before it.
      if (
        txn !== undefined &&
        pending.opCount > 0 &&
        released.some(op => this.#targetOf(op) !== undefined)
      ) {
        await this.#flush('txn', signal);
      }
      let unit: CrudOp[] = [];
      let unitBytes = 0;
      let sent = false;
      for (const op of released) {
        switch (op.op) {
          case 'i':
          case 'u':
          case 'd': {
            const targetNs = this.#targetOf(op);
            if (targetNs === undefined) {
              this.#skipWrite(op);
              break;
            }
            unit.push({ entry: op, targetNs, id: documentIdOf(op) });
            // Operations unwrapped from applyOps have no fetched size of their own.
            unitBytes += op === entry ? item.bytes : BSON.calculateObjectSize(op.raw);
            break;
          }
          case 'n':
            pending.skip(op.ts);
            break;
          case 'c':
            // A command inside a transaction: what precedes it, then it alone, then the rest.
            if (txn === undefined) await this.#addUnit(unit, unitBytes, op.ts, signal);
            else await this.#sendTxn(txn, unit, unitBytes, false, signal);
            unit = [];
            unitBytes = 0;
            await this.#takeDdl(op, entry, signal);
            break;
        }
      }
      if (txn === undefined) await this.#addUnit(unit, unitBytes, entry.ts, signal);
      else sent = await this.#sendTxn(txn, unit, unitBytes, true, signal);
      // An abort or an empty applyOps writes nothing; a held chain entry is pending, not skipped.
      if (released.length === 0 && !isHeld(entry)) pending.skip(entry.ts);
      else if (!sent) pending.cover(entry.ts);
      this.#complete(entry.ts);
    }
    if (pending.opCount >= this.options.maxOps) await this.#flush('maxOps', signal);
    else if (pending.bytes >= this.options.maxBytes) await this.#flush('maxBytes', signal);
  }

  /**
   * The `shardCollection` command of a source's sharding no-op when sharding is replayed;
   * `undefined` otherwise (the no-op is then passed over like any other, and said once).
   */
  #shardCollection(entry: OplogEntry): CommandEntry | undefined {
    if (entry.op !== 'n') return undefined;
    const command = shardCollectionEntry(entry);
    if (command === undefined || this.options.shardCollections) return command;
    const ns = String(command.o.shardCollection);
    if (this.options.filter.map(ns) !== null) {
      this.logger.info(`The source sharded ${ns}; the target's sharding is left as it is`, {
        stage: this.stageName,
        hint: "targetSharding 'source' shards it on the target too"
      });
    }
    return undefined;
  }

  /**
   * Where a write goes on the target; `undefined` for a write of a filtered namespace, one of a
   * kind `filter.skip` names, or a non-write.
   */
  #targetOf(op: OplogEntry): string | undefined {
    if ((op.op !== 'i' && op.op !== 'u' && op.op !== 'd') || op.fromMigrate) return undefined;
    const { filter } = this.options;
    if (this.#skipsWrites && filter.skipsWrite(op.op)) return undefined;
    return filter.map(op.ns) ?? undefined;
  }

  /**
   * Counts a write that has no target: also in `skippedOperations` when `filter.skip` kept a
   * write of a replicated namespace from it.
   */
  #skipWrite(op: OplogEntry): void {
    const { filter } = this.options;
    if (
      (op.op === 'i' || op.op === 'u' || op.op === 'd') &&
      !op.fromMigrate &&
      filter.skipsWrite(op.op) &&
      filter.map(op.ns) !== null
    ) {
      this.#pending.skipOperation(SKIPPED_KIND[op.op], op.ts);
    } else {
      this.#pending.skip(op.ts);
    }
  }

  /**
   * Whether a command `filter.skip` names concerns what the filter replicates (it is then
   * counted in `skippedOperations`). One that could not be replayed (a rename into the filter
   * from outside it) concerns it too: not running it is what was asked.
   */
  #concernsFilter(entry: CommandEntry): boolean {
    try {
      return toTargetCommand(entry, this.#mapNs) !== null;
    } catch {
      return true;
    }
  }

  /**
   * Several shards' entries of one optime (oplog/shard-entries.ts): each is taken as if it came
   * alone (a transaction step goes to the assembler, a command is DDL), and the optime counts as
   * complete only after the last, so a batch cut between them never checkpoints at it.
   */
  async #takeShardEntries(
    envelope: OplogEntry,
    parts: readonly OplogEntry[],
    signal: AbortSignal
  ): Promise<void> {
    this.#takingShardEntries = true;
    try {
      for (const part of parts) {
        await this.#take({ entry: part, bytes: BSON.calculateObjectSize(part.raw) }, signal);
      }
    } finally {
      this.#takingShardEntries = false;
    }
    this.#complete(envelope.ts);
  }

  /** Records that the entry being taken (at `ts`) is complete: batched, or held. */
  #complete(ts: Timestamp): void {
    // Inside an envelope the optime is complete once its last entry is.
    if (this.#takingShardEntries) return;
    this.#resume.complete(ts);
    this.#lastTakenTs = ts;
    this.#lastTakenToken = this.#currentToken;
  }

  /**
   * A batch's checkpoint fields, given its first entry: the checkpoint optime, and the resume
   * token when that optime is exactly the last entry completed.
   */
  #checkpointOf(firstOptime: Timestamp): Pick<ApplyBatch, 'checkpointOptime' | 'resumeToken'> {
    const checkpointOptime = this.#resume.checkpoint(firstOptime);
    const ts = this.#lastTakenTs;
    const token = this.#lastTakenToken;
    return ts !== undefined && token !== undefined && compareOptimes(ts, checkpointOptime) === 0
      ? { checkpointOptime, resumeToken: token }
      : { checkpointOptime };
  }

  /**
   * Sends the writes of a transaction (or its part before or after a command) as one `txn`
   * batch, with the entries skipped meanwhile. `last`: nothing of `txn` follows, so the batch
   * may checkpoint at it. Returns whether a batch was sent (an empty unit sends none).
   */
  async #sendTxn(
    txn: CommandEntry,
    unit: CrudOp[],
    bytes: number,
    last: boolean,
    signal: AbortSignal
  ): Promise<boolean> {
    if (unit.length === 0) return false;
    const pending = this.#pending;
    if (pending.opCount > 0) await this.#flush('txn', signal);
    if (last) this.#complete(txn.ts);
    pending.add(unit, bytes, txn.ts);
    const taken = pending.take()!;
    const batch: TxnBatch = {
      kind: 'txn',
      ops: taken.ops,
      bytes: taken.bytes,
      ...(txn.lsid === undefined ? {} : { lsid: txn.lsid }),
      ...(txn.txnNumber === undefined ? {} : { txnNumber: txn.txnNumber }),
      lastOptime: taken.lastOptime,
      ...this.#checkpointOf(taken.firstOptime),
      ...skippedFields(taken)
    };
    await this.#emit(batch, taken.bytes, taken, 'txn', signal);
    return true;
  }

  /** Adds a unit of operations that must stay in one batch, flushing first if it would not fit. */
  async #addUnit(unit: CrudOp[], bytes: number, ts: Timestamp, signal: AbortSignal): Promise<void> {
    if (unit.length === 0) return;
    const pending = this.#pending;
    if (pending.opCount > 0) {
      if (pending.opCount + unit.length > this.options.maxOps) await this.#flush('maxOps', signal);
      else if (pending.bytes + bytes > this.options.maxBytes) {
        await this.#flush('maxBytes', signal);
      }
    }
    pending.add(unit, bytes, ts);
  }

  /**
   * A DDL command: the CRUD batch so far is flushed, then the command travels alone (entries
   * skipped meanwhile ride with it). `outer` is the oplog entry that carried it: the command
   * itself, or a transaction it was unwrapped from, in which case the entry is not complete yet.
   */
  async #takeDdl(entry: CommandEntry, outer: OplogEntry, signal: AbortSignal): Promise<void> {
    const pending = this.#pending;
    if (this.options.filter.skipsCommand(entry.command)) {
      // Not run, and no flush: a skipped command orders nothing on the target.
      if (this.#concernsFilter(entry)) pending.skipOperation('commands', entry.ts);
      else pending.skip(entry.ts);
      if (outer === entry) this.#complete(entry.ts);
      return;
    }
    const translated = toTargetCommand(entry, this.#mapNs);
    if (translated === null || this.options.filter.skipsCommand(commandName(translated))) {
      // Filtered out; or the command the target would run is one `filter.skip` names (a rename
      // out of the filter is a drop there).
      if (translated === null) pending.skip(entry.ts);
      else pending.skipOperation('commands', entry.ts);
      if (outer === entry) this.#complete(entry.ts);
      return;
    }
    const merge =
      'renameCollection' in translated.command && this.options.filter.skipsCommand('drop');
    const command = merge
      ? { db: translated.db, command: { ...translated.command, dropTarget: false } }
      : translated;
    if (pending.opCount > 0) await this.#flush('ddl', signal);
    if (outer === entry) this.#complete(entry.ts);
    pending.cover(entry.ts);
    const covered = pending.take()!;
    const batch: DdlBatch = {
      kind: 'ddl',
      entry,
      command,
      ...(merge ? { mergeIntoExisting: true as const } : {}),
      lastOptime: covered.lastOptime,
      ...this.#checkpointOf(covered.firstOptime),
      ...skippedFields(covered)
    };
    await this.#emit(batch, 0, covered, 'ddl', signal);
  }

  /** Flushes the pending batch, if it covers anything, as a `crud` or `progress` batch. */
  async #flush(reason: ReplBatchReason, signal: AbortSignal): Promise<void> {
    const taken = this.#pending.take();
    if (taken === undefined) return;
    const base = {
      lastOptime: taken.lastOptime,
      ...this.#checkpointOf(taken.firstOptime),
      ...skippedFields(taken)
    };
    if (taken.ops.length > 0) {
      await this.#emit(
        { kind: 'crud', ops: taken.ops, bytes: taken.bytes, ...base },
        taken.bytes,
        taken,
        reason,
        signal
      );
    } else {
      const why = reason === 'maxFillMs' ? 'progress' : reason;
      await this.#emit({ kind: 'progress', ...base }, 0, taken, why, signal);
    }
  }

  async #emit(
    batch: ApplyBatch,
    bytes: number,
    covered: TakenBatch,
    reason: ReplBatchReason,
    signal: AbortSignal
  ): Promise<void> {
    // Waits while the output is full: the backpressure that keeps the input from being read.
    if (!(await this.output.push(batch, bytes, signal))) return;
    this.safeEmit('batch', {
      kind: batch.kind,
      ops: batch.kind === 'crud' || batch.kind === 'txn' ? batch.ops.length : 0,
      bytes,
      firstOptime: covered.firstOptime,
      lastOptime: batch.lastOptime,
      checkpointOptime: batch.checkpointOptime,
      skipped: batch.skipped,
      ...(batch.skippedOperations ? { skippedOperations: batch.skippedOperations } : {}),
      reason
    });
  }
}
