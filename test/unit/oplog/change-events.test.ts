/**
 * changeEventToOps and updateDescriptionToDiff on events shaped as MongoDB 6.0/7.0 emit them
 * (cluster-wide stream, showExpandedEvents, values not promoted). Every produced op is checked
 * against the real consumers: parseOplogEntry, then toWriteModel (CRUD) or toTargetCommand (DDL),
 * and updates are run on the test server's update engine.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type Document, Double, Int32, Long, Timestamp, UUID } from 'bson';

import { UnsupportedOplogEntryError } from '../../../src/errors.js';
import { changeEventToOps, type ConvertedEvent } from '../../../src/oplog/change-events.js';
import { toWriteModel } from '../../../src/oplog/crud-ops.js';
import { type TargetCommand, toTargetCommand } from '../../../src/oplog/ddl-ops.js';
import {
  type CommandEntry,
  type OplogEntry,
  parseOplogEntry,
  type UpdateEntry
} from '../../../src/oplog/oplog-entry.js';
import { updateDescriptionToDiff } from '../../../src/oplog/update-description.js';
import { valuesIdentical } from '../../server/bson/values.js';
import { applyUpdate } from '../../server/engine/update/apply-update.js';
import { docString } from '../../server/engine/update/format.js';
import { applyDiffV2 } from '../../server/engine/update/oplog-diff.js';
import { fromBDoc, toBDoc, toBUpdate } from './bdoc.js';

const clusterTime = new Timestamp({ t: 1_700_000_000, i: 3 });
const uuid = new UUID('3b241101-e2bb-4255-8caf-4136c566a962').toBinary();
const droppedUuid = new UUID('00000000-0000-4000-8000-000000000009').toBinary();
const ns = { db: 'shop', coll: 'orders' };

/** An event with the fields every 6.0+ expanded event has; `fields` come after `ns` order aside. */
function event(operationType: string, fields: Document = {}): Document {
  return {
    _id: { _data: '8265B8F36B000000022B' },
    operationType,
    clusterTime,
    collectionUUID: uuid,
    wallTime: new Date(0),
    ns,
    ...fields
  };
}

function opsOf(converted: ConvertedEvent): Document[] {
  assert.equal(converted.kind, 'ops', converted.kind === 'skip' ? converted.reason : '');
  return converted.kind === 'ops' ? converted.ops : [];
}

function onlyOp(ev: Document): Document {
  const ops = opsOf(changeEventToOps(ev));
  assert.equal(ops.length, 1);
  return ops[0]!;
}

/** The op as the oplog fetcher's consumers see it, once the caller added `ts`. */
function entryOf(op: Document): OplogEntry {
  assert.equal('ts' in op, false);
  return parseOplogEntry({ ...op, ts: clusterTime });
}

function targetCommandOf(op: Document): TargetCommand | null {
  const entry = entryOf(op);
  assert.equal(entry.op, 'c');
  return toTargetCommand(entry as CommandEntry, name => name);
}

/** Runs an update op's write model on the test server's update engine. */
function applyOp(op: Document, pre: Document): Document {
  const entry = entryOf(op) as UpdateEntry;
  const model = toWriteModel(entry);
  if ('replaceOne' in model) return model.replaceOne.replacement;
  assert.ok('updateOne' in model);
  return fromBDoc(
    applyUpdate(toBDoc(pre), toBUpdate(model.updateOne.update), { now: new Date(0) })
  );
}

/** Checks the diff through both appliers and returns the post-image. */
function applyDiff(diff: Document, pre: Document): Document {
  const expected = applyDiffV2(toBDoc(pre), toBDoc(diff));
  const op = { op: 'u', ns: 'shop.orders', o: { $v: 2, diff }, o2: { _id: pre._id as unknown } };
  const actual = toBDoc(applyOp(op, pre));
  assert.ok(valuesIdentical(actual, expected), `${docString(actual)} != ${docString(expected)}`);
  return fromBDoc(expected);
}

/** Deep equality after typing plain numbers as BSON does (Int32 when they fit). */
function assertDoc(actual: Document, expected: Document): void {
  assert.deepEqual(actual, fromBDoc(toBDoc(expected)));
}

const update = (description: Document, extra: Document = {}): Document =>
  event('update', { documentKey: { _id: 7 }, updateDescription: description, ...extra });

