/**
 * Reads through mongos (cluster_find_cmd.cpp, cluster_aggregate.cpp, cluster_count_cmd.cpp,
 * cluster_distinct_cmd.cpp). An unsharded collection's command runs on its database's primary
 * shard and its cursor is handed to the client as is (getMore and killCursors are forwarded). A
 * sharded collection's is sent to the shards its query targets (one shard for a full shard key
 * equality, else every shard owning chunks), each reading only what it owns, and merged here:
 * sorted by the query's sort, then skip, limit and projection; aggregation runs its leading
 * `$match` stages on the shards and the rest of the pipeline on mongos. Merged results are a
 * cursor of mongos's own.
 */
import { Int32, Long } from 'bson';

import {
  type BDoc,
  type BValue,
  equalityKey,
  isDoc,
  isNumber,
  toNumber,
  withCollation
} from '../bson/values.js';
import { type ReplyBody } from '../commands/context.js';
import { effectiveCollation } from '../commands/context.js';
import { cursorReply } from '../commands/query.js';
import { parseLetVariables } from '../engine/aggregate/let-variables.js';
import { compileProjection, runPipeline } from '../engine/aggregate/pipeline.js';
import { compileFilter } from '../engine/query/matcher.js';
import { compileSort } from '../engine/query/sort.js';
import { notImplemented, ServerError } from '../engine/server-error.js';
import { ArraySource } from '../mongod/cursors.js';
import { namespaceDocs } from '../mongod/read-path.js';
import { type ShardedCollection } from './catalog.js';
import { openClusterChangeStream } from './change-streams.js';
import {
  CONFIG_SERVER,
  replyBody,
  type Router,
  type RouterContext,
  type RouterHandler,
  throwIfFailed
} from './router.js';

/** A batch size that returns a shard's whole result in its first batch (16 MiB permitting). */
const ALL = new Int32(0x7fffffff);

function shardedOf(ctx: RouterContext, coll: BValue): ShardedCollection | undefined {
  if (typeof coll !== 'string' || ['admin', 'config', 'local'].includes(ctx.db)) return undefined;
  return ctx.router.catalog.collection(`${ctx.db}.${coll}`);
}

function refuseLocal(ctx: RouterContext): void {
  if (ctx.db === 'local') {
    throw new ServerError(20, "Can't use 'local' database through mongos");
  }
}

