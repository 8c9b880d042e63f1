/** listDatabases/Collections/Indexes, DDL commands, stats, and oplog test controls. */
import { Double, Int32, Long } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { compileFilter } from '../engine/query/matcher.js';
import { ServerError } from '../engine/server-error.js';
import { type Collection } from '../mongod/collection.js';
import { ArraySource } from '../mongod/cursors.js';
import { splitNs } from '../mongod/ddl.js';
import { type Mongod } from '../mongod/mongod.js';
import {
  checkFields,
  collectionName,
  type CommandContext,
  type CommandHandler,
  int,
  optionalBool,
  optionalDoc,
  optionalNumber,
  optionalString,
  requiredArray
} from './context.js';

function openListCursor(ctx: CommandContext, ns: string, docs: BDoc[]): Record<string, unknown> {
  const cursorSpec = ctx.cmd.get('cursor');
  const batchSize =
    isDoc(cursorSpec) && isNumber(cursorSpec.get('batchSize'))
      ? toNumber(cursorSpec.get('batchSize'))
      : undefined;
  const { id, batch } = ctx.mongod.cursors.open(ns, new ArraySource(docs), { batchSize });
  return { cursor: { id, ns, firstBatch: batch } };
}

function collectionInfo(mongod: Mongod, collection: Collection, nameOnly: boolean): BDoc {
  const info: BDoc = new Map<string, BValue>([
    ['name', collection.name],
    ['type', collection.type]
  ]);
  if (nameOnly) return info;
  info.set('options', collection.options);
  if (collection.type === 'view') {
    info.set('info', new Map([['readOnly', true]]));
    return info;
  }
  info.set(
    'info',
    new Map<string, BValue>([
      ['readOnly', false],
      ['uuid', collection.uuid]
    ])
  );
  const idIndex = collection.findIndex('_id_');
  if (idIndex && !collection.options.has('clusteredIndex') && collection.type === 'collection') {
    info.set('idIndex', idIndex.spec);
  }
  void mongod;
  return info;
}

function oplogInfo(mongod: Mongod, nameOnly: boolean): BDoc {
  const info: BDoc = new Map<string, BValue>([
    ['name', 'oplog.rs'],
    ['type', 'collection']
  ]);
  if (nameOnly) return info;
  info.set(
    'options',
    new Map<string, BValue>([
      ['capped', true],
      ['size', Long.fromNumber(mongod.oplog.maxBytes)],
      ['autoIndexId', false]
    ])
  );
  info.set('info', new Map<string, BValue>([['readOnly', false]]));
  return info;
}

const listCollections: CommandHandler = ctx => {
  checkFields(ctx, [
    'filter',
    'nameOnly',
    'authorizedCollections',
    'cursor',
    'includePendingDrops'
  ]);
  const filter = optionalDoc(ctx, 'filter');
  const nameOnly = optionalBool(ctx, 'nameOnly') ?? false;
  const matcher = filter ? compileFilter(filter) : undefined;
  const database = ctx.mongod.catalog.database(ctx.db);
  const items: BDoc[] = [];
  for (const collection of database?.collections.values() ?? []) {
    items.push(collectionInfo(ctx.mongod, collection, nameOnly));
  }
  if (ctx.db === 'local') items.push(oplogInfo(ctx.mongod, nameOnly));
  // mongod matches the filter against the full document, then trims it for nameOnly.
  const selected = items.filter(item => !matcher || matcher.matches(item));
  return openListCursor(ctx, `${ctx.db}.$cmd.listCollections`, selected);
};

const listIndexes: CommandHandler = ctx => {
  checkFields(ctx, ['cursor', 'includeBuildUUIDs', 'includeIndexBuildInfo']);
  const coll = collectionName(ctx);
  const collection = ctx.mongod.catalog.collection(ctx.db, coll);
  if (!collection) throw new ServerError(26, `ns does not exist: ${ctx.db}.${coll}`);
  if (collection.type === 'view')
    throw new ServerError(166, `Namespace ${ctx.db}.${coll} is a view, not a collection`);
  return openListCursor(
    ctx,
    `${ctx.db}.${coll}`,
    collection.indexes.map(index => index.spec)
  );
};

