/**
 * Which deployment a client is connected to, by the identity the deployment gives itself (a
 * replica set's `replicaSetId`, a sharded cluster's `clusterId`), never by the URI text: two
 * URIs can name one deployment (other hosts, an SRV record, a load balancer), and one replica
 * set name (`rs0`) is shared by countless deployments.
 *
 * The replicator refuses to replicate a deployment onto itself unless the filter keeps every
 * target namespace apart from what it reads, and binds its checkpoint to the source identity.
 */
import { type Document, type MongoClient } from 'mongodb';

import { InvalidConfigError } from '../errors.js';
import { sideError } from '../lifecycle/side-errors.js';
import { type Logger } from '../logger.js';
import { NamespaceFilter } from '../namespace/namespace-filter.js';
import { type ResolvedReplicatorOptions } from '../replicator-options.js';

/**
 * A deployment's identity.
 * @internal
 */
export interface DeploymentIdentity {
  /** `replicaSet:<name>/<replicaSetId>` or `cluster:<clusterId>`; comparable across clients. */
  readonly id: string;
  /** For messages: the replica set name, or `sharded cluster`. */
  readonly label: string;
}

function hexOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const hex = (value as { toHexString?: () => string }).toHexString?.();
  return typeof hex === 'string' ? hex : undefined;
}

/**
 * What `client` talks to: a mongos or not, and the deployment's identity.
 * @internal
 */
export interface DeploymentDescription {
  /** A mongos (`hello` says `isdbgrid`): the front of a sharded cluster. */
  readonly mongos: boolean;
  /**
   * `undefined` when the deployment does not say (a standalone server, or a user allowed neither
   * `replSetGetConfig` nor a read of `local.system.replset`, nor of `config.version` on a mongos).
   */
  readonly identity: DeploymentIdentity | undefined;
}

/**
 * Reads what `client` talks to (see {@link DeploymentDescription}).
 * @throws {@link SourceReadError} or {@link TargetWriteError} (by `side`) when `hello` fails
 * @internal
 */
export async function describeDeployment(
  client: MongoClient,
  side: 'source' | 'target'
): Promise<DeploymentDescription> {
  let hello: Document;
  try {
    hello = await client.db('admin').command({ hello: 1 });
  } catch (error) {
    throw sideError(side, error, { action: `Asking the ${side} which deployment it is` });
  }
  const mongos = hello.msg === 'isdbgrid';
  const identity = mongos ? await clusterIdentity(client) : await replicaSetIdentity(client, hello);
  return { mongos, identity };
}

async function clusterIdentity(client: MongoClient): Promise<DeploymentIdentity | undefined> {
  const version = await client
    .db('config')
    .collection('version')
    .findOne({})
    .catch(() => null);
  const clusterId = hexOf(version?.clusterId);
  return clusterId === undefined
    ? undefined
    : { id: `cluster:${clusterId}`, label: 'sharded cluster' };
}

async function replicaSetIdentity(
  client: MongoClient,
  hello: Document
): Promise<DeploymentIdentity | undefined> {
  const admin = client.db('admin');
  const setName: unknown = hello.setName;
  if (typeof setName !== 'string') return undefined;
  const fromConfig = await admin
    .command({ replSetGetConfig: 1 })
    .then(reply => hexOf((reply.config as Document | undefined)?.settings?.replicaSetId))
    .catch(() => undefined);
  const replicaSetId =
    fromConfig ??
    (await client
      .db('local')
      .collection('system.replset')
      .findOne({}, { projection: { 'settings.replicaSetId': 1 } })
      .then(doc => hexOf((doc?.settings as Document | undefined)?.replicaSetId))
      .catch(() => undefined));
  return replicaSetId === undefined
    ? undefined
    : { id: `replicaSet:${setName}/${replicaSetId}`, label: `replica set ${setName}` };
}

/**
 * The source's identity (which binds the checkpoint), and it again when the target is the same
 * deployment. Logs when either side does not tell (then neither can be checked).
 * @internal
 */
