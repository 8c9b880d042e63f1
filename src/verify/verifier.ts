/**
 * Verifier: proves that the target holds what the filter selects on the source, namespace by
 * namespace: collection options (or view definitions), indexes, and every document byte for
 * byte.
 *
 * ```
 * readSourceCatalog      the namespaces the filter selects, with options and indexes
 * readTargetNamespaces   what the target has; pairNamespaces() matches the two
 * per collection         DocumentSplitter cuts the source into _id ranges (the target, for a
 *                        target-only one); each range is read on both sides in _id order and
 *                        merged (range-compare.ts); `concurrency` ranges at a time
 * live sync              a range that differs is read again once the target has caught up with
 *                        the source's optime, up to `maxRechecks` times; its last reading counts
 * ```
 */
import { setMaxListeners } from 'node:events';

import { EventEmitter } from 'eventemitter3';
import { type Document, type Timestamp } from 'mongodb';

import { decodeRawValue, type RawValue } from '../bson/raw-bson.js';
import { createFields } from '../catalog/collection-options.js';
import { readSourceCatalog } from '../catalog/source-catalog-reader.js';
import { targetViewOn } from '../catalog/view-definitions.js';
import { type ReplicationError, SourceReadError, TargetWriteError } from '../errors.js';
import { emitSafely } from '../lifecycle/emit-safely.js';
import { DocumentSplitter, isIdIndex } from '../split/document-splitter.js';
import { type IdRange } from '../split/id-range.js';
import { type CatalogShape, compareIndexes, compareOptions } from './catalog-compare.js';
import { type NamespacePair, pairNamespaces } from './namespace-plan.js';
import { NamespaceTally } from './namespace-tally.js';
import {
  compareSortedDocuments,
  type MismatchKind,
  type RangeComparison,
  UnorderedStreamError
} from './range-compare.js';
import { runPool } from './run-pool.js';
import { noDocuments, readSide } from './side-reader.js';
import {
  listDatabaseNames,
  readIndexes,
  readTargetNamespaces,
  type Side
} from './target-catalog.js';
import {
  type IndexesComparison,
  type OptionsComparison,
  type VerificationReport,
  type VerifierEvents
} from './verification-report.js';
import {
  type ResolvedVerifierOptions,
  resolveVerifierOptions,
  type VerifierOptions
} from './verifier-options.js';

/** One range of one namespace to compare. */
interface RangeTask {
  readonly pair: NamespacePair;
  readonly tally: NamespaceTally;
  readonly range: IdRange;
  /** Whether each side has a collection to read (else it contributes no documents). */
  readonly readable: Readonly<Record<Side, boolean>>;
}

/** Collections hold documents; views (and missing namespaces) do not. */
function holdsDocuments(type: string | undefined): boolean {
  return type === 'collection' || type === 'timeseries';
}

/** True when bounded ranges can be read with `hint: {_id: 1}` and compared in byte order. */
function hasSimpleIdIndex(indexes: readonly Document[]): boolean {
  return indexes.some(index => {
    if (!isIdIndex(index)) return false;
    const locale = (index.collation as { locale?: unknown } | undefined)?.locale;
    return locale === undefined || locale === 'simple';
  });
}

/** One unbounded range in place of `ranges`. */
function wholeRange(ranges: readonly IdRange[]): IdRange[] {
  const first = ranges[0];
  if (first === undefined || ranges.length === 1) return [...ranges];
  const estimatedDocuments = ranges.reduce((sum, range) => sum + range.estimatedDocuments, 0);
  return [{ namespace: first.namespace, index: 0, count: 1, estimatedDocuments }];
}

