import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BSON, type MongoClient, MongoServerError } from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

describe('test server catalog commands', () => {
  let started: Started;
  let client: MongoClient;
  before(async () => {
    started = await startWithClient();
    client = started.client;
  });
  after(async () => {
    await started.close();
  });

  it('lists admin, config and local on a fresh server, then user databases', async () => {
    const fresh = await client.db('admin').admin().listDatabases();
    assert.deepEqual(
      fresh.databases.map(d => d.name),
      ['admin', 'config', 'local']
    );
    await client.db('cat1').collection<AnyDoc>('c').insertOne({ a: 1 });
    const names = await client.db('admin').admin().listDatabases({ nameOnly: true });
    assert.ok(names.databases.some(d => d.name === 'cat1'));
    assert.ok(typeof fresh.totalSize === 'number');
  });

  it('lists collections with type, options, uuid and idIndex, and system collections', async () => {
    const db = client.db('cat2');
    await db.createCollection('plain');
    await db.createCollection('capped', { capped: true, size: 5000, max: 10 });
    await db.createCollection('validated', {
      validator: { a: { $type: 'int' } },
      validationLevel: 'moderate',
      validationAction: 'warn'
    });
    const list = await db.listCollections({}, { nameOnly: false }).toArray();
    const plain = list.find(c => c.name === 'plain')!;
    assert.equal(plain.type, 'collection');
    assert.deepEqual(plain.options, {});
    assert.ok(plain.info!.uuid instanceof BSON.Binary);
    assert.equal(plain.info!.uuid.sub_type, 4);
    assert.equal(plain.info!.readOnly, false);
    assert.deepEqual(plain.idIndex, { v: 2, key: { _id: 1 }, name: '_id_' });
    assert.deepEqual(list.find(c => c.name === 'capped')!.options, {
      capped: true,
      size: 5120,
      max: 10
    });
    assert.deepEqual(list.find(c => c.name === 'validated')!.options, {
      validator: { a: { $type: 'int' } },
      validationLevel: 'moderate',
      validationAction: 'warn'
    });
    const names = await db.listCollections({ name: 'plain' }, { nameOnly: true }).toArray();
    assert.deepEqual(names, [{ name: 'plain', type: 'collection' }]);
    const local = await client.db('local').listCollections().toArray();
    assert.ok(local.some(c => c.name === 'oplog.rs'));
    const admin = await client.db('admin').listCollections().toArray();
    assert.ok(admin.some(c => c.name === 'system.version'));
  });

  it('lists clusteredIndex in its full form and requires its key and unique', async () => {
    const db = client.db('cat8');
    await db.createCollection('byDefault', { clusteredIndex: { key: { _id: 1 }, unique: true } });
    await db.createCollection('named', {
      clusteredIndex: { key: { _id: 1 }, unique: true, name: 'byId' },
      expireAfterSeconds: 60
    });
    const list = await db.listCollections({}, { nameOnly: false }).toArray();
    assert.deepEqual(list.find(c => c.name === 'byDefault')!.options, {
      clusteredIndex: { v: 2, key: { _id: 1 }, name: '_id_', unique: true }
    });
    assert.deepEqual(list.find(c => c.name === 'named')!.options, {
      expireAfterSeconds: 60,
      clusteredIndex: { v: 2, key: { _id: 1 }, name: 'byId', unique: true }
    });
    assert.equal(list.find(c => c.name === 'named')!.idIndex, undefined);
    assert.deepEqual(await db.collection('named').listIndexes().toArray(), [
      { v: 2, key: { _id: 1 }, name: 'byId', unique: true, clustered: true }
    ]);
    await assert.rejects(
      db.createCollection('noUnique', { clusteredIndex: { key: { _id: 1 } } as never }),
      (e: MongoServerError) => e.code === 40414
    );
  });

  it('answers NamespaceExists for a second create with other options', async () => {
    const db = client.db('cat3');
    await db.createCollection('c');
    await assert.rejects(
      db.createCollection('c', { capped: true, size: 100 }),
      (e: MongoServerError) => {
        assert.equal(e.code, 48);
        assert.equal(e.codeName, 'NamespaceExists');
        return true;
      }
    );
  });

  it('creates views, lists them as views, reads through them and refuses writes to them', async () => {
    const db = client.db('cat4');
    await db.collection<AnyDoc>('src').insertMany([
      { _id: 1, v: 1 },
      { _id: 2, v: 5 }
    ]);
    await db.createCollection('big', { viewOn: 'src', pipeline: [{ $match: { v: { $gt: 2 } } }] });
    const [view] = await db.listCollections({ name: 'big' }, { nameOnly: false }).toArray();
    assert.equal(view!.type, 'view');
    assert.deepEqual(view!.options, { viewOn: 'src', pipeline: [{ $match: { v: { $gt: 2 } } }] });
    assert.deepEqual(view!.info, { readOnly: true });
    assert.deepEqual(await db.collection<AnyDoc>('big').find().toArray(), [{ _id: 2, v: 5 }]);
    await assert.rejects(
      db.collection<AnyDoc>('big').insertOne({ v: 9 }),
      (e: MongoServerError) => e.code === 166
    );
  });

  it('drops collections and databases, and renames collections', async () => {
    const db = client.db('cat5');
    await db.collection<AnyDoc>('a').insertOne({ _id: 1 });
    await db.collection<AnyDoc>('b').insertOne({ _id: 2 });
    await client.db('admin').command({ renameCollection: 'cat5.a', to: 'cat5.c' });
    assert.deepEqual(await db.collection<AnyDoc>('c').find().toArray(), [{ _id: 1 }]);
    await assert.rejects(
      client.db('admin').command({ renameCollection: 'cat5.c', to: 'cat5.b' }),
      (e: MongoServerError) => e.code === 48
    );
    await client
      .db('admin')
      .command({ renameCollection: 'cat5.c', to: 'cat5.b', dropTarget: true });
    assert.deepEqual(await db.collection<AnyDoc>('b').find().toArray(), [{ _id: 1 }]);
    await assert.rejects(
      client.db('admin').command({ renameCollection: 'cat5.missing', to: 'cat5.x' }),
      (e: MongoServerError) => e.code === 26
    );
    assert.equal(await db.collection<AnyDoc>('b').drop(), true);
    await db.collection<AnyDoc>('d').insertOne({});
    await db.dropDatabase();
    const names = (await client.db('admin').admin().listDatabases()).databases.map(d => d.name);
    assert.ok(!names.includes('cat5'));
  });

  it('changes validators with collMod and enforces them on writes', async () => {
    const db = client.db('cat6');
    await db.createCollection('v');
    await db.command({ collMod: 'v', validator: { n: { $gte: 0 } } });
    await db.collection<AnyDoc>('v').insertOne({ n: 1 });
    const failure = await db
      .collection<AnyDoc>('v')
      .insertOne({ _id: 'bad', n: -1 })
      .catch((e: unknown) => e);
    assert.ok(failure instanceof MongoServerError);
    assert.equal(failure.code, 121);
    assert.equal(failure.errInfo?.failingDocumentId, 'bad');
    await db.collection<AnyDoc>('v').insertOne({ n: -1 }, { bypassDocumentValidation: true });
    assert.equal(await db.collection<AnyDoc>('v').countDocuments({ n: -1 }), 1);
  });

  it('reports dbStats and collStats sizes', async () => {
    const db = client.db('cat7');
    await db.collection<AnyDoc>('s').insertMany([{ a: 'x' }, { a: 'y' }]);
    const stats = await db.command({ dbStats: 1 });
    assert.equal(stats.objects, 2);
    assert.equal(stats.collections, 1);
    const coll = await db.command({ collStats: 's' });
    assert.equal(coll.count, 2);
    assert.ok(coll.size > 0);
    assert.equal(coll.nindexes, 1);
  });
});