const description = (fields: Document): Document => ({
  updatedFields: {},
  removedFields: [],
  truncatedArrays: [],
  disambiguatedPaths: {},
  ...fields
});

describe('changeEventToOps: CRUD', () => {
  it('insert → op i with the full document, ui, and no o2 for a plain _id key', () => {
    const fullDocument = { _id: new Int32(7), qty: new Double(2), n: Long.fromNumber(3) };
    const op = onlyOp(event('insert', { fullDocument, documentKey: { _id: new Int32(7) } }));
    assert.deepEqual(op, { op: 'i', ns: 'shop.orders', ui: uuid, o: fullDocument });
    assert.equal(op.o, fullDocument, 'values are passed through, types intact');
    const entry = entryOf(op);
    assert.ok(entry.op === 'i');
    assert.deepEqual(toWriteModel(entry), { insertOne: { document: fullDocument } });
  });

  it('insert into sharded data keeps the shard key in o2', () => {
    const documentKey = { region: 'eu', _id: 7 };
    const op = onlyOp(
      event('insert', { fullDocument: { _id: 7, region: 'eu', x: 1 }, documentKey })
    );
    assert.deepEqual(op.o2, documentKey);
    assert.deepEqual((entryOf(op) as { o2: unknown }).o2, documentKey);
  });

  it('an event without collectionUUID gives an op without ui', () => {
    const { collectionUUID: _uuid, ...withoutUuid } = event('delete', { documentKey: { _id: 1 } });
    assert.deepEqual(onlyOp(withoutUuid), { op: 'd', ns: 'shop.orders', o: { _id: 1 } });
  });

  it('delete → op d by the document key, shard key included', () => {
    const documentKey = { region: 'eu', _id: 7 };
    const op = onlyOp(event('delete', { documentKey }));
    assert.deepEqual(op, { op: 'd', ns: 'shop.orders', ui: uuid, o: documentKey });
    const entry = entryOf(op);
    assert.ok(entry.op === 'd');
    assert.deepEqual(toWriteModel(entry), { deleteOne: { filter: documentKey } });
  });

  it('replace stays a true replacement, never a $set', () => {
    const fullDocument = { _id: 7, b: 1 };
    const op = onlyOp(event('replace', { fullDocument, documentKey: { _id: 7 } }));
    assert.deepEqual(op, { op: 'u', ns: 'shop.orders', ui: uuid, o: fullDocument, o2: { _id: 7 } });
    const entry = entryOf(op) as UpdateEntry;
    assert.equal(entry.kind, 'replacement');
    assert.deepEqual(toWriteModel(entry), {
      replaceOne: { filter: { _id: 7 }, replacement: fullDocument, upsert: true }
    });
    // Fields the replacement leaves out are gone afterwards, unlike with $set.
    assert.deepEqual(applyOp(op, { _id: 7, a: 1, b: 0 }), { _id: 7, b: 1 });
  });

  it('replace with a shard key filters by it', () => {
    const documentKey = { region: 'eu', _id: 7 };
    const op = onlyOp(event('replace', { fullDocument: { _id: 7, region: 'eu' }, documentKey }));
    assert.deepEqual((entryOf(op) as UpdateEntry).o2, documentKey);
  });

  it('malformed CRUD events throw UnsupportedOplogEntryError naming the namespace', () => {
    const bad = [
      event('insert', { documentKey: { _id: 1 } }),
      event('insert', { fullDocument: { x: 1 }, documentKey: { _id: 1 } }),
      event('delete', {}),
      event('replace', { fullDocument: { _id: 1, $set: { a: 1 } }, documentKey: { _id: 1 } }),
      event('update', { documentKey: { _id: 1 } }),
      event('insert', { ns: { db: 'shop' }, fullDocument: { _id: 1 }, documentKey: { _id: 1 } }),
      { ...event('insert'), operationType: undefined }
    ];
    for (const ev of bad) {
      assert.throws(
        () => changeEventToOps(ev),
        (error: unknown) =>
          error instanceof UnsupportedOplogEntryError &&
          (ev.operationType === undefined || ev.ns.coll === undefined
            ? true
            : error.namespace === 'shop.orders' && error.optime === clusterTime),
        JSON.stringify(ev)
      );
    }
  });
});

