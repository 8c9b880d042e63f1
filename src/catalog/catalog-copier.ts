/**
 * CatalogCopier: prepares the target for a full copy. For every namespace the filter selects it
 * creates the target collection with the source's options, copies the indexes with all their
 * options, and recreates the views, under the filter's names.
 *
 * ```
 * listSource()        listDatabases → listCollections → listIndexes   (source only)
 * checkTargets(cat)   every target namespace against onExistingTarget  (reads only; throws
 *                     TargetExistsError before anything is written)
 * prepareCollection   missing → create | exists → keep, or drop and create (see target-plan.ts)
 * copyIndexes         createIndexes with every non-_id index (before or after the data)
 * createViews         in dependency order, viewOn renamed
 * ```
 *
 * Every step is idempotent, so a resumed copy runs them again: what exists as it should is
 * kept, and `createIndexes` skips identical indexes.
 */
import { EventEmitter } from 'eventemitter3';
import { type Document } from 'mongodb';

import { forEachConcurrently } from '../lifecycle/concurrently.js';
import { emitSafely } from '../lifecycle/emit-safely.js';
import { serverCode } from '../lifecycle/side-errors.js';
import { splitNamespace } from '../namespace/namespace.js';
import { type CatalogCopierEvents } from './catalog-copier-events.js';
import {
  type CatalogCopierOptions,
  resolveCatalogCopierOptions,
  type ResolvedCatalogCopierOptions
} from './catalog-copier-options.js';
import { targetExists, targetWriteFailed } from './catalog-errors.js';
import { createFields } from './collection-options.js';
import { readExistingTargets } from './existing-targets.js';
import { indexSpecsToCreate } from './index-specs.js';
import { type SourceCatalog, type SourceCollection, type SourceView } from './source-catalog.js';
import { readSourceCatalog } from './source-catalog-reader.js';
import { type ExistingTarget, planTarget, type TargetPlan } from './target-plan.js';
import { relaxedSpec } from './unique-indexes.js';
import { orderViews, targetViewOn } from './view-definitions.js';

/** NamespaceNotFound. */
const NAMESPACE_NOT_FOUND = 26;
const NAMESPACE_EXISTS = 48;

/**
 * Options of {@link CatalogCopier.prepareCollections}.
 * @public
 */
export interface PrepareCollectionsOptions {
  /** Collections prepared at once. */
  readonly concurrency: number;
  /**
   * Leave a missing collection without options (and with the default `_id` index) to be
   * created by its first insert, saving a round trip per collection; the caller then creates
   * those that got no document ({@link CatalogCopier.ensureCollections}).
   * @defaultValue false
   */
  readonly deferPlainCreates?: boolean;
  /** Wraps each collection's preparation (the copy waits there while writes are paused). */
  readonly each?: (prepare: () => Promise<void>) => Promise<void>;
}

/** No options and the default `_id` index: what an insert into a missing collection creates. */
function isPlainCollection(collection: SourceCollection): boolean {
  if (collection.type !== 'collection' || Object.keys(collection.options).length > 0) return false;
  const idIndex = collection.idIndex;
  if (idIndex === undefined) return true;
  const { v: _v, ns: _ns, key, name, ...rest } = idIndex;
  const keyFields = Object.keys((key ?? {}) as object);
  return (
    Object.keys(rest).length === 0 &&
    name === '_id_' &&
    keyFields.length === 1 &&
    keyFields[0] === '_id' &&
    Number((key as { _id?: unknown })._id) === 1
  );
}

/** What the copier would create at a target namespace. */
interface Expected {
  readonly type: 'collection' | 'timeseries' | 'view';
  readonly options: Readonly<Document>;
}

