import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type Document, Timestamp, UUID } from 'bson';

import { UnsupportedOplogEntryError } from '../../../src/errors.js';
import { shardCollectionEntry, toTargetCommand } from '../../../src/oplog/ddl-ops.js';
import { type CommandEntry, parseOplogEntry } from '../../../src/oplog/oplog-entry.js';
import { command } from './entries.js';

/** shop.* → copy.*, shop.tmp* and other.* dropped, everything else unchanged. */
function mapNs(ns: string): string | null {
  if (ns.startsWith('other.') || ns.startsWith('shop.tmp')) return null;
  return ns.startsWith('shop.') ? `copy.${ns.slice(5)}` : ns;
}

const translate = (db: string, o: Document, extra: Document = {}) =>
  toTargetCommand(parseOplogEntry(command(db, o, extra)) as CommandEntry, mapNs);

describe('toTargetCommand', () => {
  it('create keeps options and idIndex (without ns), renamed', () => {
    const idIndex = { v: 2, key: { _id: 1 }, name: '_id_', ns: 'shop.orders' };
    assert.deepEqual(translate('shop', { create: 'orders', capped: true, size: 4096, idIndex }), {
      db: 'copy',
      command: {
        create: 'orders',
        capped: true,
        size: 4096,
        idIndex: { v: 2, key: { _id: 1 }, name: '_id_' }
      }
    });
  });

  it('a view keeps viewOn within the target database', () => {
    const pipeline = [{ $match: { a: 1 } }];
    assert.deepEqual(translate('shop', { create: 'v', viewOn: 'orders', pipeline }), {
      db: 'copy',
      command: { create: 'v', viewOn: 'orders', pipeline }
    });
    // The source is filtered out: the name stays.
    assert.deepEqual(translate('shop', { create: 'v', viewOn: 'tmp1', pipeline })?.command, {
      create: 'v',
      viewOn: 'tmp1',
      pipeline
    });
  });

  it('drop, collMod, convertToCapped, dropIndexes (and aliases) are renamed', () => {
    assert.deepEqual(translate('shop', { drop: 'orders' }), {
      db: 'copy',
      command: { drop: 'orders' }
    });
    assert.deepEqual(
      translate('shop', { collMod: 'orders', index: { name: 'x_1', expireAfterSeconds: 5 } }),
      { db: 'copy', command: { collMod: 'orders', index: { name: 'x_1', expireAfterSeconds: 5 } } }
    );
    assert.deepEqual(translate('shop', { convertToCapped: 'orders', size: 100 }), {
      db: 'copy',
      command: { convertToCapped: 'orders', size: 100 }
    });
    assert.deepEqual(translate('shop', { dropIndexes: 'orders', index: 'x_1' }), {
      db: 'copy',
      command: { dropIndexes: 'orders', index: 'x_1' }
    });
    assert.deepEqual(translate('shop', { deleteIndexes: 'orders', index: 'x_1' })?.command, {
      dropIndexes: 'orders',
      index: 'x_1'
    });
  });

  it('createIndexes (one-index form) and commitIndexBuild become createIndexes', () => {
    assert.deepEqual(
      translate('shop', { createIndexes: 'orders', v: 2, key: { x: 1 }, name: 'x_1' }),
      {
        db: 'copy',
        command: { createIndexes: 'orders', indexes: [{ v: 2, key: { x: 1 }, name: 'x_1' }] }
      }
    );
    const indexes = [{ v: 2, key: { y: 1 }, name: 'y_1', ns: 'shop.orders' }];
    assert.deepEqual(
      translate('shop', { commitIndexBuild: 'orders', indexBuildUUID: new UUID(), indexes }),
      {
        db: 'copy',
        command: { createIndexes: 'orders', indexes: [{ v: 2, key: { y: 1 }, name: 'y_1' }] }
      }
    );
    assert.equal(translate('shop', { startIndexBuild: 'orders', indexes }), null);
    assert.equal(translate('shop', { abortIndexBuild: 'orders', indexes }), null);
  });

  it('returns null for a namespace the filter drops', () => {
    assert.equal(translate('other', { drop: 'x' }), null);
    assert.equal(translate('shop', { create: 'tmp1' }), null);
    assert.equal(translate('other', { dropDatabase: 1 }), null);
  });

  it('dropDatabase maps db.$cmd', () => {
    assert.deepEqual(translate('shop', { dropDatabase: 1 }), {
      db: 'copy',
      command: { dropDatabase: 1 }
    });
  });

  it('renameCollection runs on admin with a boolean dropTarget', () => {
    assert.deepEqual(
      translate('shop', { renameCollection: 'shop.a', to: 'shop.b', dropTarget: new UUID() }),
      { db: 'admin', command: { renameCollection: 'copy.a', to: 'copy.b', dropTarget: true } }
    );
    assert.deepEqual(
      translate('shop', { renameCollection: 'shop.a', to: 'misc.b', stayTemp: true }),
      {
        db: 'admin',
        command: { renameCollection: 'copy.a', to: 'misc.b', dropTarget: false, stayTemp: true }
      }
    );
  });

  it('renaming out of the filter drops; into it from outside throws', () => {
    assert.deepEqual(translate('shop', { renameCollection: 'shop.a', to: 'shop.tmp9' }), {
      db: 'copy',
      command: { drop: 'a' }
    });
    assert.equal(translate('other', { renameCollection: 'other.a', to: 'other.b' }), null);
    assert.throws(
      () => translate('other', { renameCollection: 'other.a', to: 'shop.b' }),
      /brings other\.a, which the filter excludes, into shop\.b.*Run a full sync of shop\.b/
    );
  });

  it('rejects unknown, misplaced and malformed commands', () => {
    const rejects = (o: Document, message: RegExp): void =>
      assert.throws(
        () => translate('shop', o),
        (error: unknown) =>
          error instanceof UnsupportedOplogEntryError &&
          error.code === 'MR_UNSUPPORTED_OPLOG_ENTRY' &&
          error.namespace === 'shop.$cmd' &&
          error.op === 'c' &&
          message.test(error.message)
      );
    rejects({ frobnicate: 1 }, /unknown command "frobnicate".*replication stops/);
    rejects({ applyOps: [] }, /"applyOps" is not DDL.*TransactionAssembler/);
    rejects({ drop: 5 }, /"drop" does not name a collection/);
    rejects({ commitIndexBuild: 'orders' }, /no "indexes" array/);
    rejects({ renameCollection: 'shop.a' }, /needs "renameCollection" and "to"/);
  });

  it('rejects a view whose source is renamed into another database', () => {
    const crossDb = (ns: string): string | null => (ns === 'shop.orders' ? 'elsewhere.orders' : ns);
    const entry = parseOplogEntry(
      command('shop', { create: 'v', viewOn: 'orders', pipeline: [] })
    ) as CommandEntry;
    assert.throws(() => toTargetCommand(entry, crossDb), /in another database/);
  });
});