describe('changeEventToOps: update', () => {
  it('update → one $v:2 diff by the document key', () => {
    const documentKey = { region: 'eu', _id: 7 };
    const op = onlyOp(
      event('update', {
        documentKey,
        updateDescription: description({ updatedFields: { a: new Int32(1) }, removedFields: ['b'] })
      })
    );
    assert.deepEqual(op, {
      op: 'u',
      ns: 'shop.orders',
      ui: uuid,
      o: { $v: 2, diff: { d: { b: false }, u: { a: new Int32(1) } } },
      o2: documentKey
    });
    const entry = entryOf(op) as UpdateEntry;
    assert.equal(entry.kind, 'diff');
    const model = toWriteModel(entry);
    assert.ok('updateOne' in model);
    assert.deepEqual(model.updateOne.filter, documentKey);
  });

  it('truncatedArrays alone truncates the array and leaves the rest of the document', () => {
    const op = onlyOp(
      update(description({ truncatedArrays: [{ field: 'arr', newSize: new Int32(2) }] }))
    );
    assert.deepEqual(op.o, { $v: 2, diff: { sarr: { a: true, l: new Int32(2) } } });
    const pre = { _id: 7, x: 'keep', arr: [1, 2, 3, 4], y: { z: 1 } };
    assertDoc(applyOp(op, pre), { _id: 7, x: 'keep', arr: [1, 2], y: { z: 1 } });
  });

  it('removed, updated and truncated fields together make one diff, in mongod section order', () => {
    const diff = updateDescriptionToDiff(
      description({
        updatedFields: { 'arr.1.q': 5, 'arr.3': 'new', 'doc.n': 1, top: true, 'arr.0': 0 },
        removedFields: ['gone', 'doc.old'],
        truncatedArrays: [{ field: 'arr', newSize: new Int32(4) }]
      })
    );
    assert.deepEqual(diff, {
      d: { gone: false },
      u: { top: true },
      sarr: { a: true, l: new Int32(4), u0: 0, s1: { u: { q: 5 } }, u3: 'new' },
      sdoc: { d: { old: false }, u: { n: 1 } }
    });
    assert.deepEqual(Object.keys(diff), ['d', 'u', 'sarr', 'sdoc']);
    assert.deepEqual(Object.keys(diff.sarr as Document), ['a', 'l', 'u0', 's1', 'u3']);
    assert.deepEqual(Object.keys(diff.sdoc as Document), ['d', 'u']);
    const pre = {
      _id: 7,
      gone: 1,
      doc: { old: 1, n: 0, k: 2 },
      arr: [9, { q: 1, r: 2 }, 9, 9, 9, 9],
      top: false
    };
    assertDoc(applyDiff(diff, pre), {
      _id: 7,
      doc: { n: 1, k: 2 },
      arr: [0, { q: 5, r: 2 }, 9, 'new'],
      top: true
    });
  });

  it('a removed array element becomes null, as mongod logs $unset of an element', () => {
    const diff = updateDescriptionToDiff(description({ removedFields: ['arr.1'] }));
    assert.deepEqual(diff, { sarr: { a: true, u1: null } });
    assertDoc(applyDiff(diff, { _id: 1, arr: [1, 2, 3] }), { _id: 1, arr: [1, null, 3] });
  });

  it('updated fields that do not exist yet are appended, existing ones replaced in place', () => {
    const diff = updateDescriptionToDiff(description({ updatedFields: { z: 1, a: 2, 'd.y': 3 } }));
    assert.deepEqual(diff, { u: { z: 1, a: 2 }, sd: { u: { y: 3 } } });
    const post = applyDiff(diff, { _id: 1, a: 0, d: { x: 0 }, b: 0 });
    assertDoc(post, { _id: 1, a: 2, d: { x: 0, y: 3 }, b: 0, z: 1 });
    assert.deepEqual(Object.keys(post), ['_id', 'a', 'd', 'b', 'z']);
  });

  it('dotted and numeric field names resolve through disambiguatedPaths', () => {
    const diff = updateDescriptionToDiff(
      description({
        updatedFields: { 'x.y': 1, 'a.x.y.0': 2, 'a.3': 3, 'arr.3': 4, 'arr.0.5': 6 },
        removedFields: ['m.n'],
        disambiguatedPaths: {
          'x.y': ['x.y'],
          'a.x.y.0': ['a', 'x.y', new Int32(0)],
          'a.3': ['a', '3'],
          'arr.0.5': ['arr', new Int32(0), '5'],
          'm.n': ['m.n']
        }
      })
    );
    assert.deepEqual(diff, {
      d: { 'm.n': false },
      u: { 'x.y': 1 },
      sa: { u: { '3': 3 }, 'sx.y': { a: true, u0: 2 } },
      sarr: { a: true, s0: { u: { '5': 6 } }, u3: 4 }
    });
    const pre = {
      _id: 1,
      'x.y': 0,
      x: { y: 'untouched' },
      a: { '3': 0, 'x.y': [0, 1] },
      arr: [{ '5': 0 }, 1],
      'm.n': 1,
      m: { n: 'untouched' }
    };
    assertDoc(applyDiff(diff, pre), {
      _id: 1,
      'x.y': 1,
      x: { y: 'untouched' },
      a: { '3': 3, 'x.y': [2, 1] },
      arr: [{ '5': 6 }, 1, null, 4],
      m: { n: 'untouched' }
    });
  });

  it('a path not in disambiguatedPaths is unambiguous: numeric components are indexes', () => {
    const diff = updateDescriptionToDiff(
      description({ updatedFields: { 'a.0.b.12': 1 }, disambiguatedPaths: { other: ['other'] } })
    );
    assert.deepEqual(diff, { sa: { a: true, s0: { sb: { a: true, u12: 1 } } } });
  });

  it('without disambiguatedPaths (6.0), paths without numeric components still make a diff', () => {
    const op = onlyOp(
      update(
        { updatedFields: { 'a.b': 1, '3': 2 }, removedFields: ['c'], truncatedArrays: [] },
        { fullDocument: { _id: 7, a: { b: 1 }, '3': 2 } }
      )
    );
    assert.deepEqual(op.o, {
      $v: 2,
      diff: { d: { c: false }, u: { '3': 2 }, sa: { u: { b: 1 } } }
    });
  });

  it('ambiguous paths on 6.0 become a replacement by the post-image', () => {
    const fullDocument = { _id: 7, arr: [0, 0, 0, 1] };
    const op = onlyOp(
      update({ updatedFields: { 'arr.3': 1 }, removedFields: [] }, { fullDocument })
    );
    assert.deepEqual(op, {
      op: 'u',
      ns: 'shop.orders',
      ui: uuid,
      o: fullDocument,
      o2: { _id: 7 }
    });
    assert.equal((entryOf(op) as UpdateEntry).kind, 'replacement');
    // Truncations and removals count as paths too.
    for (const paths of [
      { truncatedArrays: [{ field: 'a.1', newSize: 0 }] },
      { removedFields: ['a.0'] }
    ]) {
      const replaced = onlyOp(
        update({ updatedFields: {}, removedFields: [], ...paths }, { fullDocument })
      );
      assert.equal(replaced.o, fullDocument);
    }
  });

  it('on 6.0 a post-image with a dotted field name also forces the replacement', () => {
    const fullDocument = { _id: 7, list: [{ 'x.y': 1 }] };
    const op = onlyOp(update({ updatedFields: { 'x.y': 1 }, removedFields: [] }, { fullDocument }));
    assert.equal(op.o, fullDocument);
    // With disambiguatedPaths the diff is exact, whatever the post-image holds.
    const exact = onlyOp(
      update(description({ updatedFields: { 'x.y': 1 }, disambiguatedPaths: { 'x.y': ['x.y'] } }), {
        fullDocument
      })
    );
    assert.deepEqual(exact.o, { $v: 2, diff: { u: { 'x.y': 1 } } });
  });

  it('ambiguous paths without a post-image skip the update, naming only the namespace', () => {
    for (const fullDocument of [null, undefined]) {
      const converted = changeEventToOps(
        update(
          { updatedFields: { 'arr.3': 'secret' }, removedFields: [] },
          fullDocument === undefined
            ? { documentKey: { _id: 'private-id' } }
            : { fullDocument, documentKey: { _id: 'private-id' } }
        )
      );
      assert.equal(converted.kind, 'skip');
      assert.ok(converted.kind === 'skip');
      assert.match(converted.reason, /^update of a document in shop\.orders /);
      assert.match(converted.reason, /no longer exists/);
      assert.doesNotMatch(converted.reason, /private-id|secret|arr/);
    }
  });

  it('updateDescriptionToDiff refuses ambiguous paths when called directly', () => {
    assert.throws(
      () =>
        updateDescriptionToDiff(
          { updatedFields: { 'a.0': 1 }, removedFields: [] },
          { namespace: 'shop.orders', optime: clusterTime }
        ),
      (error: unknown) =>
        error instanceof UnsupportedOplogEntryError &&
        error.namespace === 'shop.orders' &&
        /disambiguatedPaths/.test(error.message)
    );
  });

  it('malformed descriptions throw UnsupportedOplogEntryError with the namespace', () => {
    const cases: Document[] = [
      // The same field changed twice, or as a leaf and as a parent.
      { updatedFields: { a: 1, 'a.b': 2 } },
      { updatedFields: { a: 1 }, removedFields: ['a'] },
      { updatedFields: { 'a.b': 1 }, removedFields: ['a'] },
      // An index path under a document, and a document path under an array.
      { updatedFields: { 'a.b': 1, 'a.0': 2 } },
      {
        updatedFields: { 'a.0': 1 },
        truncatedArrays: [{ field: 'a.0', newSize: 1 }],
        removedFields: ['a.0.x']
      },
      { updatedFields: { a: 1 }, truncatedArrays: [{ field: 'a', newSize: 1 }] },
      {
        truncatedArrays: [
          { field: 'a', newSize: 1 },
          { field: 'a', newSize: 2 }
        ]
      },
      { truncatedArrays: [{ field: 'a', newSize: -1 }] },
      { truncatedArrays: [{ newSize: 1 }] },
      { updatedFields: [] },
      { removedFields: [1] },
      { updatedFields: { 'a.b': 1 }, disambiguatedPaths: { 'a.b': ['a', 'c'] } },
      { updatedFields: { 'a.b': 1 }, disambiguatedPaths: { 'a.b': [] } },
      { updatedFields: { '0.b': 1 }, disambiguatedPaths: { '0.b': [new Int32(0), 'b'] } },
      { updatedFields: { 'a.b': 1 }, disambiguatedPaths: { 'a.b': ['a', true] } }
    ];
    for (const fields of cases) {
      assert.throws(
        () => changeEventToOps(update(description(fields))),
        (error: unknown) =>
          error instanceof UnsupportedOplogEntryError &&
          error.namespace === 'shop.orders' &&
          error.optime === clusterTime &&
          /updateDescription/.test(error.message),
        JSON.stringify(fields)
      );
    }
  });
});

