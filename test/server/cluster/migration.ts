/**
 * A chunk migration as mongod runs it (MigrationSourceManager on the donor,
 * MigrationDestinationManager on the recipient, the range deleter), with the entries each step
 * leaves in the oplogs:
 *
 * 1. The donor records the migration (`config.migrationCoordinators`) and a pending range
 *    deletion for the chunk (`config.rangeDeletions`); the recipient a pending one of its own;
 *    `moveChunk.start` goes to the config server's changelog.
 * 2. Clone: the recipient creates the collection if it lacks it (same UUID, options and indexes)
 *    and inserts every document of the range, each logged as an insert with `fromMigrate: true`.
 *    (`moveChunkHangAtStep3` on the donor pauses here.)
 * 3. Catch-up: writes the donor took meanwhile are found in its oplog and re-sent: the
 *    recipient upserts the current document or deletes it, again with `fromMigrate: true`
 *    (`_transferMods`). (`moveChunkHangAtStep4` pauses after this.)
 * 4. Critical section: mongos holds writes to the collection. If the recipient owned no chunk of
 *    the collection, the donor logs the no-op change streams watch for (`migrateChunkToNewShard`:
 *    4.4/5.0 `o2: {type, from, to}`, 6.0+ `o2: {migrateChunkToNewShard, fromShardId,
 *    toShardId}`); open transactions that wrote the collection on the donor are aborted;
 *    4.4/5.0 then mark the metadata operation in `admin.system.version`
 *    (`minOpTimeRecovery`, `minOpTimeUpdaters` +1, back to 0 after the commit); the last writes are
 *    transferred; the config server commits the new chunk versions and history
 *    (`moveChunk.commit`). From 6.0 a donor left without chunks logs
 *    `migrateLastChunkFromShard`. (`moveChunkHangAtStep5` pauses before the commit.)
 * 5. The donor keeps the documents (orphans: visible on the shard, filtered out for mongos) until
 *    the range deleter removes them, each delete with `fromMigrate: true`, after
 *    `orphanCleanupDelaySecs` (here `orphanCleanupDelayMs`) or at once for `_waitForDelete`.
 */
import { Binary, Int32, type Timestamp, UUID } from 'bson';

import { type BDoc, type BValue, isDoc, keyOf } from '../bson/values.js';
import { preparedTransactionOf } from '../change-streams/transactions.js';
import { ServerError } from '../engine/server-error.js';
import { type Collection } from '../mongod/collection.js';
import { type Mongod } from '../mongod/mongod.js';
import { type Chunk, type ShardedCollection, versionTimestamp } from './catalog.js';
import { type Router } from './router.js';
import { compareKeys } from './shard-key.js';
import { ensureCollectionLike, migrationDelete, migrationUpsert, noop } from './shard-ops.js';

const CLONE_BATCH = 100;

export interface MigrationOptions {
  /** Delete the donor's orphans before answering (`_waitForDelete`). */
  readonly waitForDelete: boolean;
}

interface RangeDeletion {
  readonly id: UUID;
  readonly shard: string;
  readonly ns: string;
  readonly min: BDoc;
  readonly max: BDoc;
  timer: NodeJS.Timeout | undefined;
  run(): void;
}

/** Runs migrations one at a time and the range deletions they leave. */
export class Migrations {
  #running: Promise<unknown> = Promise.resolve();
  readonly #deletions = new Set<RangeDeletion>();
  #stopped = false;

  constructor(
    private readonly router: Router,
    /** mongod's orphanCleanupDelaySecs, in ms. */
    readonly orphanCleanupDelayMs: number
  ) {}

  /** Moves `chunk` to `to`; resolves once the migration committed (and its range was cleaned). */
  moveChunk(
    collection: ShardedCollection,
    chunk: Chunk,
    to: string,
    options: MigrationOptions
  ): Promise<void> {
    const run = this.#running.then(() => this.#migrate(collection, chunk, to, options));
    this.#running = run.catch(() => undefined);
    return run;
  }

