/**
 * mongos: a router that owns no data. It answers `hello` as a router, keeps the sharding catalog,
 * and runs each command by sending commands to the shards (in process, through each shard's own
 * command dispatch, exactly what a client sending them there would get) and merging their replies,
 * as src/mongo/s/commands do. Reads and writes it routes see only what each shard owns: while a
 * routed command runs, the shard filters out documents of chunks it does not own (orphans), as
 * mongod's shard filter does for commands carrying a shard version.
 */
import { Binary, Double, Int32, Long, ObjectId, Timestamp } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { type ConnectionInfo, type ReplyBody } from '../commands/context.js';
import { CLOSE_CONNECTION, runCommand } from '../commands/dispatch.js';
import { errorLabelsFor } from '../commands/error-labels.js';
import { ServerError } from '../engine/server-error.js';
import { CursorRegistry } from '../mongod/cursors.js';
import { type Mongod } from '../mongod/mongod.js';
import { type VersionProfile } from '../mongod/version-profiles.js';
import { type Endpoint } from '../wire/connection.js';
import { type ShardingCatalog } from './catalog.js';
import { type ClusterClock } from './clock.js';
import { RouterTransactions } from './router-transactions.js';

/** The config server's member id in `members` (it is not a shard). */
export const CONFIG_SERVER = 'config';

export interface RouterContext {
  readonly router: Router;
  readonly db: string;
  readonly name: string;
  readonly cmd: BDoc;
  readonly connection: ConnectionInfo;
}

export type RouterHandler = (ctx: RouterContext) => ReplyBody | Promise<ReplyBody>;

/** A server the router sends commands to: a shard's primary or the config server. */
export interface Member {
  readonly id: string;
  readonly mongod: Mongod;
}

/** Fields the router never passes on: the envelope, and what it sets itself per shard. */
const NOT_FORWARDED = new Set([
  '$db',
  '$clusterTime',
  '$readPreference',
  'startTransaction',
  'autocommit',
  'txnNumber',
  'lsid',
  'readConcern'
]);

export class Router implements Endpoint {
  readonly cursors = new CursorRegistry();
  /** Cursors opened on one shard and handed to the client as they are: id → shard. */
  readonly remoteCursors = new Map<string, string>();
  readonly transactions = new RouterTransactions();
  readonly members = new Map<string, Member>();
  readonly startedAt = new Date();
  /** `topologyVersion.processId` of this mongos. */
  readonly processId = new ObjectId();
  /** Collections in a migration's critical section: their writes wait for it to end. */
  readonly criticalSections = new Map<string, Promise<void>>();
  host = '127.0.0.1:0';
  /** `configRepl/<host:port>`: the config server as mongos's --configdb names it. */
  configConnectionString = '';
  #nextConnectionId = 1;
  #handlers = new Map<string, RouterHandler>();

  constructor(
    readonly profile: VersionProfile,
    readonly catalog: ShardingCatalog,
    readonly clock: ClusterClock,
    config: Mongod,
    shards: { id: string; mongod: Mongod }[]
  ) {
    this.members.set(CONFIG_SERVER, { id: CONFIG_SERVER, mongod: config });
    for (const shard of shards) this.members.set(shard.id, shard);
  }

  get opQueryCommands(): boolean {
    return this.profile.opQueryCommands;
  }

  register(handlers: Record<string, RouterHandler>): void {
    for (const [name, handler] of Object.entries(handlers)) this.#handlers.set(name, handler);
  }

  nextConnectionId(): number {
    return this.#nextConnectionId++;
  }

  shard(id: string): Member {
    const member = this.members.get(id);
    if (!member) throw new ServerError(70, `Shard ${id} not found`, { codeName: 'ShardNotFound' });
    return member;
  }

