/**
 * ApplierLane: applies the ops one lane of the {@link HashedApplierPool} owns, in order.
 *
 * Every document lives in exactly one lane, so a lane never waits on another and needs no
 * locks. Its ops become runs ({@link planLane}): consecutive inserts of one namespace → one
 * unordered `insertMany`, whose duplicate `_id`s are replaced (upserted) in order as a
 * secondary does; everything else → one ordered `bulkWrite` per namespace. Each run is retried
 * on its own when the target fails transiently; replaying a run is safe because every model is
 * idempotent (DESIGN §3).
 *
 * Misses (an update or delete that matched nothing) are read from the bulk result's totals; the
 * common path therefore costs one round trip per run. Before `catchUpUntil` they are expected
 * and only counted. After it they are conflicts: the lane finds out which ops missed
 * ({@link attributeMisses}) and applies the policy: `ignore` (count and emit), `upsert` (copy
 * the document's current state from the source, or delete it if the source no longer has it),
 * or `fail` (stop with {@link ApplyConflictError}). Nothing is ever dropped silently.
 */
import {
  type AnyBulkWriteOperation,
  type BulkWriteResult,
  type Collection,
  type Document,
  type MongoBulkWriteError,
  type MongoClient,
  type Timestamp,
  type WriteConcern,
  type WriteConcernSettings,
  type WriteError
} from 'mongodb';

import { ApplyConflictError, TargetWriteError } from '../errors.js';
import {
  DUPLICATE_KEY_CODES,
  unwrapBulkError,
  writeErrorsOf
} from '../lifecycle/bulk-write-errors.js';
import { classifyError } from '../lifecycle/classify-error.js';
import { type Logger } from '../logger.js';
import { splitNamespace } from '../namespace/namespace.js';
import { insertAsReplacement, toWriteModel } from '../oplog/crud-ops.js';
import { formatOptime, type InsertEntry } from '../oplog/oplog-entry.js';
import { type LaneRun, planLane } from './lane-plan.js';
import {
  attributeMisses,
  documentKey,
  type DocumentOps,
  groupByDocument
} from './miss-attribution.js';
import { type CrudOp } from './pipeline-items.js';

/**
 * What the applier does with an update or delete that matches no document after catch-up:
 * `ignore` counts it and emits a `conflict` event; `upsert` copies the document's current state
 * from the source (or deletes it on the target if the source no longer has it); `fail` stops
 * replication with an {@link ApplyConflictError}.
 * @public
 */
export type ConflictPolicy = 'ignore' | 'upsert' | 'fail';

/**
 * What was done about one conflict: `ignored`, `upserted` (re-copied from the source),
 * `deleted` (gone on the source, so removed on the target), `failed` (replication stops).
 * @public
 */
export type ConflictAction = 'ignored' | 'upserted' | 'deleted' | 'failed';

/**
 * Payload of the `conflict` event: after catch-up, an update or delete matched no document.
 * @public
 */
export interface ApplierConflictEvent {
  /** The target namespace written to. */
  readonly namespace: string;
  /** The op that missed: `u` update, `d` delete. */
  readonly op: 'u' | 'd';
  /** The document's `_id`. */
  readonly id: unknown;
  /** The op's optime. */
  readonly optime: Timestamp;
  /** The policy in force. */
  readonly policy: ConflictPolicy;
  /** What the applier did about it. */
  readonly action: ConflictAction;
}

/**
 * Counts of what a lane (or a batch) applied.
 * @public
 */
export interface ApplyCounts {
  /** Insert ops applied. */
  inserts: number;
  /** Update ops applied (operator, diff and replacement forms). */
  updates: number;
  /** Delete ops applied. */
  deletes: number;
  /** Inserts that hit an existing `_id` and were applied as replace-upserts instead. */
  upserts: number;
  /** Updates or deletes that matched nothing after catch-up (handled per policy). */
  conflicts: number;
  /** Updates or deletes that matched nothing during catch-up, or on a replayed run: expected. */
  expectedMissing: number;
}

/**
 * Retries a target operation with the stage's backoff and `retry` events.
 * @internal
 */
export type LaneRetry = <T>(operation: string, fn: (attempt: number) => Promise<T>) => Promise<T>;

/**
 * What an {@link ApplierLane} needs; the pool resolves and validates it.
 * @internal
 */