/**
 * Copies the catalog a filter selects, collections with their options, indexes and views, from
 * the source to the target.
 *
 * @remarks
 * All methods are idempotent. A target collection that already exists is kept when it has
 * the source's options and is empty; one that holds documents is refused (`'fail'`, the
 * default), dropped and recreated (`'drop'`) or kept (`'append'`); one created with other
 * options (or a view where the source has a collection) is refused unless the policy is
 * `'drop'`. Call {@link CatalogCopier.checkTargets} first so that a refusal comes before
 * anything is written.
 *
 * Failures are typed: {@link SourceReadError} and {@link TargetWriteError} (with `retryable`
 * set per `classifyError()`), {@link TargetExistsError}, and {@link InvalidConfigError} for
 * rename rules that would merge two namespaces or split a view from what it reads.
 *
 * A view's pipeline is copied as it is: a `$lookup` or `$unionWith` in it keeps naming its
 * source collection even if the filter renames that one.
 *
 * @example
 * ```ts
 * const copier = new CatalogCopier({ source, target, filter, onExistingTarget: 'fail' });
 * copier.on('created', e => log(`${e.kind} ${e.namespace} ${e.name ?? ''}`));
 * const catalog = await copier.listSource();
 * await copier.checkTargets(catalog);
 * for (const collection of catalog.collections) {
 *   await copier.prepareCollection(collection);
 *   await copier.copyIndexes(collection);
 * }
 * // … copy the documents …
 * await copier.createViews(catalog.views);
 * ```
 * @public
 */
export class CatalogCopier extends EventEmitter<CatalogCopierEvents> {
  readonly #options: ResolvedCatalogCopierOptions;

  /**
   * Validates the options; no I/O happens here.
   * @throws {@link InvalidConfigError} naming the first invalid option
   */
  constructor(options: CatalogCopierOptions) {
    const resolved = resolveCatalogCopierOptions(options);
    super();
    this.#options = resolved;
  }

  /**
   * Reads what the filter selects on the source: each database's collections, time-series
   * collections and views with their options, and each collection's indexes.
   *
   * @remarks
   * `admin`, `config` and `local` and `system.*` collections are listed only as far as the
   * filter includes them; `system.views`, `system.buckets.*` and `system.profile` never are.
   * @throws {@link InvalidConfigError} when the rename rules would copy two source namespaces
   * to one target namespace, or put a view and what it reads in different databases
   * @throws {@link SourceReadError} when the source cannot be read
   */
  listSource(): Promise<SourceCatalog> {
    const { source, filter, logger } = this.#options;
    return readSourceCatalog(source, filter, logger);
  }