  /** Runs one client command. */
  async run(
    body: BDoc,
    connection: ConnectionInfo
  ): Promise<Map<string, unknown> | typeof CLOSE_CONNECTION> {
    const name = body.keys().next().value ?? '';
    try {
      const db = body.get('$db');
      if (typeof db !== 'string') {
        throw new ServerError(40571, 'OP_MSG requests require a $db argument', {
          codeName: 'Location40571'
        });
      }
      this.#gossip(body.get('$clusterTime'));
      const handler = this.#handlers.get(name);
      if (!handler) throw new ServerError(59, `no such command: '${name}'`);
      const reply = new Map<string, unknown>(
        toEntries(await handler({ router: this, db, name, cmd: body, connection }))
      );
      const labels = errorLabelsFor({
        command: name,
        txnNumber: body.has('txnNumber'),
        autocommit: body.has('autocommit'),
        wcCode: writeConcernCode(reply),
        changeStream: false
      });
      const final = this.#envelope(reply);
      if (reply.has('writeConcernError') && labels.length > 0) final.set('errorLabels', labels);
      return final;
    } catch (error) {
      const code = error instanceof ServerError ? error.code : 1;
      const labels =
        error instanceof ServerError && error.labels.length > 0
          ? []
          : errorLabelsFor({
              command: name,
              txnNumber: body.has('txnNumber'),
              autocommit: body.has('autocommit'),
              code,
              changeStream: false
            });
      return this.errorReply(error, labels);
    }
  }

  errorReply(error: unknown, labels: string[] = []): Map<string, unknown> {
    const failure =
      error instanceof ServerError
        ? error
        : new ServerError(
            1,
            `mongo-replicate test server (mongos) internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`
          );
    const reply = new Map<string, unknown>([
      ['ok', new Double(0)],
      ['errmsg', failure.message],
      ['code', new Int32(failure.code)],
      ['codeName', failure.codeName]
    ]);
    for (const [key, value] of Object.entries(failure.extra)) reply.set(key, value);
    const allLabels = [...new Set([...failure.labels, ...labels])];
    if (allLabels.length > 0) reply.set('errorLabels', allLabels);
    reply.set('$clusterTime', this.clusterTimeDoc());
    reply.set('operationTime', this.clock.last);
    return reply;
  }

  clusterTimeDoc(): Map<string, unknown> {
    return new Map<string, unknown>([
      ['clusterTime', this.clock.last],
      [
        'signature',
        new Map<string, unknown>([
          ['hash', new Binary(Buffer.alloc(20), 0)],
          ['keyId', Long.ZERO]
        ])
      ]
    ]);
  }

  /**
   * The command to send a member for this client command: the client's fields minus the
   * envelope, with `overrides` applied, and the session and transaction fields this member needs.
   */
  commandFor(ctx: RouterContext, member: string, overrides: Record<string, BValue> = {}): BDoc {
    const out: BDoc = new Map();
    for (const [key, value] of ctx.cmd) {
      if (NOT_FORWARDED.has(key)) continue;
      out.set(key, key in overrides ? overrides[key] : value);
    }
    for (const [key, value] of Object.entries(overrides)) {
      if (value === undefined) out.delete(key);
      else if (!out.has(key)) out.set(key, value);
    }
    this.transactions.sessionFields(ctx, member, out);
    return out;
  }

  /** Sends a command to a member; resolves with its reply (`ok: 0` included). */
  async send(
    member: string,
    db: string,
    body: BDoc,
    connection: ConnectionInfo
  ): Promise<Map<string, unknown>> {
    const target = this.shard(member);
    body.set('$db', db);
    const mongod = target.mongod;
    // The shard filters orphans out while the command it was sent runs (synchronously).
    if (member !== CONFIG_SERVER) {
      mongod.routedFilter = (ns, doc) => this.catalog.owns(member, ns, doc);
    }
    let pending: ReturnType<typeof runCommand>;
    try {
      pending = runCommand(mongod, body, connection);
    } finally {
      mongod.routedFilter = undefined;
    }
    const raw = await pending;
    if (raw === CLOSE_CONNECTION) {
      throw new ServerError(6, `Connection to ${mongod.host} was closed by a fail point`, {
        codeName: 'HostUnreachable'
      });
    }
    // Handlers build replies from Maps and plain objects; what crosses the wire is documents.
    const reply = normalize(raw) as Map<string, unknown>;
    const id = cursorIdOf(reply);
    if (id && !id.isZero()) this.remoteCursors.set(id.toString(), member);
    return reply;
  }