  /** Pending range deletions (for stop()). */
  stop(): void {
    this.#stopped = true;
    for (const deletion of this.#deletions) clearTimeout(deletion.timer);
    this.#deletions.clear();
  }

  async #migrate(
    collection: ShardedCollection,
    chunk: Chunk,
    to: string,
    options: MigrationOptions
  ): Promise<void> {
    const { router } = this;
    const { catalog } = router;
    if (this.#stopped) throw new ServerError(11600, 'interrupted at shutdown');
    if (!catalog.collection(collection.ns) || !collection.chunks.includes(chunk)) {
      throw new ServerError(
        13388,
        `Chunk move was not successful :: caused by :: the chunk's collection or bounds changed`,
        { codeName: 'StaleConfig' }
      );
    }
    const from = chunk.shard;
    if (from === to) return;
    const donor = router.shard(from).mongod;
    const recipient = router.shard(to).mongod;
    const wire = router.profile.maxWireVersion;
    const source = donor.catalog.collection(collection.db, collection.coll);
    if (!source) throw new ServerError(26, `ns not found: ${collection.ns}`);
    const min = chunk.min;
    const max = chunk.max;
    const inRange = (doc: BDoc) => {
      const key = collection.key.keyOfDocument(doc);
      return compareKeys(key, min) >= 0 && compareKeys(key, max) < 0;
    };
    // A pending deletion of this range on the recipient runs first (mongod waits for it).
    for (const deletion of [...this.#deletions]) {
      if (
        deletion.shard === to &&
        deletion.ns === collection.ns &&
        compareKeys(deletion.min, max) < 0 &&
        compareKeys(min, deletion.max) < 0
      ) {
        deletion.run();
      }
    }
    const migrationId = new UUID();
    const range = new Map<string, BValue>([
      ['min', min],
      ['max', max]
    ]);
    const changeDetails = (extra: [string, BValue][] = []) =>
      new Map<string, BValue>([['min', min], ['max', max], ['from', from], ['to', to], ...extra]);
    catalog.logChange('moveChunk.start', collection.ns, from, changeDetails());
    const coordinatorDoc = new Map<string, BValue>([
      ['_id', migrationId],
      ['nss', collection.ns],
      ['collectionUuid', collection.uuid],
      ['donorShardId', from],
      ['recipientShardId', to],
      ['range', range],
      [
        'preMigrationChunkVersion',
        new Map<string, BValue>([
          ['e', collection.epoch],
          ['t', collection.timestamp],
          ['v', versionTimestamp(chunk.version)]
        ])
      ]
    ]);
    donor.writes.insert('config', 'migrationCoordinators', coordinatorDoc, {});
    donor.writes.insert(
      'config',
      'rangeDeletions',
      rangeDeletionDoc(migrationId, collection, from, range, 'delayed', wire),
      {}
    );
    recipient.writes.insert(
      'config',
      'rangeDeletions',
      rangeDeletionDoc(migrationId, collection, from, range, 'now', wire),
      {}
    );
    // Clone.
    let position = donor.oplog.newest?.recordId ?? 0;
    const target = ensureCollectionLike(recipient, source);
    const docs = source.snapshot().filter(inRange);
    let cloned = 0;
    for (const doc of docs) {
      const current = source.get(doc.get('_id'));
      if (current && inRange(current)) migrationUpsert(recipient, target, current);
      if (++cloned % CLONE_BATCH === 0) await new Promise(resolve => setImmediate(resolve));
    }
    await donor.failPoints.pauseWhileSet('moveChunkHangAtStep3');
    // Catch-up.
    position = transferMods(donor, source, recipient, target, position, inRange);
    await donor.failPoints.pauseWhileSet('moveChunkHangAtStep4');
    // Critical section: mongos holds writes to the collection until the commit.
    let leave: () => void = () => {};
    router.criticalSections.set(
      collection.ns,
      new Promise<void>(resolve => {
        leave = resolve;
      })
    );
    const recovery = (inc: number) => {
      // 4.4/5.0: ShardingStateRecovery::startMetadataOp/endMetadataOp mark the donor's
      // metadata operation in admin.system.version around the commit.
      if (wire >= 17) return;
      const update: BDoc = new Map();
      if (inc > 0) {
        update.set(
          '$set',
          new Map<string, BValue>([
            ['configsvrConnectionString', router.configConnectionString],
            ['shardName', from],
            ['minOpTime', donor.lastOpTime()]
          ])
        );
      }
      update.set('$inc', new Map([['minOpTimeUpdaters', new Int32(inc)]]));
      donor.writes.update(
        'admin',
        'system.version',
        { q: new Map([['_id', 'minOpTimeRecovery']]), u: update, upsert: true, multi: false },
        {}
      );
    };
    try {
      await donor.failPoints.pauseWhileSet('moveChunkHangAtStep5');
      if (!collection.chunks.some(other => other.shard === to)) {
        const msg = new Map([
          [
            'msg',
            `Migrating chunk from shard ${from} to shard ${to} with no chunks for this collection`
          ]
        ]);
        const o2 =
          wire >= 17
            ? new Map<string, BValue>([
                ['migrateChunkToNewShard', collection.ns],
                ['fromShardId', from],
                ['toShardId', to]
              ])
            : new Map<string, BValue>([
                ['type', 'migrateChunkToNewShard'],
                ['from', from],
                ['to', to]
              ]);
        noop(donor, collection.ns, collection.uuid, msg, o2);
      }
      recovery(1);
      abortTransactionsOn(donor, collection.ns);
      transferMods(donor, source, recipient, target, position, inRange);
      const commitTime = router.clock.next();
      catalog.commitMove(collection, chunk, to, commitTime);
      catalog.logChange(
        'moveChunk.commit',
        collection.ns,
        from,
        changeDetails([['counts', new Map([['cloned', new Int32(cloned)]])]])
      );
      if (wire >= 17 && !collection.chunks.some(other => other.shard === from)) {
        noop(
          donor,
          collection.ns,
          collection.uuid,
          new Map([['msg', `Migrate the last chunk for ${collection.ns} off shard ${from}`]]),
          new Map<string, BValue>([
            ['migrateLastChunkFromShard', collection.ns],
            ['shardId', from]
          ])
        );
      }
      recovery(-1);
    } finally {
      router.criticalSections.delete(collection.ns);
      leave();
    }
    const byId = new Map([['_id', migrationId]]);
    donor.writes.update(
      'config',
      'migrationCoordinators',
      {
        q: byId,
        u: new Map([['$set', new Map([['decision', 'committed']])]]),
        upsert: false,
        multi: false
      },
      {}
    );
    donor.writes.update(
      'config',
      'rangeDeletions',
      {
        q: byId,
        u: new Map([['$unset', new Map([['pending', '']])]]),
        upsert: false,
        multi: false
      },
      {}
    );
    recipient.writes.delete('config', 'rangeDeletions', byId, 1, {});
    donor.writes.delete('config', 'migrationCoordinators', byId, 1, {});
    catalog.logChange('moveChunk.from', collection.ns, from, changeDetails([['note', 'success']]));
    catalog.logChange('moveChunk.to', collection.ns, to, changeDetails([['note', 'success']]));
    const deletion = this.#scheduleRangeDeletion(migrationId, from, collection, min, max);
    if (options.waitForDelete) deletion.run();
  }

  #scheduleRangeDeletion(
    id: UUID,
    shard: string,
    collection: ShardedCollection,
    min: BDoc,
    max: BDoc
  ): RangeDeletion {
    const router = this.router;
    const deletions = this.#deletions;
    const deletion: RangeDeletion = {
      id,
      shard,
      ns: collection.ns,
      min,
      max,
      timer: undefined,
      run() {
        clearTimeout(deletion.timer);
        if (!deletions.delete(deletion)) return;
        const donor = router.shard(shard).mongod;
        const stored = donor.catalog.collection(collection.db, collection.coll);
        if (stored) {
          for (const doc of stored.snapshot()) {
            const key = collection.key.keyOfDocument(doc);
            if (compareKeys(key, min) < 0 || compareKeys(key, max) >= 0) continue;
            // Only what the shard does not own (the range may have come back meanwhile).
            if (router.catalog.owns(shard, collection.ns, doc)) continue;
            migrationDelete(donor, stored, doc);
          }
        }
        donor.writes.delete('config', 'rangeDeletions', new Map([['_id', id]]), 1, {});
      }
    };
    deletions.add(deletion);
    deletion.timer = setTimeout(() => deletion.run(), this.orphanCleanupDelayMs);
    deletion.timer.unref();
    return deletion;
  }
}

/**
 * Open transactions that wrote the collection on the donor cannot commit there once the chunk
 * moved (their writes would land on orphans): the critical section aborts them, and their next
 * statement or commit fails with NoSuchTransaction (TransientTransactionError), so clients retry
 * them against the new owner, as mongod's critical section does to conflicting transactions.
 */
function abortTransactionsOn(donor: Mongod, ns: string): void {
  for (const session of donor.sessions.list()) {
    const transaction = session.transaction;
    if (transaction?.state !== 'inProgress') continue;
    if (!transaction.ops.some(op => op.get('ns') === ns)) continue;
    transaction.state = 'aborted';
    transaction.release();
  }
}

function rangeDeletionDoc(
  id: UUID,
  collection: ShardedCollection,
  donorShardId: string,
  range: BDoc,
  whenToClean: 'now' | 'delayed',
  wire: number
): BDoc {
  const doc = new Map<string, BValue>([
    ['_id', id],
    ['nss', collection.ns],
    ['collectionUuid', collection.uuid],
    ['donorShardId', donorShardId],
    ['range', range],
    ['pending', true],
    ['whenToClean', whenToClean]
  ]);
  if (wire >= 17) doc.set('numOrphanDocs', new Int32(0));
  return doc;
}

function hexOf(binary: Binary): string {
  return Buffer.from(binary.buffer.subarray(0, binary.position)).toString('hex');
}

/** The `_id`s of the collection's documents written in the donor's oplog after `position`. */
function writtenIds(donor: Mongod, source: Collection, position: number): BValue[] {
  const ids: BValue[] = [];
  const uuid = hexOf(source.uuid);
  const sameUuid = (op: BDoc) => {
    const ui = op.get('ui');
    return ui instanceof Binary && hexOf(ui) === uuid;
  };
  const visit = (op: BDoc) => {
    if (op.get('fromMigrate') === true || !sameUuid(op)) return;
    const kind = op.get('op');
    const o = op.get('o');
    const o2 = op.get('o2');
    if ((kind === 'i' || kind === 'd') && isDoc(o)) ids.push(o.get('_id'));
    if (kind === 'u' && isDoc(o2)) ids.push(o2.get('_id'));
  };
  for (const record of donor.oplog.records(donor.oplog.indexAfter(position))) {
    const entry = record.doc;
    const o = entry.get('o');
    const prepared = preparedTransactionOf(entry, donor.oplog);
    const applyOps = prepared
      ? (prepared.doc.get('o') as BDoc).get('applyOps')
      : isDoc(o) && o.get('prepare') !== true
        ? o.get('applyOps')
        : undefined;
    if (entry.get('op') === 'c' && Array.isArray(applyOps)) {
      for (const op of applyOps) if (isDoc(op)) visit(op);
    } else {
      visit(entry);
    }
  }
  return ids;
}

/**
 * `_transferMods`: what changed on the donor since `position` reaches the recipient as the current
 * document (upserted) or its absence (deleted). Returns the new position.
 */
function transferMods(
  donor: Mongod,
  source: Collection,
  recipient: Mongod,
  target: Collection,
  position: number,
  inRange: (doc: BDoc) => boolean
): number {
  const ids = writtenIds(donor, source, position);
  const next = donor.oplog.newest?.recordId ?? position;
  const seen = new Set<string>();
  for (const id of ids) {
    const current = source.get(id);
    const key = keyOf(current?.get('_id') ?? id);
    if (seen.has(key)) continue;
    seen.add(key);
    if (current && inRange(current)) {
      migrationUpsert(recipient, target, current);
    } else {
      const stale = target.get(id);
      if (stale) migrationDelete(recipient, target, stale);
    }
  }
  return next;
}

/** A chunk version as `{major, minor}` Timestamp (config.chunks lastmod). */
export function chunkVersionOf(chunk: Chunk): Timestamp {
  return versionTimestamp(chunk.version);
}