describe('test server indexes', () => {
  let started: Started;
  before(async () => {
    started = await startWithClient();
  });
  after(async () => {
    await started.close();
  });

  it('creates indexes with their options and lists them as mongod does', async () => {
    const coll = started.client.db('idx').collection<AnyDoc>('c');
    await coll.createIndex({ a: 1, b: -1 }, { unique: true, name: 'ab' });
    await coll.createIndex({ s: 1 }, { sparse: true });
    await coll.createIndex({ p: 1 }, { partialFilterExpression: { p: { $exists: true } } });
    await coll.createIndex({ at: 1 }, { expireAfterSeconds: 3600 });
    await coll.createIndex({ h: 'hashed' });
    const indexes = await coll.listIndexes().toArray();
    assert.deepEqual(indexes, [
      { v: 2, key: { _id: 1 }, name: '_id_' },
      { v: 2, key: { a: 1, b: -1 }, name: 'ab', unique: true },
      { v: 2, key: { s: 1 }, name: 's_1', sparse: true },
      { v: 2, key: { p: 1 }, name: 'p_1', partialFilterExpression: { p: { $exists: true } } },
      { v: 2, key: { at: 1 }, name: 'at_1', expireAfterSeconds: 3600 },
      { v: 2, key: { h: 'hashed' }, name: 'h_hashed' }
    ]);
  });

  it('enforces unique indexes (compound, sparse) with keyPattern and keyValue', async () => {
    const coll = started.client.db('idx').collection<AnyDoc>('u');
    await coll.createIndex({ email: 1 }, { unique: true });
    await coll.createIndex({ x: 1 }, { unique: true, sparse: true });
    await coll.insertOne({ email: 'a@x', x: 1 });
    await coll.insertMany([{ email: 'b@x' }, { email: 'c@x' }]);
    const error = await coll.insertOne({ email: 'a@x' }).catch((e: unknown) => e);
    assert.ok(error instanceof MongoServerError);
    assert.equal(error.code, 11000);
    assert.deepEqual(error.keyPattern, { email: 1 });
    assert.deepEqual(error.keyValue, { email: 'a@x' });
    assert.match(error.errmsg!, /index: email_1 dup key: \{ email: "a@x" \}$/);
    await assert.rejects(
      coll.updateOne({ email: 'b@x' }, { $set: { email: 'a@x' } }),
      (e: MongoServerError) => e.code === 11000
    );
  });

  it('refuses a unique index over existing duplicates', async () => {
    const coll = started.client.db('idx').collection<AnyDoc>('dups');
    await coll.insertMany([{ k: 1 }, { k: 1 }]);
    await assert.rejects(
      coll.createIndex({ k: 1 }, { unique: true }),
      (e: MongoServerError) => e.code === 11000
    );
    assert.equal((await coll.listIndexes().toArray()).length, 1);
  });

  it('answers conflicts with IndexOptionsConflict and IndexKeySpecsConflict', async () => {
    const coll = started.client.db('idx').collection<AnyDoc>('conflicts');
    await coll.createIndex({ a: 1 });
    const again = await started.client
      .db('idx')
      .command({ createIndexes: 'conflicts', indexes: [{ key: { a: 1 }, name: 'a_1' }] });
    assert.equal(again.note, 'all indexes already exist');
    await assert.rejects(
      coll.createIndex({ a: 1 }, { name: 'other' }),
      (e: MongoServerError) => e.code === 85
    );
    await assert.rejects(
      coll.createIndex({ b: 1 }, { name: 'a_1' }),
      (e: MongoServerError) => e.code === 86
    );
    await assert.rejects(
      coll.createIndex({ a: 1 }, { unique: true }),
      (e: MongoServerError) => e.code === 85
    );
  });

  it('drops indexes by name, key and *, and refuses unknown names', async () => {
    const coll = started.client.db('idx').collection<AnyDoc>('drops');
    await coll.createIndexes([{ key: { a: 1 } }, { key: { b: 1 } }, { key: { c: 1 } }]);
    await coll.dropIndex('a_1');
    await coll.dropIndex({ b: 1 } as never);
    await assert.rejects(coll.dropIndex('nope'), (e: MongoServerError) => e.code === 27);
    await coll.dropIndexes();
    assert.deepEqual(
      (await coll.listIndexes().toArray()).map(i => i.name),
      ['_id_']
    );
  });

  it('expands index collations, omits the simple one, and inherits the collection default', async () => {
    const db = started.client.db('idxcoll');
    const fr = {
      locale: 'fr',
      caseLevel: false,
      caseFirst: 'off',
      strength: 2,
      numericOrdering: false,
      alternate: 'non-ignorable',
      maxVariable: 'punct',
      normalization: false,
      backwards: false,
      version: '57.1'
    };
    await db.createCollection('c', { collation: { locale: 'fr', strength: 2 } });
    await db.command({
      createIndexes: 'c',
      indexes: [
        { key: { a: 1 }, name: 'a_1' },
        { key: { b: 1 }, name: 'b_1', collation: { locale: 'simple' } },
        { key: { d: 1 }, name: 'd_1', collation: { locale: 'de' }, sparse: true }
      ]
    });
    const indexes = await db.collection('c').listIndexes().toArray();
    assert.deepEqual(indexes, [
      { v: 2, key: { _id: 1 }, name: '_id_', collation: fr },
      { v: 2, key: { a: 1 }, name: 'a_1', collation: fr },
      { v: 2, key: { b: 1 }, name: 'b_1' },
      {
        v: 2,
        key: { d: 1 },
        name: 'd_1',
        sparse: true,
        collation: { ...fr, locale: 'de', strength: 3 }
      }
    ]);
    const [info] = await db.listCollections({ name: 'c' }, { nameOnly: false }).toArray();
    assert.deepEqual(info!.idIndex, { v: 2, key: { _id: 1 }, name: '_id_', collation: fr });
    const again = await db.command({
      createIndexes: 'c',
      indexes: [{ key: { a: 1 }, name: 'a_1', collation: { locale: 'fr', strength: 2 } }]
    });
    assert.equal(again.note, 'all indexes already exist');
  });

  it('answers listIndexes on a missing collection with NamespaceNotFound', async () => {
    await assert.rejects(
      started.client.db('idx').collection<AnyDoc>('missing').listIndexes().toArray(),
      (e: MongoServerError) => e.code === 26
    );
  });
});