export interface ApplierLaneOptions {
  /** The connected target client. */
  readonly target: MongoClient;
  /** The connected source client, for the `upsert` conflict policy. */
  readonly source: MongoClient | undefined;
  /** What to do about conflicts. */
  readonly conflictPolicy: ConflictPolicy;
  /** Misses at or before this optime are expected (catch-up after a full copy). */
  readonly catchUpUntil: Timestamp | undefined;
  /** The write concern of every write; the client's when undefined. */
  readonly writeConcern: WriteConcern | WriteConcernSettings | undefined;
  /** Retries transient failures. */
  readonly retry: LaneRetry;
  /** Receives each conflict once the policy's action is done. */
  readonly onConflict: (event: ApplierConflictEvent) => void;
  /** Where to log. */
  readonly logger: Logger;
}

/**
 * A zeroed {@link ApplyCounts}.
 * @internal
 */
export function emptyCounts(): ApplyCounts {
  return { inserts: 0, updates: 0, deletes: 0, upserts: 0, conflicts: 0, expectedMissing: 0 };
}

/**
 * Applies one lane's share of each batch.
 * @internal
 */
export class ApplierLane {
  readonly #options: ApplierLaneOptions;
  readonly #writeOptions: { writeConcern?: WriteConcern | WriteConcernSettings };
  readonly #collections = new Map<string, Collection<Document>>();

  /**
   * @param index - The lane's number, for operation names in logs and `retry` events.
   * @param options - Resolved options.
   */
  constructor(
    readonly index: number,
    options: ApplierLaneOptions
  ) {
    this.#options = options;
    this.#writeOptions =
      options.writeConcern === undefined ? {} : { writeConcern: options.writeConcern };
  }

  /**
   * Applies `ops` (this lane's ops of one batch, in source order). Checks `signal` between
   * runs: stopping there is safe, the batch is simply not checkpointed.
   */
  async apply(ops: readonly CrudOp[], signal: AbortSignal): Promise<ApplyCounts> {
    const counts = emptyCounts();
    for (const run of planLane(ops, this.#options.catchUpUntil)) {
      signal.throwIfAborted();
      if (run.kind === 'insert') await this.#insertRun(run, counts);
      else await this.#writeRun(run, counts);
    }
    return counts;
  }

  async #insertRun(run: LaneRun, counts: ApplyCounts): Promise<void> {
    const collection = this.#collection(run.ns);
    const documents = run.ops.map(op => op.entry.o);
    const duplicates = await this.#options.retry(
      `insertMany ${run.ns} (lane ${this.index})`,
      async () => {
        try {
          await collection.insertMany(documents, { ordered: false, ...this.#writeOptions });
          return [];
        } catch (error) {
          return duplicateIndexes(unwrapBulkError(error), run);
        }
      }
    );
    if (duplicates.length > 0) {
      // A secondary retries a duplicate insert as a replacement; the run's documents are distinct
      // (a second insert of one _id needs a delete in between, which ends the run), so the
      // order among them does not matter, but keep it anyway.
      const ops = duplicates.map(index => run.ops[index]!);
      const models = ops.map(op => insertAsReplacement(op.entry as InsertEntry));
      await this.#options.retry(`replace duplicates ${run.ns} (lane ${this.index})`, () =>
        this.#bulkWrite(collection, run.ns, ops, models)
      );
      counts.upserts += duplicates.length;
    }
    counts.inserts += run.ops.length;
  }

