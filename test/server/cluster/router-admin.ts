/**
 * mongos's own commands: the router handshake (cluster_hello_cmd.cpp: `msg: 'isdbgrid'`, no
 * `setName`, `hosts` or `lastWrite`), probes, sessions, and the sharding administration commands
 * (listShards, enableSharding, shardCollection, split, moveChunk, balancerStart/Stop/Status).
 */
import { Double, Int32, Long } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { splitNs } from '../mongod/ddl.js';
import { renderValue } from '../mongod/render.js';
import { type Balancer } from './balancer.js';
import { type ShardedCollection } from './catalog.js';
import { type Migrations } from './migration.js';
import {
  CONFIG_SERVER,
  replyBody,
  type Router,
  type RouterContext,
  type RouterHandler,
  throwIfFailed
} from './router.js';
import { compareKeys, ShardKeyPattern } from './shard-key.js';
import { ensureCollectionLike, noop } from './shard-ops.js';

function topologyVersion(router: Router): BDoc {
  return new Map<string, BValue>([
    ['processId', router.processId],
    ['counter', Long.ZERO]
  ]);
}

/** The awaitable hello: the router's topology never changes, so it waits maxAwaitTimeMS. */
async function awaitTopologyChange(ctx: RouterContext): Promise<void> {
  const maxAwait = ctx.cmd.get('maxAwaitTimeMS');
  const version = ctx.cmd.get('topologyVersion');
  if (maxAwait === undefined && version === undefined) return;
  if (maxAwait === undefined || !isDoc(version) || !isNumber(maxAwait)) {
    throw new ServerError(
      51760,
      version !== undefined
        ? "A request with a 'topologyVersion' must include 'maxAwaitTimeMS'"
        : "A request with 'maxAwaitTimeMS' must include a 'topologyVersion'"
    );
  }
  if (String(version.get('processId')) !== String(ctx.router.processId)) return;
  if (ctx.connection.closed.aborted) return;
  await new Promise<void>(resolve => {
    const timer = setTimeout(done, toNumber(maxAwait));
    function done() {
      clearTimeout(timer);
      ctx.connection.closed.removeEventListener('abort', done);
      resolve();
    }
    ctx.connection.closed.addEventListener('abort', done, { once: true });
  });
}

function helloHandler(legacy: boolean): RouterHandler {
  return async ctx => {
    await awaitTopologyChange(ctx);
    const client = ctx.cmd.get('client');
    if (isDoc(client)) {
      const application = client.get('application');
      const name = isDoc(application) ? application.get('name') : undefined;
      if (typeof name === 'string') ctx.connection.appName = name;
    }
    const body = new Map<string, unknown>([
      [legacy ? 'ismaster' : 'isWritablePrimary', true],
      ['msg', 'isdbgrid'],
      ['topologyVersion', topologyVersion(ctx.router)]
    ]);
    if (ctx.cmd.get('helloOk') === true) body.set('helloOk', true);
    body.set('maxBsonObjectSize', new Int32(16 * 1024 * 1024));
    body.set('maxMessageSizeBytes', new Int32(48_000_000));
    body.set('maxWriteBatchSize', new Int32(100_000));
    body.set('localTime', new Date());
    body.set('logicalSessionTimeoutMinutes', new Int32(30));
    body.set('connectionId', new Int32(ctx.connection.id));
    body.set('maxWireVersion', new Int32(ctx.router.profile.maxWireVersion));
    body.set('minWireVersion', new Int32(0));
    return body;
  };
}

/** Commands answered by the config server as they are (buildInfo, getParameter, …). */
function fromConfigServer(ctx: RouterContext): Promise<Map<string, unknown>> {
  return ctx.router
    .sendOk(CONFIG_SERVER, ctx.db, ctx.router.commandFor(ctx, CONFIG_SERVER), ctx.connection)
    .then(replyBody);
}

function requireAdmin(ctx: RouterContext): void {
  if (ctx.db !== 'admin') {
    throw new ServerError(13, `${ctx.name} may only be run against the admin database.`, {
      codeName: 'Unauthorized'
    });
  }
}