/** The whole command on the database's primary shard (or the config server). */
export async function passthroughRead(ctx: RouterContext): Promise<ReplyBody> {
  refuseLocal(ctx);
  const member = ctx.router.primaryOf(ctx.db);
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

/** The shards a query on a sharded collection reaches. */
export function queryShards(router: Router, coll: ShardedCollection, filter: BDoc): string[] {
  const key = coll.key.keyOfQuery(filter);
  if (key) return [router.catalog.chunkFor(coll, key).shard];
  const keys = coll.key.keysOfInQuery(filter);
  if (keys) {
    const shards = new Set(keys.map(k => router.catalog.chunkFor(coll, k).shard));
    return router.catalog.shardIds().filter(id => shards.has(id));
  }
  return router.catalog.shardsWithChunks(coll);
}

/** Every document of a cursor reply, getMore-ing until it is exhausted. */
async function drain(
  ctx: RouterContext,
  member: string,
  reply: Map<string, unknown>
): Promise<BDoc[]> {
  throwIfFailed(reply);
  let cursor = reply.get('cursor') as BDoc;
  const docs = [...((cursor.get('firstBatch') as BDoc[]) ?? [])];
  const ns = String(cursor.get('ns'));
  const coll = ns.slice(ns.indexOf('.') + 1);
  while (!(cursor.get('id') as Long).isZero()) {
    const next = await ctx.router.send(
      member,
      ctx.db,
      new Map<string, BValue>([
        ['getMore', cursor.get('id') as Long],
        ['collection', coll]
      ]),
      ctx.connection
    );
    throwIfFailed(next);
    cursor = next.get('cursor') as BDoc;
    docs.push(...((cursor.get('nextBatch') as BDoc[]) ?? []));
  }
  ctx.router.remoteCursors.delete((reply.get('cursor') as BDoc).get('id')!.toString());
  return docs;
}

function numberField(cmd: BDoc, field: string): number | undefined {
  const value = cmd.get(field);
  if (value === undefined || value === null) return undefined;
  if (!isNumber(value)) {
    throw new ServerError(14, `BSON field '${field}' is the wrong type, expected type 'long'`);
  }
  return toNumber(value);
}

function letOf(ctx: RouterContext): Map<string, BValue> | undefined {
  const spec = ctx.cmd.get('let');
  return spec === undefined ? undefined : parseLetVariables(spec, `${ctx.name}.let`);
}

/** The collation a merge sorts with: the command's, else the collection's default. */
function collationOf(ctx: RouterContext, coll: ShardedCollection) {
  const primary = ctx.router.shard(ctx.router.catalog.primaryOf(coll.db)).mongod;
  return effectiveCollation(primary, coll.db, coll.coll, ctx.cmd.get('collation'));
}

function openMerged(
  ctx: RouterContext,
  ns: string,
  docs: BDoc[],
  batchSize: number | undefined,
  singleBatch: boolean
): ReplyBody {
  const opened = ctx.router.cursors.open(ns, new ArraySource(docs), { batchSize, singleBatch });
  return cursorReply(opened, ns, true);
}

const find: RouterHandler = async ctx => {
  const coll = shardedOf(ctx, ctx.cmd.get('find'));
  if (!coll) return passthroughRead(ctx);
  if (ctx.cmd.get('tailable') === true) {
    throw new ServerError(
      2,
      `error processing query: ns=${coll.ns} tailable cursor requested on non capped collection`
    );
  }
  const filter = isDoc(ctx.cmd.get('filter')) ? (ctx.cmd.get('filter') as BDoc) : new Map();
  const sort = isDoc(ctx.cmd.get('sort')) ? (ctx.cmd.get('sort') as BDoc) : undefined;
  const projection = isDoc(ctx.cmd.get('projection'))
    ? (ctx.cmd.get('projection') as BDoc)
    : undefined;
  const skip = numberField(ctx.cmd, 'skip') ?? 0;
  const limit = numberField(ctx.cmd, 'limit');
  const batchSize = numberField(ctx.cmd, 'batchSize');
  const vars = letOf(ctx);
  const collation = collationOf(ctx, coll);
  const docs: BDoc[] = [];
  for (const shard of queryShards(ctx.router, coll, filter)) {
    const overrides: Record<string, BValue> = {
      projection: undefined,
      skip: undefined,
      limit: limit && limit > 0 ? Long.fromNumber(skip + limit) : undefined,
      batchSize: ALL,
      singleBatch: undefined
    };
    const body = ctx.router.commandFor(ctx, shard, overrides);
    docs.push(
      ...(await drain(ctx, shard, await ctx.router.send(shard, ctx.db, body, ctx.connection)))
    );
  }
  const results = withCollation(collation, () => {
    let merged = docs;
    if (sort && sort.size > 0) merged = [...docs].sort(compileSort(sort));
    merged = merged.slice(skip, limit && limit > 0 ? skip + limit : undefined);
    if (!projection || projection.size === 0) return merged;
    const project = compileProjection(projection, 'find', {
      query: filter,
      ...(vars ? { vars } : {})
    });
    const matcher = compileFilter(filter, vars);
    return merged.map(doc => project(doc, matcher.matchPosition(doc).arrayIndex));
  });
  ctx.router.transactions.decorate(ctx, new Map());
  const reply = openMerged(ctx, coll.ns, results, batchSize, ctx.cmd.get('singleBatch') === true);
  return reply;
};

const getMore: RouterHandler = async ctx => {
  const id = ctx.cmd.get('getMore');
  if (id instanceof Long && ctx.router.remoteCursors.has(id.toString())) {
    const member = ctx.router.remoteCursors.get(id.toString())!;
    const reply = await ctx.router.send(
      member,
      ctx.db,
      ctx.router.commandFor(ctx, member),
      ctx.connection
    );
    const cursor = reply.get('cursor');
    if (!isDoc(cursor) || (cursor.get('id') as Long).isZero()) {
      ctx.router.remoteCursors.delete(id.toString());
    }
    throwIfFailed(reply);
    return replyBody(reply);
  }
  if (!(id instanceof Long)) {
    throw new ServerError(
      14,
      `BSON field 'getMore.getMore' is the wrong type '${typeof id}', expected type 'long'`
    );
  }
  const collection = ctx.cmd.get('collection');
  if (typeof collection !== 'string') {
    throw new ServerError(
      40414,
      "BSON field 'getMore.collection' is missing but a required field",
      { codeName: 'Location40414' }
    );
  }
  const ns = `${ctx.db}.${collection}`;
  const result = await ctx.router.cursors.getMore(id, ns, {
    batchSize: numberField(ctx.cmd, 'batchSize'),
    maxTimeMS: numberField(ctx.cmd, 'maxTimeMS')
  });
  return cursorReply(result, ns, false);
};

const killCursors: RouterHandler = async ctx => {
  const ids = ctx.cmd.get('cursors');
  if (!Array.isArray(ids)) return passthroughRead(ctx);
  const killed: Long[] = [];
  const notFound: Long[] = [];
  const local: Long[] = [];
  for (const id of ids) {
    if (!(id instanceof Long)) continue;
    const member = ctx.router.remoteCursors.get(id.toString());
    if (!member) {
      local.push(id);
      continue;
    }
    ctx.router.remoteCursors.delete(id.toString());
    const reply = await ctx.router.send(
      member,
      ctx.db,
      ctx.router.commandFor(ctx, member, { cursors: [id] }),
      ctx.connection
    );
    throwIfFailed(reply);
    killed.push(...((reply.get('cursorsKilled') as Long[]) ?? []));
    notFound.push(...((reply.get('cursorsNotFound') as Long[]) ?? []));
  }
  const result = ctx.router.cursors.kill(local);
  return {
    cursorsKilled: [...killed, ...result.killed],
    cursorsNotFound: [...notFound, ...result.notFound],
    cursorsAlive: [],
    cursorsUnknown: []
  };
};

const count: RouterHandler = async ctx => {
  const coll = shardedOf(ctx, ctx.cmd.get('count'));
  if (!coll) return passthroughRead(ctx);
  const query = isDoc(ctx.cmd.get('query')) ? (ctx.cmd.get('query') as BDoc) : new Map();
  const skip = numberField(ctx.cmd, 'skip') ?? 0;
  const limit = Math.abs(numberField(ctx.cmd, 'limit') ?? 0);
  let total = 0;
  for (const shard of queryShards(ctx.router, coll, query)) {
    const reply = await ctx.router.sendOk(
      shard,
      ctx.db,
      ctx.router.commandFor(ctx, shard, { skip: undefined, limit: undefined }),
      ctx.connection
    );
    total += toNumber(reply.get('n') as BValue);
  }
  const n = Math.max(0, Math.min(total - skip, limit > 0 ? limit : Infinity));
  return { n: new Int32(n) };
};

const distinct: RouterHandler = async ctx => {
  const coll = shardedOf(ctx, ctx.cmd.get('distinct'));
  if (!coll) return passthroughRead(ctx);
  const query = isDoc(ctx.cmd.get('query')) ? (ctx.cmd.get('query') as BDoc) : new Map();
  const collation = collationOf(ctx, coll);
  const seen = new Map<string, BValue>();
  for (const shard of queryShards(ctx.router, coll, query)) {
    const reply = await ctx.router.sendOk(
      shard,
      ctx.db,
      ctx.router.commandFor(ctx, shard),
      ctx.connection
    );
    withCollation(collation, () => {
      for (const value of (reply.get('values') as BValue[]) ?? []) {
        const key = equalityKey(value);
        if (!seen.has(key)) seen.set(key, value);
      }
    });
  }
  return { values: [...seen.values()] };
};

/** A `$collStats` result with the shard it came from, after `ns` (as mongos reports it). */
function withShard(doc: BDoc, shard: string): BDoc {
  const out: BDoc = new Map();
  for (const [key, value] of doc) {
    out.set(key, value);
    if (key === 'ns') out.set('shard', shard);
  }
  return out;
}

function stageName(stage: BValue): string | undefined {
  return isDoc(stage) ? stage.keys().next().value : undefined;
}

/** The collections a pipeline reads or writes besides its own ($lookup, $unionWith, $out, …). */
function referencedCollections(pipeline: BValue[], into: Set<string>): void {
  for (const stage of pipeline) {
    if (!isDoc(stage)) continue;
    const name = stageName(stage)!;
    const spec = stage.get(name);
    if (typeof spec === 'string' && ['$out', '$merge', '$unionWith'].includes(name)) into.add(spec);
    if (!isDoc(spec)) continue;
    for (const field of ['from', 'coll', 'into']) {
      const value = spec.get(field);
      if (typeof value === 'string') into.add(value);
      if (isDoc(value) && typeof value.get('coll') === 'string')
        into.add(value.get('coll') as string);
    }
    const inner = spec.get('pipeline');
    if (Array.isArray(inner)) referencedCollections(inner, into);
    if (name === '$facet') {
      for (const sub of spec.values()) if (Array.isArray(sub)) referencedCollections(sub, into);
    }
  }
}

/** A collection's documents across the cluster (each shard's own), read in process. */
function clusterDocs(router: Router, db: string, coll: string): BDoc[] {
  const sharded = router.catalog.collection(`${db}.${coll}`);
  const members = sharded ? router.catalog.shardsWithChunks(sharded) : [router.primaryOf(db)];
  const docs: BDoc[] = [];
  for (const member of members) {
    const mongod = router.shard(member).mongod;
    if (member !== CONFIG_SERVER) {
      mongod.routedFilter = (ns, doc) => router.catalog.owns(member, ns, doc);
    }
    try {
      docs.push(...namespaceDocs(mongod, db, coll));
    } finally {
      mongod.routedFilter = undefined;
    }
  }
  return docs;
}

const aggregate: RouterHandler = async ctx => {
  refuseLocal(ctx);
  const pipeline = ctx.cmd.get('pipeline');
  if (!Array.isArray(pipeline)) return passthroughRead(ctx);
  const first = pipeline[0];
  if (isDoc(first) && first.has('$changeStream')) {
    const spec = ctx.cmd.get('cursor');
    const batchSize =
      isDoc(spec) && isNumber(spec.get('batchSize')) ? toNumber(spec.get('batchSize')) : undefined;
    return openClusterChangeStream(ctx, pipeline as BDoc[], batchSize);
  }
  const target = ctx.cmd.get('aggregate');
  const coll = shardedOf(ctx, target);
  const others = new Set<string>();
  referencedCollections(pipeline, others);
  const touchesSharded = [...others].some(name =>
    ctx.router.catalog.collection(`${ctx.db}.${name}`)
  );
  if (!coll && !touchesSharded) return passthroughRead(ctx);
  if (typeof target !== 'string') return passthroughRead(ctx);
  const last = stageName(pipeline[pipeline.length - 1]);
  if (last === '$out' || last === '$merge') {
    throw notImplemented(`${last} from or into a sharded collection through mongos`);
  }
  if (ctx.cmd.get('explain') === true) throw notImplemented('aggregate explain');
  let split = 0;
  // $collStats reports per shard (each result names its shard); $match stages filter there.
  if (stageName(pipeline[0]) === '$collStats') split = 1;
  while (split < pipeline.length && stageName(pipeline[split]) === '$match') split++;
  const shardStages = pipeline.slice(0, split);
  const mergeStages = pipeline.slice(split) as BDoc[];
  const firstMatch = shardStages.find(stage => stageName(stage) === '$match');
  const filter: BDoc =
    isDoc(firstMatch) && isDoc(firstMatch.get('$match'))
      ? (firstMatch.get('$match') as BDoc)
      : new Map();
  const members = coll ? queryShards(ctx.router, coll, filter) : [ctx.router.primaryOf(ctx.db)];
  const docs: BDoc[] = [];
  for (const member of members) {
    const body = ctx.router.commandFor(ctx, member, {
      pipeline: shardStages,
      cursor: new Map([['batchSize', ALL]])
    });
    const shardDocs = await drain(
      ctx,
      member,
      await ctx.router.send(member, ctx.db, body, ctx.connection)
    );
    docs.push(
      ...(stageName(pipeline[0]) === '$collStats'
        ? shardDocs.map(doc => withShard(doc, member))
        : shardDocs)
    );
  }
  const vars = letOf(ctx);
  const primary = ctx.router.shard(ctx.router.primaryOf(ctx.db)).mongod;
  const collation = effectiveCollation(primary, ctx.db, target, ctx.cmd.get('collation'));
  const results = withCollation(collation, () =>
    runPipeline(docs, mergeStages, {
      dbName: ctx.db,
      resolveCollection: name => clusterDocs(ctx.router, ctx.db, name),
      ...(vars ? { vars } : {})
    })
  );
  const spec = ctx.cmd.get('cursor');
  const batchSize =
    isDoc(spec) && isNumber(spec.get('batchSize')) ? toNumber(spec.get('batchSize')) : undefined;
  return openMerged(ctx, `${ctx.db}.${target}`, results, batchSize, false);
};

export const readCommands: Record<string, RouterHandler> = {
  find,
  getMore,
  killCursors,
  count,
  distinct,
  aggregate
};
