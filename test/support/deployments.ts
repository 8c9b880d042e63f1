/**
 * The source and target deployments integration tests run against: two test servers by default,
 * or real MongoDB replica sets when MONGO_REPLICATE_TEST_SOURCE_URI and
 * MONGO_REPLICATE_TEST_TARGET_URI are set. Tests talk to them through the driver only.
 */
import { MongoClient } from 'mongodb';

import { startTestServer, type TestServer } from '../server/server.js';

export interface Deployments {
  readonly sourceUri: string;
  readonly targetUri: string;
  /** Clients for test assertions and workloads (not for the code under test). */
  readonly source: MongoClient;
  readonly target: MongoClient;
  /** True when running against the project's test servers (tiny oplogs etc. are possible). */
  readonly emulated: boolean;
  close(): Promise<void>;
}

/** Starts (or connects to) a source and a target. */
export async function startDeployments(): Promise<Deployments> {
  const realSource = process.env.MONGO_REPLICATE_TEST_SOURCE_URI;
  const realTarget = process.env.MONGO_REPLICATE_TEST_TARGET_URI;
  let servers: TestServer[] = [];
  let sourceUri: string;
  let targetUri: string;
  if (realSource && realTarget) {
    sourceUri = realSource;
    targetUri = realTarget;
  } else {
    servers = await Promise.all([
      startTestServer({ replSetName: 'source' }),
      startTestServer({ replSetName: 'target' })
    ]);
    sourceUri = servers[0]!.uri;
    targetUri = servers[1]!.uri;
  }
  const source = new MongoClient(sourceUri, { serverSelectionTimeoutMS: 10_000 });
  const target = new MongoClient(targetUri, { serverSelectionTimeoutMS: 10_000 });
  await Promise.all([source.connect(), target.connect()]);
  return {
    sourceUri,
    targetUri,
    source,
    target,
    emulated: servers.length > 0,
    async close() {
      await Promise.all([source.close(), target.close()]);
      await Promise.all(servers.map(server => server.stop()));
    }
  };
}

/** A third deployment, for chains (A → B → C). */
export interface ThirdDeployment {
  readonly uri: string;
  readonly client: MongoClient;
  /**
   * False when it is the source deployment itself (real MongoDB without
   * MONGO_REPLICATE_TEST_THIRD_URI): a chain then writes into renamed databases of the source.
   */
  readonly separate: boolean;
  close(): Promise<void>;
}

/**
 * A third deployment: MONGO_REPLICATE_TEST_THIRD_URI if set, else a third test server, else
 * (against real MongoDB) the source deployment again.
 */
export async function startThirdDeployment(d: Deployments): Promise<ThirdDeployment> {
  const real = process.env.MONGO_REPLICATE_TEST_THIRD_URI;
  let server: TestServer | undefined;
  let uri: string;
  if (real) uri = real;
  else if (d.emulated) {
    server = await startTestServer({ replSetName: 'third' });
    uri = server.uri;
  } else {
    uri = d.sourceUri;
  }
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  return {
    uri,
    client,
    separate: uri !== d.sourceUri,
    async close() {
      await client.close();
      await server?.stop();
    }
  };
}

/** A database name unique to one test, so tests against a shared real deployment never collide. */
export function uniqueDbName(prefix: string): string {
  return `mrt_${prefix}_${process.pid}_${Math.floor(Math.random() * 1e9).toString(36)}`;
}