/**
 * Compares source and target namespace by namespace and reports every difference; see the
 * module comment for how.
 *
 * @remarks
 * Equal means: the same collection options as the catalog copier compares them (or the same view
 * definition, `viewOn` renamed), the same indexes by name and spec, and for every `_id` the same
 * document bytes (values, BSON types and field order). Collections are never loaded whole: each
 * range is merged as two sorted streams.
 *
 * While replication is running the target trails the source; give `recheck` (for instance
 * `{ caughtUp: caughtUpWith(replicator) }`) so a range that differs is read again once the target
 * has applied the source's writes up to the moment the range was read.
 *
 * Failures are typed: {@link SourceReadError} for source reads, {@link TargetWriteError} for
 * target reads (as everywhere the library touches the target), {@link InvalidConfigError} for
 * options and for rename rules that would merge two namespaces. Messages never quote document
 * contents or `_id`s.
 *
 * @example
 * ```ts
 * const verifier = new Verifier({ source, target, filter: { include: ['shop.*'] } });
 * verifier.on('namespace', r => console.log(r.source, r.equal ? 'equal' : 'DIFFERENT'));
 * const report = await verifier.verify();
 * if (!report.equal) process.exitCode = 1;
 * ```
 * @public
 */
export class Verifier extends EventEmitter<VerifierEvents> {
  readonly #options: ResolvedVerifierOptions;
  readonly #splitters: Readonly<Record<Side, DocumentSplitter>>;