describe('shardCollectionEntry', () => {
  const noop = (o2: Document | undefined) =>
    parseOplogEntry({
      ts: new Timestamp({ t: 5, i: 1 }),
      op: 'n',
      ns: 'shop.orders',
      o: { msg: { shardCollection: 'shop.orders' } },
      ...(o2 ? { o2 } : {})
    });

  it('turns the primary shard’s record into shardCollection on admin, renamed', () => {
    const entry = shardCollectionEntry(
      noop({ shardCollection: 'shop.orders', shardKey: { region: 1, _id: 1 }, unique: true })
    )!;
    assert.equal(entry.command, 'shardCollection');
    assert.ok(entry.ts.equals(new Timestamp({ t: 5, i: 1 })));
    assert.deepEqual(toTargetCommand(entry, mapNs), {
      db: 'admin',
      command: {
        shardCollection: 'copy.orders',
        key: { region: 1, _id: 1 },
        unique: true,
        collation: { locale: 'simple' }
      }
    });
    const filtered = shardCollectionEntry(
      noop({ shardCollection: 'other.x', shardKey: { _id: 'hashed' } })
    )!;
    assert.equal(toTargetCommand(filtered, mapNs), null);
  });

  it('leaves every other no-op alone', () => {
    assert.equal(shardCollectionEntry(noop(undefined)), undefined);
    assert.equal(shardCollectionEntry(noop({ migrateChunkToNewShard: 'shop.orders' })), undefined);
  });
});
