/**
 * RunWriter: writes one run of ops (one target namespace) as an ordered `bulkWrite`, and handles
 * the updates and deletes that matched nothing. Shared by the applier lanes, which retry each run
 * on its own, and the transaction applier, which writes every run of a source transaction inside
 * one target transaction (and retries the transaction as a whole).
 *
 * Misses are read from the bulk result's totals, so the common path costs one round trip per
 * run. Before `catchUpUntil` they are expected and only counted. After it they are conflicts: the
 * writer finds out which ops missed ({@link attributeMisses}) and applies the policy: `ignore`
 * (count and report), `upsert` (copy the document's current state from the source, or delete it
 * if the source no longer has it), or `fail` (stop with {@link ApplyConflictError}). Nothing is
 * ever dropped silently.
 */
import {
  type AnyBulkWriteOperation,
  type BulkWriteResult,
  type ClientSession,
  type Collection,
  type Document,
  type MongoClient,
  type WriteConcern,
  type WriteConcernSettings,
  type WriteError
} from 'mongodb';

import { bsonTypeName, describeId } from '../bson/bson-values.js';
import { EXACT_DECODE_OPTIONS } from '../bson/exact-decode.js';
import { ApplyConflictError, TargetWriteError } from '../errors.js';
import {
  describeWriteError,
  unwrapBulkError,
  writeErrorsOf
} from '../lifecycle/bulk-write-errors.js';
import { classifyError } from '../lifecycle/classify-error.js';
import { type TargetWriteOptions, targetWriteOptions } from '../lifecycle/write-options.js';
import { type Logger } from '../logger.js';
import { splitNamespace } from '../namespace/namespace.js';
import { insertAsReplacement, toWriteModel } from '../oplog/crud-ops.js';
import { applyDiffToDocument, needsPreImage } from '../oplog/diff-applier.js';
import { formatOptime, type UpdateEntry } from '../oplog/oplog-entry.js';
import { preImageUpdate } from '../oplog/update-diff.js';
import { type CrudOp } from '../pipeline/pipeline-items.js';
import {
  type ApplierConflictEvent,
  type ApplyCounts,
  type ConflictAction,
  type ConflictPolicy
} from './apply-outcome.js';
import { type LaneRun } from './lane-plan.js';
import {
  attributeMisses,
  documentKey,
  type DocumentOps,
  groupByDocument
} from './miss-attribution.js';
import { uniqueConflictOf } from './unique-conflict.js';

/** Target collection handles a lane keeps (see `RunWriter.collection`). */
const COLLECTION_CACHE_SIZE = 1024;

/**
 * Retries a target operation with the stage's backoff and `retry` events.
 * @internal
 */
export type LaneRetry = <T>(operation: string, fn: (attempt: number) => Promise<T>) => Promise<T>;

/**
 * What a {@link RunWriter} needs.
 * @internal
 */
export interface RunWriterOptions {
  /** The connected target client. */
  readonly target: MongoClient;
  /** The connected source client, for the `upsert` conflict policy. */
  readonly source: MongoClient | undefined;
  /** What to do about conflicts. */
  readonly conflictPolicy: ConflictPolicy;
  /** The write concern of every write outside a transaction; the client's when undefined. */
  readonly writeConcern: WriteConcern | WriteConcernSettings | undefined;
  /** Whether writes skip the target's document validation (the source already validated). */
  readonly bypassDocumentValidation: boolean;
  /** Retries transient failures of one call (inside a transaction: one attempt only). */
  readonly retry: LaneRetry;
  /** Receives each conflict once the policy's action is done (or just before `fail` throws). */
  readonly onConflict: (event: ApplierConflictEvent) => void;
  /** Where to log. */
  readonly logger: Logger;
  /** Runs right before every write; throwing stops it (the lease check). */
  readonly beforeWrite: () => void;
}

/**
 * Writes runs of ops as ordered bulk writes, with the conflict policy for misses.
 * @internal
 */
export class RunWriter {
  readonly #options: RunWriterOptions;
  readonly #writeOptions: TargetWriteOptions;
  readonly #collections = new Map<string, Collection<Document>>();

  /**
   * @param label - Who writes (`lane 3`, `transaction`), for operation names in logs and events.
   * @param options - Resolved options.
   */
  constructor(
    readonly label: string,
    options: RunWriterOptions
  ) {
    this.#options = options;
    this.#writeOptions = targetWriteOptions(options);
  }

