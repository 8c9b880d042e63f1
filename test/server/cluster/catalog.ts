/**
 * The sharding catalog: shards, databases (with their primary shard), sharded collections and
 * their chunks. The router keeps it in memory and writes every change through to the config
 * server's `config` database in the version's document shapes, so `config.*` read through mongos
 * (sh.status(), a replicator) and the config server's oplog show what mongod's config server holds.
 *
 * Shapes (type_shard.cpp, type_database.idl, type_collection.idl, type_chunk.cpp; DOCS-14450 for
 * the 5.0 changes): `config.chunks` is `{_id: "<ns>-<key>", ns, min, max, shard, lastmod,
 * lastmodEpoch, history}` in 4.4 and `{_id: ObjectId, uuid, min, max, shard, lastmod,
 * [onCurrentShardSince (7.0)], history}` from 5.0; `config.collections` gains `timestamp` and
 * `noBalance` in 5.0 (4.4 has `dropped`); `config.databases` keeps `partitioned` until 5.0.
 */
import { type Binary, Int32, Long, ObjectId, Timestamp, UUID } from 'bson';

import { type BDoc, type BValue } from '../bson/values.js';
import { type Mongod } from '../mongod/mongod.js';
import { type VersionProfile } from '../mongod/version-profiles.js';
import { type ClusterClock } from './clock.js';
import { compareKeys, ShardKeyPattern } from './shard-key.js';

export interface ChunkVersion {
  major: number;
  minor: number;
}

export interface Chunk {
  readonly id: ObjectId;
  min: BDoc;
  max: BDoc;
  shard: string;
  version: ChunkVersion;
  /** Newest first: where the chunk has lived since when. */
  history: { validAfter: Timestamp; shard: string }[];
}

export interface ShardedCollection {
  readonly ns: string;
  readonly db: string;
  readonly coll: string;
  readonly uuid: Binary;
  readonly key: ShardKeyPattern;
  readonly unique: boolean;
  readonly epoch: ObjectId;
  readonly timestamp: Timestamp;
  readonly lastmod: Date;
  /** Sorted by `min`, covering MinKey to MaxKey without gaps. */
  chunks: Chunk[];
  version: ChunkVersion;
}

export interface DatabaseEntry {
  readonly name: string;
  primary: string;
  readonly uuid: Binary;
  readonly timestamp: Timestamp;
  lastMod: number;
  partitioned: boolean;
}

export interface ShardEntry {
  readonly id: string;
  /** `<replica set>/<host:port>`, as config.shards holds it. */
  readonly host: string;
}

export class ShardingCatalog {
  readonly shards: ShardEntry[] = [];
  readonly databases = new Map<string, DatabaseEntry>();
  readonly collections = new Map<string, ShardedCollection>();
  readonly clusterId = new ObjectId();

  constructor(
    private readonly config: Mongod,
    private readonly profile: VersionProfile,
    private readonly clock: ClusterClock
  ) {}

