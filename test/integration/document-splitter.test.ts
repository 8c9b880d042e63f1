import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Binary,
  type Collection,
  Decimal128,
  type Document,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  type MongoClient,
  ObjectId
} from 'mongodb';

import { canonicalIdBytes } from '../../src/bson/canonical-id.js';
import { ReplicationErrorCode } from '../../src/errors.js';
import {
  DocumentSplitter,
  type DocumentSplitterOptions,
  type IdRange,
  rangeFindOptions,
  type SplitEvent
} from '../../src/split/document-splitter.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';

const DECODE = { promoteValues: false, promoteLongs: false, bsonRegExp: true } as const;

/** `count` distinct `_id`s of many BSON types: numbers of four types, strings, documents, … */
function mixedIds(count: number): unknown[] {
  const makers: ((i: number) => unknown)[] = [
    i => new Int32(i),
    i => new Double(i + 0.5),
    i => new Long(1_000_000 + i),
    i => Decimal128.fromString(`${i}.25`),
    i => `s${String(i).padStart(5, '0')}`,
    i => new ObjectId(i.toString(16).padStart(24, '0')),
    i => new Date(1_700_000_000_000 + i),
    i => ({ k: new Int32(i), sub: { t: 'x' } }),
    i => new Binary(Buffer.from(String(i)), 0),
    i => [1, 2].map(b => new Binary(Buffer.from([b, i % 256, i >> 8]), 4))[i % 2]
  ];
  const ids: unknown[] = [new MinKey(), null, false, true];
  for (let i = 0; ids.length < count; i++) ids.push(makers[i % makers.length]!(i));
  return ids;
}

/** The canonical `_id` bytes, so 1 and 1.0 count as one `_id`, as MongoDB counts them. */
function idKey(id: unknown): string {
  return Buffer.from(canonicalIdBytes(id)).toString('hex');
}

/** Every range read with its find options: the `_id` keys in reading order, per range. */
async function readRanges(coll: Collection, ranges: readonly IdRange[]): Promise<string[][]> {
  const perRange: string[][] = [];
  for (const range of ranges) {
    const docs = await coll.find({}, { ...rangeFindOptions(range), ...DECODE }).toArray();
    perRange.push(docs.map(doc => idKey(doc._id)));
  }
  return perRange;
}

/** Reads every range and checks each document of the collection came back exactly once. */
async function assertExactlyOnce(coll: Collection, ranges: readonly IdRange[]): Promise<void> {
  const expected = (await coll.find({}, DECODE).toArray()).map(doc => idKey(doc._id));
  const read = (await readRanges(coll, ranges)).flat();
  assert.equal(
    read.length,
    expected.length,
    'every range read together returns each document once'
  );
  assert.equal(new Set(read).size, read.length, 'no document is read twice');
  assert.deepEqual([...read].sort(), [...expected].sort());
}

function assertContiguous(ranges: readonly IdRange[], namespace: string): void {
  assert.ok(ranges.length >= 1);
  ranges.forEach((range, i) => {
    assert.equal(range.namespace, namespace);
    assert.equal(range.index, i);
    assert.equal(range.count, ranges.length);
    assert.equal(range.min === undefined, i === 0, 'only the first range has no min');
    assert.equal(range.max === undefined, i === ranges.length - 1, 'only the last has no max');
    if (i > 0) assert.equal(idKey(range.min), idKey(ranges[i - 1]!.max));
  });
}

