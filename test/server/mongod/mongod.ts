/**
 * The emulated mongod: one replica-set primary's state (catalog, oplog, cursors, topology) and
 * the components that change it. The wire layer and commands only talk to this object.
 */
import { Int32, Long, ObjectId } from 'bson';

import { type BDoc, type BValue } from '../bson/values.js';
import { Catalog } from './catalog.js';
import { CursorRegistry } from './cursors.js';
import { Ddl } from './ddl.js';
import { Oplog } from './oplog.js';
import { OplogWriter } from './oplog-entries.js';
import { type VersionProfile } from './version-profiles.js';
import { WritePath } from './write-path.js';

export interface MongodOptions {
  readonly profile: VersionProfile;
  readonly replSetName: string;
  readonly oplogSizeBytes: number;
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

  constructor(options: MongodOptions) {
    this.profile = options.profile;
    this.replSetName = options.replSetName;
    this.oplog = new Oplog(options.oplogSizeBytes);
    this.writer = new OplogWriter(this.oplog);
    this.ddl = new Ddl(this);
    this.writes = new WritePath(this);
    this.#initiate();
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
