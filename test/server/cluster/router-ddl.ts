/**
 * Catalog commands through mongos. Unsharded collections and database-level listings live on the
 * database's primary shard (listCollections, listIndexes, create, renameCollection, and every DDL
 * of an unsharded collection go there); a sharded collection's indexes and options change on every
 * shard holding it; listDatabases, dbStats and collStats add the shards' figures up. Dropping a
 * sharded collection drops it on every shard and removes its metadata; from 5.0 the DDL
 * coordinator's drops on shards other than the primary are logged with `fromMigrate: true`, so
 * change streams see one `drop`.
 */
import { Double, Int32, Long } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { type ReplyBody } from '../commands/context.js';
import { compileFilter } from '../engine/query/matcher.js';
import { ServerError } from '../engine/server-error.js';
import { splitNs } from '../mongod/ddl.js';
import { type ShardedCollection } from './catalog.js';
import {
  CONFIG_SERVER,
  replyBody,
  type RouterContext,
  type RouterHandler,
  throwIfFailed
} from './router.js';
import { passthroughRead } from './router-reads.js';

function sharded(ctx: RouterContext): ShardedCollection | undefined {
  const coll = ctx.cmd.get(ctx.name);
  if (typeof coll !== 'string' || ['admin', 'config', 'local'].includes(ctx.db)) return undefined;
  return ctx.router.catalog.collection(`${ctx.db}.${coll}`);
}

/** A DDL command of an unsharded namespace: on the primary shard (creating the database entry). */
async function onPrimary(ctx: RouterContext): Promise<ReplyBody> {
  if (ctx.db === 'local') throw new ServerError(20, "Can't use 'local' database through mongos");
  const member = ctx.router.primaryOf(ctx.db);
  if (member !== CONFIG_SERVER) ctx.router.catalog.ensureDatabase(ctx.db);
  const reply = await ctx.router.send(
    member,
    ctx.db,
    ctx.router.commandFor(ctx, member),
    ctx.connection
  );
  throwIfFailed(reply);
  ctx.router.transactions.decorate(ctx, reply);
  return replyBody(reply);
}

/** The shards holding a sharded collection's data or metadata: the primary first. */
function holders(ctx: RouterContext, collection: ShardedCollection): string[] {
  const { catalog } = ctx.router;
  const primary = catalog.primaryOf(collection.db);
  const others = catalog
    .shardIds()
    .filter(
      id =>
        id !== primary &&
        ctx.router.shard(id).mongod.catalog.collection(collection.db, collection.coll) !== undefined
    );
  return [primary, ...others];
}

/** createIndexes, dropIndexes, collMod: on every shard holding a sharded collection. */
const everyHolder: RouterHandler = async ctx => {
  const collection = sharded(ctx);
  if (!collection) return onPrimary(ctx);
  let first: Map<string, unknown> | undefined;
  for (const member of holders(ctx, collection)) {
    const reply = await ctx.router.send(
      member,
      ctx.db,
      ctx.router.commandFor(ctx, member),
      ctx.connection
    );
    throwIfFailed(reply);
    first ??= reply;
  }
  return replyBody(first!);
};

const drop: RouterHandler = async ctx => {
  const collection = sharded(ctx);
  if (!collection) return onPrimary(ctx);
  const { router } = ctx;
  const [primary, ...others] = holders(ctx, collection);
  const reply = await router.send(
    primary!,
    ctx.db,
    router.commandFor(ctx, primary!),
    ctx.connection
  );
  throwIfFailed(reply);
  for (const member of others) {
    const mongod = router.shard(member).mongod;
    const stored = mongod.catalog.collection(collection.db, collection.coll);
    if (!stored) continue;
    if (router.profile.maxWireVersion < 13) {
      mongod.ddl.drop(collection.db, collection.coll);
      continue;
    }
    mongod.cursors.killNamespace(stored.ns);
    mongod.catalog.drop(collection.db, collection.coll);
    mongod.writer.append({
      op: 'c',
      ns: `${collection.db}.$cmd`,
      ui: stored.uuid,
      o: new Map([['drop', collection.coll]]),
      o2: new Map<string, BValue>([['numRecords', new Int32(stored.count)]]),
      fromMigrate: true
    });
  }
  router.catalog.dropCollection(collection.ns);
  return replyBody(reply);
};

const dropDatabase: RouterHandler = async ctx => {
  if (['admin', 'config', 'local'].includes(ctx.db)) {
    throw new ServerError(20, `Cannot drop '${ctx.db}' database through mongos`);
  }
  const { router } = ctx;
  const entry = router.catalog.database(ctx.db);
  if (!entry) return {};
  const members = [
    entry.primary,
    ...router.catalog
      .shardIds()
      .filter(id => id !== entry.primary && router.shard(id).mongod.catalog.database(ctx.db))
  ];
  let first: Map<string, unknown> | undefined;
  for (const member of members) {
    const reply = await router.send(member, ctx.db, router.commandFor(ctx, member), ctx.connection);
    throwIfFailed(reply);
    first ??= reply;
  }
  router.catalog.dropDatabase(ctx.db);
  return replyBody(first!);
};

const renameCollection: RouterHandler = async ctx => {
  const from = ctx.cmd.get('renameCollection');
  if (typeof from === 'string' && ctx.router.catalog.collection(from)) {
    throw new ServerError(20, `cannot rename a sharded collection: ${from}`);
  }
  if (typeof from !== 'string') return onPrimary(ctx);
  const [db] = splitNs(from);
  const member = ctx.router.primaryOf(db);
  const reply = await ctx.router.send(
    member,
    ctx.db,
    ctx.router.commandFor(ctx, member),
    ctx.connection
  );
  throwIfFailed(reply);
  return replyBody(reply);
};

