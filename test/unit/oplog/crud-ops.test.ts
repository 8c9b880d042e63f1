import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type Document } from 'bson';

import { insertAsReplacement, toWriteModel } from '../../../src/oplog/crud-ops.js';
import {
  type DeleteEntry,
  type InsertEntry,
  parseOplogEntry,
  type UpdateEntry
} from '../../../src/oplog/oplog-entry.js';
import { insert, raw } from './entries.js';

const parse = <T>(fields: Document): T => parseOplogEntry(raw(fields)) as T;

describe('toWriteModel', () => {
  it('insert → insertOne', () => {
    const entry = parseOplogEntry(insert('a.b', { _id: 1, x: 1 })) as InsertEntry;
    assert.deepEqual(toWriteModel(entry), { insertOne: { document: { _id: 1, x: 1 } } });
  });

  it('operator and diff updates → updateOne by o2, without upsert', () => {
    const o2 = { _id: 1, sk: 2 };
    const v1 = parse<UpdateEntry>({ op: 'u', ns: 'a.b', o: { $v: 1, $set: { x: 1 } }, o2 });
    assert.deepEqual(toWriteModel(v1), { updateOne: { filter: o2, update: { $set: { x: 1 } } } });
    const v2 = parse<UpdateEntry>({ op: 'u', ns: 'a.b', o: { $v: 2, diff: { i: { x: 1 } } }, o2 });
    const model = toWriteModel(v2);
    assert.ok('updateOne' in model && Array.isArray(model.updateOne.update));
    assert.equal(model.updateOne.upsert, undefined);
  });

  it('replacement → replaceOne with upsert', () => {
    const entry = parse<UpdateEntry>({ op: 'u', ns: 'a.b', o: { _id: 1, y: 2 }, o2: { _id: 1 } });
    assert.deepEqual(toWriteModel(entry), {
      replaceOne: { filter: { _id: 1 }, replacement: { _id: 1, y: 2 }, upsert: true }
    });
  });

  it('delete → deleteOne by o', () => {
    const entry = parse<DeleteEntry>({ op: 'd', ns: 'a.b', o: { _id: 1 } });
    assert.deepEqual(toWriteModel(entry), { deleteOne: { filter: { _id: 1 } } });
  });
});

describe('insertAsReplacement', () => {
  it('replaces by _id, or by o2 when logged', () => {
    const plain = parseOplogEntry(insert('a.b', { _id: 1, x: 1 })) as InsertEntry;
    assert.deepEqual(insertAsReplacement(plain), {
      replaceOne: { filter: { _id: 1 }, replacement: { _id: 1, x: 1 }, upsert: true }
    });
    const sharded = parseOplogEntry(
      insert('a.b', { _id: 1, sk: 3 }, { o2: { _id: 1, sk: 3 } })
    ) as InsertEntry;
    const model = insertAsReplacement(sharded);
    assert.ok('replaceOne' in model);
    assert.deepEqual(model.replaceOne.filter, { _id: 1, sk: 3 });
  });
});
