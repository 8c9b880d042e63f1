import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Binary,
  Decimal128,
  Double,
  Int32,
  Long,
  type MongoClient,
  ObjectId,
  Timestamp
} from 'mongodb';

import { canonicalIdBytes } from '../../src/bson/canonical-id.js';
import { MemoryCheckpointStore } from '../../src/checkpoint/memory-checkpoint-store.js';
import { TargetWriteError } from '../../src/errors.js';
import { NamespaceFilter } from '../../src/namespace/namespace-filter.js';
import { Replicator } from '../../src/replicator.js';
import {
  caughtUpWith,
  type DocumentMismatchEvent,
  type NamespaceReport,
  type VerificationReport,
  Verifier,
  type VerifierOptions,
  type VerifyProgressEvent
} from '../../src/verify/index.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { withTimeout } from '../support/timeout-signal.js';

type AnyDoc = { _id?: number | string | boolean | object | null; [field: string]: unknown };

/** `count` distinct `_id`s of many BSON types, in no particular order. */
type Id = NonNullable<AnyDoc['_id']> | null;

function mixedIds(count: number): Id[] {
  const makers: ((i: number) => Id)[] = [
    i => new Int32(i),
    i => new Double(i + 0.5),
    i => Long.fromNumber(1_000_000 + i),
    i => Decimal128.fromString(`${i}.25`),
    i => `s${String(i).padStart(5, '0')}`,
    i => new ObjectId(i.toString(16).padStart(24, '0')),
    i => new Date(1_700_000_000_000 + i),
    i => ({ k: new Int32(i), sub: { t: 'x' } }),
    i => new Binary(Buffer.from(String(i)), 0)
  ];
  const ids: Id[] = [null, false, true];
  for (let i = 0; ids.length < count; i++) ids.push(makers[i % makers.length]!(i));
  return ids;
}

/** The `_id` as MongoDB tells `_id`s apart (1 and 1.0 are one), for set comparisons. */
function idKey(id: unknown): string {
  return Buffer.from(canonicalIdBytes(id)).toString('hex');
}

function keys(ids: readonly unknown[]): string[] {
  return ids.map(idKey).sort();
}

