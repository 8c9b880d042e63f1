/**
 * The emulated mongod: one replica-set primary's state (catalog, oplog, cursors, topology) and
 * the components that change it. The wire layer and commands only talk to this object.
 */
import { Binary, Int32, Long, ObjectId } from 'bson';

import { type BDoc, type BValue, isDoc } from '../bson/values.js';
import { Catalog } from './catalog.js';
import { ChangeStreamImages } from './change-stream-images.js';
import { type Collection } from './collection.js';
import { CursorRegistry } from './cursors.js';
import { Ddl } from './ddl.js';
import { FailPoints } from './fail-points.js';
import { Oplog } from './oplog.js';
import { type EntryFields, OplogWriter } from './oplog-entries.js';
import { Sessions } from './sessions.js';
import { type Transaction, type WriteLocks } from './transaction.js';
import { type VersionProfile } from './version-profiles.js';
import { WritePath } from './write-path.js';

export interface MongodOptions {
  readonly profile: VersionProfile;
  readonly replSetName: string;
  readonly oplogSizeBytes: number;
  /** A committed transaction with more operations is logged as a `partialTxn` chain. */
  readonly maxTransactionOpsPerOplogEntry?: number;
}

export class Mongod {
  readonly profile: VersionProfile;
  readonly replSetName: string;
  readonly catalog = new Catalog();
  readonly oplog: Oplog;
  readonly writer: OplogWriter;
  readonly cursors = new CursorRegistry();
  readonly ddl: Ddl;
  readonly writes: WritePath;
  readonly startedAt = new Date();
  /** `host:port` as clients must see it in `hosts`, `me` and `primary`. */
  host = '127.0.0.1:0';
  /** Changes on every process start: `topologyVersion.processId`. */
  processId = new ObjectId();
  topologyCounter = 0;
  #nextConnectionId = 1;
  /** Handshake `client.application.name` per connection id (fail points filter on it). */
  readonly appNames = new Map<number, string>();
  readonly sessions = new Sessions();
  readonly failPoints = new FailPoints();
  /** Change-stream pre- and post-images (`config.system.preimages` on mongod). */
  readonly images = new ChangeStreamImages();
  /** Documents written by open transactions (first writer wins). */
  readonly writeLocks: WriteLocks = new Map();
  /** The transaction whose statement is executing right now (statements run synchronously). */
  currentTransaction: Transaction | undefined;
  /**
   * Set by a sharded cluster's router while a command it routed here runs: whether this shard
   * owns a document of `ns` (reads and writes skip orphans, as mongod's shard filter does).
   */
  routedFilter: ((ns: string, doc: BDoc) => boolean) | undefined;
  /**
   * On a sharded cluster's shard: a sharded collection's document key (`{<shard key>, _id}`),
   * which its oplog entries carry instead of `{_id}`. Undefined for other collections.
   */
  documentKeyOf: ((ns: string, doc: BDoc) => BDoc | undefined) | undefined;
  /** mongod's `maxNumberOfTransactionOperationsInSingleOplogEntry`. */
  maxTransactionOpsPerOplogEntry: number;

  constructor(options: MongodOptions) {
    this.profile = options.profile;
    this.replSetName = options.replSetName;
    this.oplog = new Oplog(options.oplogSizeBytes);
    this.maxTransactionOpsPerOplogEntry = options.maxTransactionOpsPerOplogEntry ?? 2_147_483_647;
    this.writer = new OplogWriter(this.oplog);
    this.ddl = new Ddl(this);
    this.writes = new WritePath(this);
    this.#initiate();
  }

  /** A collection as the running statement sees it (a transaction's private copy inside one). */
  lookupCollection(db: string, coll: string): Collection | undefined {
    return this.currentTransaction
      ? this.currentTransaction.collection(db, coll)
      : this.catalog.collection(db, coll);
  }

  /** Logs a document write: to the oplog, or into the running transaction's `applyOps`. */
  log(fields: EntryFields): void {
    if (this.currentTransaction) {
      this.currentTransaction.capture(fields);
      return;
    }
    const record = this.writer.append(fields);
    if (!record) return;
    if (fields.images && fields.ui) {
      this.images.record({ ui: fields.ui, ts: record.ts, applyOpsIndex: 0 }, fields.images);
    }
    const ops = fields.o.get('applyOps');
    fields.applyOpsImages?.forEach((images, index) => {
      const ui = Array.isArray(ops) && isDoc(ops[index]) ? ops[index].get('ui') : undefined;
      if (images && ui instanceof Binary) {
        this.images.record({ ui, ts: record.ts, applyOpsIndex: index }, images);
      }
    });
  }

  nextConnectionId(): number {
    return this.#nextConnectionId++;
  }

  /** `electionId`: 7fffffff followed by the term as 8 bytes, so it grows across restarts. */
  get electionId(): ObjectId {
    const bytes = Buffer.alloc(12);
    bytes.writeUInt32BE(0x7fffffff, 0);
    bytes.writeBigUInt64BE(BigInt(this.oplog.term), 4);
    return new ObjectId(bytes);
  }

  /**
   * What clients see of a process restart: a new processId, an election (term + 1, so the
   * electionId grows) logged as mongod's "new primary" noop, no cursors, no open transactions.
   */
  restart(): void {
    this.cursors.killAll();
    this.sessions.abortAll();
    this.processId = new ObjectId();
    this.topologyCounter = 0;
    this.oplog.term++;
    this.writer.append({ op: 'n', ns: '', o: new Map([['msg', 'new primary']]) });
  }

  /** `{ts, t}` of the newest oplog entry. */
  lastOpTime(): BDoc {
    return new Map<string, BValue>([
      ['ts', this.oplog.lastTimestamp],
      ['t', Long.fromNumber(this.oplog.term)]
    ]);
  }

  /** What a fresh `rs.initiate()` leaves behind: the first noop and the system collections. */
  #initiate(): void {
    this.writer.append({ op: 'n', ns: '', o: new Map([['msg', 'initiating set']]) });
    this.ddl.ensureSystemCollection('admin', 'system.version');
    this.writes.insert(
      'admin',
      'system.version',
      new Map<string, BValue>([
        ['_id', 'featureCompatibilityVersion'],
        ['version', this.profile.fcv]
      ]),
      {}
    );
    this.ddl.ensureSystemCollection('config', 'system.sessions');
    this.ddl.createIndexes('config', 'system.sessions', [
      new Map<string, BValue>([
        ['key', new Map([['lastUse', new Int32(1)]])],
        ['name', 'lsidTTLIndex'],
        ['expireAfterSeconds', new Int32(1800)]
      ])
    ]);
    this.catalog.create('local', 'startup_log', new Map());
    this.writes.insert(
      'local',
      'startup_log',
      new Map<string, BValue>([
        ['_id', `mongo-replicate-test-server-${Date.now()}`],
        ['hostname', 'localhost'],
        ['startTime', this.startedAt],
        ['pid', Long.fromNumber(process.pid)]
      ]),
      {}
    );
    this.catalog.create('local', 'system.replset', new Map());
  }
}