/** Sends a session command to every shard (they abort the sessions' transactions). */
async function toEveryShard(ctx: RouterContext): Promise<Record<string, unknown>> {
  for (const id of ctx.router.catalog.shardIds()) {
    await ctx.router.send(id, 'admin', ctx.router.commandFor(ctx, id), ctx.connection);
  }
  return {};
}

function namespaceOf(ctx: RouterContext): [string, string] {
  const ns = ctx.cmd.get(ctx.name);
  if (typeof ns !== 'string') {
    throw new ServerError(
      14,
      `BSON field '${ctx.name}.${ctx.name}' is the wrong type, expected type 'string'`
    );
  }
  return splitNs(ns);
}

function shardedCollection(ctx: RouterContext): ShardedCollection {
  const [db, coll] = namespaceOf(ctx);
  const collection = ctx.router.catalog.collection(`${db}.${coll}`);
  if (!collection) {
    throw new ServerError(118, `Collection ${db}.${coll} is not sharded.`, {
      codeName: 'NamespaceNotSharded'
    });
  }
  return collection;
}

const listShards: RouterHandler = async ctx => {
  requireAdmin(ctx);
  const config = ctx.router.shard(CONFIG_SERVER).mongod;
  const shards = config.catalog.collection('config', 'shards')?.snapshot() ?? [];
  return { shards };
};

const enableSharding: RouterHandler = ctx => {
  requireAdmin(ctx);
  const db = ctx.cmd.get('enableSharding');
  if (typeof db !== 'string' || db.length === 0) {
    throw new ServerError(73, `Invalid database name: '${String(db)}'`);
  }
  if (['admin', 'config', 'local'].includes(db)) {
    throw new ServerError(20, `Enabling sharding on the ${db} database is not allowed`);
  }
  const primary = ctx.cmd.get('primaryShard');
  if (primary !== undefined) ctx.router.shard(String(primary));
  const entry = ctx.router.catalog.ensureDatabase(db, primary as string | undefined);
  ctx.router.catalog.markPartitioned(entry);
  return {};
};

/** `x_1_y_hashed`: the default index name for a key pattern. */
function indexName(key: BDoc): string {
  return [...key].map(([field, value]) => `${field}_${String(value?.valueOf())}`).join('_');
}

/**
 * InitialSplitPolicy::calculateHashedSplitPoints: split points symmetric around 0 dividing the
 * int64 range into `chunks` intervals.
 */
function hashedSplitPoints(field: string, chunks: number): BDoc[] {
  if (chunks <= 1) return [];
  const max = 0x7fffffffffffffffn;
  const interval = (max / BigInt(chunks)) * 2n;
  const points: bigint[] = [];
  let current = 0n;
  if (chunks % 2 === 0) {
    points.push(current);
    current += interval;
  } else {
    current += interval / 2n;
  }
  for (let i = 0; i < Math.floor((chunks - 1) / 2); i++) {
    points.push(current, -current);
    current += interval;
  }
  return points
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map(value => new Map<string, BValue>([[field, Long.fromBigInt(value)]]));
}