  /**
   * Validates the options; no I/O happens here.
   * @throws {@link InvalidConfigError} naming the first invalid option
   */
  constructor(options: VerifierOptions) {
    const resolved = resolveVerifierOptions(options);
    super();
    this.#options = resolved;
    const splitter = { ...resolved.splitter, logger: resolved.logger };
    this.#splitters = {
      source: new DocumentSplitter({ ...splitter, source: resolved.source }),
      target: new DocumentSplitter({ ...splitter, source: resolved.target })
    };
  }

  /**
   * Compares everything the filter selects and resolves with the report (also when something
   * differs; check `report.equal`).
   *
   * @throws {@link SourceReadError} / {@link TargetWriteError} when a side cannot be read (with
   * `retryable` set when trying again may help)
   * @throws {@link InvalidConfigError} when the rename rules would compare two source namespaces
   * with one target namespace
   * @throws the `signal`'s reason when the `signal` option aborts, and whatever
   * `recheck.caughtUp` rejects with
   */
  async verify(): Promise<VerificationReport> {
    const startedAt = new Date();
    const started = performance.now();
    const { source, target, filter, renameRules, logger, concurrency } = this.#options;
    const abort = new AbortController();
    // Every reading cursor and a pending caughtUp listen on this signal at once.
    setMaxListeners(4 * concurrency + 16, abort.signal);
    const external = this.#options.signal;
    const forward = (): void => abort.abort(external?.reason);
    if (external?.aborted) forward();
    else external?.addEventListener('abort', forward, { once: true });
    try {
      abort.signal.throwIfAborted();
      const catalog = await readSourceCatalog(source, filter, logger);
      const [targets, sourceDatabases] = await Promise.all([
        readTargetNamespaces(target),
        listDatabaseNames(source, 'source')
      ]);
      const pairs = pairNamespaces(catalog, targets, { filter, sourceDatabases, renameRules });
      logger.info('Verifying', { namespaces: pairs.length, filter: filter.describe?.() });
      const tallies: NamespaceTally[] = [];
      await runPool(
        this.#tasks(pairs, tallies, abort.signal),
        concurrency,
        task => this.#compareRange(task, abort.signal),
        abort
      );
      const namespaces = tallies.map(tally => tally.report());
      const report: VerificationReport = {
        equal: namespaces.every(namespace => namespace.equal),
        startedAt,
        durationMs: performance.now() - started,
        namespaces
      };
      logger.info('Verification done', {
        equal: report.equal,
        namespaces: namespaces.length,
        differing: namespaces.filter(namespace => !namespace.equal).length,
        durationMs: Math.round(report.durationMs)
      });
      return report;
    } catch (error) {
      if (external?.aborted === true && abort.signal.reason === external.reason) {
        throw external.reason;
      }
      throw error;
    } finally {
      external?.removeEventListener('abort', forward);
    }
  }

  /** Namespaces one at a time: compare the catalog, split, then hand out its ranges. */
  async *#tasks(
    pairs: readonly NamespacePair[],
    tallies: NamespaceTally[],
    signal: AbortSignal
  ): AsyncGenerator<RangeTask, void, void> {
    for (const pair of pairs) {
      signal.throwIfAborted();
      const readable = {
        source: holdsDocuments(pair.sourceEntry?.type),
        target: holdsDocuments(pair.targetEntry?.type)
      };
      const targetIndexes = readable.target
        ? await readIndexes(this.#options.target, 'target', pair.target)
        : [];
      const tally = new NamespaceTally(
        pair,
        this.#compareCatalog(pair, targetIndexes),
        this.#options.sampleLimit
      );
      tallies.push(tally);
      const ranges = await this.#ranges(pair, readable, targetIndexes);
      tally.rangesTotal = ranges.length;
      if (ranges.length === 0) {
        this.#emit('namespace', tally.report());
        continue;
      }
      for (const range of ranges) yield { pair, tally, range, readable };
    }
  }

  #compareCatalog(
    pair: NamespacePair,
    targetIndexes: readonly Document[]
  ): { readonly options: OptionsComparison; readonly indexes: IndexesComparison } {
    const { sourceEntry, targetEntry } = pair;
    let expected: CatalogShape | undefined;
    if (sourceEntry?.type === 'view') {
      const { viewOn } = targetViewOn(sourceEntry, this.#options.filter);
      expected = { type: 'view', options: { ...sourceEntry.options, viewOn } };
    } else if (sourceEntry !== undefined) {
      expected = {
        type: sourceEntry.type,
        options: createFields(sourceEntry.options, sourceEntry.idIndex).fields
      };
    }
    const sourceIndexes =
      sourceEntry === undefined || sourceEntry.type === 'view'
        ? undefined
        : { indexes: sourceEntry.indexes, collation: sourceEntry.options.collation };
    const targetIndexSet =
      targetEntry === undefined || targetEntry.type === 'view'
        ? undefined
        : { indexes: targetIndexes, collation: targetEntry.options.collation };
    return {
      options: compareOptions(expected, targetEntry),
      indexes: compareIndexes(sourceIndexes, targetIndexSet)
    };
  }

  /** The namespace's ranges: none for a view, the splitter's otherwise (one if they cannot be bounded on the target). */
  async #ranges(
    pair: NamespacePair,
    readable: Readonly<Record<Side, boolean>>,
    targetIndexes: readonly Document[]
  ): Promise<IdRange[]> {
    if (pair.kind === 'view' || (!readable.source && !readable.target)) return [];
    if (!readable.source) return [...(await this.#splitTarget(pair.target))];
    const ranges = await this.#splitters.source.split(pair.source);
    if (ranges.length > 1 && readable.target && !hasSimpleIdIndex(targetIndexes)) {
      this.#options.logger.info(
        'Target collection compared as one range: it has no simple-collation _id index to bound',
        { namespace: pair.target }
      );
      return wholeRange(ranges);
    }
    return [...ranges];
  }

  /** A target-only collection, cut like a source one; the splitter's errors name the source. */
  async #splitTarget(namespace: string): Promise<readonly IdRange[]> {
    try {
      return await this.#splitters.target.split(namespace);
    } catch (error) {
      if (!(error instanceof SourceReadError)) throw error;
      throw new TargetWriteError(
        `Could not split ${namespace} on the target into _id ranges`,
        error.retryable,
        { namespace, cause: error.cause }
      );
    }
  }

  /** Compares one range, rechecking it after the target caught up while it differs. */
  async #compareRange(task: RangeTask, signal: AbortSignal): Promise<void> {
    const recheck = this.#options.recheck;
    let rechecks = 0;
    let result: RangeComparison;
    for (;;) {
      const final = recheck === undefined || rechecks >= recheck.maxRechecks;
      result = await this.#compareOnce(task, final, signal);
      if (final || result.missing + result.extra + result.different === 0) break;
      // The target must apply everything the source had when the range was read, then both
      // sides are read again.
      const optime = await this.#sourceOptime(signal);
      await recheck.caughtUp(optime, signal);
      signal.throwIfAborted();
      rechecks++;
      this.#options.logger.debug('Range differs; compared again after the target caught up', {
        namespace: task.pair.source,
        range: task.range.index + 1,
        recheck: rechecks
      });
    }
    const { tally } = task;
    tally.addRange(result, rechecks);
    this.#emit('progress', {
      namespace: tally.namespace,
      rangesDone: tally.rangesDone,
      rangesTotal: tally.rangesTotal,
      documents: tally.documents
    });
    if (tally.done) this.#emit('namespace', tally.report());
  }

  /**
   * One reading of both sides. Only a final reading reports its mismatches; an earlier one stops
   * at the first, since the range is read again.
   */
  async #compareOnce(
    task: RangeTask,
    final: boolean,
    signal: AbortSignal
  ): Promise<RangeComparison> {
    const { pair, range, readable, tally } = task;
    const side = (which: Side): AsyncIterable<Uint8Array> =>
      readable[which]
        ? readSide({
            client: this.#options[which],
            side: which,
            namespace: pair[which],
            range,
            signal
          })
        : noDocuments();
    try {
      return await compareSortedDocuments(side('source'), side('target'), {
        signal,
        stopAtFirstMismatch: !final,
        ...(final ? { onMismatch: (kind, id) => this.#mismatch(tally, kind, id) } : {})
      });
    } catch (error) {
      if (!(error instanceof UnorderedStreamError)) throw error;
      throw unordered(error, pair, range);
    }
  }

  #mismatch(tally: NamespaceTally, kind: MismatchKind, raw: RawValue): void {
    const listened = this.listenerCount('mismatch') > 0;
    if (!listened && !tally.wantsSample(kind)) return;
    const id = decodeRawValue(raw);
    tally.addSample(kind, id);
    if (listened) this.#emit('mismatch', { namespace: tally.namespace, kind, id });
  }

  /** The source's latest optime: `operationTime` of a ping. */
  async #sourceOptime(signal: AbortSignal): Promise<Timestamp> {
    let reply: Document;
    try {
      reply = await this.#options.source.db('admin').command({ ping: 1 }, { signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new SourceReadError('Reading the source optime for a recheck failed', true, {
        cause: error
      });
    }
    const ts: unknown = reply.operationTime;
    if (
      ts !== null &&
      typeof ts === 'object' &&
      (ts as { _bsontype?: unknown })._bsontype === 'Timestamp'
    ) {
      return ts as Timestamp;
    }
    throw new SourceReadError('The source reported no operationTime', false, {
      hint: 'Rechecks need a replica set (or sharded cluster) source; leave out recheck for a standalone one'
    });
  }

  /** Emits without letting a throwing host listener break the verification. */
  #emit<K extends EventEmitter.EventNames<VerifierEvents>>(
    event: K,
    ...args: EventEmitter.EventArgs<VerifierEvents, K>
  ): void {
    emitSafely(this as unknown as EventEmitter, String(event), args, this.#options.logger, {
      stage: 'verifier'
    });
  }
}

/** A side that came back out of `_id` order: nothing it says about the range can be trusted. */
function unordered(
  error: UnorderedStreamError,
  pair: NamespacePair,
  range: IdRange
): ReplicationError {
  const namespace = pair[error.side];
  const message = `Range ${range.index + 1}/${range.count} of ${namespace} on the ${error.side} cannot be compared: ${error.message}`;
  const options = {
    namespace,
    hint: 'Report this with the MongoDB version of both sides; the collection cannot be verified until then',
    cause: error
  };
  return error.side === 'source'
    ? new SourceReadError(message, false, options)
    : new TargetWriteError(message, false, options);
}
