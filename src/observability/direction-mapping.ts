/**
 * Describes a deployment by its hosts and replica set name only. Built from the parsed host list
 * rather than by redacting the URI, so user names, passwords and secret URI options (TLS key
 * passwords, AWS tokens) cannot reach a status page however they are spelled.
 */
import { type MongoClient } from 'mongodb';
import { ConnectionString } from 'mongodb-connection-string-url';

import { type DirectionMapping } from './replicator-status.js';

/** What a deployment is shown as when its connection string does not parse. */
const UNKNOWN = 'unknown';

/**
 * `replicaSet/host1:port,host2:port` for a connection string or a `MongoClient`; the SRV name
 * for an SRV client; the hosts alone without a replica set name.
 * @internal
 */
export function describeDeployment(deployment: string | MongoClient): string {
  let hosts: readonly string[];
  let replicaSet: string | null | undefined;
  if (typeof deployment === 'string') {
    try {
      const parsed = new ConnectionString(deployment);
      hosts = parsed.hosts;
      replicaSet = parsed.searchParams.get('replicaSet');
    } catch {
      return UNKNOWN;
    }
  } else {
    const { srvHost, hosts: addresses, replicaSet: name } = deployment.options;
    hosts = srvHost ? [srvHost] : addresses.map(address => address.toString());
    replicaSet = name;
  }
  if (hosts.length === 0) return UNKNOWN;
  const list = hosts.join(',');
  return replicaSet ? `${replicaSet}/${list}` : list;
}

/**
 * The {@link DirectionMapping} of a replicator's source and target.
 * @internal
 */
export function directionMapping(
  source: string | MongoClient,
  target: string | MongoClient
): DirectionMapping {
  return { source: describeDeployment(source), target: describeDeployment(target) };
}
