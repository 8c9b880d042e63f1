/**
 * Starts the MongoDB wire-protocol test server: an in-memory single-node replica set that the
 * official driver, mongosh and mongoose accept as a primary (docs/test-server.md).
 */
import { createServer, type Server, type Socket } from 'node:net';

import { type TestCluster, type TestClusterOptions } from './cluster/cluster.js';
import { Mongod } from './mongod/mongod.js';
import { resolveVersionProfile } from './mongod/version-profiles.js';
import { Connection } from './wire/connection.js';

export interface TestServerOptions {
  /** TCP port; 0 picks a free one. @defaultValue 0 */
  port?: number;
  /** Emulated MongoDB version: '4.4', '5.0', '6.0' or '7.0'. @defaultValue '7.0' */
  version?: string;
  /** Replica set name. @defaultValue 'rs0' */
  replSetName?: string;
  /** Capped size of `local.oplog.rs` in MiB. @defaultValue 64 */
  oplogSizeMb?: number;
  /** Write a periodic `n` no-op entry this often when > 0 (mongod: 10 s). @defaultValue 0 (off) */
  noopIntervalMs?: number;
  /**
   * A committed transaction with more operations than this is logged as a `partialTxn` chain
   * (mongod's `maxNumberOfTransactionOperationsInSingleOplogEntry`). @defaultValue unlimited
   * (split only when an entry would exceed 16 MiB)
   */
  maxTransactionOpsPerOplogEntry?: number;
}

export interface TestServer {
  /** `mongodb://127.0.0.1:<port>/?replicaSet=<name>` */
  readonly uri: string;
  /** `mongodb://127.0.0.1:<port>/?directConnection=true` */
  readonly directUri: string;
  readonly port: number;
  /** The emulated server's state (for the test server's own tooling, not for tests). */
  readonly mongod: Mongod;
  /** Closes every connection and stops listening. */
  stop(): Promise<void>;
  /**
   * A process restart as clients see it: every connection closes, the server listens again on
   * the same port with all data and the oplog kept; a new processId and term (an election).
   */
  restart(): Promise<void>;
  /** Closes every open connection at once (a network blip); the server keeps listening. */
  dropConnections(): void;
}

/**
 * Starts a test server and resolves once it listens; with `shards`, a sharded cluster (a config
 * server, the shards and a mongos, cluster/cluster.ts) whose `uri` is the mongos.
 */
export function startTestServer(options: TestClusterOptions): Promise<TestCluster>;
export function startTestServer(options?: TestServerOptions): Promise<TestServer>;
export async function startTestServer(
  options: TestServerOptions | TestClusterOptions = {}
): Promise<TestServer | TestCluster> {
  if ('shards' in options && options.shards !== undefined) {
    const { startTestCluster } = await import('./cluster/cluster.js');
    return startTestCluster(options);
  }
  return startSingleServer(options);
}

/** The replica sets this process serves, by `host:port`: a cluster's `addShard` finds them here. */
const runningMongods = new Map<string, Mongod>();

/** The replica set member this process serves at `host`, if any (for `addShard`). */
export function runningMongod(host: string): Mongod | undefined {
  return runningMongods.get(host);
}

async function startSingleServer(options: TestServerOptions): Promise<TestServer> {
  const profile = resolveVersionProfile(options.version ?? '7.0');
  const replSetName = options.replSetName ?? 'rs0';
  const mongod = new Mongod({
    profile,
    replSetName,
    oplogSizeBytes: Math.floor((options.oplogSizeMb ?? 64) * 1024 * 1024),
    ...(options.maxTransactionOpsPerOplogEntry !== undefined
      ? { maxTransactionOpsPerOplogEntry: options.maxTransactionOpsPerOplogEntry }
      : {})
  });
  const connections = new Set<Connection>();
  const sockets = new Set<Socket>();
  const server: Server = createServer(socket => {
    sockets.add(socket);
    const connection = new Connection(socket, mongod);
    connections.add(connection);
    socket.on('close', () => {
      sockets.delete(socket);
      connections.delete(connection);
    });
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const dropConnections = () => {
    for (const connection of connections) connection.destroy();
    for (const socket of sockets) socket.destroy();
  };
  await listen(options.port ?? 0);
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error('test server has no TCP address');
  const port = address.port;
  mongod.host = `127.0.0.1:${port}`;
  runningMongods.set(mongod.host, mongod);
  const noopTimer =
    options.noopIntervalMs && options.noopIntervalMs > 0
      ? setInterval(
          () => mongod.writer.append({ op: 'n', ns: '', o: new Map([['msg', 'periodic noop']]) }),
          options.noopIntervalMs
        )
      : undefined;
  let stopping: Promise<void> | undefined;
  return {
    uri: `mongodb://${mongod.host}/?replicaSet=${encodeURIComponent(replSetName)}`,
    directUri: `mongodb://${mongod.host}/?directConnection=true`,
    port,
    mongod,
    stop() {
      stopping ??= new Promise<void>(resolve => {
        runningMongods.delete(mongod.host);
        if (noopTimer) clearInterval(noopTimer);
        mongod.cursors.killAll();
        server.close(() => resolve());
        dropConnections();
      });
      return stopping;
    },
    async restart() {
      if (stopping) throw new Error('the test server was stopped; it cannot restart');
      await new Promise<void>(resolve => {
        server.close(() => resolve());
        dropConnections();
      });
      mongod.restart();
      await listen(port);
    },
    dropConnections
  };
}