  /**
   * Applies a run in order as one `bulkWrite` of {@link runModels}; then counts the misses and
   * handles conflicts. With `session`, every read and write joins its transaction.
   */
  async write(run: LaneRun, counts: ApplyCounts, session?: ClientSession): Promise<void> {
    if (run.ops.some(needsDocument)) return this.#writeAroundDocumentOps(run, counts, session);
    const collection = this.collection(run.ns);
    let inserts = 0;
    let updates = 0;
    let deletes = 0;
    for (const op of run.ops) {
      if (op.entry.op === 'i') inserts++;
      else if (op.entry.op === 'd') deletes++;
      else updates++;
    }
    // Deletes after catch-up are the one case where the result cannot tell whether the
    // document was there; only then is its existence read first (see miss-attribution.ts).
    const docs = !run.catchUp && deletes > 0 ? groupByDocument(run.ops) : undefined;
    const attempt = (models: RunModels) =>
      this.#options.retry(`bulkWrite ${run.ns} (${this.label})`, async attempt => {
        const before =
          docs === undefined
            ? undefined
            : await this.#existing(
                collection,
                [...docs.values()].filter(d => d.first === 'delete'),
                session
              );
        const result = await this.bulkWrite(collection, run.ns, run.ops, models.models, session, {
          preImageForms: models.preImageForms
        });
        return { result, before, replayed: attempt > 1 };
      });
    // The catch-up may meet any version of a document, and a write error would abort a
    // transaction: both get the exact forms at once.
    const exact = run.catchUp || session !== undefined;
    let outcome: Awaited<ReturnType<typeof attempt>>;
    try {
      outcome = await attempt(runModels(run.ops, exact));
    } catch (error) {
      if (!(error instanceof PreImageMismatch)) throw error;
      this.#options.logger.debug(
        `an update in operator form met another version of its document on ${run.ns}; replaying the run in exact form`,
        { writer: this.label, index: error.index }
      );
      // The ops before the failed one were applied: this is a replay, as after a retry.
      outcome = { ...(await attempt(runModels(run.ops, true))), replayed: true };
    }
    const { result, before, replayed } = outcome;
    counts.inserts += inserts;
    counts.updates += updates;
    counts.deletes += deletes;
    if (inserts > 0) {
      const upserted = upsertedIndexes(result);
      run.ops.forEach((op, index) => {
        if (op.entry.op === 'i' && !upserted.has(index)) counts.upserts++;
      });
    }
    // Each insert (a replace-upsert) and replacement update matches or upserts exactly once.
    const missed =
      inserts +
      updates -
      result.matchedCount -
      result.upsertedCount +
      (deletes - result.deletedCount);
    if (missed <= 0) return;
    if (run.catchUp) {
      counts.expectedMissing += missed;
      return;
    }
    await this.#conflicts(run, collection, docs ?? groupByDocument(run.ops), session, {
      result,
      before,
      replayed,
      missed,
      counts
    });
  }

  /**
   * An ordered bulk write; a write error (not a transient failure) becomes a fatal error, except
   * PathNotViable on an update in operator form ({@link preImageUpdate}), which becomes a
   * {@link PreImageMismatch} for the caller to replay the run in exact form, and a duplicate key
   * on a unique secondary index, which becomes a {@link UniqueConflict} for the pool.
   */
  async bulkWrite(
    collection: Collection<Document>,
    ns: string,
    ops: readonly CrudOp[],
    models: AnyBulkWriteOperation<Document>[],
    session?: ClientSession,
    options: { readonly preImageForms?: ReadonlySet<number> } = {}
  ): Promise<BulkWriteResult> {
    this.#options.beforeWrite();
    try {
      // Inside a transaction the transaction's write concern applies, not the operation's.
      const writeOptions =
        session === undefined
          ? this.#writeOptions
          : { session, bypassDocumentValidation: this.#options.bypassDocumentValidation };
      return await collection.bulkWrite(models, { ordered: true, ...writeOptions });
    } catch (error) {
      const writeErrors = writeErrorsOf(error);
      const first = writeErrors[0];
      if (first === undefined) throw unwrapBulkError(error);
      if (first.code === PATH_NOT_VIABLE && options.preImageForms?.has(first.index) === true) {
        throw new PreImageMismatch(first.index);
      }
      throw uniqueConflictOf(first, ns) ?? fatalWriteError(first, ops, ns, error);
    }
  }

  /**
   * A run holding updates only the document itself can apply (a binary diff): the ops around
   * each such update are written as runs of their own, in order, and the update is applied to
   * the document read from the target ({@link applyDiffToDocument}), then written back. The
   * lane owns the document, so nothing writes it in between.
   */
  async #writeAroundDocumentOps(
    run: LaneRun,
    counts: ApplyCounts,
    session: ClientSession | undefined
  ): Promise<void> {
    let pending: CrudOp[] = [];
    const flush = async () => {
      if (pending.length > 0) await this.write({ ...run, ops: pending }, counts, session);
      pending = [];
    };
    for (const op of run.ops) {
      if (!needsDocument(op)) {
        pending.push(op);
        continue;
      }
      await flush();
      await this.#applyToDocument(run, op, counts, session);
    }
    await flush();
  }

  async #applyToDocument(
    run: LaneRun,
    op: CrudOp,
    counts: ApplyCounts,
    session: ClientSession | undefined
  ): Promise<void> {
    const entry = op.entry as UpdateEntry;
    const collection = this.collection(run.ns);
    const sessionOption = session === undefined ? {} : { session };
    const found = await this.#options.retry(
      `apply a binary diff on ${run.ns} (${this.label})`,
      () => collection.findOne(entry.o2, { ...EXACT_DECODE_OPTIONS, ...sessionOption })
    );
    counts.updates++;
    if (found === null) {
      if (run.catchUp) counts.expectedMissing++;
      else {
        counts.conflicts++;
        await this.#resolve(run.ns, [op], session);
      }
      return;
    }
    const next = applyDiffToDocument(found, entry.o.diff as Document);
    const models: AnyBulkWriteOperation<Document>[] = [
      { replaceOne: { filter: { _id: found._id }, replacement: next } }
    ];
    await this.#options.retry(`bulkWrite ${run.ns} (${this.label})`, () =>
      this.bulkWrite(collection, run.ns, [op], models, session)
    );
  }

  /**
   * The target collection of `ns`, cached (the driver's `db()` copies the client's options on
   * every call). The cache holds the last 1024 namespaces a lane wrote
   * to, so replicating 100 000 namespaces does not keep 100 000 handles per lane.
   */
  collection(ns: string): Collection<Document> {
    let collection = this.#collections.get(ns);
    if (collection === undefined) {
      const { db, coll } = splitNamespace(ns);
      collection = this.#options.target.db(db).collection(coll);
      if (this.#collections.size >= COLLECTION_CACHE_SIZE) {
        const oldest = this.#collections.keys().next().value;
        if (oldest !== undefined) this.#collections.delete(oldest);
      }
      this.#collections.set(ns, collection);
    }
    return collection;
  }

  async #conflicts(
    run: LaneRun,
    collection: Collection<Document>,
    docs: ReadonlyMap<string, DocumentOps>,
    session: ClientSession | undefined,
    outcome: {
      readonly result: BulkWriteResult;
      readonly before: ReadonlySet<string> | undefined;
      readonly replayed: boolean;
      readonly missed: number;
      readonly counts: ApplyCounts;
    }
  ): Promise<void> {
    const upserted = upsertedIndexes(outcome.result);
    const updateOnly = [...docs.values()].filter(d => d.first === 'none');
    const after =
      updateOnly.length === 0
        ? undefined
        : await this.#options.retry(`find ${run.ns} (${this.label})`, () =>
            this.#existing(collection, updateOnly, session)
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
        { writer: this.label, missed: outcome.missed }
      );
      outcome.counts.conflicts += unexplained;
    }
    outcome.counts.conflicts += conflicts.length;
    if (conflicts.length > 0) await this.#resolve(run.ns, conflicts, session);
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

  async #resolve(
    ns: string,
    conflicts: readonly CrudOp[],
    session: ClientSession | undefined
  ): Promise<void> {
    const { conflictPolicy: policy, onConflict } = this.#options;
    const emit = (op: CrudOp, action: ConflictAction) =>
      onConflict({
        namespace: ns,
        op: op.entry.op === 'd' ? 'd' : 'u',
        idType: bsonTypeName(op.id),
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
        `${op.entry.op === 'd' ? 'Delete' : 'Update'} of a document (${describeId(op.id)}) at ${formatOptime(op.entry.ts)} matched no document in ${ns}`,
        {
          namespace: ns,
          optime: op.entry.ts,
          hint: 'conflictPolicy is "fail". Check that nothing else writes to the target, or resync this collection; conflictPolicy "upsert" re-copies such documents from the source'
        }
      );
    }
    const found = await this.#refetch(ns, conflicts, session);
    for (const op of conflicts) emit(op, found.has(documentKey(op.id)) ? 'upserted' : 'deleted');
  }

  /**
   * Copies the current source version of each conflicting document to the target, or deletes it
   * there if the source no longer has it. Later ops of the stream replay idempotently on top.
   * Returns the keys of the documents found on the source.
   */
  async #refetch(
    ns: string,
    conflicts: readonly CrudOp[],
    session: ClientSession | undefined
  ): Promise<Set<string>> {
    const source = this.#options.source!;
    const bySourceNs = new Map<string, Map<string, CrudOp>>();
    for (const op of conflicts) {
      let docs = bySourceNs.get(op.entry.ns);
      if (docs === undefined) bySourceNs.set(op.entry.ns, (docs = new Map()));
      docs.set(documentKey(op.id), op);
    }
    const target = this.collection(ns);
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
        this.bulkWrite(target, ns, ops, models, session)
      );
    }
    return found;
  }

  /** Keys of the documents among `docs` that exist in `collection`. */
  async #existing(
    collection: Collection<Document>,
    docs: readonly DocumentOps[],
    session: ClientSession | undefined
  ): Promise<Set<string>> {
    if (docs.length === 0) return new Set();
    const present = await collection
      .find(byIds(docs.map(d => d.id)), {
        projection: { _id: 1 },
        promoteValues: false,
        ...(session === undefined ? {} : { session })
      })
      .toArray();
    return new Set(present.map(doc => documentKey(doc._id)));
  }
}

