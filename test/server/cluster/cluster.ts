/**
 * A sharded cluster of test servers: a config server replica set, N shard replica sets (each an
 * ordinary test server on its own port: the primary of a one-member set named after its shard,
 * with its own oplog) and a mongos in front of them (router.ts). All members draw oplog timestamps
 * from one cluster clock; idle members log mongod's periodic no-op so a merge of their oplogs
 * (a change stream on mongos) keeps moving. See docs/test-server.md, "Sharded cluster".
 */
import { createServer, type Server, type Socket } from 'node:net';

import { type BValue } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';
import { resolveVersionProfile } from '../mongod/version-profiles.js';
import {
  runningMongod,
  startTestServer,
  type TestServer,
  type TestServerOptions
} from '../server.js';
import { Connection } from '../wire/connection.js';
import { Balancer } from './balancer.js';
import { ShardingCatalog } from './catalog.js';
import { ClusterClock } from './clock.js';
import { Migrations } from './migration.js';
import { Router } from './router.js';
import { adminCommands } from './router-admin.js';
import { ddlCommands } from './router-ddl.js';
import { readCommands } from './router-reads.js';
import { writeCommands } from './router-writes.js';

export interface TestClusterOptions extends Omit<TestServerOptions, 'replSetName'> {
  /** Number of shards (each a replica set named `shard<i>`). */
  shards: number;
  /** Run the background balancer (config.settings balancer mode 'full'). @defaultValue false */
  balancer?: boolean;
  /** How often a balancer round runs. @defaultValue 1000 */
  balancerIntervalMs?: number;
  /**
   * How long a donor keeps a migrated range's documents (orphans) before the range deleter
   * removes them (mongod's orphanCleanupDelaySecs, 900 s). @defaultValue 900000
   */
  orphanCleanupDelayMs?: number;
}

export interface TestCluster {
  /** The mongos: `mongodb://127.0.0.1:<port>/` */
  readonly uri: string;
  /** The mongos with `directConnection=true`. */
  readonly directUri: string;
  readonly port: number;
  /** The shards, in shard order: `shards[i]` is `shard<i>`, reachable directly. */
  readonly shards: readonly TestServer[];
  /** The config server replica set (`configRepl`). */
  readonly configServer: TestServer;
  /** The router's state (for the test server's own tooling, not for tests). */
  readonly router: Router;
  /** Stops mongos, the shards and the config server. */
  stop(): Promise<void>;
  /** Closes every client connection to mongos. */
  dropConnections(): void;
}

export const CONFIG_REPL_SET = 'configRepl';