export function compareDeployments(
  source: DeploymentIdentity | undefined,
  target: DeploymentIdentity | undefined,
  logger: Logger
): { sourceId: string | undefined; sameDeployment: DeploymentIdentity | undefined } {
  if (source === undefined || target === undefined) {
    logger.warn(
      'The source or the target does not tell which deployment it is (replSetGetConfig): replicating a deployment onto itself cannot be detected, nor a checkpoint of another source',
      { source: source?.label ?? 'unknown', target: target?.label ?? 'unknown' }
    );
    return { sourceId: source?.id, sameDeployment: undefined };
  }
  if (source.id !== target.id) return { sourceId: source.id, sameDeployment: undefined };
  logger.info(
    `Source and target are one deployment (${source.label}): every replicated namespace must be renamed apart`
  );
  return { sourceId: source.id, sameDeployment: source };
}

/**
 * Source and target are one deployment: allowed only when every namespace the filter reads
 * goes to another namespace that the filter does not read (so nothing is written, or dropped,
 * where it is read); the replicator's own namespaces are never read. `filter` was built with
 * {@link selfReplication} as its `selfTargetError`, so mapping a namespace that breaks the rule
 * throws: this maps every namespace that exists now, and the filter checks later ones as they
 * come.
 * @throws {@link InvalidConfigError} naming the first namespace that would be overwritten
 * @internal
 */
export async function checkSelfReplication(
  source: MongoClient,
  filter: NamespaceFilter
): Promise<void> {
  const { databases } = await source.db('admin').command({ listDatabases: 1, nameOnly: true });
  for (const { name: db } of databases as { name: string }[]) {
    if (!filter.acceptsDatabase(db)) continue;
    const collections = await source.db(db).listCollections({}, { nameOnly: true }).toArray();
    for (const { name } of collections) filter.map(`${db}.${name}`);
  }
}

/**
 * The error for a namespace the run would write where it reads.
 * @internal
 */
export function selfReplication(
  identity: DeploymentIdentity,
  ns: string,
  target: string
): InvalidConfigError {
  const where = target === ns ? 'onto itself' : `into ${target}, which it also reads`;
  return new InvalidConfigError(
    'target',
    `source and target are the same deployment (${identity.label}), and ${ns} would be replicated ${where}. Nothing was written. Point the target at another deployment, or rename every replicated namespace to one the filter does not read (filter.rename, such as "shop.*": "shop_copy.*")`
  );
}

/**
 * The replicator's filter: its options, refusing also where the checkpoints are when a
 * MongoCheckpointStore was placed outside the replicator's own database, and (one deployment on
 * both sides) any namespace written where it is read.
 * @internal
 */
export function replicatorFilter(
  options: Pick<ResolvedReplicatorOptions, 'filter' | 'checkpoint'>,
  selfTargetError: ((ns: string, target: string) => Error) | undefined
): NamespaceFilter {
  const store = options.checkpoint.store as { namespace?: unknown } | undefined;
  return new NamespaceFilter(options.filter ?? {}, {
    reservedNamespaces: typeof store?.namespace === 'string' ? [store.namespace] : [],
    ...(selfTargetError === undefined ? {} : { selfTargetError })
  });
}

/**
 * Compares the deployments (see {@link compareDeployments}) and returns the source's identity
 * and the filter the run uses: the options' one, which on a single deployment also refuses any
 * namespace written where it is read, checked at once for every namespace that exists.
 * @throws {@link InvalidConfigError} naming the first namespace that would be overwritten
 * @internal
 */
export async function identifyDeployments(
  clients: { readonly source: MongoClient; readonly target: MongoClient },
  options: Pick<ResolvedReplicatorOptions, 'filter' | 'checkpoint'>,
  logger: Logger
): Promise<{
  sourceId: string | undefined;
  sourceSharded: boolean;
  targetSharded: boolean;
  filter: NamespaceFilter;
}> {
  const [source, target] = await Promise.all([
    describeDeployment(clients.source, 'source'),
    describeDeployment(clients.target, 'target')
  ]);
  const { sourceId, sameDeployment } = compareDeployments(source.identity, target.identity, logger);
  if (sameDeployment === undefined) {
    return {
      sourceId,
      sourceSharded: source.mongos,
      targetSharded: target.mongos,
      filter: replicatorFilter(options, undefined)
    };
  }
  const filter = replicatorFilter(options, (ns, to) => selfReplication(sameDeployment, ns, to));
  await checkSelfReplication(clients.source, filter);
  return { sourceId, sourceSharded: source.mongos, targetSharded: target.mongos, filter };
}
