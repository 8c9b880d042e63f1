/**
 * The shards of a sharded source and how to reach each one: `listShards` on the mongos names
 * every shard's replica set and hosts (`shard0/h1:27018,h2:27018`); a shard is read with the
 * mongos connection string's credentials and TLS settings, pointed at those hosts.
 */
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { ConnectionString } from 'mongodb-connection-string-url';

import { SourceReadError } from '../errors.js';

/**
 * One shard of a sharded source, as `listShards` describes it.
 * @public
 */
export interface SourceShard {
  /** The shard's name (`_id` in `config.shards`). */
  readonly id: string;
  /** Its replica set's name. */
  readonly replicaSet: string;
  /** Its members, `host:port`. */
  readonly hosts: readonly string[];
}

/**
 * The shards of the cluster behind `mongos`, in `listShards` order.
 * @throws {@link SourceReadError} when the reply names no shard or a shard without a replica set
 * @internal
 */
export async function listSourceShards(
  mongos: MongoClient,
  signal?: AbortSignal
): Promise<SourceShard[]> {
  const reply = await mongos
    .db('admin')
    .command({ listShards: 1 }, signal === undefined ? {} : { signal });
  const shards = Array.isArray(reply.shards) ? (reply.shards as unknown[]) : [];
  const parsed = shards.map(parseShard);
  if (parsed.length === 0) {
    throw new SourceReadError('listShards named no shard', false, {
      hint: 'Add a shard to the cluster, or point the source at a replica set'
    });
  }
  return parsed;
}

function parseShard(shard: unknown): SourceShard {
  const { _id: id, host } = (shard ?? {}) as { _id?: unknown; host?: unknown };
  const slash = typeof host === 'string' ? host.indexOf('/') : -1;
  if (typeof id !== 'string' || typeof host !== 'string' || slash <= 0) {
    throw new SourceReadError(
      `listShards describes a shard without a replica set (${String(id)}: ${String(host)})`,
      false,
      {
        hint: "Every shard must be a replica set to read its oplog; use fetchMethod 'changeStream'"
      }
    );
  }
  return {
    id,
    replicaSet: host.slice(0, slash),
    hosts: host
      .slice(slash + 1)
      .split(',')
      .filter(member => member.length > 0)
  };
}

/**
 * The connection string of one shard, from the mongos's: the same credentials, TLS and other
 * options, the shard's hosts and replica set. A `mongodb+srv` string becomes `mongodb` with
 * `tls=true` (what SRV implies); options that only make sense for the mongos (`directConnection`,
 * `loadBalanced`, `srvServiceName`, `srvMaxHosts`) are dropped.
 * @public
 */
export function shardConnectionString(mongosUri: string, shard: SourceShard): string {
  const parsed = new ConnectionString(mongosUri);
  const params = parsed.typedSearchParams<Record<string, string>>();
  if (parsed.isSRV) {
    parsed.protocol = 'mongodb:';
    if (!params.has('tls') && !params.has('ssl')) params.set('tls', 'true');
  }
  parsed.hosts = [...shard.hosts];
  for (const key of ['directConnection', 'loadBalanced', 'srvServiceName', 'srvMaxHosts']) {
    params.delete(key);
  }
  params.set('replicaSet', shard.replicaSet);
  return parsed.toString();
}

/**
 * A client of one shard for a mongos client the host connected itself (its connection string is
 * not known here): the client's credentials and TLS files are carried over.
 * @internal
 */
export function shardClientLike(mongos: MongoClient, shard: SourceShard): MongoClient {
  const from = mongos.options;
  const options: MongoClientOptions = {
    replicaSet: shard.replicaSet,
    tls: from.tls,
    ...(from.appName ? { appName: from.appName } : {}),
    ...(from.compressors.length > 0 ? { compressors: from.compressors } : {}),
    ...(from.tlsCAFile ? { tlsCAFile: from.tlsCAFile } : {}),
    ...(from.tlsCertificateKeyFile ? { tlsCertificateKeyFile: from.tlsCertificateKeyFile } : {}),
    ...(from.tlsAllowInvalidCertificates ? { tlsAllowInvalidCertificates: true } : {}),
    ...(from.tlsAllowInvalidHostnames ? { tlsAllowInvalidHostnames: true } : {})
  };
  const credentials = from.credentials;
  if (credentials !== undefined) {
    options.auth = { username: credentials.username, password: credentials.password };
    options.authSource = credentials.source;
    if (credentials.mechanism !== 'DEFAULT') options.authMechanism = credentials.mechanism;
    options.authMechanismProperties = credentials.mechanismProperties;
  }
  return new MongoClient(`mongodb://${shard.hosts.join(',')}/`, options);
}

/**
 * A new client of one shard, for a source given as a connection string or a connected client.
 * @internal
 */
export function shardClientFor(source: string | MongoClient, shard: SourceShard): MongoClient {
  return typeof source === 'string'
    ? new MongoClient(shardConnectionString(source, shard))
    : shardClientLike(source, shard);
}