const listDatabases: RouterHandler = async ctx => {
  const { router } = ctx;
  const sizes = new Map<string, { total: number; shards: Map<string, number> }>();
  const members = [CONFIG_SERVER, ...router.catalog.shardIds()];
  for (const member of members) {
    const reply = await router.sendOk(
      member,
      'admin',
      new Map<string, BValue>([['listDatabases', new Int32(1)]]),
      ctx.connection
    );
    for (const entry of (reply.get('databases') as BDoc[]) ?? []) {
      const name = String(entry.get('name'));
      const fromConfig = name === 'admin' || name === 'config';
      if (name === 'local' || fromConfig !== (member === CONFIG_SERVER)) continue;
      const size = toNumber(entry.get('sizeOnDisk') as BValue);
      let known = sizes.get(name);
      if (!known) sizes.set(name, (known = { total: 0, shards: new Map() }));
      known.total += size;
      known.shards.set(member, size);
    }
  }
  const nameOnly = ctx.cmd.get('nameOnly') === true;
  const filter = ctx.cmd.get('filter');
  const matcher = isDoc(filter) ? compileFilter(filter) : undefined;
  const databases: BDoc[] = [];
  let total = 0;
  for (const name of [...sizes.keys()].sort()) {
    const { total: size, shards } = sizes.get(name)!;
    const entry = new Map<string, BValue>([
      ['name', name],
      ['sizeOnDisk', Long.fromNumber(size)],
      ['empty', false],
      ['shards', new Map([...shards].map(([id, bytes]) => [id, Long.fromNumber(bytes)]))]
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

/** Adds the numeric fields of the shards' replies (dbStats, collStats). */
function sumReplies(replies: Map<string, unknown>[], fields: string[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const field of fields) {
    sums[field] = replies.reduce((sum, reply) => {
      const value = reply.get(field);
      return sum + (isNumber(value) ? toNumber(value) : 0);
    }, 0);
  }
  return sums;
}

const dbStats: RouterHandler = async ctx => {
  const { router } = ctx;
  if (['admin', 'config'].includes(ctx.db)) return passthroughRead(ctx);
  const raw = new Map<string, unknown>();
  const replies: Map<string, unknown>[] = [];
  for (const member of router.catalog.shardIds()) {
    const reply = await router.sendOk(
      member,
      ctx.db,
      router.commandFor(ctx, member),
      ctx.connection
    );
    raw.set(
      router.shard(member).mongod.replSetName + '/' + router.shard(member).mongod.host,
      replyBody(reply)
    );
    replies.push(reply);
  }
  const sums = sumReplies(replies, [
    'collections',
    'views',
    'objects',
    'dataSize',
    'storageSize',
    'indexes',
    'indexSize',
    'totalSize'
  ]);
  return {
    raw,
    db: ctx.db,
    collections: Long.fromNumber(sums.collections!),
    views: Long.fromNumber(sums.views!),
    objects: Long.fromNumber(sums.objects!),
    avgObjSize: new Double(sums.objects ? sums.dataSize! / sums.objects : 0),
    dataSize: new Double(sums.dataSize!),
    storageSize: new Double(sums.storageSize!),
    totalFreeStorageSize: new Double(0),
    indexes: Long.fromNumber(sums.indexes!),
    indexSize: new Double(sums.indexSize!),
    totalSize: new Double(sums.totalSize!),
    scaleFactor: Long.fromNumber(1)
  };
};

const collStats: RouterHandler = async ctx => {
  const collection = sharded(ctx);
  const { router } = ctx;
  if (!collection) {
    const body = (await onPrimary(ctx)) as Map<string, unknown>;
    const out = new Map<string, unknown>([
      ['sharded', false],
      ['primary', router.primaryOf(ctx.db)]
    ]);
    for (const [key, value] of body) out.set(key, value);
    return out;
  }
  const shards = new Map<string, unknown>();
  const replies: Map<string, unknown>[] = [];
  for (const member of holders(ctx, collection)) {
    const reply = await router.send(member, ctx.db, router.commandFor(ctx, member), ctx.connection);
    throwIfFailed(reply);
    shards.set(member, replyBody(reply));
    replies.push(reply);
  }
  const sums = sumReplies(replies, ['count', 'size', 'storageSize', 'totalIndexSize', 'totalSize']);
  return {
    sharded: true,
    ns: collection.ns,
    count: Long.fromNumber(sums.count!),
    size: Long.fromNumber(sums.size!),
    storageSize: Long.fromNumber(sums.storageSize!),
    totalIndexSize: Long.fromNumber(sums.totalIndexSize!),
    totalSize: Long.fromNumber(sums.totalSize!),
    avgObjSize: new Double(sums.count ? sums.size! / sums.count : 0),
    nindexes: replies[0]?.get('nindexes') ?? new Int32(0),
    nchunks: new Int32(collection.chunks.length),
    shards
  };
};

export const ddlCommands: Record<string, RouterHandler> = {
  listDatabases,
  listCollections: passthroughRead,
  listIndexes: passthroughRead,
  create: onPrimary,
  drop,
  dropDatabase,
  renameCollection,
  createIndexes: everyHolder,
  dropIndexes: everyHolder,
  collMod: everyHolder,
  dbStats,
  dbstats: dbStats,
  collStats,
  collstats: collStats
};