/** Starts a sharded cluster; resolves once mongos listens. */
export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const count = options.shards;
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`A test cluster needs at least one shard, got ${String(count)}`);
  }
  const version = options.version ?? '7.0';
  const profile = resolveVersionProfile(version);
  const memberOptions: TestServerOptions = {
    version,
    ...(options.oplogSizeMb !== undefined ? { oplogSizeMb: options.oplogSizeMb } : {}),
    ...(options.maxTransactionOpsPerOplogEntry !== undefined
      ? { maxTransactionOpsPerOplogEntry: options.maxTransactionOpsPerOplogEntry }
      : {})
  };
  const configServer = await startTestServer({ ...memberOptions, replSetName: CONFIG_REPL_SET });
  const shards: TestServer[] = [];
  for (let i = 0; i < count; i++) {
    shards.push(await startTestServer({ ...memberOptions, replSetName: `shard${i}` }));
  }
  const members = [configServer, ...shards];
  const clock = new ClusterClock();
  for (const member of members) clock.advanceTo(member.mongod.oplog.lastTimestamp);
  for (const member of members) member.mongod.oplog.clock = clock;

  const catalog = new ShardingCatalog(configServer.mongod, profile, clock);
  catalog.initialize();
  const configConnectionString = `${CONFIG_REPL_SET}/${configServer.mongod.host}`;
  /** Makes `mongod` shard `id`: what addShard does to a replica set. */
  const makeShard = (id: string, mongod: Mongod, replicaSet: string) => {
    clock.advanceTo(mongod.oplog.lastTimestamp);
    mongod.oplog.clock = clock;
    catalog.addShard(id, `${replicaSet}/${mongod.host}`);
    // addShard's shard identity document (admin.system.version, in the shard's oplog).
    mongod.writes.insert(
      'admin',
      'system.version',
      new Map<string, BValue>([
        ['_id', 'shardIdentity'],
        ['shardName', id],
        ['clusterId', catalog.clusterId],
        ['configsvrConnectionString', configConnectionString]
      ]),
      {}
    );
    // A sharded collection's entries carry its document key ({shard key fields, _id}).
    mongod.documentKeyOf = (ns, doc) => {
      const collection = catalog.collection(ns);
      return collection && !collection.key.isIdOnly ? collection.key.documentKey(doc) : undefined;
    };
  };
  shards.forEach((shard, i) => makeShard(`shard${i}`, shard.mongod, `shard${i}`));

  const router = new Router(
    profile,
    catalog,
    clock,
    configServer.mongod,
    shards.map((shard, i) => ({ id: `shard${i}`, mongod: shard.mongod }))
  );
  router.configConnectionString = configConnectionString;
  const migrations = new Migrations(router, options.orphanCleanupDelayMs ?? 900_000);
  const balancer = new Balancer(router, migrations, options.balancerIntervalMs ?? 1000);
  router.register(
    adminCommands(
      () => migrations,
      () => balancer
    )
  );
  router.register({
    addShard: ctx => {
      if (ctx.db !== 'admin') throw new ServerError(13, 'addShard may only be run against admin');
      const spec = String(ctx.cmd.get('addShard') ?? '');
      const [replicaSet, hosts = ''] = spec.includes('/') ? spec.split('/', 2) : ['', spec];
      const mongod = hosts
        .split(',')
        .map(host => runningMongod(host))
        .find(found => found !== undefined);
      if (!mongod || mongod.replSetName !== replicaSet) {
        throw new ServerError(96, `Could not connect to ${spec} as a replica set`, {
          codeName: 'OperationFailed'
        });
      }
      const name = String(ctx.cmd.get('name') ?? replicaSet);
      if (router.members.has(name) || catalog.shardIds().includes(name)) {
        throw new ServerError(96, `A shard named ${name} already exists`, {
          codeName: 'OperationFailed'
        });
      }
      makeShard(name, mongod, replicaSet);
      router.members.set(name, { id: name, mongod });
      addNoopWriter(mongod);
      return { shardAdded: name };
    }
  });
  router.register(writeCommands);
  router.register(readCommands);
  router.register(ddlCommands);
  catalog.setBalancerMode(options.balancer ? 'full' : 'off');

  const connections = new Set<Connection>();
  const sockets = new Set<Socket>();
  const server: Server = createServer(socket => {
    sockets.add(socket);
    const connection = new Connection(socket, router);
    connections.add(connection);
    socket.on('close', () => {
      sockets.delete(socket);
      connections.delete(connection);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('mongos has no TCP address');
  router.host = `127.0.0.1:${address.port}`;

  catalog.pingMongos(router.host, router.startedAt);
  const timers: NodeJS.Timeout[] = [
    setInterval(() => catalog.pingMongos(router.host, router.startedAt), 30_000)
  ];
  // mongod's periodic no-op writer (noop_writer.cpp): a `periodic noop` entry when nothing was
  // written since the last tick. mongod's interval is 10 s; 1 s here keeps merges responsive.
  const noopInterval = options.noopIntervalMs ?? 1000;
  function addNoopWriter(member: Mongod): void {
    if (noopInterval <= 0) return;
    let seen = member.oplog.newest?.recordId;
    const timer = setInterval(() => {
      const newest = member.oplog.newest?.recordId;
      if (newest === seen) {
        member.writer.append({ op: 'n', ns: '', o: new Map([['msg', 'periodic noop']]) });
      }
      seen = member.oplog.newest?.recordId;
    }, noopInterval);
    timer.unref();
    timers.push(timer);
  }
  for (const member of members) addNoopWriter(member.mongod);
  for (const timer of timers) timer.unref();
  balancer.start();

  const dropConnections = () => {
    for (const connection of connections) connection.destroy();
    for (const socket of sockets) socket.destroy();
  };
  let stopping: Promise<void> | undefined;
  return {
    uri: `mongodb://${router.host}/`,
    directUri: `mongodb://${router.host}/?directConnection=true`,
    port: address.port,
    shards,
    configServer,
    router,
    stop() {
      stopping ??= (async () => {
        for (const timer of timers) clearInterval(timer);
        balancer.stop();
        migrations.stop();
        router.cursors.killAll();
        await new Promise<void>(resolve => {
          server.close(() => resolve());
          dropConnections();
        });
        await Promise.all(members.map(member => member.stop()));
      })();
      return stopping;
    },
    dropConnections
  };
}