const shardCollection: RouterHandler = async ctx => {
  requireAdmin(ctx);
  const { router } = ctx;
  const { catalog } = router;
  const [db, coll] = namespaceOf(ctx);
  const ns = `${db}.${coll}`;
  if (['admin', 'config', 'local'].includes(db) || coll.startsWith('system.')) {
    throw new ServerError(20, `can't shard ${ns}`);
  }
  const keySpec = ctx.cmd.get('key');
  if (!isDoc(keySpec)) {
    throw new ServerError(
      40414,
      "BSON field 'shardCollection.key' is missing but a required field",
      {
        codeName: 'Location40414'
      }
    );
  }
  const key = new ShardKeyPattern(keySpec);
  const unique = ctx.cmd.get('unique') === true;
  if (unique && key.hashedField) {
    throw new ServerError(2, 'Hashed shard keys cannot be declared unique.');
  }
  const existing = catalog.collection(ns);
  if (existing) {
    if (
      compareKeys(existing.key.spec, keySpec) !== 0 ||
      [...existing.key.spec.keys()].join() !== [...keySpec.keys()].join()
    ) {
      throw new ServerError(
        23,
        `sharding already enabled for collection ${ns} with options { _id: "${ns}", key: ${renderValue(existing.key.spec)}, unique: ${String(existing.unique)} }`,
        { codeName: 'AlreadyInitialized' }
      );
    }
    return { collectionsharded: ns };
  }
  const wire = router.profile.maxWireVersion;
  const dbEntry = catalog.database(db);
  if (wire < 17 && !dbEntry?.partitioned) {
    throw new ServerError(20, `sharding not enabled for db ${db}`);
  }
  const entry = catalog.ensureDatabase(db);
  const primary = router.shard(entry.primary).mongod;
  let source = primary.catalog.collection(db, coll);
  if (source?.type === 'view') throw new ServerError(20, `can't shard a view: ${ns}`);
  if (!source) {
    throwIfFailed(
      await router.send(
        entry.primary,
        db,
        new Map<string, BValue>([['create', coll]]),
        ctx.connection
      )
    );
    source = primary.catalog.collection(db, coll)!;
  }
  // An index whose key starts with the shard key, field by field and kind by kind (a hashed
  // field needs a hashed index, an ascending one an ascending index).
  const keyEntries = [...keySpec];
  const hasKeyIndex = source.indexes.some(index => {
    const indexKey = [...(index.spec.get('key') as BDoc)];
    return (
      keyEntries.every(([field, kind], i) => {
        const entry = indexKey[i];
        if (!entry || entry[0] !== field) return false;
        return kind === 'hashed'
          ? entry[1] === 'hashed'
          : isNumber(entry[1]) && toNumber(entry[1]) === 1;
      }) &&
      (!unique || index.unique)
    );
  });
  if (!hasKeyIndex) {
    if (source.count > 0) {
      throw new ServerError(
        72,
        'Please create an index that starts with the proposed shard key before sharding the collection'
      );
    }
    const spec = new Map<string, BValue>([
      ['key', keySpec],
      ['name', indexName(keySpec)]
    ]);
    if (unique) spec.set('unique', true);
    throwIfFailed(
      await router.send(
        entry.primary,
        db,
        new Map<string, BValue>([
          ['createIndexes', coll],
          ['indexes', [spec]]
        ]),
        ctx.connection
      )
    );
  }
  // Initial chunks: an empty collection with a hashed key is pre-split across the shards
  // (2 chunks per shard before 7.0, 1 from 7.0: SplitPointsBasedSplitPolicy), round-robin from
  // the primary; anything else starts as one chunk on the primary.
  let splitPoints: BDoc[] = [];
  const shardOrder = catalog.shardIds();
  const startAt = shardOrder.indexOf(entry.primary);
  const rotated = [...shardOrder.slice(startAt), ...shardOrder.slice(0, startAt)];
  const hashed = key.hashedField;
  const requested = ctx.cmd.get('numInitialChunks');
  if (hashed && key.fields.length === 1 && source.count === 0) {
    const perShard = wire >= 21 ? 1 : 2;
    const chunks =
      isNumber(requested) && toNumber(requested) > 0
        ? toNumber(requested)
        : perShard * shardOrder.length;
    splitPoints = hashedSplitPoints(hashed.path, chunks);
  }
  const owners = splitPoints.length > 0 ? rotated : [entry.primary];
  const collection = catalog.shardCollection(ns, source.uuid, keySpec, unique, splitPoints, owners);
  for (const chunk of collection.chunks) {
    if (chunk.shard !== entry.primary) {
      ensureCollectionLike(router.shard(chunk.shard).mongod, source);
    }
  }
  catalog.logChange(
    'shardCollection.end',
    ns,
    entry.primary,
    new Map<string, BValue>([
      ['version', `1|${collection.version.minor}||${collection.epoch.toHexString()}`]
    ])
  );
  if (wire >= 17) {
    // The no-op 6.0+ change streams turn into a `shardCollection` event (expanded events).
    noop(
      primary,
      ns,
      collection.uuid,
      new Map([['msg', new Map([['shardCollection', ns]])]]),
      new Map<string, BValue>([
        ['shardCollection', ns],
        ['shardKey', keySpec],
        ['unique', unique],
        ['numInitialChunks', Long.fromNumber(isNumber(requested) ? toNumber(requested) : 0)],
        ['presplitHashedZones', ctx.cmd.get('presplitHashedZones') === true]
      ])
    );
  }
  const reply: Record<string, unknown> = { collectionsharded: ns };
  if (wire < 13) reply.collectionUUID = collection.uuid;
  return reply;
};