/** mongod's PathNotViable: `$set` of `a.b` where `a` is neither missing nor a document. */
const PATH_NOT_VIABLE = 28;

/** An update in operator form met a version of its document it cannot apply to. */
class PreImageMismatch extends Error {
  constructor(readonly index: number) {
    super(`the update at index ${index} of the run needs its exact form`);
    this.name = 'PreImageMismatch';
  }
}

/** An update whose diff only the document itself can apply (a binary section). */
function needsDocument(op: CrudOp): boolean {
  const { entry } = op;
  return entry.op === 'u' && entry.kind === 'diff' && needsPreImage(entry.o.diff as Document);
}

/** The bulk-write models of a run, and which of them are updates in operator form. */
interface RunModels {
  readonly models: AnyBulkWriteOperation<Document>[];
  readonly preImageForms: ReadonlySet<number>;
}

/**
 * Inserts as replace-upserts (a duplicate `_id` is replaced, as a secondary does), updates and
 * deletes by {@link toWriteModel}; unless `exact`, a `$v: 2` diff by {@link preImageUpdate}
 * (the cheaper operator form where it applies).
 */
function runModels(ops: readonly CrudOp[], exact: boolean): RunModels {
  const preImageForms = new Set<number>();
  const models = ops.map((op, index): AnyBulkWriteOperation<Document> => {
    const { entry } = op;
    if (entry.op === 'i') return insertAsReplacement(entry);
    if (!exact && entry.op === 'u' && entry.kind === 'diff') {
      const translated = preImageUpdate(entry.o.diff as Document, {
        namespace: entry.ns,
        optime: entry.ts
      });
      // Binary diffs never reach here: write() applies them to the document.
      if (translated.needsDocument !== true) {
        if (translated.preImageForm) preImageForms.add(index);
        return { updateOne: { filter: entry.o2, update: translated.update } };
      }
    }
    return toWriteModel(entry);
  });
  return { models, preImageForms };
}

/** Indexes (in the run) of the ops that upserted a document. */
function upsertedIndexes(result: BulkWriteResult): Set<number> {
  return new Set(Object.keys(result.upsertedIds).map(Number));
}

/**
 * A per-document write error: transient codes are handed back (to be retried), the rest become
 * a {@link TargetWriteError} that stops replication.
 * @internal
 */
export function fatalWriteError(
  writeError: WriteError,
  ops: readonly CrudOp[],
  ns: string,
  cause: unknown
): unknown {
  if (classifyError({ code: writeError.code }).retryable) return cause;
  const op = ops[writeError.index];
  const what =
    op === undefined ? 'a write' : `the ${opName(op)} of a document (${describeId(op.id)})`;
  const at = op === undefined ? '' : ` at ${formatOptime(op.entry.ts)}`;
  return new TargetWriteError(
    `The target rejected ${what}${at} on ${ns}: ${describeWriteError(writeError)}`,
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

/** `{_id: {$in: ids}}`; `_id`s are of any BSON type, which the driver's ObjectId default denies. */
function byIds(ids: readonly unknown[]): Document {
  return ids.length === 1 ? { _id: ids[0] } : { _id: { $in: ids } };
}