  /** Sends a command and throws the member's error, if it failed. */
  async sendOk(
    member: string,
    db: string,
    body: BDoc,
    connection: ConnectionInfo
  ): Promise<Map<string, unknown>> {
    const reply = await this.send(member, db, body, connection);
    throwIfFailed(reply);
    return reply;
  }

  /** The member a database's unsharded collections live on (admin and config: the config server). */
  primaryOf(db: string): string {
    if (db === 'admin' || db === 'config') return CONFIG_SERVER;
    return this.catalog.primaryOf(db);
  }

  /** Waits while a migration's critical section holds the collection's writes. */
  async waitForCriticalSection(ns: string): Promise<void> {
    for (;;) {
      const section = this.criticalSections.get(ns);
      if (!section) return;
      await section;
    }
  }

  #gossip(value: BValue): void {
    if (!isDoc(value)) return;
    const time = value.get('clusterTime');
    if (time instanceof Timestamp) this.clock.advanceTo(time);
  }

  #envelope(body: Map<string, unknown>): Map<string, unknown> {
    const reply = new Map(body);
    reply.delete('ok');
    reply.set('ok', new Double(1));
    reply.set('$clusterTime', this.clusterTimeDoc());
    reply.set('operationTime', this.clock.last);
    return reply;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
  );
}

/** Plain objects in a reply become Maps (documents, stored as Maps, are left as they are). */
function normalize(value: unknown): unknown {
  if (value instanceof Map) {
    let changed = false;
    const out = new Map<string, unknown>();
    for (const [key, inner] of value) {
      const next = normalize(inner);
      if (next !== inner) changed = true;
      out.set(key, next);
    }
    return changed ? out : value;
  }
  if (isPlainObject(value)) {
    return new Map(Object.entries(value).map(([key, inner]) => [key, normalize(inner)]));
  }
  if (Array.isArray(value) && value.some(isPlainObject)) return value.map(normalize);
  return value;
}

function toEntries(body: ReplyBody): Iterable<[string, unknown]> {
  return body instanceof Map ? body.entries() : Object.entries(body);
}

function writeConcernCode(reply: Map<string, unknown>): number | undefined {
  const wce = reply.get('writeConcernError');
  if (!(wce instanceof Map)) return undefined;
  const code = wce.get('code');
  return isNumber(code) ? toNumber(code) : undefined;
}

function cursorIdOf(reply: Map<string, unknown>): Long | undefined {
  const cursor = reply.get('cursor');
  if (!(cursor instanceof Map)) return undefined;
  const id = cursor.get('id');
  return id instanceof Long ? id : undefined;
}

/** The failure a member's reply reports, as an error to rethrow (code, labels, extra fields). */
export function failureOf(reply: Map<string, unknown>): ServerError | undefined {
  const ok = reply.get('ok');
  if (isNumber(ok) && toNumber(ok) === 1) return undefined;
  const extra: Record<string, unknown> = {};
  for (const [key, value] of reply) {
    if (
      ['ok', 'errmsg', 'code', 'codeName', 'errorLabels', '$clusterTime', 'operationTime'].includes(
        key
      )
    )
      continue;
    extra[key] = value;
  }
  const labels = reply.get('errorLabels');
  const code = reply.get('code');
  return new ServerError(isNumber(code) ? toNumber(code) : 1, String(reply.get('errmsg') ?? ''), {
    codeName: String(reply.get('codeName') ?? ''),
    labels: Array.isArray(labels) ? labels.map(String) : [],
    extra
  });
}

export function throwIfFailed(reply: Map<string, unknown>): void {
  const failure = failureOf(reply);
  if (failure) throw failure;
}

/** A member's reply without its envelope (what a passthrough command returns to the client). */
export function replyBody(reply: Map<string, unknown>): Map<string, unknown> {
  const out = new Map(reply);
  for (const key of ['ok', '$clusterTime', 'operationTime', 'electionId', 'opTime']) {
    out.delete(key);
  }
  return out;
}