/** The chunk `find` (a query pinning the shard key) or `bounds` ([min, max]) names. */
function chunkOf(ctx: RouterContext, collection: ShardedCollection) {
  const { catalog } = ctx.router;
  const find = ctx.cmd.get('find');
  const bounds = ctx.cmd.get('bounds');
  if (isDoc(find)) {
    const key = collection.key.keyOfQuery(find);
    if (!key) {
      throw new ServerError(61, `no shard key found in chunk query ${renderValue(find)}`, {
        codeName: 'ShardKeyNotFound'
      });
    }
    return catalog.chunkFor(collection, key);
  }
  if (Array.isArray(bounds) && bounds.length === 2 && isDoc(bounds[0]) && isDoc(bounds[1])) {
    const chunk = catalog.chunkFor(collection, bounds[0]);
    if (compareKeys(chunk.min, bounds[0]) !== 0 || compareKeys(chunk.max, bounds[1]) !== 0) {
      throw new ServerError(
        13388,
        `no chunk found with the shard key bounds [${renderValue(bounds[0])}, ${renderValue(bounds[1])})`,
        { codeName: 'StaleConfig' }
      );
    }
    return chunk;
  }
  throw new ServerError(9, 'need to specify either a find query, or both lower and upper bounds.', {
    codeName: 'FailedToParse'
  });
}

const split: RouterHandler = ctx => {
  requireAdmin(ctx);
  const collection = shardedCollection(ctx);
  const { catalog } = ctx.router;
  const middle = ctx.cmd.get('middle');
  if (isDoc(middle)) {
    if ([...middle.keys()].join() !== collection.key.fields.map(f => f.path).join()) {
      throw new ServerError(
        2,
        `split point ${renderValue(middle)} does not match the shard key pattern ${renderValue(collection.key.spec)}`
      );
    }
    catalog.split(collection, middle);
    return {};
  }
  // `find` or `bounds`: split the chunk at its median document, as splitVector would.
  const chunk = chunkOf(ctx, collection);
  const owner = ctx.router.shard(chunk.shard).mongod;
  const stored = owner.catalog.collection(collection.db, collection.coll);
  const keys = (stored?.snapshot() ?? [])
    .map(doc => collection.key.keyOfDocument(doc))
    .filter(k => compareKeys(k, chunk.min) >= 0 && compareKeys(k, chunk.max) < 0)
    .sort(compareKeys);
  const median = keys[Math.floor(keys.length / 2)];
  if (!median || compareKeys(median, chunk.min) === 0) {
    throw new ServerError(
      2,
      `can't split the chunk ${renderValue(chunk.min)} -->> ${renderValue(chunk.max)}: not enough distinct keys`
    );
  }
  catalog.split(collection, median);
  return {};
};

function moveChunkHandler(migrations: () => Migrations): RouterHandler {
  return async ctx => {
    requireAdmin(ctx);
    const started = Date.now();
    const collection = shardedCollection(ctx);
    const to = ctx.cmd.get('to');
    if (typeof to !== 'string') {
      throw new ServerError(40414, "BSON field 'moveChunk.to' is missing but a required field", {
        codeName: 'Location40414'
      });
    }
    ctx.router.shard(to);
    if (to === CONFIG_SERVER)
      throw new ServerError(70, `Shard ${to} not found`, { codeName: 'ShardNotFound' });
    const chunk = chunkOf(ctx, collection);
    const waitForDelete =
      ctx.cmd.get('_waitForDelete') === true || ctx.cmd.get('waitForDelete') === true;
    await migrations().moveChunk(collection, chunk, to, { waitForDelete });
    return { millis: new Int32(Date.now() - started) };
  };
}

