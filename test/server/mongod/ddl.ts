/**
 * Catalog changes with their oplog entries: create (explicit and implicit), drop, dropDatabase,
 * renameCollection, createIndexes (plain or two-phase), dropIndexes, collMod, views.
 */
import { Int32, Long, UUID } from 'bson';

import {
  type BDoc,
  type BValue,
  isDoc,
  isNumber,
  toNumber,
  valuesEqualBinary as valuesEqual
} from '../bson/values.js';
import { parseCollation } from '../engine/collation/collation-spec.js';
import { ServerError } from '../engine/server-error.js';
import { checkCollectionName, checkDatabaseName } from './catalog.js';
import { type Collection } from './collection.js';
import { describeSpec, normalizeIndexSpec, sameIndex, sameKey } from './index-spec.js';
import { type Mongod } from './mongod.js';
import { type Transaction } from './transaction.js';
import { checkConvertible, dryRunUniqueConversion, planIndexChange } from './unique-conversion.js';
import { checkValidatorOptions } from './validation.js';

/** Options `create` accepts, in the order mongod reports them. */
const CREATE_OPTIONS = [
  'capped',
  'size',
  'max',
  'autoIndexId',
  // Internal (the temporary collection of $out); mongod lists it right after autoIndexId.
  'temp',
  'validator',
  'validationLevel',
  'validationAction',
  'collation',
  'viewOn',
  'pipeline',
  'timeseries',
  'expireAfterSeconds',
  'clusteredIndex',
  'changeStreamPreAndPostImages',
  'idIndex',
  'storageEngine',
  'indexOptionDefaults',
  'recordPreImages'
];

/**
 * The stored form of a `clusteredIndex` option, `{v, key, name, unique}` in that order (the
 * fields of mongod's ClusteredIndexSpec), with `v: 2` and `name: '_id_'` filled in when absent.
 */
function clusteredIndexOption(raw: BDoc): BDoc {
  for (const required of ['key', 'unique']) {
    if (!raw.has(required)) {
      throw new ServerError(
        40414,
        `BSON field 'clusteredIndex.${required}' is missing but a required field`,
        { codeName: 'Location40414' }
      );
    }
  }
  const name = raw.get('name');
  return new Map<string, BValue>([
    ['v', raw.get('v') ?? new Int32(2)],
    ['key', raw.get('key')],
    ['name', typeof name === 'string' ? name : '_id_'],
    ['unique', raw.get('unique')]
  ]);
}

export class Ddl {
  constructor(private readonly mongod: Mongod) {}

  /** The collection for a write or read, refusing views for writes (`CommandNotSupportedOnView`). */
  viewCheckedCollection(db: string, coll: string): Collection | undefined {
    const collection = this.mongod.lookupCollection(db, coll);
    if (collection?.type === 'view') {
      throw new ServerError(166, `Namespace ${db}.${coll} is a view, not a collection`);
    }
    return collection;
  }

  /** The collection for a write, created implicitly (with its `create` entry) if missing. */
  ensureCollection(db: string, coll: string): Collection {
    const existing = this.viewCheckedCollection(db, coll);
    if (existing) return existing;
    if (this.mongod.currentTransaction)
      return this.mongod.currentTransaction.ensureCollection(db, coll);
    checkDatabaseName(db);
    checkCollectionName(db, coll);
    return this.#create(db, coll, new Map());
  }

  /** Creates a system collection the server itself owns (no user namespace rules apply). */
  ensureSystemCollection(db: string, coll: string): Collection {
    return this.mongod.catalog.collection(db, coll) ?? this.#create(db, coll, new Map());
  }

  /** The `create` command. */
  create(db: string, coll: string, raw: BDoc): void {
    checkDatabaseName(db);
    checkCollectionName(db, coll);
    const options = this.#normalizeCreateOptions(raw);
    const transaction = this.mongod.currentTransaction;
    if (transaction) {
      createInTransaction(transaction, db, coll, options);
      return;
    }
    const existing = this.mongod.catalog.collection(db, coll);
    if (existing) {
      // mongod 7.0 accepts a create identical to the existing collection.
      if (this.mongod.profile.maxWireVersion >= 21 && valuesEqual(existing.options, options))
        return;
      throw new ServerError(48, `Collection ${db}.${coll} already exists.`);
    }
    if (options.has('viewOn')) {
      this.#createView(db, coll, options);
      return;
    }
    this.#create(db, coll, options);
  }