  /**
   * Checks every target namespace of `catalog` against the `onExistingTarget` policy, reading
   * only, so that nothing is written anywhere when one is refused.
   *
   * @throws {@link TargetExistsError} for the first refused namespace (its message counts the
   * others)
   * @throws {@link TargetWriteError} when the target cannot be read
   */
  async checkTargets(catalog: SourceCatalog): Promise<void> {
    const expected = new Map<string, Expected>();
    for (const collection of catalog.collections) {
      expected.set(collection.targetNs, this.#expectedCollection(collection));
    }
    for (const view of catalog.views) expected.set(view.targetNs, this.#expectedView(view));
    const existing = await readExistingTargets(this.#options.target, [...expected.keys()]);
    const refused: { ns: string; plan: Extract<TargetPlan, { action: 'refuse' }>; type: string }[] =
      [];
    for (const [ns, wanted] of expected) {
      const found = existing.get(ns);
      const plan = planTarget(this.#options.onExistingTarget, wanted, found);
      if (plan.action === 'refuse') refused.push({ ns, plan, type: found?.type ?? '' });
    }
    const first = refused[0];
    if (first === undefined) return;
    throw targetExists(
      first.plan,
      first.ns,
      { existing: first.type, expected: expected.get(first.ns)?.type ?? '' },
      refused.length - 1
    );
  }

  /**
   * Creates the target collection of `collection` with the source's options, or keeps, drops
   * and recreates, or refuses an existing one per the `onExistingTarget` policy.
   *
   * @throws {@link TargetExistsError} when the policy refuses the existing collection
   * @throws {@link TargetWriteError} when the target refuses the change
   */
  async prepareCollection(collection: SourceCollection): Promise<void> {
    await this.#prepareCollection(collection, await this.#existing([collection.targetNs]));
  }

  /**
   * {@link CatalogCopier.prepareCollection} for many collections: what exists on the target is
   * read once for all (one `listCollections` per target database), then up to
   * `options.concurrency` collections are prepared at once.
   *
   * @returns The target namespaces left to be created by their first insert
   * (`options.deferPlainCreates`); the caller creates those that get none
   * ({@link CatalogCopier.ensureCollections}).
   * @throws as {@link CatalogCopier.prepareCollection}, for the first collection that fails
   */
  async prepareCollections(
    collections: readonly SourceCollection[],
    options: PrepareCollectionsOptions
  ): Promise<string[]> {
    const { concurrency, deferPlainCreates = false, each = prepare => prepare() } = options;
    const existing = await this.#existing(collections.map(c => c.targetNs));
    const deferred: string[] = [];
    await forEachConcurrently(collections, concurrency, collection =>
      each(async () => {
        const plain = deferPlainCreates && isPlainCollection(collection);
        if (await this.#prepareCollection(collection, existing, plain)) {
          deferred.push(collection.targetNs);
        }
      })
    );
    return deferred;
  }

  /**
   * Creates each of `namespaces` that does not exist yet on the target, without options (what a
   * first insert would have created).
   * @throws {@link TargetWriteError} when the target refuses a creation
   */
  async ensureCollections(namespaces: readonly string[], concurrency: number): Promise<void> {
    await forEachConcurrently(namespaces, concurrency, ns => this.#create(ns, {}, true));
  }

  async #prepareCollection(
    collection: SourceCollection,
    existing: ReadonlyMap<string, ExistingTarget>,
    deferCreate = false
  ): Promise<boolean> {
    const { fields, dropped } = createFields(collection.options, collection.idIndex);
    if (dropped.length > 0) {
      this.#options.logger.warn(
        'Source collection options that create does not take were left out',
        {
          namespace: collection.sourceNs,
          options: dropped
        }
      );
    }
    let deferred = false;
    await this.#prepare(
      collection.targetNs,
      { type: collection.type, options: fields },
      existing.get(collection.targetNs),
      async () => {
        // Missing and without options: the first insert creates it as `create` would.
        if (deferCreate && !existing.has(collection.targetNs)) deferred = true;
        else await this.#create(collection.targetNs, fields);
      }
    );
    return deferred;
  }

  #existing(namespaces: readonly string[]): Promise<Map<string, ExistingTarget>> {
    return readExistingTargets(this.#options.target, namespaces);
  }

  /**
   * Builds every index of `collection` except `_id` (and a clustered collection's cluster key)
   * on its target collection, with all their options, in one `createIndexes`. Indexes that
   * already exist identically are skipped, so this can run again after a restart.
   *
   * @throws {@link TargetWriteError} when the target refuses an index (one with the same name or
   * key but other options exists, or a unique index meets duplicates)
   */
  async copyIndexes(collection: SourceCollection): Promise<void> {
    const specs = indexSpecsToCreate(collection.indexes, collection.options.collation).map(spec =>
      this.#options.relaxUniqueIndexes ? relaxedSpec(spec) : spec
    );
    if (specs.length === 0) return;
    const ns = collection.targetNs;
    const { db, coll } = splitNamespace(ns);
    const before = await this.#indexNames(ns);
    this.#options.beforeWrite();
    try {
      await this.#options.target.db(db).command({ createIndexes: coll, indexes: specs });
    } catch (error) {
      throw targetWriteFailed(`Creating the indexes of ${ns}`, error, ns);
    }
    for (const spec of specs) {
      const name = String(spec.name);
      if (!before.has(name)) this.#emit('created', { kind: 'index', namespace: ns, name });
    }
  }

  /**
   * Creates `views` on the target, each after the view it reads (the order of
   * {@link SourceCatalog.views}, restored if needed), with `viewOn` renamed by the filter and
   * the pipeline and collation kept. A view whose source the filter does not copy is still
   * created, on the same name in its target database, with a warning.
   *
   * @throws {@link TargetExistsError} when a different view or a collection exists at a view's
   * target and the policy is not `'drop'`
   * @throws {@link TargetWriteError} when the target refuses a view
   */
  async createViews(views: readonly SourceView[]): Promise<void> {
    for (const view of orderViews(views)) {
      const { viewOn, excluded } = targetViewOn(view, this.#options.filter);
      if (excluded) {
        this.#options.logger.warn(
          'A view reads a namespace the filter does not copy; it is created anyway and reads whatever the target has under that name',
          { view: view.targetNs, viewOn: `${splitNamespace(view.targetNs).db}.${viewOn}` }
        );
      }
      const expected = this.#expectedView(view, viewOn);
      const existing = (await this.#existing([view.targetNs])).get(view.targetNs);
      await this.#prepare(view.targetNs, expected, existing, () =>
        this.#create(view.targetNs, expected.options)
      );
    }
  }

  #expectedCollection(collection: SourceCollection): Expected {
    return {
      type: collection.type,
      options: createFields(collection.options, collection.idIndex).fields
    };
  }

  #expectedView(
    view: SourceView,
    viewOn = targetViewOn(view, this.#options.filter).viewOn
  ): Expected {
    return { type: 'view', options: { ...view.options, viewOn } };
  }

  /** Decides what to do at `ns`, given what `existing` is there, and does it. */
  async #prepare(
    ns: string,
    expected: Expected,
    existing: ExistingTarget | undefined,
    create: () => Promise<void>
  ): Promise<void> {
    const plan = planTarget(this.#options.onExistingTarget, expected, existing);
    if (plan.action === 'refuse') {
      throw targetExists(plan, ns, { existing: existing?.type ?? '', expected: expected.type });
    }
    if (plan.action === 'keep') {
      this.#options.logger.debug('The target namespace exists as the source needs it; kept', {
        namespace: ns
      });
      return;
    }
    if (plan.action === 'dropAndCreate') {
      await this.#drop(ns);
      const reason = plan.differences.length > 0 ? 'incompatible' : 'notEmpty';
      const kind = existing?.type === 'view' ? 'view' : 'collection';
      this.#options.logger.warn(
        'Dropped an existing target namespace to recreate it from the source',
        {
          namespace: ns,
          reason,
          differences: plan.differences
        }
      );
      this.#emit('dropped', { kind, namespace: ns, reason });
    }
    await create();
    this.#emit('created', {
      kind: expected.type === 'view' ? 'view' : 'collection',
      namespace: ns
    });
  }

  /** Creates `ns` with `fields`; with `unlessExists`, one that exists already is left as it is. */
  async #create(ns: string, fields: Readonly<Document>, unlessExists = false): Promise<void> {
    const { db, coll } = splitNamespace(ns);
    this.#options.beforeWrite();
    try {
      await this.#options.target.db(db).command({ create: coll, ...fields });
    } catch (error) {
      if (unlessExists && serverCode(error) === NAMESPACE_EXISTS) return;
      throw targetWriteFailed(`Creating ${ns} on the target`, error, ns);
    }
  }

  async #drop(ns: string): Promise<void> {
    const { db, coll } = splitNamespace(ns);
    this.#options.beforeWrite();
    try {
      await this.#options.target.db(db).command({ drop: coll });
    } catch (error) {
      // Gone already (dropped by someone else, or mongod before 7.0 on a missing namespace).
      if ((error as { code?: unknown } | null)?.code === NAMESPACE_NOT_FOUND) return;
      throw targetWriteFailed(`Dropping ${ns} on the target`, error, ns);
    }
  }

  /** The names of the indexes the target collection has now (none when it does not exist). */
  async #indexNames(ns: string): Promise<Set<string>> {
    const { db, coll } = splitNamespace(ns);
    try {
      const indexes = await this.#options.target.db(db).collection(coll).listIndexes().toArray();
      return new Set(indexes.map(index => String(index.name)));
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === NAMESPACE_NOT_FOUND) return new Set();
      throw targetWriteFailed(`Listing the indexes of ${ns} on the target`, error, ns);
    }
  }

  /** Emits without letting a throwing host listener break the copy (listeners run inside emit). */
  #emit<K extends EventEmitter.EventNames<CatalogCopierEvents>>(
    event: K,
    ...args: EventEmitter.EventArgs<CatalogCopierEvents, K>
  ): void {
    emitSafely(this as unknown as EventEmitter, String(event), args, this.#options.logger, {
      stage: 'catalog-copier'
    });
  }
}