  async #writeRun(run: LaneRun, counts: ApplyCounts): Promise<void> {
    const collection = this.#collection(run.ns);
    const models = run.ops.map(op => toWriteModel(op.entry));
    let updates = 0;
    let deletes = 0;
    for (const op of run.ops) {
      if (op.entry.op === 'd') deletes++;
      else updates++;
    }
    // Deletes after catch-up are the one case where the result cannot tell whether the
    // document was there; only then is its existence read first (see miss-attribution.ts).
    const docs = !run.catchUp && deletes > 0 ? groupByDocument(run.ops) : undefined;
    const { result, before, attempt } = await this.#options.retry(
      `bulkWrite ${run.ns} (lane ${this.index})`,
      async attempt => {
        const before =
          docs === undefined
            ? undefined
            : await this.#existing(
                collection,
                [...docs.values()].filter(d => d.first === 'delete')
              );
        const result = await this.#bulkWrite(collection, run.ns, run.ops, models);
        return { result, before, attempt };
      }
    );
    counts.updates += updates;
    counts.deletes += deletes;
    const missed =
      updates - result.matchedCount - result.upsertedCount + (deletes - result.deletedCount);
    if (missed <= 0) return;
    if (run.catchUp) {
      counts.expectedMissing += missed;
      return;
    }
    await this.#conflicts(run, collection, docs ?? groupByDocument(run.ops), {
      result,
      before,
      replayed: attempt > 1,
      missed,
      counts
    });
  }

  async #conflicts(
    run: LaneRun,
    collection: Collection<Document>,
    docs: ReadonlyMap<string, DocumentOps>,
    outcome: {
      readonly result: BulkWriteResult;
      readonly before: ReadonlySet<string> | undefined;
      readonly replayed: boolean;
      readonly missed: number;
      readonly counts: ApplyCounts;
    }
  ): Promise<void> {
    const upserted = new Set(Object.keys(outcome.result.upsertedIds).map(Number));
    const updateOnly = [...docs.values()].filter(d => d.first === 'none');
    const after =
      updateOnly.length === 0
        ? undefined
        : await this.#options.retry(`find ${run.ns} (lane ${this.index})`, () =>
            this.#existing(collection, updateOnly)
          );
    const missedIndexes = attributeMisses(run.ops, docs, (key, doc) => {
      switch (doc.first) {
        case 'delete':
          return outcome.before?.has(key);
        case 'replace':
          return !upserted.has(doc.firstIndex);
        case 'none':
          return after?.has(key);
      }
    });
    const conflicts: CrudOp[] = [];
    for (const index of missedIndexes) {
      const op = run.ops[index]!;
      // On a replayed run a document the run deletes may be missing because the failed attempt
      // already deleted it: that miss is self-inflicted, not a conflict.
      if (outcome.replayed && docs.get(documentKey(op.id))?.hasDelete === true) {
        outcome.counts.expectedMissing++;
      } else {
        conflicts.push(op);
      }
    }
    const unexplained = outcome.missed - missedIndexes.length;
    if (unexplained > 0) {
      // Another writer on the target, or a shard key in o2 that no longer matches: still counted.
      this.#options.logger.warn(
        `${unexplained} missed op(s) on ${run.ns} could not be attributed to a document`,
        { lane: this.index, missed: outcome.missed }
      );
      outcome.counts.conflicts += unexplained;
    }
    outcome.counts.conflicts += conflicts.length;
    if (conflicts.length > 0) await this.#resolve(run.ns, conflicts);
    else if (unexplained > 0 && this.#options.conflictPolicy === 'fail') {
      throw new ApplyConflictError(
        `${unexplained} update(s) or delete(s) on ${run.ns} matched no document on the target`,
        {
          namespace: run.ns,
          optime: run.ops[run.ops.length - 1]!.entry.ts,
          hint: 'conflictPolicy is "fail"; check that nothing else writes to the target'
        }
      );
    }
  }

  async #resolve(ns: string, conflicts: readonly CrudOp[]): Promise<void> {
    const { conflictPolicy: policy, onConflict } = this.#options;
    const emit = (op: CrudOp, action: ConflictAction) =>
      onConflict({
        namespace: ns,
        op: op.entry.op === 'd' ? 'd' : 'u',
        id: op.id,
        optime: op.entry.ts,
        policy,
        action
      });
    if (policy === 'ignore') {
      for (const op of conflicts) emit(op, 'ignored');
      return;
    }
    if (policy === 'fail') {
      const op = conflicts[0]!;
      emit(op, 'failed');
      throw new ApplyConflictError(
        `${op.entry.op === 'd' ? 'Delete' : 'Update'} of _id ${describeId(op.id)} at ${formatOptime(op.entry.ts)} matched no document in ${ns}`,
        {
          namespace: ns,
          optime: op.entry.ts,
          hint: 'conflictPolicy is "fail". Check that nothing else writes to the target, or resync this collection; conflictPolicy "upsert" re-copies such documents from the source'
        }
      );
    }
    const found = await this.#refetch(ns, conflicts);
    for (const op of conflicts) emit(op, found.has(documentKey(op.id)) ? 'upserted' : 'deleted');
  }

  /**
   * Copies the current source version of each conflicting document to the target, or deletes it
   * there if the source no longer has it. Later ops of the stream replay idempotently on top.
   * Returns the keys of the documents found on the source.
   */
  async #refetch(ns: string, conflicts: readonly CrudOp[]): Promise<Set<string>> {
    const source = this.#options.source!;
    const bySourceNs = new Map<string, Map<string, CrudOp>>();
    for (const op of conflicts) {
      let docs = bySourceNs.get(op.entry.ns);
      if (docs === undefined) bySourceNs.set(op.entry.ns, (docs = new Map()));
      docs.set(documentKey(op.id), op);
    }
    const target = this.#collection(ns);
    const found = new Set<string>();
    for (const [sourceNs, docs] of bySourceNs) {
      const { db, coll } = splitNamespace(sourceNs);
      const ids = [...docs.values()].map(op => op.id);
      const current = await this.#options.retry(`find ${sourceNs} on the source`, () =>
        source.db(db).collection(coll).find(byIds(ids), { promoteValues: false }).toArray()
      );
      const models: AnyBulkWriteOperation<Document>[] = [];
      const ops: CrudOp[] = [];
      for (const doc of current) {
        const key = documentKey(doc._id);
        const op = docs.get(key);
        if (op === undefined) continue;
        found.add(key);
        ops.push(op);
        models.push({ replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } });
      }
      for (const [key, op] of docs) {
        if (found.has(key)) continue;
        ops.push(op);
        models.push({ deleteOne: { filter: byIds([op.id]) } });
      }
      await this.#options.retry(`re-copy conflicting documents to ${ns}`, () =>
        this.#bulkWrite(target, ns, ops, models)
      );
    }
    return found;
  }

  /** Keys of the documents among `docs` that exist in `collection`. */
  async #existing(
    collection: Collection<Document>,
    docs: readonly DocumentOps[]
  ): Promise<Set<string>> {
    if (docs.length === 0) return new Set();
    const present = await collection
      .find(byIds(docs.map(d => d.id)), { projection: { _id: 1 }, promoteValues: false })
      .toArray();
    return new Set(present.map(doc => documentKey(doc._id)));
  }

  /** An ordered bulk write; a write error (not a transient failure) becomes a fatal error. */
  async #bulkWrite(
    collection: Collection<Document>,
    ns: string,
    ops: readonly CrudOp[],
    models: AnyBulkWriteOperation<Document>[]
  ): Promise<BulkWriteResult> {
    try {
      return await collection.bulkWrite(models, { ordered: true, ...this.#writeOptions });
    } catch (error) {
      const writeErrors = writeErrorsOf(error);
      const first = writeErrors[0];
      if (first === undefined) throw unwrapBulkError(error);
      throw fatalWriteError(first, ops, ns, error);
    }
  }

  #collection(ns: string): Collection<Document> {
    let collection = this.#collections.get(ns);
    if (collection === undefined) {
      const { db, coll } = splitNamespace(ns);
      collection = this.#options.target.db(db).collection(coll);
      this.#collections.set(ns, collection);
    }
    return collection;
  }
}

