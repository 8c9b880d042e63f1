/**
 * ShardedOplogFetcher: reads a sharded cluster's oplogs, one {@link OplogFetcher} per shard, and
 * merges them into one stream in cluster-time order (MongoShake's per-shard tailing, with the
 * order mongos gives a change stream).
 *
 * ```
 *  start() ─► listShards on the mongos → one client per shard (connectShard)
 *    │        → start point: moved back before transactions open at it on any shard
 *    │        → every shard's OplogFetcher from that cluster time (startKind 'time')
 *    ▼
 *  run ─ ShardMerge: release the oldest entry once every other shard holds a newer one or has
 *    │   fetched through it (idle shards advance through mongod's periodic no-ops, every 10 s)
 *    │   ─► output   (one shard failing fails the whole fetcher; its retries are its own)
 *    └── stop() ─ stop every shard's fetcher, close `output`, close the shard clients
 * ```
 *
 * A position is one cluster time: every entry of every shard up to it has been delivered, so a
 * restart from a checkpoint resumes each shard after the same optime; equal optimes of several
 * shards are merged into one entry (shard-merge.ts) so that no position is ever half delivered.
 * Chunk migrations (`fromMigrate`) are skipped by each shard's fetcher: the documents they move
 * were replicated from the shard that first wrote them.
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { InvalidConfigError, type ReplicationError, SourceReadError } from '../errors.js';
import { BoundedQueue } from '../lifecycle/bounded-queue.js';
import { Stage } from '../lifecycle/stage.js';
import { compareOptimes, formatOptime } from '../oplog/oplog-entry.js';
import { type FetchedEntry } from '../pipeline/pipeline-items.js';
import { startBeforeOpenTransactionsOnAll } from './open-transactions.js';
import {
  OplogFetcher,
  type OplogFetcherEvents,
  type OplogFetcherOptions
} from './oplog-fetcher.js';
import { toFetcherError } from './oplog-fetcher-errors.js';
import { resolveOplogFetcherOptions } from './oplog-fetcher-options.js';
import { deliveredOfReplay } from './replayed-entries.js';
import { ShardMerge } from './shard-merge.js';
import { firstWriteThrough, oldestNewestOptime } from './shard-oplog-reads.js';
import { listSourceShards, type SourceShard } from './source-shards.js';

/** How often the shard list is read again while tailing. */
const SHARD_CHECK_MS = 2000;

/**
 * Options of the {@link ShardedOplogFetcher}.
 * @public
 */
export interface ShardedOplogFetcherOptions extends Omit<OplogFetcherOptions, 'startKind'> {
  /** A connected client of the cluster's mongos: shards are listed through it. */
  source: MongoClient;
  /**
   * A new, unconnected client of one shard's replica set (see {@link shardConnectionString}).
   * The fetcher connects it, reads `local.oplog.rs` through it and closes it.
   */
  connectShard: (shard: SourceShard) => MongoClient;
  /**
   * The shards to read, by name; absent: every shard of the cluster, shards that join it
   * included.
   */
  shards?: readonly string[];
  /**
   * A transaction open at `start` is read again from its first entry (the start moves back).
   * Of what is read again, `'transactions'` delivers the transactions' entries only (the rest
   * was applied already, and applying it again could undo another writer's newer writes);
   * `'nothing'` delivers none of it, for a consumer that holds those entries already (the spool
   * of mode `all`): the entries are still read, so each cross-shard transaction's decision is
   * delivered once.
   * @defaultValue 'transactions'
   */
  beforeStart?: 'transactions' | 'nothing';
}

/** A shard being read, and its fetcher. */
interface ShardReader {
  readonly shard: SourceShard;
  readonly fetcher: OplogFetcher;
  /** The newest optime its last `lag` sample saw on the shard. */
  newest?: Timestamp;
}

/**
 * Tails every shard of a sharded cluster and delivers their entries merged in cluster-time
 * order, in the same shape as the {@link OplogFetcher}.
 *
 * @remarks
 * `start` has checkpoint semantics, as a cluster time: every entry up to it is applied, and each
 * shard delivers its entries after it (the shard's oldest entry must be no newer). `'latest'` is
 * the oldest of the shards' newest entries (a later write on any shard is newer). A transaction
 * open at `start` is read again from its first entry (see `beforeStart`). Entries of shards that
 * logged the same optime arrive as one envelope (`shardEntries`, taken apart by the
 * {@link ReplBatcher}); the `commitTransaction` of a cross-shard transaction arrives once (from
 * the first shard that committed), with every shard's part before it.
 *
 * Reading every shard (no `shards` option), the shard list is read again every few seconds and a
 * shard that joined the cluster is read from there on; one that already took writes before it
 * was noticed stops the fetcher with a {@link SourceReadError}. The latency of the merge is that
 * of the slowest shard's no-op writer: mongod logs one every 10 s on an idle primary, so an idle
 * shard can hold the others back that long.
 * @public
 */