function databaseSize(mongod: Mongod, db: string): number {
  let size = 0;
  for (const collection of mongod.catalog.database(db)?.collections.values() ?? [])
    size += collection.dataBytes;
  if (db === 'local') size += mongod.oplog.bytes;
  return Math.max(size, 4096);
}

const listDatabases: CommandHandler = ctx => {
  checkFields(ctx, ['filter', 'nameOnly', 'authorizedDatabases']);
  const nameOnly = optionalBool(ctx, 'nameOnly') ?? false;
  const filter = optionalDoc(ctx, 'filter');
  const matcher = filter ? compileFilter(filter) : undefined;
  const databases: BDoc[] = [];
  let total = 0;
  const names = [...ctx.mongod.catalog.databases.keys()].sort();
  for (const name of names) {
    const size = databaseSize(ctx.mongod, name);
    const entry: BDoc = new Map<string, BValue>([
      ['name', name],
      ['sizeOnDisk', Long.fromNumber(size)],
      ['empty', false]
    ]);
    if (matcher && !matcher.matches(entry)) continue;
    total += size;
    databases.push(nameOnly ? new Map([['name', name]]) : entry);
  }
  if (nameOnly) return { databases };
  return {
    databases,
    totalSize: Long.fromNumber(total),
    totalSizeMb: Long.fromNumber(Math.floor(total / 1024 / 1024))
  };
};

const create: CommandHandler = ctx => {
  const coll = collectionName(ctx);
  const options: BDoc = new Map();
  for (const [key, value] of ctx.cmd) {
    if (
      key === 'create' ||
      [
        '$db',
        '$readPreference',
        '$clusterTime',
        'lsid',
        'txnNumber',
        'writeConcern',
        'comment',
        'maxTimeMS',
        'apiVersion',
        'apiStrict',
        'apiDeprecationErrors',
        'autocommit',
        'startTransaction',
        'readConcern'
      ].includes(key)
    )
      continue;
    options.set(key, value);
  }
  ctx.mongod.ddl.create(ctx.db, coll, options);
  return {};
};

const drop: CommandHandler = ctx => {
  const coll = collectionName(ctx);
  const nIndexesWas = ctx.mongod.ddl.drop(ctx.db, coll);
  if (nIndexesWas === undefined) {
    if (ctx.mongod.profile.dropMissingIsOk) return {};
    throw new ServerError(26, 'ns not found');
  }
  return { nIndexesWas: new Int32(nIndexesWas), ns: `${ctx.db}.${coll}` };
};

const dropDatabase: CommandHandler = ctx => {
  if (['admin', 'local', 'config'].includes(ctx.db) && ctx.db !== 'config') {
    throw new ServerError(20, `Dropping the '${ctx.db}' database is prohibited.`);
  }
  ctx.mongod.ddl.dropDatabase(ctx.db);
  return {};
};

const renameCollection: CommandHandler = ctx => {
  checkFields(ctx, ['to', 'dropTarget', 'stayTemp']);
  if (ctx.db !== 'admin')
    throw new ServerError(13, 'renameCollection may only be run against the admin database.');
  const from = optionalString(ctx, 'renameCollection');
  const to = optionalString(ctx, 'to');
  if (!from || !to)
    throw new ServerError(
      40414,
      "BSON field 'renameCollection.to' is missing but a required field",
      { codeName: 'Location40414' }
    );
  splitNs(from);
  splitNs(to);
  ctx.mongod.ddl.rename(from, to, optionalBool(ctx, 'dropTarget') ?? false);
  return {};
};

const createIndexes: CommandHandler = ctx => {
  checkFields(ctx, [
    'indexes',
    'commitQuorum',
    'ignoreUnknownIndexOptions',
    'isTimeseriesNamespace'
  ]);
  const coll = collectionName(ctx);
  const indexes = requiredArray(ctx, 'indexes');
  if (indexes.length === 0) throw new ServerError(2, 'Must specify at least one index to create');
  const result = ctx.mongod.ddl.createIndexes(ctx.db, coll, indexes);
  const reply: Record<string, unknown> = {
    numIndexesBefore: new Int32(result.before),
    numIndexesAfter: new Int32(result.after)
  };
  if (result.note) reply.note = result.note;
  else reply.createdCollectionAutomatically = result.createdCollection;
  reply.commitQuorum = 'votingMembers';
  return reply;
};