/** The indexes of an unordered insert's duplicate-key failures; anything else is rethrown. */
function duplicateIndexes(error: unknown, run: LaneRun): number[] {
  const writeErrors = writeErrorsOf(error);
  if (writeErrors.length === 0) throw error;
  const other = writeErrors.find(e => !DUPLICATE_KEY_CODES.has(e.code));
  if (other !== undefined) throw fatalWriteError(other, run.ops, run.ns, error);
  // A write-concern failure as well: retry the whole run (duplicates are handled next time).
  if ((error as MongoBulkWriteError).result?.getWriteConcernError() !== undefined) throw error;
  return writeErrors.map(e => e.index).sort((a, b) => a - b);
}

/** A per-document write error: transient codes are retried, the rest stop replication. */
function fatalWriteError(
  writeError: WriteError,
  ops: readonly CrudOp[],
  ns: string,
  cause: unknown
): unknown {
  if (classifyError({ code: writeError.code }).retryable) return cause;
  const op = ops[writeError.index];
  const what = op === undefined ? 'a write' : `${opName(op)} of _id ${describeId(op.id)}`;
  const at = op === undefined ? '' : ` at ${formatOptime(op.entry.ts)}`;
  return new TargetWriteError(
    `The target rejected ${what}${at} on ${ns}: ${writeError.errmsg ?? `code ${writeError.code}`}`,
    false,
    {
      namespace: ns,
      ...(op === undefined ? {} : { optime: op.entry.ts }),
      cause,
      hint: 'Replication stops rather than skip the write; fix the target (indexes, validation rules, permissions) and restart from the checkpoint'
    }
  );
}

function opName(op: CrudOp): string {
  switch (op.entry.op) {
    case 'i':
      return 'insert';
    case 'u':
      return 'update';
    case 'd':
      return 'delete';
  }
}

/** A short, log-safe rendering of an `_id` (document values never go into messages). */
function describeId(id: unknown): string {
  if (id === null || id === undefined) return String(id);
  if (typeof id === 'object') {
    const bson = (id as { _bsontype?: unknown })._bsontype;
    const text = String(id);
    if (typeof bson === 'string') return `${bson}(${text.slice(0, 40)})`;
    return '(a document)';
  }
  return JSON.stringify(String(id)).slice(0, 42);
}

/** `{_id: {$in: ids}}`; `_id`s are of any BSON type, which the driver's ObjectId default denies. */
function byIds(ids: readonly unknown[]): Document {
  return ids.length === 1 ? { _id: ids[0] } : { _id: { $in: ids } };
}