export class ShardedOplogFetcher extends Stage<OplogFetcherEvents> {
  /** The merged entries, in cluster-time order; closed when the fetcher ends. */
  readonly output: BoundedQueue<FetchedEntry>;
  readonly #options: ShardedOplogFetcherOptions;
  readonly #childOptions: Omit<OplogFetcherOptions, 'source' | 'start'>;
  readonly #start: Timestamp | 'latest';
  readonly #halt = new AbortController();
  #readers: ShardReader[] = [];
  /** The shard clients this fetcher opened (closed when it ends). */
  #clients: MongoClient[] = [];
  #clusterShards: readonly SourceShard[] = [];
  readonly #beforeStart: 'transactions' | 'nothing';
  /** The start asked for (resolved): entries up to it were delivered by an earlier run. */
  #resumeAfter: Timestamp | undefined;
  /** When the shard list is read again, to notice shards that joined. */
  #nextShardCheck = 0;
  #lastDelivered: Timestamp | undefined;
  /** Wakes the merge loop: a shard read a batch or ended. */
  #wake: (() => void) | undefined;

  /**
   * Validates the options; no I/O happens before `start()`.
   * @throws {@link InvalidConfigError} on an invalid option
   */
  constructor(options: ShardedOplogFetcherOptions) {
    super('sharded-oplog-fetcher', options);
    const fetcherOptions: Partial<ShardedOplogFetcherOptions> = { ...options };
    delete fetcherOptions.connectShard;
    delete fetcherOptions.shards;
    delete fetcherOptions.beforeStart;
    const resolved = resolveOplogFetcherOptions(fetcherOptions as OplogFetcherOptions);
    if (typeof options.connectShard !== 'function') {
      throw new InvalidConfigError(
        'connectShard',
        'expected a function that returns a MongoClient of one shard'
      );
    }
    if (options.shards !== undefined && !isNameList(options.shards)) {
      throw new InvalidConfigError('shards', 'expected a non-empty array of shard names');
    }
    const beforeStart = options.beforeStart ?? 'transactions';
    if (beforeStart !== 'transactions' && beforeStart !== 'nothing') {
      throw new InvalidConfigError('beforeStart', "expected 'transactions' or 'nothing'");
    }
    this.#beforeStart = beforeStart;
    this.#options = options;
    this.#start = resolved.start;
    this.#childOptions = {
      batchSize: resolved.batchSize,
      maxAwaitTimeMS: resolved.maxAwaitTimeMS,
      bufferMaxEntries: resolved.bufferMaxEntries,
      bufferMaxBytes: resolved.bufferMaxBytes,
      retry: resolved.retry,
      lagIntervalMs: resolved.lagIntervalMs,
      fromMigrate: resolved.fromMigrate,
      ...(options.logger ? { logger: options.logger } : {})
    };
    this.output = new BoundedQueue<FetchedEntry>(
      resolved.bufferMaxEntries,
      resolved.bufferMaxBytes
    );
  }

  /** Every shard of the cluster (`listShards`), once started. */
  get clusterShards(): readonly SourceShard[] {
    return this.#clusterShards;
  }

  /** The shards being read, once started. */
  get shards(): readonly SourceShard[] {
    return this.#readers.map(reader => reader.shard);
  }

  /** The optime of the last entry delivered to `output`. */
  get lastFetched(): Timestamp | undefined {
    return this.#lastDelivered;
  }

  /** Lists the shards, connects to them, resolves the start point and starts every shard. */
  protected async open(signal: AbortSignal): Promise<void> {
    const onAbort = () => this.#halt.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      const halt = this.#halt.signal;
      const shards = await this.retry('list the shards', () =>
        listSourceShards(this.#options.source, halt)
      );
      this.#clusterShards = shards;
      const wanted = this.#options.shards;
      const chosen = wanted === undefined ? shards : shards.filter(s => wanted.includes(s.id));
      const unknown = wanted?.filter(id => !shards.some(shard => shard.id === id)) ?? [];
      if (unknown.length > 0 || chosen.length === 0) {
        throw new SourceReadError(
          `The cluster has no shard ${unknown.join(', ')} (its shards: ${shards.map(s => s.id).join(', ')})`,
          false,
          { hint: 'Name shards as listShards does (their _id)' }
        );
      }
      const clients = chosen.map(shard => this.#options.connectShard(shard));
      this.#clients = clients;
      await this.retry('connect to the shards', () =>
        Promise.all(clients.map(client => client.connect()))
      );
      const at = this.#start === 'latest' ? await oldestNewestOptime(clients, halt) : this.#start;
      this.#resumeAfter = at;
      const start = await this.retry('find transactions open at the start point', () =>
        startBeforeOpenTransactionsOnAll(clients, at, halt)
      );
      this.#lastDelivered = start;
      this.#readers = chosen.map((shard, index) =>
        this.#shardReader(shard, clients[index]!, start)
      );
      await Promise.all(this.#readers.map(reader => reader.fetcher.start()));
      // Stopped while the shards' fetchers were opening: run() will not be called to close them.
      if (signal.aborted) await this.#closeShards();
      this.#nextShardCheck = Date.now() + SHARD_CHECK_MS;
    } catch (error) {
      await this.#closeShards();
      throw error;
    }
  }

  /** Merges the shards' entries into `output` until stopped. */
  protected async run(): Promise<void> {
    const merge = new ShardMerge(this.#readers.map(reader => reader.shard.id));
    const halt = this.#halt.signal;
    try {
      while (!halt.aborted) {
        for (const [index, { fetcher }] of this.#readers.entries()) {
          if (!merge.needs(index)) continue;
          const next = fetcher.output.tryShift();
          if (next !== undefined) merge.offer(index, next);
        }
        if (this.#options.shards === undefined && Date.now() >= this.#nextShardCheck) {
          await this.#readJoinedShards(merge);
          // A shard's bound holds only right after its queue was found empty in the same pass.
          continue;
        }
        const step = merge.next(index => this.#readers[index]!.fetcher.lastFetched);
        if (step.kind === 'entry') {
          const fetched = this.#replayed(step.fetched);
          if (fetched === undefined) continue;
          const queued =
            this.output.tryPush(fetched, fetched.bytes) ||
            (await this.output.push(fetched, fetched.bytes, halt));
          if (!queued) return;
          this.#lastDelivered = fetched.entry.ts;
          continue;
        }
        if (step.kind === 'dropped') continue;
        await this.#changed(merge);
      }
    } catch (error) {
      if (halt.aborted) return;
      throw error;
    } finally {
      this.#halt.abort(new Error(`${this.stageName} ended`));
      this.output.close();
      await this.#closeShards();
    }
  }

  /** Stops the merge and closes `output`; the consumer drains what was delivered. */
  protected drain(): Promise<void> {
    // Entries a shard fetched but the merge did not release are dropped: no checkpoint names
    // them, so a restart reads them again.
    this.#halt.abort(new Error(`${this.stageName} stopped`));
    this.output.close();
    return Promise.resolve();
  }

  /** Typed errors pass through; driver errors become a {@link SourceReadError}. */
  protected toReplicationError(error: unknown): ReplicationError {
    return toFetcherError(error, this.#lastDelivered);
  }

  /** Waits until a shard the merge waits for has an entry, read a batch, or ended. */
  async #changed(merge: ShardMerge): Promise<void> {
    const halt = this.#halt.signal;
    const ended = this.#readers.find(
      ({ fetcher }) => fetcher.output.closed && fetcher.output.size === 0
    );
    if (ended !== undefined) {
      // A shard's fetcher only ends when it failed or was stopped; without it the merge cannot
      // go on.
      await ended.fetcher.done;
      throw new SourceReadError(`The oplog fetcher of shard ${ended.shard.id} ended`, true, {
        hint: 'The replicator restarts from its checkpoint'
      });
    }
    let wake!: () => void;
    const woken = new Promise<void>(resolve => (wake = resolve));
    this.#wake = wake;
    // One signal per wait, aborted when it ends: the queues forget the watchers of shards that
    // stayed idle (a signal shared by every wait would collect their listeners).
    const waiting = new AbortController();
    const onHalt = () => waiting.abort(halt.reason);
    halt.addEventListener('abort', onHalt, { once: true });
    const waits = this.#readers
      .filter((_, index) => merge.needs(index))
      .map(({ fetcher }) => fetcher.output.whenNotEmpty(waiting.signal));
    for (const wait of waits) wait.catch(() => undefined);
    try {
      await Promise.race([woken, ...waits]);
    } finally {
      this.#wake = undefined;
      halt.removeEventListener('abort', onHalt);
      waiting.abort();
    }
  }

  /** What is delivered of an entry (see {@link deliveredOfReplay}). */
  #replayed(fetched: FetchedEntry): FetchedEntry | undefined {
    return deliveredOfReplay(fetched, this.#resumeAfter, this.#beforeStart);
  }

  /**
   * Reads the shard list again (every few seconds) and starts reading a shard that joined the
   * cluster from what was delivered so far, unless it already took writes up to there: those
   * were never read, and the fetcher stops rather than go on without them.
   */
  async #readJoinedShards(merge: ShardMerge): Promise<void> {
    this.#nextShardCheck = Date.now() + SHARD_CHECK_MS;
    const halt = this.#halt.signal;
    const shards = await listSourceShards(this.#options.source, halt);
    const known = new Set(this.#clusterShards.map(shard => shard.id));
    const joined = shards.filter(shard => !known.has(shard.id));
    if (joined.length === 0) return;
    this.#clusterShards = shards;
    const from = this.#lastDelivered!;
    for (const shard of joined) {
      const client = this.#options.connectShard(shard);
      this.#clients.push(client);
      await client.connect();
      const missed = await firstWriteThrough(client, from, halt);
      if (missed !== undefined) {
        throw new SourceReadError(
          `Shard ${shard.id} joined the cluster and logged a write at ${formatOptime(missed)}, before this fetcher (at ${formatOptime(from)}) noticed it: that write was not replicated`,
          false,
          {
            optime: missed,
            hint: 'Resync what that shard holds (mode "all" on a new checkpoint); the fetcher notices a new shard within seconds, before the balancer usually moves data to it'
          }
        );
      }
      this.logger.info(`Shard ${shard.id} joined the cluster; reading its oplog too`, {
        stage: this.stageName
      });
      const reader = this.#shardReader(shard, client, from);
      this.#readers.push(reader);
      merge.addShard(shard.id);
      await reader.fetcher.start();
    }
  }

  #shardReader(shard: SourceShard, client: MongoClient, start: Timestamp): ShardReader {
    const fetcher = new OplogFetcher({
      ...this.#childOptions,
      source: client,
      start,
      startKind: 'time',
      signal: this.#halt.signal
    });
    const reader: ShardReader = { shard, fetcher };
    const stage = `oplog-fetcher:${shard.id}`;
    fetcher.on('batch', event => {
      this.#wake?.();
      this.safeEmit('batch', { ...event, stage });
    });
    fetcher.on('retry', event => this.safeEmit('retry', { ...event, stage }));
    fetcher.on('lag', event => {
      reader.newest = event.sourceOptime;
      this.#emitLag();
    });
    fetcher.done.then(
      () => this.#wake?.(),
      (error: unknown) => {
        this.#wake?.();
        if (!this.#halt.signal.aborted) this.fail(toFetcherError(error, fetcher.lastFetched));
      }
    );
    return reader;
  }

  /** One `lag` for the cluster: the newest optime of any shard against what was delivered. */
  #emitLag(): void {
    const fetched = this.#lastDelivered;
    if (fetched === undefined) return;
    let newest = fetched;
    for (const { newest: shardNewest } of this.#readers) {
      if (shardNewest !== undefined && compareOptimes(shardNewest, newest) > 0)
        newest = shardNewest;
    }
    this.safeEmit('lag', {
      stage: this.stageName,
      sourceOptime: newest,
      fetchedOptime: fetched,
      seconds: Math.max(0, newest.t - fetched.t)
    });
  }

  async #closeShards(): Promise<void> {
    const readers = this.#readers.splice(0);
    const clients = this.#clients.splice(0);
    await Promise.allSettled(readers.map(({ fetcher }) => fetcher.stop()));
    await Promise.allSettled(clients.map(client => client.close()));
  }
}

function isNameList(value: unknown): value is readonly string[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(name => typeof name === 'string' && name.length > 0)
  );
}