  #normalizeCreateOptions(raw: BDoc): BDoc {
    const options: BDoc = new Map();
    for (const key of raw.keys()) {
      if (!CREATE_OPTIONS.includes(key) || !this.#knowsOption(key)) {
        throw new ServerError(40415, `BSON field 'create.${key}' is an unknown field.`);
      }
    }
    for (const key of CREATE_OPTIONS) {
      if (!raw.has(key) || key === 'idIndex') continue;
      let value = raw.get(key);
      if (key === 'capped') {
        if (value !== true && !(isNumber(value) && toNumber(value) !== 0)) continue;
        value = true;
      }
      if (key === 'size') {
        if (!isNumber(value))
          throw new ServerError(
            14,
            "BSON field 'create.size' is the wrong type, expected type 'number'"
          );
        // mongod rounds a capped size up to a multiple of 256 bytes.
        const size = Math.ceil(toNumber(value) / 256) * 256;
        value = size <= 0x7fffffff ? new Int32(size) : Long.fromNumber(size);
      }
      if (key === 'collation') {
        const expanded = parseCollation(value);
        if (!expanded) continue;
        value = expanded;
      }
      if (key === 'clusteredIndex' && isDoc(value)) value = clusteredIndexOption(value);
      if (key === 'timeseries' && isDoc(value)) {
        const ts: BDoc = new Map(value);
        if (!ts.has('granularity') && !ts.has('bucketMaxSpanSeconds'))
          ts.set('granularity', 'seconds');
        if (!ts.has('bucketMaxSpanSeconds')) ts.set('bucketMaxSpanSeconds', new Int32(3600));
        value = ts;
      }
      options.set(key, value);
    }
    if (options.get('capped') === true && !options.has('size')) {
      throw new ServerError(72, 'the size field is required when creating a capped collection');
    }
    if ((options.has('size') || options.has('max')) && options.get('capped') !== true) {
      throw new ServerError(72, "the 'size' field is only valid for capped collections");
    }
    if (options.has('pipeline') && !options.has('viewOn')) {
      throw new ServerError(9, "'pipeline' requires 'viewOn' to also be specified");
    }
    checkValidatorOptions('create', options);
    return options;
  }

  /** `changeStreamPreAndPostImages` came with 6.0. */
  #knowsOption(option: string): boolean {
    return option !== 'changeStreamPreAndPostImages' || this.mongod.profile.maxWireVersion >= 17;
  }

  #create(db: string, coll: string, options: BDoc): Collection {
    const type = options.has('timeseries') ? 'timeseries' : 'collection';
    const collection = this.mongod.catalog.create(db, coll, options, type);
    const o: BDoc = new Map<string, BValue>([['create', coll]]);
    for (const [key, value] of options) o.set(key, value);
    const idIndex = collection.findIndex('_id_');
    if (idIndex && !options.has('clusteredIndex')) o.set('idIndex', idIndex.spec);
    this.mongod.writer.append({ op: 'c', ns: `${db}.$cmd`, ui: collection.uuid, o });
    return collection;
  }

  #createView(db: string, name: string, options: BDoc): void {
    const viewOn = options.get('viewOn');
    if (typeof viewOn !== 'string' || viewOn.length === 0) {
      throw new ServerError(14, "'viewOn' must be a non-empty string");
    }
    const pipeline = options.get('pipeline') ?? [];
    if (!Array.isArray(pipeline)) throw new ServerError(14, "'pipeline' must be an array");
    const viewOptions: BDoc = new Map<string, BValue>([
      ['viewOn', viewOn],
      ['pipeline', pipeline]
    ]);
    if (options.has('collation')) viewOptions.set('collation', options.get('collation'));
    this.mongod.catalog.create(db, name, viewOptions, 'view');
    if (!this.mongod.catalog.collection(db, 'system.views'))
      this.#create(db, 'system.views', new Map());
    const o: BDoc = new Map<string, BValue>([['create', name]]);
    for (const [key, value] of viewOptions) o.set(key, value);
    this.mongod.writer.append({ op: 'c', ns: `${db}.$cmd`, o });
  }

  /** `drop`: returns the number of indexes the collection had, or undefined if it was missing. */
  drop(db: string, coll: string): number | undefined {
    const collection = this.mongod.catalog.collection(db, coll);
    if (!collection) return undefined;
    const nIndexes = collection.indexes.length;
    this.mongod.cursors.killNamespace(collection.ns);
    this.mongod.catalog.drop(db, coll);
    const o: BDoc = new Map<string, BValue>([['drop', coll]]);
    if (collection.type === 'view') {
      this.mongod.writer.append({ op: 'c', ns: `${db}.$cmd`, o });
      return 0;
    }
    this.mongod.writer.append({
      op: 'c',
      ns: `${db}.$cmd`,
      ui: collection.uuid,
      o,
      o2: new Map<string, BValue>([['numRecords', new Int32(collection.count)]])
    });
    return nIndexes;
  }

  /** `dropDatabase`: one `drop` entry per collection, then the `dropDatabase` entry. */
  dropDatabase(db: string): void {
    const database = this.mongod.catalog.database(db);
    if (!database) return;
    // Views first so no view outlives the collection it reads.
    const names = [...database.collections.values()]
      .sort((a, b) => Number(b.type === 'view') - Number(a.type === 'view'))
      .map(c => c.name);
    for (const name of names) this.drop(db, name);
    this.mongod.writer.append({
      op: 'c',
      ns: `${db}.$cmd`,
      o: new Map([['dropDatabase', new Int32(1)]])
    });
  }

  /** `renameCollection` within or across databases. */
  rename(from: string, to: string, dropTarget: boolean): void {
    const [fromDb, fromColl] = splitNs(from);
    const [toDb, toColl] = splitNs(to);
    checkCollectionName(toDb, toColl);
    const source = this.mongod.catalog.collection(fromDb, fromColl);
    if (!source) throw new ServerError(26, `Source collection ${from} does not exist`);
    if (source.type === 'view') throw new ServerError(166, `cannot rename view: ${from}`);
    if (from === to) throw new ServerError(20, `Can't rename a collection to itself`);
    const target = this.mongod.catalog.collection(toDb, toColl);
    if (target && !dropTarget) throw new ServerError(48, 'target namespace exists');
    let droppedUuid: BValue | undefined;
    if (target) {
      droppedUuid = target.uuid;
      this.mongod.cursors.killNamespace(target.ns);
      // mongod drops the target inside the rename; the entry names its UUID in `dropTarget`.
      this.mongod.catalog.drop(toDb, toColl);
    }
    this.mongod.cursors.killNamespace(source.ns);
    this.mongod.catalog.rename(source, toDb, toColl);
    const o: BDoc = new Map<string, BValue>([
      ['renameCollection', from],
      ['to', to],
      ['stayTemp', false]
    ]);
    if (droppedUuid) o.set('dropTarget', droppedUuid);
    this.mongod.writer.append({ op: 'c', ns: `${fromDb}.$cmd`, ui: source.uuid, o });
  }

  /** `createIndexes`: returns the counts the reply reports. */
  createIndexes(
    db: string,
    coll: string,
    rawSpecs: BValue[]
  ): { before: number; after: number; createdCollection: boolean; note?: string } {
    let createdCollection = false;
    let collection = this.viewCheckedCollection(db, coll);
    if (this.mongod.profile.maxWireVersion < 17) {
      // prepareUnique came with 6.0 (collMod's unique conversion).
      const early = rawSpecs.find(raw => isDoc(raw) && raw.has('prepareUnique'));
      if (early) {
        throw new ServerError(
          197,
          `The field 'prepareUnique' is not valid for an index specification. Specification: ${describeSpec(early as BDoc)}`
        );
      }
    }
    const transaction = this.mongod.currentTransaction;
    if (transaction) {
      return createIndexesInTransaction(transaction, db, coll, collection, rawSpecs);
    }
    // An index without a collation takes the collection's default (an implicit create has none).
    const specs = rawSpecs.map(raw =>
      normalizeIndexSpec(raw, collection?.options.get('collation'))
    );
    if (!collection) {
      collection = this.ensureCollection(db, coll);
      createdCollection = true;
    }
    const before = collection.indexes.length;
    const toBuild: BDoc[] = [];
    for (const spec of specs) {
      const name = spec.get('name') as string;
      const byName = collection.findIndex(name);
      if (byName) {
        if (sameIndex(byName.spec, spec)) continue;
        if (!sameKey(byName.spec, spec)) {
          throw new ServerError(
            86,
            `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${describeSpec(spec)}, existing index: ${describeSpec(byName.spec)}`
          );
        }
        throw new ServerError(
          85,
          `An equivalent index already exists with the same name but different options. Requested index: ${describeSpec(spec)}, existing index: ${describeSpec(byName.spec)}`
        );
      }
      const byKey = collection.indexes.find(index => sameKey(index.spec, spec));
      if (byKey && sameIndex(byKey.spec, spec)) {
        throw new ServerError(85, `Index already exists with a different name: ${byKey.name}`);
      }
      if (toBuild.some(other => other.get('name') === name)) continue;
      toBuild.push(spec);
    }
    if (toBuild.length === 0) {
      return { before, after: before, createdCollection, note: 'all indexes already exist' };
    }
    const ns = `${db}.$cmd`;
    if (collection.count === 0) {
      this.#buildIndexes(collection, toBuild);
      for (const spec of toBuild) {
        const o: BDoc = new Map<string, BValue>([['createIndexes', coll]]);
        for (const [key, value] of spec) o.set(key, value);
        this.mongod.writer.append({ op: 'c', ns, ui: collection.uuid, o });
      }
    } else {
      // Non-empty collections get a two-phase build (4.4+): start, then commit with the same
      // UUID, or abort (with its cause from 5.0) when the build fails, e.g. on duplicate keys.
      const indexBuildUUID = new UUID();
      const entry = (phase: string) =>
        new Map<string, BValue>([
          [phase, coll],
          ['indexBuildUUID', indexBuildUUID],
          ['indexes', toBuild]
        ]);
      this.mongod.writer.append({ op: 'c', ns, ui: collection.uuid, o: entry('startIndexBuild') });
      try {
        this.#buildIndexes(collection, toBuild);
      } catch (error) {
        if (!(error instanceof ServerError)) throw error;
        const o = entry('abortIndexBuild');
        if (this.mongod.profile.maxWireVersion >= 13) o.set('cause', errorCause(error));
        this.mongod.writer.append({ op: 'c', ns, ui: collection.uuid, o });
        throw new ServerError(
          error.code,
          `Index build failed: ${uuidText(indexBuildUUID.buffer)}: Collection ${collection.ns} ( ${uuidText(collection.uuid.buffer)} ) :: caused by :: ${error.message}`,
          { codeName: error.codeName, extra: error.extra }
        );
      }
      this.mongod.writer.append({ op: 'c', ns, ui: collection.uuid, o: entry('commitIndexBuild') });
    }
    return { before, after: collection.indexes.length, createdCollection };
  }

  /** Builds every index or none (a failed build drops the ones it added). */
  #buildIndexes(collection: Collection, specs: BDoc[]): void {
    const built: string[] = [];
    try {
      for (const spec of specs) {
        collection.addIndex(spec);
        built.push(spec.get('name') as string);
      }
    } catch (error) {
      for (const name of built) collection.dropIndex(name);
      throw error;
    }
  }

  /** `dropIndexes` by name, key pattern, list of names or `'*'`; returns `nIndexesWas`. */
  dropIndexes(db: string, coll: string, index: BValue): number {
    const collection = this.viewCheckedCollection(db, coll);
    if (!collection) throw new ServerError(26, `ns not found ${db}.${coll}`);
    const was = collection.indexes.length;
    let names: string[];
    if (index === '*') {
      names = collection.indexes.filter(i => i.name !== '_id_').map(i => i.name);
    } else if (typeof index === 'string') {
      names = [index];
    } else if (Array.isArray(index)) {
      names = index.map(String);
    } else if (isDoc(index)) {
      const found = collection.indexes.filter(i => valuesEqual(i.spec.get('key'), index));
      if (found.length === 0) {
        throw new ServerError(27, `can't find index with key: ${describeSpec(index)}`);
      }
      names = [found[0]!.name];
    } else {
      throw new ServerError(14, "BSON field 'dropIndexes.index' is the wrong type");
    }
    for (const name of names) {
      if (name === '_id_') throw new ServerError(72, 'cannot drop _id index');
      if (!collection.findIndex(name))
        throw new ServerError(27, `index not found with name [${name}]`);
    }
    for (const name of names) {
      const spec = collection.findIndex(name)!.spec;
      collection.dropIndex(name);
      this.mongod.writer.append({
        op: 'c',
        ns: `${db}.$cmd`,
        ui: collection.uuid,
        o: new Map<string, BValue>([
          ['dropIndexes', coll],
          ['index', name]
        ]),
        o2: spec
      });
    }
    return was;
  }

  /**
   * `collMod`: collection options (the validator checked as `create` checks it), one index
   * change (TTL, hidden, and the prepareUnique/unique conversion of unique-conversion.ts),
   * `dryRun` (7.0), or a view's definition. Everything is checked before anything changes; the
   * entry is `{collMod, …options, index: {name, …changes}}` with `o2: {collectionOptions_old:
   * {uuid, …}, indexOptions_old}` as mongod's OpObserverImpl::onCollMod writes it.
   */
  collMod(db: string, coll: string, cmd: BDoc): BDoc {
    const collection = this.mongod.catalog.collection(db, coll);
    if (!collection) throw new ServerError(26, `ns does not exist: ${db}.${coll}`);
    const profile = this.mongod.profile;
    const isView = collection.type === 'view';
    const options: BDoc = new Map();
    let indexRequest: BValue | undefined;
    let dryRun = false;
    for (const [key, value] of cmd) {
      if (key === 'collMod' || isGenericArgument(key)) continue;
      if (COLLMOD_OPTIONS.includes(key) && this.#knowsOption(key)) {
        options.set(key, value);
      } else if ((key === 'viewOn' || key === 'pipeline') && isView) {
        options.set(key, value);
      } else if (key === 'index') {
        if (isView) throw new ServerError(72, 'option not supported on a view: index');
        indexRequest = value;
      } else if (key === 'dryRun' && profile.maxWireVersion >= 21) {
        dryRun = value === true;
      } else {
        throw new ServerError(40415, `BSON field 'collMod.${key}' is an unknown field.`);
      }
    }
    if (dryRun) return dryRunUniqueConversion(profile, collection, cmd, isGenericArgument);
    if (!isView) checkValidatorOptions('collMod', options);
    const change =
      indexRequest === undefined ? undefined : planIndexChange(profile, collection, indexRequest);
    if (change) checkConvertible(collection, change);

    const previous = new Map(collection.options);
    for (const [key, value] of options) collection.options.set(key, value);
    change?.apply();

    const o: BDoc = new Map<string, BValue>([['collMod', coll]]);
    for (const key of COLLMOD_LOG_ORDER) if (options.has(key)) o.set(key, options.get(key));
    if (change?.logged) o.set('index', change.logged);
    let o2: BDoc | undefined;
    if (isView) {
      const old: BDoc = new Map();
      for (const key of options.keys()) if (previous.has(key)) old.set(key, previous.get(key));
      if (old.size > 0) o2 = new Map<string, BValue>([['collectionOptions_old', old]]);
    } else {
      const old: BDoc = new Map<string, BValue>([['uuid', collection.uuid]]);
      for (const [key, value] of previous) old.set(key, value);
      o2 = new Map<string, BValue>([['collectionOptions_old', old]]);
      if (change?.logged) o2.set('indexOptions_old', change.oldOptions);
    }
    this.mongod.writer.append({
      op: 'c',
      ns: `${db}.$cmd`,
      ui: isView ? undefined : collection.uuid,
      o,
      o2
    });
    return change?.reply ?? new Map();
  }
}

