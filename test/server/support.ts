/** Helpers for the test server's own tests: start a server, connect the official driver to it. */
import { type BSON, type Document, MongoClient, type MongoClientOptions } from 'mongodb';

import { startTestServer, type TestServer, type TestServerOptions } from './server.js';

export interface Started {
  readonly server: TestServer;
  readonly client: MongoClient;
  close(): Promise<void>;
}

/** Starts a test server and a connected client (`replicaSet` URI unless `direct`). */
export async function startWithClient(
  options: TestServerOptions & { direct?: boolean; client?: MongoClientOptions } = {}
): Promise<Started> {
  const server = await startTestServer(options);
  const client = new MongoClient(options.direct ? server.directUri : server.uri, {
    serverSelectionTimeoutMS: 5000,
    ...options.client
  });
  await client.connect();
  return {
    server,
    client,
    async close() {
      await client.close();
      await server.stop();
    }
  };
}

/** A schema whose `_id` may be of any BSON type (the driver's default assumes ObjectId). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests write documents of any shape
export type AnyDoc = { _id?: number | string | boolean | object | null; [field: string]: any };

/** The driver's view of the topology (not in its public types, but stable across 6.x and 7.x). */
export interface TopologyView {
  topology?: { description: { type: string; servers: Map<string, { type: string }> } };
}

/** An oplog entry as the driver returns it. */
export type OplogEntryDoc = Document & { ts: BSON.Timestamp; op: string; ns: string };

/** The `ts` of the newest oplog entry. */
export async function newestOplogTs(client: MongoClient): Promise<BSON.Timestamp> {
  const [last] = await client
    .db('local')
    .collection('oplog.rs')
    .find({})
    .sort({ $natural: -1 })
    .limit(1)
    .toArray();
  return last!.ts as BSON.Timestamp;
}

/** The oplog entries written after `since` (excluding it), oldest first. */
export async function oplogEntriesAfter(
  client: MongoClient,
  since: BSON.Timestamp
): Promise<OplogEntryDoc[]> {
  const entries = await client
    .db('local')
    .collection('oplog.rs')
    .find({ ts: { $gt: since } })
    .toArray();
  return entries as unknown as OplogEntryDoc[];
}