describe('DocumentSplitter', () => {
  let d: Deployments;
  let source: MongoClient;
  let dbName: string;
  before(async () => {
    d = await startDeployments();
    source = d.source;
    dbName = uniqueDbName('split');
  });
  after(async () => {
    await source.db(dbName).dropDatabase();
    await d.close();
  });

  function splitter(options: Partial<DocumentSplitterOptions> = {}): DocumentSplitter {
    return new DocumentSplitter({ source, ...options });
  }

  /** Inserts documents with these `_id`s; a null `_id` through the command (helpers replace it). */
  async function fill(coll: string, ids: readonly unknown[], extra: Document = {}): Promise<void> {
    const documents = ids.map((_id, i) => ({ _id, i, ...extra }));
    for (let i = 0; i < documents.length; i += 500) {
      await source.db(dbName).command({ insert: coll, documents: documents.slice(i, i + 500) });
    }
  }

  it('cuts a collection of mixed _id types into ranges that read every document once', async () => {
    await fill('mixed', mixedIds(1200));
    const coll = source.db(dbName).collection('mixed');
    const events: SplitEvent[] = [];
    const s = splitter({ minDocumentsPerRange: 50, maxRangesPerCollection: 12 });
    s.on('split', event => events.push(event));
    const ranges = await s.split(`${dbName}.mixed`);
    assert.ok(ranges.length > 4, `several ranges (got ${ranges.length})`);
    assertContiguous(ranges, `${dbName}.mixed`);
    assert.equal(
      ranges.reduce((sum, r) => sum + r.estimatedDocuments, 0),
      await coll.estimatedDocumentCount()
    );
    for (const range of ranges) {
      for (const bound of [range.min, range.max]) {
        assert.notEqual(typeof bound, 'number', 'a bound keeps its BSON type (no JS number)');
      }
    }
    assert.deepEqual(events, [{ namespace: `${dbName}.mixed`, ranges }]);
    await assertExactlyOnce(coll, ranges);
    // Each range reads in _id order and starts where the one before ended.
    const inOrder = (await coll.find({}, { sort: { _id: 1 }, ...DECODE }).toArray()).map(doc =>
      idKey(doc._id)
    );
    assert.deepEqual((await readRanges(coll, ranges)).flat(), inOrder);
  });

  it('gives an empty collection one unbounded range of 0 documents', async () => {
    await source.db(dbName).createCollection('empty');
    const ranges = await splitter({ minDocumentsPerRange: 1 }).split(`${dbName}.empty`);
    assert.deepEqual(ranges, [
      { namespace: `${dbName}.empty`, index: 0, count: 1, estimatedDocuments: 0 }
    ]);
    assert.deepEqual(rangeFindOptions(ranges[0]!), {});
    const missing = await splitter().split(`${dbName}.missing`);
    assert.deepEqual(missing, [
      { namespace: `${dbName}.missing`, index: 0, count: 1, estimatedDocuments: 0 }
    ]);
  });

  it('keeps a one-document collection in one range', async () => {
    await fill('one', ['only']);
    const ranges = await splitter({ minDocumentsPerRange: 1 }).split(`${dbName}.one`);
    assert.deepEqual(ranges, [
      { namespace: `${dbName}.one`, index: 0, count: 1, estimatedDocuments: 1 }
    ]);
    await assertExactlyOnce(source.db(dbName).collection('one'), ranges);
  });

  it('reads a collection with documents near 16 MiB exactly once', async () => {
    const coll = source.db(dbName).collection('big');
    const big = 'x'.repeat(15 * 1024 * 1024);
    for (const _id of [new Int32(100), 'm', new ObjectId()]) await fill('big', [_id], { big });
    await fill('big', mixedIds(240).slice(4));
    const ranges = await splitter({ minDocumentsPerRange: 20, maxRangesPerCollection: 8 }).split(
      `${dbName}.big`
    );
    assert.ok(ranges.length > 1, `several ranges (got ${ranges.length})`);
    assertContiguous(ranges, `${dbName}.big`);
    await assertExactlyOnce(coll, ranges);
  });

  it('keeps a collection with a MaxKey _id in one range, which still reads it', async () => {
    await fill('maxKey', [...mixedIds(300), new MaxKey()]);
    const coll = source.db(dbName).collection('maxKey');
    const ranges = await splitter({ minDocumentsPerRange: 10 }).split(`${dbName}.maxKey`);
    assert.equal(ranges.length, 1);
    assert.deepEqual(rangeFindOptions(ranges[0]!), {});
    await assertExactlyOnce(coll, ranges);
    assert.equal((await readRanges(coll, ranges)).flat().length, 301);
  });

  it('gives a view and a time-series collection one unbounded range', async () => {
    const db = source.db(dbName);
    await fill('viewed', mixedIds(200));
    await db.createCollection('aView', {
      viewOn: 'viewed',
      pipeline: [{ $match: { i: { $lt: 150 } } }]
    });
    const viewRanges = await splitter({ minDocumentsPerRange: 1 }).split(`${dbName}.aView`);
    assert.deepEqual(viewRanges, [
      { namespace: `${dbName}.aView`, index: 0, count: 1, estimatedDocuments: 150 }
    ]);
    assert.equal((await readRanges(db.collection('aView'), viewRanges)).flat().length, 150);

    await db.createCollection('series', { timeseries: { timeField: 't' } });
    await db
      .collection('series')
      .insertMany(
        Array.from({ length: 30 }, (_, i) => ({ t: new Date(1_700_000_000_000 + i), i }))
      );
    const seriesRanges = await splitter({ minDocumentsPerRange: 1 }).split(`${dbName}.series`);
    assert.equal(seriesRanges.length, 1);
    assert.deepEqual(rangeFindOptions(seriesRanges[0]!), {});
  });

  it('validates its options before any I/O', () => {
    const invalid: [string, Partial<DocumentSplitterOptions>][] = [
      ['maxRangesPerCollection', { maxRangesPerCollection: 0 }],
      ['maxRangesPerCollection', { maxRangesPerCollection: 2.5 }],
      ['minDocumentsPerRange', { minDocumentsPerRange: -1 }],
      ['minDocumentsPerRange', { minDocumentsPerRange: Number.NaN }],
      ['samplesPerRange', { samplesPerRange: 0 }],
      ['samplesPerRange', { maxRangesPerCollection: 1000, samplesPerRange: 1000 }],
      ['logger', { logger: {} as never }]
    ];
    for (const [field, options] of invalid) {
      assert.throws(
        () => splitter(options),
        (e: Error & { code?: string; field?: string }) =>
          e.code === ReplicationErrorCode.InvalidConfig && e.field === field,
        field
      );
    }
    assert.throws(
      () => new DocumentSplitter({ source: undefined as never }),
      (e: Error & { field?: string }) => e.field === 'source'
    );
    const s = splitter();
    assert.deepEqual(
      [s.options.maxRangesPerCollection, s.options.minDocumentsPerRange, s.options.samplesPerRange],
      [16, 10_000, 10]
    );
  });

  it('refuses a namespace that is not db.coll', async () => {
    await assert.rejects(
      splitter().split('nodot'),
      (e: Error & { code?: string }) => e.code === ReplicationErrorCode.InvalidConfig
    );
  });
});