/** A failure as an oplog entry's `cause` (Status::serializeErrorToBSON after `ok: false`). */
function errorCause(error: ServerError): BDoc {
  const cause = new Map<string, BValue>([
    ['ok', false],
    ['code', new Int32(error.code)],
    ['codeName', error.codeName],
    ['errmsg', error.message]
  ]);
  for (const [key, value] of Object.entries(error.extra)) cause.set(key, value as BValue);
  return cause;
}

/** A UUID as mongod prints it in messages (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`). */
function uuidText(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Collection options `collMod` sets. */
const COLLMOD_OPTIONS = [
  'validator',
  'validationLevel',
  'validationAction',
  'changeStreamPreAndPostImages',
  'expireAfterSeconds'
];

/** The order parseCollModRequest builds the entry in (the index change comes last). */
const COLLMOD_LOG_ORDER = [
  'validator',
  'validationLevel',
  'validationAction',
  'pipeline',
  'viewOn',
  'changeStreamPreAndPostImages',
  'expireAfterSeconds'
];

/**
 * `create` inside a multi-document transaction (4.4+), with mongod's refusals
 * (create_collection.cpp): the collection stays private to the transaction until it commits.
 */
function createInTransaction(
  transaction: Transaction,
  db: string,
  coll: string,
  options: BDoc
): void {
  const ns = `${db}.${coll}`;
  if (options.has('viewOn')) {
    throw new ServerError(263, 'Cannot create a view in a multi-document transaction.');
  }
  if (options.has('timeseries')) {
    throw new ServerError(
      263,
      'Cannot create a time-series collection in a multi-document transaction.'
    );
  }
  if (coll.startsWith('system.')) {
    throw new ServerError(263, `Cannot create system collection ${ns} within a transaction.`);
  }
  if (options.get('capped') === true) {
    throw new ServerError(
      238,
      'capped collections in a transaction are not supported by the mongo-replicate test server'
    );
  }
  // Inside a transaction even an identical create fails (no 7.0 idempotent create).
  if (transaction.collection(db, coll)) {
    throw new ServerError(48, `Collection ${ns} already exists.`);
  }
  transaction.createCollection(db, coll, options);
}

/**
 * `createIndexes` inside a multi-document transaction (4.4+), as create_indexes.cpp allows it:
 * on a collection the transaction creates (implicitly here, or earlier) while it is still empty;
 * on any other collection only when every index already exists.
 */
function createIndexesInTransaction(
  transaction: Transaction,
  db: string,
  coll: string,
  existing: Collection | undefined,
  rawSpecs: BValue[]
): { before: number; after: number; createdCollection: boolean; note?: string } {
  const ns = `${db}.${coll}`;
  if (coll.startsWith('system.')) {
    throw new ServerError(263, `Cannot write to system collection ${ns} within a transaction.`);
  }
  const specs = rawSpecs.map(raw => normalizeIndexSpec(raw, existing?.options.get('collation')));
  const missing = (collection: Collection) =>
    specs.filter(spec => !collection.indexes.some(index => sameIndex(index.spec, spec)));
  if (existing && missing(existing).length === 0) {
    const n = existing.indexes.length;
    return { before: n, after: n, createdCollection: false, note: 'all indexes already exist' };
  }
  if (existing && !transaction.created(db, coll)) {
    throw new ServerError(
      263,
      `Cannot create new indexes on existing collection ${ns} in a multi-document transaction.`
    );
  }
  const collection = existing ?? transaction.ensureCollection(db, coll);
  if (collection.count > 0) {
    throw new ServerError(
      263,
      `Cannot create new indexes on non-empty collection ${ns} in a multi-document transaction.`
    );
  }
  const before = collection.indexes.length;
  for (const spec of missing(collection)) {
    const name = spec.get('name') as string;
    if (collection.findIndex(name)) {
      throw new ServerError(
        86,
        `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${describeSpec(spec)}, existing index: ${describeSpec(collection.findIndex(name)!.spec)}`
      );
    }
    collection.addIndex(spec);
    const o: BDoc = new Map<string, BValue>([['createIndexes', coll]]);
    for (const [key, value] of spec) o.set(key, value);
    transaction.capture({ op: 'c', ns: `${db}.$cmd`, ui: collection.uuid, o });
  }
  return { before, after: collection.indexes.length, createdCollection: true };
}

const GENERIC_ARGUMENTS = new Set([
  '$db',
  '$readPreference',
  '$clusterTime',
  'lsid',
  'txnNumber',
  'stmtId',
  'autocommit',
  'startTransaction',
  'readConcern',
  'writeConcern',
  'maxTimeMS',
  'comment',
  'apiVersion',
  'apiStrict',
  'apiDeprecationErrors',
  '$audit',
  'mayBypassWriteBlocking',
  '$client',
  'clientOperationKey'
]);

/** Arguments every command accepts (TEST-SERVER-SPEC §1.6). */
export function isGenericArgument(field: string): boolean {
  return GENERIC_ARGUMENTS.has(field);
}

/** Splits `db.coll` at the first dot. */
export function splitNs(ns: string): [string, string] {
  const dot = ns.indexOf('.');
  if (dot <= 0 || dot === ns.length - 1)
    throw new ServerError(73, `Invalid namespace specified '${ns}'`);
  return [ns.slice(0, dot), ns.slice(dot + 1)];
}