export function adminCommands(
  migrations: () => Migrations,
  balancer: () => Balancer
): Record<string, RouterHandler> {
  const balancerStatus: RouterHandler = ctx => {
    requireAdmin(ctx);
    return {
      mode: ctx.router.catalog.balancerMode(),
      inBalancerRound: balancer().inRound,
      numBalancerRounds: Long.fromNumber(balancer().rounds)
    };
  };
  return {
    hello: helloHandler(false),
    isMaster: helloHandler(true),
    ismaster: helloHandler(true),
    ping: () => ({}),
    buildInfo: fromConfigServer,
    buildinfo: fromConfigServer,
    getParameter: fromConfigServer,
    getLog: ctx =>
      ctx.cmd.get('getLog') === '*'
        ? { names: ['global', 'startupWarnings'] }
        : { totalLinesWritten: new Int32(0), log: [] },
    hostInfo: fromConfigServer,
    connectionStatus: () => ({
      authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }
    }),
    whatsmyuri: () => ({ you: '127.0.0.1:0' }),
    getCmdLineOpts: ctx => ({
      argv: ['mongos', '--configdb', ctx.router.configConnectionString],
      parsed: {
        net: { bindIp: '127.0.0.1', port: new Int32(Number(ctx.router.host.split(':')[1])) },
        sharding: { configDB: ctx.router.configConnectionString }
      }
    }),
    serverStatus: ctx => ({
      host: ctx.router.host,
      version: ctx.router.profile.version,
      process: 'mongos',
      pid: Long.fromNumber(process.pid),
      uptime: new Double(Math.floor((Date.now() - ctx.router.startedAt.getTime()) / 1000)),
      uptimeMillis: Long.fromNumber(Date.now() - ctx.router.startedAt.getTime()),
      localTime: new Date(),
      connections: {
        current: new Int32(0),
        available: new Int32(1000),
        totalCreated: new Int32(0)
      },
      sharding: {
        configsvrConnectionString: ctx.router.configConnectionString,
        lastSeenConfigServerOpTime: ctx.router.shard(CONFIG_SERVER).mongod.lastOpTime(),
        maxChunkSizeInBytes: Long.fromNumber(128 * 1024 * 1024)
      }
    }),
    isdbgrid: ctx => ({ isdbgrid: new Int32(1), hostname: ctx.router.host }),
    startSession: ctx => ({
      id: { id: (ctx.cmd.get('lsid') as BDoc | undefined)?.get('id') ?? null },
      timeoutMinutes: new Int32(30)
    }),
    endSessions: async ctx => {
      const ids = ctx.cmd.get('endSessions');
      if (Array.isArray(ids)) ctx.router.transactions.forget(ids);
      return toEveryShard(ctx);
    },
    killSessions: async ctx => {
      const ids = ctx.cmd.get('killSessions');
      if (Array.isArray(ids)) ctx.router.transactions.forget(ids);
      return toEveryShard(ctx);
    },
    killAllSessions: async ctx => {
      ctx.router.transactions.forgetAll();
      return toEveryShard(ctx);
    },
    killAllSessionsByPattern: async ctx => {
      ctx.router.transactions.forgetAll();
      return toEveryShard(ctx);
    },
    refreshSessions: () => ({}),
    logout: () => ({}),
    commitTransaction: ctx => ctx.router.transactions.commitTransaction(ctx),
    abortTransaction: ctx => ctx.router.transactions.abortTransaction(ctx),
    listShards,
    enableSharding,
    enablesharding: enableSharding,
    shardCollection,
    shardcollection: shardCollection,
    split,
    moveChunk: moveChunkHandler(migrations),
    movechunk: moveChunkHandler(migrations),
    balancerStart: ctx => {
      requireAdmin(ctx);
      ctx.router.catalog.setBalancerMode('full');
      return {};
    },
    balancerStop: ctx => {
      requireAdmin(ctx);
      ctx.router.catalog.setBalancerMode('off');
      return {};
    },
    balancerStatus,
    flushRouterConfig: () => ({ flushed: true }),
    appendOplogNote: async ctx => {
      requireAdmin(ctx);
      for (const id of ctx.router.catalog.shardIds()) {
        throwIfFailed(
          await ctx.router.send(id, 'admin', ctx.router.commandFor(ctx, id), ctx.connection)
        );
      }
      return {};
    }
  };
}