const dropIndexes: CommandHandler = ctx => {
  checkFields(ctx, ['index']);
  const coll = collectionName(ctx);
  const nIndexesWas = ctx.mongod.ddl.dropIndexes(ctx.db, coll, ctx.cmd.get('index'));
  return { nIndexesWas: new Int32(nIndexesWas) };
};

const collMod: CommandHandler = ctx => {
  const coll = collectionName(ctx);
  return ctx.mongod.ddl.collMod(ctx.db, coll, ctx.cmd);
};

const dbStats: CommandHandler = ctx => {
  const database = ctx.mongod.catalog.database(ctx.db);
  const collections = [...(database?.collections.values() ?? [])];
  const objects = collections.reduce((sum, c) => sum + c.count, 0);
  const dataSize = collections.reduce((sum, c) => sum + c.dataBytes, 0);
  const indexes = collections.reduce((sum, c) => sum + c.indexes.length, 0);
  return {
    db: ctx.db,
    collections: Long.fromNumber(collections.filter(c => c.type !== 'view').length),
    views: Long.fromNumber(collections.filter(c => c.type === 'view').length),
    objects: Long.fromNumber(objects),
    avgObjSize: new Double(objects ? dataSize / objects : 0),
    dataSize: new Double(dataSize),
    storageSize: new Double(dataSize),
    indexes: Long.fromNumber(indexes),
    indexSize: new Double(0),
    totalSize: new Double(dataSize),
    scaleFactor: Long.fromNumber(1),
    fsUsedSize: new Double(0),
    fsTotalSize: new Double(0)
  };
};

const collStats: CommandHandler = ctx => {
  const coll = collectionName(ctx);
  const collection = ctx.mongod.catalog.collection(ctx.db, coll);
  if (!collection) throw new ServerError(26, `Collection [${ctx.db}.${coll}] not found.`);
  const count = collection.count;
  const size = collection.dataBytes;
  const reply: Record<string, unknown> = {
    ns: `${ctx.db}.${coll}`,
    size: int(size),
    count: int(count),
    avgObjSize: int(count ? Math.floor(size / count) : 0),
    storageSize: int(size),
    freeStorageSize: new Int32(0),
    capped: collection.capped
  };
  if (collection.capped) {
    reply.max = collection.options.get('max') ?? Long.ZERO;
    reply.maxSize = collection.options.get('size');
  }
  if (collection.type === 'timeseries') reply.timeseries = collection.options.get('timeseries');
  Object.assign(reply, {
    nindexes: new Int32(collection.indexes.length),
    indexDetails: {},
    indexBuilds: [],
    totalIndexSize: new Int32(0),
    totalSize: int(size),
    indexSizes: Object.fromEntries(collection.indexes.map(i => [i.name, new Int32(0)])),
    scaleFactor: new Int32(1)
  });
  return reply;
};

const appendOplogNote: CommandHandler = ctx => {
  checkFields(ctx, ['data']);
  const data = optionalDoc(ctx, 'data');
  if (!data)
    throw new ServerError(
      40414,
      "BSON field 'appendOplogNote.data' is missing but a required field",
      { codeName: 'Location40414' }
    );
  ctx.mongod.writer.append({ op: 'n', ns: '', o: data });
  return {};
};

const replSetResizeOplog: CommandHandler = ctx => {
  checkFields(ctx, ['size', 'minRetentionHours']);
  const size = optionalNumber(ctx, 'size');
  if (size !== undefined) {
    // Real mongod refuses sizes below 990 MB; the test server accepts any size so tests can
    // exercise truncation quickly.
    if (size <= 0) throw new ServerError(2, "BSON field 'size' value must be > 0");
    ctx.mongod.oplog.resize(Math.floor(size * 1024 * 1024));
  }
  return {};
};

export const catalogCommands: Record<string, CommandHandler> = {
  listCollections,
  listIndexes,
  listDatabases,
  create,
  drop,
  dropDatabase,
  renameCollection,
  createIndexes,
  dropIndexes,
  collMod,
  dbStats,
  dbstats: dbStats,
  collStats,
  collstats: collStats,
  appendOplogNote,
  replSetResizeOplog
};
