import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { type Document, Int32, Long, type MongoClient } from 'mongodb';

import { CatalogCopier } from '../../src/catalog/catalog-copier.js';
import {
  type CatalogCreatedEvent,
  type CatalogDroppedEvent
} from '../../src/catalog/catalog-copier-events.js';
import { type OnExistingTarget } from '../../src/catalog/target-plan.js';
import { InvalidConfigError, TargetExistsError } from '../../src/errors.js';
import { type Logger } from '../../src/logger.js';
import { NamespaceFilter } from '../../src/namespace/namespace-filter.js';
import { type Deployments, startDeployments, uniqueDbName } from '../support/deployments.js';
import { recordingLogger } from '../support/recording-logger.js';

const EXACT = {
  promoteValues: false,
  promoteLongs: false,
  promoteBuffers: false,
  bsonRegExp: true
};

/** Every collection and view of `db` (no `system.*`) as listCollections reports it, by name. */
async function collectionsOf(client: MongoClient, db: string): Promise<Document[]> {
  const listed = await client
    .db(db)
    .listCollections({}, { nameOnly: false, ...EXACT })
    .toArray();
  return listed
    .filter(c => !c.name.startsWith('system.'))
    .map(c => ({
      name: c.name,
      type: c.type,
      options: c.options,
      idIndex: (c as Document).idIndex,
      readOnly: c.info?.readOnly
    }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The listIndexes specs of every collection (not view) of `db`, by collection name. */
async function indexesOf(client: MongoClient, db: string): Promise<Record<string, Document[]>> {
  const out: Record<string, Document[]> = {};
  for (const c of await collectionsOf(client, db)) {
    if (c.type === 'view') continue;
    out[c.name as string] = await client
      .db(db)
      .collection(c.name as string)
      .listIndexes(EXACT)
      .toArray();
  }
  return out;
}

describe('CatalogCopier', () => {
  let deployments: Deployments;
  let source: MongoClient;
  let target: MongoClient;
  const src = uniqueDbName('catsrc');
  const targets: string[] = [];
  /** A target database of its own for one test, and the filter renaming the source into it. */
  const filterInto = (name: string): { dst: string; filter: NamespaceFilter } => {
    const dst = uniqueDbName(name);
    targets.push(dst);
    return {
      dst,
      filter: new NamespaceFilter({
        include: [`${src}.*`],
        exclude: [`${src}.secret`],
        rename: { [`${src}.*`]: `${dst}.*` }
      })
    };
  };
  const copier = (filter: NamespaceFilter, onExistingTarget?: OnExistingTarget, logger?: Logger) =>
    new CatalogCopier({
      source,
      target,
      filter,
      ...(onExistingTarget === undefined ? {} : { onExistingTarget }),
      ...(logger === undefined ? {} : { logger })
    });
  /** The whole catalog sequence, as a full copy runs it; returns the events. */
  const copyAll = async (c: CatalogCopier) => {
    const created: CatalogCreatedEvent[] = [];
    const dropped: CatalogDroppedEvent[] = [];
    c.on('created', e => created.push(e));
    c.on('dropped', e => dropped.push(e));
    const catalog = await c.listSource();
    await c.checkTargets(catalog);
    for (const collection of catalog.collections) {
      await c.prepareCollection(collection);
      await c.copyIndexes(collection);
    }
    await c.createViews(catalog.views);
    return { catalog, created, dropped };
  };

  before(async () => {
    deployments = await startDeployments();
    source = deployments.source;
    target = deployments.target;
    const db = source.db(src);
    await db.createCollection('capped', { capped: true, size: 8192, max: 100 });
    await db.createCollection('validated', {
      validator: { qty: { $gte: new Long(0) } },
      validationLevel: 'moderate',
      validationAction: 'warn'
    });
    await db.createCollection('localized', { collation: { locale: 'fr', strength: 2 } });
    await db.createCollection('clustered', {
      clusteredIndex: { key: { _id: 1 }, unique: true },
      expireAfterSeconds: 3600
    });
    await db.createCollection('weather', {
      timeseries: { timeField: 'ts', metaField: 'sensor', granularity: 'minutes' },
      expireAfterSeconds: 86_400
    });
    await db.createCollection('secret');
    await db.createCollection('items');
    await db.command({
      createIndexes: 'items',
      indexes: [
        { key: { a: 1, b: -1 }, name: 'a_b', unique: true },
        { key: { s: 1 }, name: 's_1', sparse: true },
        { key: { p: 1 }, name: 'p_1', partialFilterExpression: { p: { $gt: 5 } } },
        { key: { at: 1 }, name: 'at_1', expireAfterSeconds: new Int32(3600) },
        { key: { h: 1 }, name: 'h_hidden', hidden: true },
        {
          key: { body: 'text', tag: 'text' },
          name: 'body_text',
          weights: { body: 5 },
          default_language: 'german',
          language_override: 'lang'
        },
        { key: { loc: '2dsphere' }, name: 'loc_2dsphere' },
        { key: { pt: '2d' }, name: 'pt_2d', bits: 20, min: -100, max: 100 },
        { key: { k: 'hashed' }, name: 'k_hashed' },
        { key: { '$**': 1 }, name: 'wild', wildcardProjection: { doc: 1 } },
        { key: { title: 1 }, name: 'title_de', collation: { locale: 'de' } }
      ]
    });
    await db.command({
      createIndexes: 'localized',
      indexes: [
        { key: { name: 1 }, name: 'name_1' },
        { key: { code: 1 }, name: 'code_1', collation: { locale: 'simple' } },
        { key: { body: 'text' }, name: 'body_text', collation: { locale: 'simple' } }
      ]
    });
    // A view on a view, created before the view it reads so that listing order is not enough.
    await db.createCollection('expensive_sorted', {
      viewOn: 'expensive',
      pipeline: [{ $sort: { price: -1 } }],
      collation: { locale: 'en' }
    });
    await db.createCollection('expensive', {
      viewOn: 'items',
      pipeline: [{ $match: { price: { $gt: 10 } } }],
      collation: { locale: 'en' }
    });
    await db.createCollection('secret_view', { viewOn: 'secret', pipeline: [] });
    await db.collection('items').insertMany([
      { a: 1, b: 1, price: 20 },
      { a: 2, b: 1, price: 5 }
    ]);
    await db.collection('weather').insertOne({ ts: new Date(), sensor: 'north', temp: 20 });
  });

  after(async () => {
    await source.db(src).dropDatabase();
    for (const dst of targets) await target.db(dst).dropDatabase();
    await deployments.close();
  });

  it('lists the selected catalog: kinds, options, indexes, and views in dependency order', async () => {
    const { filter, dst } = filterInto('catlist');
    const catalog = await copier(filter).listSource();
    assert.deepEqual(catalog.collections.map(c => [c.sourceNs, c.targetNs, c.type]).sort(), [
      [`${src}.capped`, `${dst}.capped`, 'collection'],
      [`${src}.clustered`, `${dst}.clustered`, 'collection'],
      [`${src}.items`, `${dst}.items`, 'collection'],
      [`${src}.localized`, `${dst}.localized`, 'collection'],
      [`${src}.validated`, `${dst}.validated`, 'collection'],
      [`${src}.weather`, `${dst}.weather`, 'timeseries']
    ]);
    const views = catalog.views.map(v => v.sourceNs);
    assert.deepEqual([...views].sort(), [
      `${src}.expensive`,
      `${src}.expensive_sorted`,
      `${src}.secret_view`
    ]);
    assert.ok(views.indexOf(`${src}.expensive`) < views.indexOf(`${src}.expensive_sorted`));
    const items = catalog.collections.find(c => c.sourceNs === `${src}.items`)!;
    assert.equal(items.indexes.length, 12);
    assert.ok(items.uuid !== undefined);
    assert.ok(catalog.views.every(v => v.indexes.length === 0));
  });

  it('copies collections, indexes and views with every option, renamed', async () => {
    const { filter, dst } = filterInto('catcopy');
    const logger = recordingLogger();
    const { created, dropped } = await copyAll(copier(filter, 'fail', logger));

    const expected = (await collectionsOf(source, src)).filter(c => c.name !== 'secret');
    assert.deepEqual(await collectionsOf(target, dst), expected);
    const sourceIndexes = await indexesOf(source, src);
    delete sourceIndexes.secret;
    assert.deepEqual(await indexesOf(target, dst), sourceIndexes);

    const indexCount = Object.values(sourceIndexes)
      .flat()
      .filter(spec => spec.name !== '_id_' && spec.clustered !== true).length;
    assert.equal(created.filter(e => e.kind === 'collection').length, 6);
    assert.deepEqual(
      created.filter(e => e.kind === 'view').map(e => e.namespace),
      [`${dst}.expensive`, `${dst}.expensive_sorted`, `${dst}.secret_view`]
    );
    assert.equal(created.filter(e => e.kind === 'index').length, indexCount);
    assert.ok(
      created.some(e => e.kind === 'index' && e.namespace === `${dst}.items` && e.name === 'wild')
    );
    assert.deepEqual(dropped, []);
    assert.equal(logger.warnings.length, 1);
    assert.deepEqual(logger.warnings[0]!.fields, {
      view: `${dst}.secret_view`,
      viewOn: `${dst}.secret`
    });
  });

  it('runs again without changing anything (resume)', async () => {
    const { filter, dst } = filterInto('catresume');
    await copyAll(copier(filter));
    const before = {
      collections: await collectionsOf(target, dst),
      indexes: await indexesOf(target, dst)
    };
    const again = await copyAll(copier(filter));
    assert.deepEqual(again.created, []);
    assert.deepEqual(again.dropped, []);
    assert.deepEqual(
      { collections: await collectionsOf(target, dst), indexes: await indexesOf(target, dst) },
      before
    );
    // Copied documents make the targets non-empty; a resumed copy appends to them.
    await target.db(dst).collection('items').insertOne({ a: 9, b: 9 });
    const resumed = await copyAll(copier(filter, 'append'));
    assert.deepEqual(resumed.created, []);
    assert.equal(await target.db(dst).collection('items').countDocuments(), 1);
  });

  it('"fail" refuses a non-empty target before writing anything anywhere', async () => {
    const { filter, dst } = filterInto('catfail');
    await target.db(dst).collection('items').insertOne({ existing: true });
    const sourceBefore = await collectionsOf(source, src);
    const c = copier(filter);
    const catalog = await c.listSource();
    const error = await c.checkTargets(catalog).catch((e: unknown) => e);
    assert.ok(error instanceof TargetExistsError, String(error));
    assert.equal(error.code, 'MR_TARGET_EXISTS');
    assert.equal(error.reason, 'notEmpty');
    assert.equal(error.namespace, `${dst}.items`);
    assert.match(error.message, /onExistingTarget/);
    assert.deepEqual(
      (await collectionsOf(target, dst)).map(c => c.name),
      ['items']
    );
    assert.deepEqual(await collectionsOf(source, src), sourceBefore);
    const items = catalog.collections.find(x => x.targetNs === `${dst}.items`)!;
    await assert.rejects(c.prepareCollection(items), TargetExistsError);
  });

  it('refuses a target created with other options unless the policy is "drop"', async () => {
    const { filter, dst } = filterInto('catincompat');
    await target.db(dst).createCollection('capped');
    for (const policy of ['fail', 'append'] as const) {
      const c = copier(filter, policy);
      const error = await c.checkTargets(await c.listSource()).catch((e: unknown) => e);
      assert.ok(error instanceof TargetExistsError, String(error));
      assert.equal(error.reason, 'incompatible');
      assert.match(error.message, /capped/);
    }
    const { dropped } = await copyAll(copier(filter, 'drop'));
    assert.deepEqual(dropped, [
      { kind: 'collection', namespace: `${dst}.capped`, reason: 'incompatible' }
    ]);
    const capped = (await collectionsOf(target, dst)).find(c => c.name === 'capped');
    assert.deepEqual(
      capped,
      (await collectionsOf(source, src)).find(c => c.name === 'capped')
    );
  });

  it('"drop" drops a non-empty target and recreates it from the source', async () => {
    const { filter, dst } = filterInto('catdrop');
    await target.db(dst).collection('items').insertOne({ existing: true });
    await target.db(dst).collection('items').createIndex({ stale: 1 });
    const { dropped } = await copyAll(copier(filter, 'drop'));
    assert.deepEqual(dropped, [
      { kind: 'collection', namespace: `${dst}.items`, reason: 'notEmpty' }
    ]);
    assert.equal(await target.db(dst).collection('items').countDocuments(), 0);
    assert.deepEqual((await indexesOf(target, dst)).items, (await indexesOf(source, src)).items);
  });

  it('"append" keeps a non-empty target and its documents', async () => {
    const { filter, dst } = filterInto('catappend');
    await target
      .db(dst)
      .collection('items')
      .insertOne({ _id: 'kept' as never, a: 0, b: 0 });
    const { created, dropped } = await copyAll(copier(filter, 'append'));
    assert.deepEqual(dropped, []);
    assert.ok(!created.some(e => e.kind === 'collection' && e.namespace === `${dst}.items`));
    assert.deepEqual(await target.db(dst).collection('items').find().toArray(), [
      { _id: 'kept', a: 0, b: 0 }
    ]);
    assert.deepEqual((await indexesOf(target, dst)).items, (await indexesOf(source, src)).items);
  });

  it('refuses rename rules that would copy two source collections onto one target', async () => {
    const filter = new NamespaceFilter({
      include: [`${src}.*`],
      rename: { [`${src}.capped`]: `${src}.items` }
    });
    await assert.rejects(
      copier(filter).listSource(),
      (e: unknown) => e instanceof InvalidConfigError && e.field === 'filter.rename'
    );
  });
});