describe('Verifier', () => {
  let d: Deployments;
  before(async () => {
    d = await startDeployments();
  });
  after(async () => {
    await d.close();
  });

  /** The same documents (and collection) on both sides; null `_id`s through the command. */
  async function insert(client: MongoClient, ns: string, documents: readonly AnyDoc[]) {
    const [db, ...rest] = ns.split('.');
    const coll = rest.join('.');
    for (let i = 0; i < documents.length; i += 500) {
      const reply = await client
        .db(db)
        .command({ insert: coll, documents: documents.slice(i, i + 500) });
      assert.equal(reply.writeErrors, undefined, 'every document inserted');
    }
  }

  async function insertBoth(ns: string, documents: readonly AnyDoc[]) {
    await insert(d.source, ns, documents);
    await insert(d.target, ns, documents);
  }

  function verifier(db: string, options: Partial<VerifierOptions> = {}) {
    const v = new Verifier({
      source: d.source,
      target: d.target,
      filter: { include: [`${db}.*`] },
      ...options
    });
    const progress: VerifyProgressEvent[] = [];
    const mismatches: DocumentMismatchEvent[] = [];
    const namespaces: NamespaceReport[] = [];
    v.on('progress', e => progress.push(e));
    v.on('mismatch', e => mismatches.push(e));
    v.on('namespace', e => namespaces.push(e));
    return { v, progress, mismatches, namespaces };
  }

  function only(report: VerificationReport, source: string): NamespaceReport {
    const found = report.namespaces.filter(ns => ns.source === source);
    assert.equal(found.length, 1, `one report for ${source}`);
    return found[0]!;
  }

  it('reports equal namespaces after a copy, with counts, ranges and events', async () => {
    const db = uniqueDbName('veq');
    const docs = Array.from({ length: 120 }, (_, i) => ({
      _id: i,
      name: `item ${i}`,
      price: new Double(i / 4),
      tags: ['a', { b: new Long(i) }]
    }));
    await insertBoth(`${db}.items`, docs);
    for (const client of [d.source, d.target]) {
      await client.db(db).collection('items').createIndex({ name: 1 }, { unique: true });
      await client.db(db).createCollection('cheap', {
        viewOn: 'items',
        pipeline: [{ $match: { price: { $lt: 5 } } }]
      });
    }
    const { v, progress, namespaces, mismatches } = verifier(db, {
      splitter: { minDocumentsPerRange: 20, maxRangesPerCollection: 4 }
    });
    const report = await v.verify();
    assert.equal(report.equal, true, JSON.stringify(report.namespaces));
    assert.ok(report.startedAt instanceof Date);
    assert.ok(report.durationMs >= 0);
    assert.deepEqual(
      report.namespaces.map(ns => [ns.source, ns.target, ns.kind]),
      [
        [`${db}.items`, `${db}.items`, 'collection'],
        [`${db}.cheap`, `${db}.cheap`, 'view']
      ]
    );
    const items = only(report, `${db}.items`);
    assert.deepEqual(items.counts, { source: 120, target: 120 });
    assert.equal(items.missing + items.extra + items.different, 0);
    assert.ok(items.ranges > 1, `several ranges, got ${items.ranges}`);
    assert.equal(items.rechecked, 0);
    assert.deepEqual(items.indexes, { equal: true, missing: [], extra: [], different: [] });
    assert.deepEqual(items.options, { equal: true, differences: [] });
    const view = only(report, `${db}.cheap`);
    assert.deepEqual([view.equal, view.ranges, view.counts], [true, 0, { source: 0, target: 0 }]);
    assert.equal(mismatches.length, 0);
    assert.deepEqual(namespaces.map(ns => ns.source).sort(), [`${db}.cheap`, `${db}.items`]);
    const last = progress.filter(p => p.namespace === `${db}.items`).at(-1);
    assert.deepEqual(last, {
      namespace: `${db}.items`,
      rangesDone: items.ranges,
      rangesTotal: items.ranges,
      documents: 120
    });
  });

  it('finds missing, extra and different documents and keeps samples of their _ids', async () => {
    const db = uniqueDbName('vdiff');
    const ns = `${db}.c`;
    const docs: { _id: number | string; v: string }[] = Array.from({ length: 30 }, (_, i) => ({
      _id: i,
      v: `value ${i}`
    }));
    await insert(d.source, ns, docs);
    await insert(
      d.target,
      ns,
      docs
        .filter(doc => ![3, 7, 11].includes(doc._id as number))
        .map(doc => (doc._id === 5 ? { ...doc, v: 'changed' } : doc))
        .concat([
          { _id: 100, v: 'stray' },
          { _id: 'z', v: 'stray' }
        ])
    );
    const { v, mismatches, namespaces } = verifier(db, { sampleLimit: 2 });
    const report = await v.verify();
    assert.equal(report.equal, false);
    const c = only(report, ns);
    assert.equal(c.equal, false);
    assert.deepEqual(
      [c.counts, c.missing, c.extra, c.different],
      [{ source: 30, target: 29 }, 3, 2, 1]
    );
    // Samples are _ids with their exact types, found in _id order, at most sampleLimit of each.
    assert.deepEqual(c.samples.missing, [new Int32(3), new Int32(7)]);
    assert.deepEqual(c.samples.extra, [new Int32(100), 'z']);
    assert.deepEqual(c.samples.different, [new Int32(5)]);
    assert.deepEqual(
      mismatches.map(m => [m.namespace, m.kind, idKey(m.id)]),
      [
        [ns, 'missing', idKey(3)],
        [ns, 'different', idKey(5)],
        [ns, 'missing', idKey(7)],
        [ns, 'missing', idKey(11)],
        [ns, 'extra', idKey(100)],
        [ns, 'extra', idKey('z')]
      ]
    );
    assert.equal(namespaces.length, 1);
    assert.equal(namespaces[0]!.missing, 3);
  });

  it('tells BSON types, field order and _id types apart', async () => {
    const db = uniqueDbName('vtypes');
    const ns = `${db}.t`;
    await insert(d.source, ns, [
      { _id: 1, n: new Int32(1) },
      { _id: 2, a: 1, b: 2 },
      { _id: new Int32(3), x: 'same' },
      { _id: 4, nested: { p: 1, q: 2 } },
      { _id: 5, same: new Double(2.5) }
    ]);
    await insert(d.target, ns, [
      { _id: 1, n: new Double(1) },
      { _id: 2, b: 2, a: 1 },
      { _id: new Double(3), x: 'same' },
      { _id: 4, nested: { q: 2, p: 1 } },
      { _id: 5, same: new Double(2.5) }
    ]);
    const report = await verifier(db, { sampleLimit: 10 }).v.verify();
    const t = only(report, ns);
    assert.deepEqual([t.missing, t.extra, t.different], [0, 0, 4]);
    assert.deepEqual(keys(t.samples.different), keys([1, 2, 3, 4]));
    // The source's _id, with the source's type.
    assert.ok(t.samples.different.some(id => id instanceof Int32 && id.value === 3));
  });

  it('compares collections of mixed _id types across several ranges', async () => {
    const db = uniqueDbName('vmixed');
    const ns = `${db}.mixed`;
    const ids = mixedIds(400);
    const docs = ids.map((_id, i) => ({ _id, i: new Int32(i) }));
    await insertBoth(ns, docs);
    const splitter = { minDocumentsPerRange: 40, maxRangesPerCollection: 8 };
    const equal = await verifier(db, { splitter, concurrency: 3 }).v.verify();
    const before = only(equal, ns);
    assert.equal(before.equal, true, JSON.stringify(before));
    assert.ok(before.ranges >= 4, `several ranges, got ${before.ranges}`);
    assert.deepEqual(before.counts, { source: 400, target: 400 });

    // Spread differences over every type: delete, change and add on the target.
    const target = d.target.db(db).collection<AnyDoc>('mixed');
    const removed = [1, 17, 55, 201, 399].map(i => ids[i]!);
    const changed = [0, 8, 123, 250].map(i => ids[i]!);
    const added: Id[] = [
      new Int32(-5),
      'zzz',
      new ObjectId('ffffffffffffffffffffffff'),
      { k: new Int32(-1) },
      new Date(0),
      new Double(1e300)
    ];
    for (const _id of removed) await target.deleteOne({ _id });
    for (const _id of changed) await target.updateOne({ _id }, { $set: { i: 'changed' } });
    await insert(
      d.target,
      ns,
      added.map(_id => ({ _id }))
    );
    const { v, mismatches } = verifier(db, { splitter, concurrency: 3, sampleLimit: 100 });
    const report = await v.verify();
    const mixed = only(report, ns);
    assert.equal(mixed.equal, false);
    assert.deepEqual([mixed.missing, mixed.extra, mixed.different], [5, 6, 4]);
    assert.deepEqual(keys(mixed.samples.missing), keys(removed));
    assert.deepEqual(keys(mixed.samples.extra), keys(added));
    assert.deepEqual(keys(mixed.samples.different), keys(changed));
    assert.deepEqual(mixed.counts, { source: 400, target: 401 });
    assert.equal(mismatches.length, 15);
  });

  it('follows the filter: renamed namespaces, views reading them, and target-only ones', async () => {
    const db = uniqueDbName('vren');
    const copy = `${db}_copy`;
    const rename = { [`${db}.*`]: `${copy}.*`, [`${db}.people`]: `${copy}.persons` };
    const items = Array.from({ length: 10 }, (_, i) => ({ _id: i }));
    await insert(d.source, `${db}.items`, items);
    await insert(d.target, `${copy}.items`, items);
    await insert(d.source, `${db}.people`, [{ _id: 'ann' }]);
    await insert(d.target, `${copy}.persons`, [{ _id: 'ann' }]);
    await d.source.db(db).createCollection('who', { viewOn: 'people', pipeline: [] });
    await d.target.db(copy).createCollection('who', { viewOn: 'persons', pipeline: [] });
    // Only on the target, but the filter maps db.stray onto it; not selected: ignored.
    await insert(d.target, `${copy}.stray`, [{ _id: 1 }, { _id: 2 }]);
    await insert(d.target, `${db}_other.ignored`, [{ _id: 1 }]);

    for (const filter of [
      { include: [`${db}.*`], rename },
      new NamespaceFilter({ include: [`${db}.*`], rename })
    ]) {
      const report = await verifier(db, { filter }).v.verify();
      assert.deepEqual(
        report.namespaces.map(ns => [ns.source, ns.target, ns.kind, ns.equal]),
        [
          [`${db}.items`, `${copy}.items`, 'collection', true],
          [`${db}.people`, `${copy}.persons`, 'collection', true],
          [`${db}.who`, `${copy}.who`, 'view', true],
          [`${db}.stray`, `${copy}.stray`, 'collection', false]
        ]
      );
      const stray = only(report, `${db}.stray`);
      assert.deepEqual([stray.counts, stray.extra], [{ source: 0, target: 2 }, 2]);
      assert.deepEqual(stray.options, { equal: false, differences: ['exists'] });
    }

    // A rename rule whose source does not exist at all is still followed back.
    await insert(d.target, `${copy}.renamed_away`, [{ _id: 1 }]);
    const ruleOnly = await verifier(db, {
      filter: {
        include: [`${db}.*`],
        rename: { ...rename, [`${db}.gone`]: `${copy}.renamed_away` }
      }
    }).v.verify();
    const away = only(ruleOnly, `${db}.gone`);
    assert.deepEqual([away.target, away.extra], [`${copy}.renamed_away`, 1]);
  });

  it('reports option and index differences, and collections missing on one side', async () => {
    const db = uniqueDbName('vcat');
    const s = d.source.db(db);
    const t = d.target.db(db);
    await s.createCollection('orders', { validator: { qty: { $gte: new Int32(0) } } });
    await t.createCollection('orders');
    await s.collection('orders').createIndexes([
      { key: { a: 1 }, name: 'a_1' },
      { key: { b: 1 }, name: 'b_1', unique: true },
      { key: { d: 1, e: -1 }, name: 'd_e' }
    ]);
    await t.collection('orders').createIndexes([
      { key: { a: 1 }, name: 'a_1' },
      { key: { b: 1 }, name: 'b_1' },
      { key: { c: 1 }, name: 'c_1' }
    ]);
    await insert(d.source, `${db}.lost`, [{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    await s.collection('lost').createIndex({ x: 1 });
    await s.createCollection('capped', { capped: true, size: 4096 });
    await t.createCollection('capped');

    const report = await verifier(db).v.verify();
    assert.equal(report.equal, false);
    const orders = only(report, `${db}.orders`);
    assert.deepEqual(orders.options, { equal: false, differences: ['validator'] });
    assert.deepEqual(orders.indexes, {
      equal: false,
      missing: ['d_e'],
      extra: ['c_1'],
      different: ['b_1']
    });
    assert.equal(orders.missing + orders.extra + orders.different, 0);
    assert.equal(orders.equal, false);

    const lost = only(report, `${db}.lost`);
    assert.deepEqual(lost.options, { equal: false, differences: ['exists'] });
    assert.deepEqual([lost.counts, lost.missing], [{ source: 3, target: 0 }, 3]);
    assert.deepEqual(lost.indexes.missing, ['x_1']);

    const capped = only(report, `${db}.capped`);
    assert.ok(capped.options.differences.includes('capped'), String(capped.options.differences));
  });

  it('compares view definitions', async () => {
    const db = uniqueDbName('vview');
    const s = d.source.db(db);
    const t = d.target.db(db);
    await insertBoth(`${db}.base`, [{ _id: 1, a: 1 }]);
    for (const x of [s, t]) {
      await x.createCollection('same', { viewOn: 'base', pipeline: [{ $match: { a: 1 } }] });
    }
    await s.createCollection('pipe', { viewOn: 'base', pipeline: [{ $match: { a: 1 } }] });
    await t.createCollection('pipe', { viewOn: 'base', pipeline: [{ $match: { a: 2 } }] });
    await s.createCollection('other', { viewOn: 'base', pipeline: [] });
    await t.createCollection('other', { viewOn: 'same', pipeline: [] });
    await s.createCollection('gone', { viewOn: 'base', pipeline: [] });
    await t.createCollection('extra_view', { viewOn: 'base', pipeline: [] });

    const report = await verifier(db).v.verify();
    const differences = (source: string) => {
      const ns = only(report, `${db}.${source}`);
      assert.equal(ns.kind, 'view');
      assert.equal(ns.ranges, 0);
      return ns.options.differences;
    };
    assert.deepEqual(differences('same'), []);
    assert.deepEqual(differences('pipe'), ['pipeline']);
    assert.deepEqual(differences('other'), ['viewOn']);
    assert.deepEqual(differences('gone'), ['exists']);
    assert.deepEqual(differences('extra_view'), ['exists']);
    assert.equal(only(report, `${db}.same`).equal, true);
    assert.equal(only(report, `${db}.base`).equal, true);
  });

  it('rechecks a differing range once the target caught up, and then finds it equal', async () => {
    const db = uniqueDbName('vlive');
    const ns = `${db}.live`;
    const docs = Array.from({ length: 20 }, (_, i) => ({ _id: i, v: i }));
    await insert(d.source, ns, docs);
    await insert(
      d.target,
      ns,
      docs.filter(doc => doc._id !== 9)
    );
    const optimes: Timestamp[] = [];
    const { v, mismatches } = verifier(db, {
      recheck: {
        // The "replication" of the missing write: applied when the verifier waits for it.
        caughtUp: async (optime, signal) => {
          assert.equal(signal.aborted, false);
          optimes.push(optime);
          await d.target.db(db).collection<AnyDoc>('live').insertOne({ _id: 9, v: 9 });
        }
      }
    });
    const report = await v.verify();
    const live = only(report, ns);
    assert.equal(report.equal, true, JSON.stringify(live));
    assert.equal(live.rechecked, 1);
    assert.deepEqual(live.counts, { source: 20, target: 20 });
    assert.equal(optimes.length, 1);
    assert.ok(optimes[0] instanceof Timestamp);
    assert.equal(mismatches.length, 0, 'a difference the recheck resolved is not reported');
  });

  it('keeps reporting a range that still differs after maxRechecks', async () => {
    const db = uniqueDbName('vstuck');
    const ns = `${db}.stuck`;
    const docs = Array.from({ length: 20 }, (_, i) => ({ _id: i }));
    await insert(d.source, ns, docs);
    await insert(
      d.target,
      ns,
      docs.filter(doc => doc._id !== 4)
    );
    let calls = 0;
    const { v, mismatches } = verifier(db, {
      recheck: { caughtUp: async () => void calls++, maxRechecks: 3 }
    });
    const report = await v.verify();
    const stuck = only(report, ns);
    assert.equal(report.equal, false);
    assert.deepEqual([stuck.rechecked, calls, stuck.missing], [3, 3, 1]);
    assert.deepEqual(stuck.counts, { source: 20, target: 19 });
    assert.deepEqual(
      mismatches.map(m => [m.kind, idKey(m.id)]),
      [['missing', idKey(4)]],
      'only the last reading is reported'
    );
  });

  it('rechecks against a running Replicator with caughtUpWith', async () => {
    const db = uniqueDbName('vrepl');
    const docs = Array.from({ length: 30 }, (_, i) => ({ _id: i, n: new Int32(i) }));
    await insertBoth(`${db}.items`, docs);
    const replicator = new Replicator({
      source: d.source,
      target: d.target,
      mode: 'incr',
      filter: { include: [`${db}.*`] },
      checkpoint: { name: db, store: new MemoryCheckpointStore() }
    });
    await replicator.start();
    try {
      const coll = d.source.db(db).collection<AnyDoc>('items');
      const session = d.source.startSession();
      try {
        await coll.insertOne({ _id: 100, n: new Int32(100) }, { session });
        await coll.updateOne({ _id: 3 }, { $set: { n: 'three' } }, { session });
      } finally {
        await session.endSession();
      }
      const optime = session.operationTime;
      assert.ok(optime instanceof Timestamp);
      // caughtUpWith resolves only once the replicator applied the writes.
      await withTimeout(
        caughtUpWith(replicator)(optime, new AbortController().signal),
        30_000,
        'the replicator to catch up'
      );
      assert.ok(await d.target.db(db).collection<AnyDoc>('items').findOne({ _id: 100 }));

      await coll.deleteOne({ _id: 7 });
      const report = await withTimeout(
        verifier(db, { recheck: { caughtUp: caughtUpWith(replicator) } }).v.verify(),
        30_000,
        'the verification'
      );
      assert.equal(report.equal, true, JSON.stringify(report.namespaces));
      assert.deepEqual(only(report, `${db}.items`).counts, { source: 30, target: 30 });
    } finally {
      await replicator.stop();
    }
  });

  it('stops when its signal aborts', async () => {
    const db = uniqueDbName('vabort');
    await insertBoth(`${db}.a`, [{ _id: 1 }]);
    const controller = new AbortController();
    const reason = new Error('enough');
    controller.abort(reason);
    const { v } = verifier(db, { signal: controller.signal });
    await assert.rejects(v.verify(), (error: unknown) => error === reason);

    // Aborted while a recheck waits: verify() rejects with the reason, nothing hangs.
    await insert(d.source, `${db}.b`, [{ _id: 1 }]);
    const late = new AbortController();
    const waiting = verifier(db, {
      signal: late.signal,
      recheck: {
        caughtUp: (_optime, signal) =>
          new Promise((_, reject) => {
            signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
            late.abort(reason);
          })
      }
    });
    await assert.rejects(
      withTimeout(waiting.v.verify(), 10_000, 'the aborted verification'),
      (error: unknown) => error === reason
    );
  });

  it('fails with a typed error naming the namespace, never a document, when a read fails', async () => {
    const db = uniqueDbName('verr');
    const secret = 'secret-value-do-not-log';
    await insertBoth(`${db}.s`, [{ _id: secret, v: secret }]);
    await d.target.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['find'], errorCode: 13, namespace: `${db}.s` }
    });
    try {
      const { v } = verifier(db);
      const error = await v.verify().then(
        () => undefined,
        (e: unknown) => e
      );
      assert.ok(error instanceof TargetWriteError, String(error));
      assert.equal(error.namespace, `${db}.s`);
      assert.match(error.message, /range 1\/1/);
      assert.match(error.message, /server error 13/);
      assert.equal(error.message.includes(secret), false);
    } finally {
      await d.target.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
    const report = await verifier(db).v.verify();
    assert.equal(report.equal, true);
  });
});