  get #wire(): number {
    return this.profile.maxWireVersion;
  }

  /** `config.version`, written once when the cluster starts. */
  initialize(): void {
    const version: BDoc = new Map<string, BValue>([['_id', new Int32(1)]]);
    if (this.#wire < 13) {
      version.set('minCompatibleVersion', new Int32(5));
      version.set('currentVersion', new Int32(6));
    }
    version.set('clusterId', this.clusterId);
    this.#insert('version', version);
  }

  addShard(id: string, host: string): void {
    this.shards.push({ id, host });
    const doc: BDoc = new Map<string, BValue>([
      ['_id', id],
      ['host', host],
      ['state', new Int32(1)]
    ]);
    if (this.#wire >= 13) doc.set('topologyTime', this.clock.next());
    this.#insert('shards', doc);
  }

  shardIds(): string[] {
    return this.shards.map(shard => shard.id);
  }

  /** The database's entry, or undefined when mongos never created it. */
  database(name: string): DatabaseEntry | undefined {
    return this.databases.get(name);
  }

  /** The primary shard a database has, or would get (without creating it). */
  primaryOf(name: string): string {
    return this.databases.get(name)?.primary ?? this.#leastLoadedShard();
  }

  /**
   * Creates the database's entry (mongos does on the first write or `create`, or on
   * enableSharding), on the shard holding the fewest databases unless one is named.
   */
  ensureDatabase(name: string, primary?: string): DatabaseEntry {
    const existing = this.databases.get(name);
    if (existing) return existing;
    const entry: DatabaseEntry = {
      name,
      primary: primary ?? this.#leastLoadedShard(),
      uuid: new UUID(),
      timestamp: this.clock.next(),
      lastMod: 1,
      partitioned: false
    };
    this.databases.set(name, entry);
    this.#insert('databases', this.#databaseDoc(entry));
    return entry;
  }

  /** enableSharding before 6.0 sets `partitioned: true`. */
  markPartitioned(entry: DatabaseEntry): void {
    if (entry.partitioned) return;
    entry.partitioned = true;
    if (this.#wire < 17) this.#replace('databases', entry.name, this.#databaseDoc(entry));
  }

  dropDatabase(name: string): void {
    for (const coll of [...this.collections.values()]) {
      if (coll.db === name) this.dropCollection(coll.ns);
    }
    if (this.databases.delete(name)) this.#delete('databases', new Map([['_id', name]]));
  }

  collection(ns: string): ShardedCollection | undefined {
    return this.collections.get(ns);
  }

  /** Registers a sharded collection with its initial chunks (`shardCollection`'s commit). */
  shardCollection(
    ns: string,
    uuid: Binary,
    keySpec: BDoc,
    unique: boolean,
    splitPoints: BDoc[],
    shardsInOrder: string[]
  ): ShardedCollection {
    const dot = ns.indexOf('.');
    const key = new ShardKeyPattern(keySpec);
    const timestamp = this.clock.next();
    const collection: ShardedCollection = {
      ns,
      db: ns.slice(0, dot),
      coll: ns.slice(dot + 1),
      uuid,
      key,
      unique,
      epoch: new ObjectId(),
      timestamp,
      lastmod: new Date(),
      chunks: [],
      version: { major: 1, minor: 0 }
    };
    const bounds = [key.globalMin(), ...splitPoints, key.globalMax()];
    for (let i = 0; i < bounds.length - 1; i++) {
      const shard = shardsInOrder[i % shardsInOrder.length]!;
      collection.chunks.push({
        id: new ObjectId(),
        min: bounds[i]!,
        max: bounds[i + 1]!,
        shard,
        version: { major: 1, minor: i },
        history: [{ validAfter: timestamp, shard }]
      });
    }
    collection.version = { major: 1, minor: Math.max(0, bounds.length - 2) };
    this.collections.set(ns, collection);
    for (const chunk of collection.chunks) this.#insert('chunks', this.chunkDoc(collection, chunk));
    this.#insert('collections', this.#collectionDoc(collection));
    return collection;
  }

  dropCollection(ns: string): void {
    const collection = this.collections.get(ns);
    if (!collection) return;
    this.collections.delete(ns);
    this.#delete(
      'chunks',
      this.#wire >= 13
        ? new Map<string, BValue>([['uuid', collection.uuid]])
        : new Map<string, BValue>([['ns', ns]])
    );
    if (this.#wire >= 13) this.#delete('collections', new Map([['_id', ns]]));
    else {
      const doc = this.#collectionDoc(collection);
      doc.set('dropped', true);
      this.#replace('collections', ns, doc);
    }
  }

  /** The chunk holding a shard key. */
  chunkFor(collection: ShardedCollection, key: BDoc): Chunk {
    const chunks = collection.chunks;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (compareKeys(chunks[mid]!.min, key) <= 0) lo = mid;
      else hi = mid - 1;
    }
    return chunks[lo]!;
  }

  /** True when `shard` owns the document (always, for an unsharded namespace). */
  owns(shard: string, ns: string, doc: BDoc): boolean {
    const collection = this.collections.get(ns);
    if (!collection) return true;
    return this.chunkFor(collection, collection.key.keyOfDocument(doc)).shard === shard;
  }

  /** The shards holding at least one chunk, in shard order. */
  shardsWithChunks(collection: ShardedCollection): string[] {
    const owners = new Set(collection.chunks.map(chunk => chunk.shard));
    return this.shardIds().filter(id => owners.has(id));
  }

  /** Splits the chunk holding `at` there (a no-op if `at` is its lower bound). */
  split(collection: ShardedCollection, at: BDoc): void {
    const chunk = this.chunkFor(collection, at);
    if (compareKeys(chunk.min, at) === 0) return;
    const right: Chunk = {
      id: new ObjectId(),
      min: at,
      max: chunk.max,
      shard: chunk.shard,
      version: this.#nextMinor(collection),
      history: chunk.history.map(item => ({ ...item }))
    };
    chunk.max = at;
    chunk.version = this.#nextMinor(collection);
    const index = collection.chunks.indexOf(chunk);
    collection.chunks.splice(index + 1, 0, right);
    this.#replace('chunks', this.#chunkId(collection, chunk), this.chunkDoc(collection, chunk));
    this.#insert('chunks', this.chunkDoc(collection, right));
  }

  /**
   * A migration's commit (`_configsvrCommitChunkMigration`): the chunk moves with the
   * collection's major version bumped; one chunk left on the donor (the "control chunk") gets
   * the next minor version, as mongod's commit does.
   */
  commitMove(collection: ShardedCollection, chunk: Chunk, to: string, at: Timestamp): void {
    const from = chunk.shard;
    const major = collection.version.major + 1;
    chunk.shard = to;
    chunk.version = { major, minor: 0 };
    chunk.history.unshift({ validAfter: at, shard: to });
    collection.version = { major, minor: 0 };
    this.#replace('chunks', this.#chunkId(collection, chunk), this.chunkDoc(collection, chunk));
    const control = collection.chunks.find(other => other.shard === from);
    if (control) {
      control.version = { major, minor: 1 };
      collection.version = { major, minor: 1 };
      this.#replace(
        'chunks',
        this.#chunkId(collection, control),
        this.chunkDoc(collection, control)
      );
    }
  }

  /** A `config.changelog` entry (moveChunk.start, moveChunk.commit, …; sh.status() reads them). */
  logChange(what: string, ns: string, shard: string, details: BDoc): void {
    const time = new Date();
    this.#insert(
      'changelog',
      new Map<string, BValue>([
        ['_id', `${this.config.host}-${time.toISOString()}-${new ObjectId().toHexString()}`],
        ['server', this.config.host],
        ['shard', shard],
        ['clientAddr', ''],
        ['time', time],
        ['what', what],
        ['ns', ns],
        ['details', details]
      ])
    );
  }

  /** The config server's view of a chunk document. */
  chunkDoc(collection: ShardedCollection, chunk: Chunk): BDoc {
    const doc: BDoc = new Map<string, BValue>([['_id', this.#chunkId(collection, chunk)]]);
    if (this.#wire >= 13) doc.set('uuid', collection.uuid);
    else doc.set('ns', collection.ns);
    doc.set('min', chunk.min);
    doc.set('max', chunk.max);
    doc.set('shard', chunk.shard);
    doc.set('lastmod', versionTimestamp(chunk.version));
    if (this.#wire < 13) doc.set('lastmodEpoch', collection.epoch);
    if (this.#wire >= 21) doc.set('onCurrentShardSince', chunk.history[0]!.validAfter);
    doc.set(
      'history',
      chunk.history.map(
        item =>
          new Map<string, BValue>([
            ['validAfter', item.validAfter],
            ['shard', item.shard]
          ])
      )
    );
    return doc;
  }

  /** `config.settings` `{_id: 'balancer'}` as balancerStart/balancerStop write it. */
  setBalancerMode(mode: 'full' | 'off'): void {
    const doc = new Map<string, BValue>([
      ['_id', 'balancer'],
      ['mode', mode],
      ['stopped', mode === 'off']
    ]);
    this.config.writes.update(
      'config',
      'settings',
      { q: new Map([['_id', 'balancer']]), u: doc, upsert: true, multi: false },
      {}
    );
  }

  /** The balancer mode config.settings holds (a missing document means on). */
  balancerMode(): 'full' | 'off' {
    const doc = this.config.catalog.collection('config', 'settings')?.get('balancer');
    if (!doc) return 'full';
    return doc.get('mode') === 'off' || doc.get('stopped') === true ? 'off' : 'full';
  }

  /** noBalance as config.collections holds it (mongosh's sh.disableBalancing sets it there). */
  balancingDisabled(ns: string): boolean {
    return (
      this.config.catalog.collection('config', 'collections')?.get(ns)?.get('noBalance') === true
    );
  }

  /** config.mongos: the router's registration and ping (sh.status() lists active mongoses). */
  pingMongos(host: string, startedAt: Date): void {
    this.config.writes.update(
      'config',
      'mongos',
      {
        q: new Map([['_id', host]]),
        u: new Map<string, BValue>([
          ['_id', host],
          ['advisoryHostFQDNs', []],
          ['created', startedAt],
          ['mongoVersion', this.profile.version],
          ['ping', new Date()],
          ['up', longOf(Math.floor((Date.now() - startedAt.getTime()) / 1000))],
          ['waiting', true]
        ]),
        upsert: true,
        multi: false
      },
      {}
    );
  }

  #nextMinor(collection: ShardedCollection): ChunkVersion {
    collection.version = {
      major: collection.version.major,
      minor: collection.version.minor + 1
    };
    return { ...collection.version };
  }

  #chunkId(collection: ShardedCollection, chunk: Chunk): BValue {
    if (this.#wire >= 13) return chunk.id;
    // 4.4's ChunkType::genID: "<ns>-" then each bound field as "<name>_<value>".
    const parts = [...chunk.min].map(([name, value]) => `${name}_${describeValue(value)}`);
    return `${collection.ns}-${parts.join('')}`;
  }

  #collectionDoc(collection: ShardedCollection): BDoc {
    const doc: BDoc = new Map<string, BValue>([
      ['_id', collection.ns],
      ['lastmodEpoch', collection.epoch],
      ['lastmod', collection.lastmod]
    ]);
    if (this.#wire < 13) doc.set('dropped', false);
    else doc.set('timestamp', collection.timestamp);
    if (this.#wire < 13) {
      doc.set('key', collection.key.spec);
      doc.set('unique', collection.unique);
      doc.set('uuid', collection.uuid);
    } else {
      doc.set('uuid', collection.uuid);
      doc.set('key', collection.key.spec);
      doc.set('unique', collection.unique);
      doc.set('noBalance', false);
    }
    return doc;
  }

  #databaseDoc(entry: DatabaseEntry): BDoc {
    const version: BDoc = new Map<string, BValue>([['uuid', entry.uuid]]);
    if (this.#wire >= 13) version.set('timestamp', entry.timestamp);
    version.set('lastMod', new Int32(entry.lastMod));
    const doc: BDoc = new Map<string, BValue>([
      ['_id', entry.name],
      ['primary', entry.primary]
    ]);
    if (this.#wire < 17) doc.set('partitioned', entry.partitioned);
    doc.set('version', version);
    return doc;
  }

  #leastLoadedShard(): string {
    const counts = new Map(this.shardIds().map(id => [id, 0]));
    for (const entry of this.databases.values()) {
      counts.set(entry.primary, (counts.get(entry.primary) ?? 0) + 1);
    }
    let best = this.shards[0]!.id;
    for (const [id, count] of counts) if (count < counts.get(best)!) best = id;
    return best;
  }

  #insert(coll: string, doc: BDoc): void {
    this.config.writes.insert('config', coll, doc, {});
  }

  #replace(coll: string, id: BValue, doc: BDoc): void {
    this.config.writes.update(
      'config',
      coll,
      { q: new Map([['_id', id]]), u: doc, upsert: true, multi: false },
      {}
    );
  }

  #delete(coll: string, filter: BDoc): void {
    this.config.writes.delete('config', coll, filter, 0, {});
  }
}

/** A chunk version as config.chunks stores it: `Timestamp(major, minor)`. */
export function versionTimestamp(version: ChunkVersion): Timestamp {
  return new Timestamp({ t: version.major, i: version.minor });
}

function longOf(n: number): Long {
  return Long.fromNumber(n);
}

/** BSONElement::toString(false, true) for the values shard keys hold, as genID writes them. */
function describeValue(value: BValue): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `"${value}"`;
  if (value && typeof value === 'object' && '_bsontype' in value) {
    const type = (value as { _bsontype: string })._bsontype;
    if (type === 'MinKey' || type === 'MaxKey') return type;
    if (type === 'ObjectId') return `ObjectId('${String(value)}')`;
  }
  return String(value instanceof Object ? value.valueOf() : value);
}