describe('changeEventToOps: DDL', () => {
  /** The single command op of a DDL event, checked as toTargetCommand sees it. */
  function ddl(ev: Document, o: Document, run: TargetCommand): void {
    const op = onlyOp(ev);
    assert.deepEqual(op, {
      op: 'c',
      ns: 'shop.$cmd',
      ...('collectionUUID' in ev ? { ui: uuid } : {}),
      o
    });
    assert.deepEqual(targetCommandOf(op), run);
  }

  it('create keeps the options and idIndex', () => {
    const operationDescription = {
      capped: true,
      size: Long.fromNumber(4096),
      idIndex: { v: new Int32(2), key: { _id: new Int32(1) }, name: '_id_' }
    };
    const o = { create: 'orders', ...operationDescription };
    ddl(event('create', { operationDescription }), o, { db: 'shop', command: o });
  });

  it('drop and dropDatabase', () => {
    ddl(event('drop'), { drop: 'orders' }, { db: 'shop', command: { drop: 'orders' } });
    const { collectionUUID: _uuid, ...dropDatabase } = event('dropDatabase', {
      ns: { db: 'shop' }
    });
    ddl(dropDatabase, { dropDatabase: 1 }, { db: 'shop', command: { dropDatabase: 1 } });
  });

  it('rename takes `to` from the event or the operationDescription, keeps dropTarget and stayTemp', () => {
    const to = { db: 'shop', coll: 'archive' };
    ddl(
      event('rename', { to, operationDescription: { to, dropTarget: droppedUuid } }),
      { renameCollection: 'shop.orders', to: 'shop.archive', dropTarget: droppedUuid },
      {
        db: 'admin',
        command: { renameCollection: 'shop.orders', to: 'shop.archive', dropTarget: true }
      }
    );
    ddl(
      event('rename', { operationDescription: { to, stayTemp: true } }),
      { renameCollection: 'shop.orders', to: 'shop.archive', stayTemp: true },
      {
        db: 'admin',
        command: {
          renameCollection: 'shop.orders',
          to: 'shop.archive',
          dropTarget: false,
          stayTemp: true
        }
      }
    );
    assert.throws(() => changeEventToOps(event('rename')), UnsupportedOplogEntryError);
  });

  it('createIndexes → one op per index, in the oplog single-index form', () => {
    const a = { v: new Int32(2), key: { a: new Int32(1) }, name: 'a_1' };
    const b = { v: new Int32(2), key: { b: new Int32(-1) }, name: 'b_-1', unique: true };
    const ops = opsOf(
      changeEventToOps(event('createIndexes', { operationDescription: { indexes: [a, b] } }))
    );
    assert.deepEqual(ops, [
      { op: 'c', ns: 'shop.$cmd', ui: uuid, o: { createIndexes: 'orders', ...a } },
      { op: 'c', ns: 'shop.$cmd', ui: uuid, o: { createIndexes: 'orders', ...b } }
    ]);
    assert.deepEqual(ops.map(targetCommandOf), [
      { db: 'shop', command: { createIndexes: 'orders', indexes: [a] } },
      { db: 'shop', command: { createIndexes: 'orders', indexes: [b] } }
    ]);
  });

  it('dropIndexes → one op per index, by name', () => {
    const indexes = [
      { v: new Int32(2), key: { a: new Int32(1) }, name: 'a_1' },
      { v: new Int32(2), key: { b: new Int32(1) }, name: 'b_1' }
    ];
    const ops = opsOf(
      changeEventToOps(event('dropIndexes', { operationDescription: { indexes } }))
    );
    assert.deepEqual(
      ops.map(op => op.o),
      [
        { dropIndexes: 'orders', index: 'a_1' },
        { dropIndexes: 'orders', index: 'b_1' }
      ]
    );
    assert.deepEqual(targetCommandOf(ops[1]!), {
      db: 'shop',
      command: { dropIndexes: 'orders', index: 'b_1' }
    });
    assert.throws(
      () =>
        changeEventToOps(event('dropIndexes', { operationDescription: { indexes: [{ v: 2 }] } })),
      UnsupportedOplogEntryError
    );
    assert.throws(
      () => changeEventToOps(event('createIndexes', { operationDescription: { indexes: [] } })),
      UnsupportedOplogEntryError
    );
  });

  it('modify → collMod with the operationDescription', () => {
    const operationDescription = { index: { name: 'a_1', hidden: true } };
    const o = { collMod: 'orders', ...operationDescription };
    ddl(
      event('modify', {
        operationDescription,
        stateBeforeChange: { indexOptions: { hidden: false } }
      }),
      o,
      { db: 'shop', command: o }
    );
  });
});

describe('changeEventToOps: events with nothing to apply', () => {
  it('shardCollection becomes the no-op a primary shard logs, key and unique flag kept', () => {
    const converted = changeEventToOps(
      event('shardCollection', { operationDescription: { shardKey: { region: 1 }, unique: true } })
    );
    assert.equal(converted.kind, 'ops');
    const [op] = converted.kind === 'ops' ? converted.ops : [];
    assert.equal(op?.op, 'n');
    assert.deepEqual(op?.o2, {
      shardCollection: 'shop.orders',
      shardKey: { region: 1 },
      unique: true
    });
    assert.throws(
      () => changeEventToOps(event('shardCollection', { operationDescription: {} })),
      /shardKey/
    );
  });

  it('other sharding events are skipped with a reason naming the type and namespace', () => {
    for (const type of [
      'reshardCollection',
      'refineCollectionShardKey',
      'migrateLastChunkFromShard'
    ]) {
      assert.deepEqual(changeEventToOps(event(type, { operationDescription: {} })), {
        kind: 'skip',
        reason: `${type} on shop.orders has no effect on a replica-set target`
      });
    }
  });

  it('invalidate and unknown types are skipped, never silently', () => {
    const invalidate = changeEventToOps({ _id: {}, operationType: 'invalidate', clusterTime });
    assert.equal(invalidate.kind, 'skip');
    assert.ok(invalidate.kind === 'skip' && invalidate.reason.includes('invalidate'));
    assert.deepEqual(changeEventToOps(event('somethingNew')), {
      kind: 'skip',
      reason: 'unknown change event type somethingNew'
    });
  });
});
