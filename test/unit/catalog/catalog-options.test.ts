import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Double, Int32, Long, MongoClient } from 'mongodb';

import { resolveCatalogCopierOptions } from '../../../src/catalog/catalog-copier-options.js';
import { createFields, optionDifferences } from '../../../src/catalog/collection-options.js';
import { indexSpecsToCreate } from '../../../src/catalog/index-specs.js';
import { planTarget } from '../../../src/catalog/target-plan.js';
import { InvalidConfigError } from '../../../src/errors.js';
import { NamespaceFilter } from '../../../src/namespace/namespace-filter.js';

const FR = {
  locale: 'fr',
  caseLevel: false,
  caseFirst: 'off',
  strength: new Int32(3),
  numericOrdering: false,
  alternate: 'non-ignorable',
  maxVariable: 'punct',
  normalization: false,
  backwards: false,
  version: '57.1'
};

describe('catalog copier: create options', () => {
  it('passes listed options through in order and with their BSON types', () => {
    const options = {
      capped: true,
      size: new Long(8192),
      max: new Int32(10),
      validator: { n: { $gte: new Long(0) } },
      validationLevel: 'moderate',
      validationAction: 'warn',
      collation: FR,
      changeStreamPreAndPostImages: { enabled: true },
      storageEngine: { wiredTiger: { configString: 'block_compressor=zstd' } },
      indexOptionDefaults: { storageEngine: { wiredTiger: {} } }
    };
    const { fields, dropped } = createFields(options);
    assert.deepEqual(fields, options);
    assert.deepEqual(Object.keys(fields), Object.keys(options));
    assert.ok(fields.size instanceof Long);
    assert.deepEqual(dropped, []);
  });

  it('leaves out what create refuses and strips the idIndex namespace', () => {
    const { fields, dropped } = createFields(
      { temp: true, flags: new Int32(1), recordPreImages: true, expireAfterSeconds: new Int32(5) },
      { v: new Int32(2), key: { _id: new Int32(1) }, name: '_id_', ns: 'src.c', collation: FR }
    );
    assert.deepEqual(fields, {
      expireAfterSeconds: new Int32(5),
      idIndex: { v: new Int32(2), key: { _id: new Int32(1) }, name: '_id_', collation: FR }
    });
    assert.deepEqual(dropped, ['temp', 'flags', 'recordPreImages']);
  });
});

describe('catalog copier: option compatibility', () => {
  const collection = (options: object, type = 'collection') => ({ type, options });

  it('treats defaults, numeric types and the ICU version as equal', () => {
    assert.deepEqual(
      optionDifferences(
        collection({
          capped: true,
          size: new Int32(5120),
          validator: { a: 1 },
          collation: FR,
          changeStreamPreAndPostImages: { enabled: false },
          storageEngine: { wiredTiger: {} }
        }),
        collection({
          capped: true,
          size: new Long(5120),
          validator: { a: new Double(1) },
          validationLevel: 'strict',
          validationAction: 'error',
          collation: { ...FR, version: '60.2' }
        })
      ),
      []
    );
    assert.deepEqual(
      optionDifferences(
        collection({ collation: { locale: 'simple' }, clusteredIndex: true }),
        collection({ clusteredIndex: { v: 2, key: { _id: 1 }, name: '_id_', unique: true } })
      ),
      []
    );
  });

  it('names every option that changes what a collection holds', () => {
    assert.deepEqual(
      optionDifferences(
        collection({ capped: true, size: 4096, max: 5, validator: { a: 1 }, collation: FR }),
        collection({ capped: true, size: 8192, validationAction: 'warn' })
      ),
      ['size', 'max', 'validator', 'validationAction', 'collation']
    );
    assert.deepEqual(
      optionDifferences(
        collection({ timeseries: { timeField: 't', metaField: 'm' } }, 'timeseries'),
        collection({}, 'collection')
      ),
      ['type', 'timeseries']
    );
    assert.deepEqual(
      optionDifferences(
        collection({ viewOn: 'a', pipeline: [{ $sort: { x: 1, y: 1 } }] }, 'view'),
        collection({ viewOn: 'a', pipeline: [{ $sort: { y: 1, x: 1 } }] }, 'view')
      ),
      ['pipeline'],
      'field order inside a pipeline matters'
    );
  });
});

describe('catalog copier: what to do with an existing target', () => {
  const expected = { type: 'collection', options: { validator: { a: 1 } } };
  const same = { type: 'collection', options: { validator: { a: 1 } } };
  const other = { type: 'collection', options: {} };

  it('creates a missing namespace under every policy', () => {
    for (const policy of ['fail', 'drop', 'append'] as const) {
      assert.equal(planTarget(policy, expected, undefined).action, 'create');
    }
  });

  it('keeps an empty compatible collection, whatever the policy', () => {
    for (const policy of ['fail', 'drop', 'append'] as const) {
      assert.equal(planTarget(policy, expected, { ...same, empty: true }).action, 'keep');
    }
  });

  it('refuses, drops or keeps a non-empty compatible collection per policy', () => {
    const existing = { ...same, empty: false };
    assert.deepEqual(planTarget('fail', expected, existing), {
      action: 'refuse',
      reason: 'notEmpty',
      differences: []
    });
    assert.equal(planTarget('drop', expected, existing).action, 'dropAndCreate');
    assert.equal(planTarget('append', expected, existing).action, 'keep');
  });

  it('replaces an incompatible namespace only under "drop"', () => {
    for (const empty of [true, false]) {
      const existing = { ...other, empty };
      assert.deepEqual(planTarget('fail', expected, existing), {
        action: 'refuse',
        reason: 'incompatible',
        differences: ['validator']
      });
      assert.equal(planTarget('append', expected, existing).action, 'refuse');
      assert.equal(planTarget('drop', expected, existing).action, 'dropAndCreate');
    }
  });
});

describe('catalog copier: index specs', () => {
  const id = { v: new Int32(2), key: { _id: new Int32(1) }, name: '_id_' };

  it('skips the built-in index and keeps every option with its type', () => {
    const text = {
      v: new Int32(2),
      key: { _fts: 'text', _ftsx: new Int32(1) },
      name: 'body_text',
      weights: { body: new Int32(3) },
      default_language: 'german',
      language_override: 'lang',
      textIndexVersion: new Int32(3)
    };
    const ttl = {
      v: new Int32(2),
      key: { at: new Int32(1) },
      name: 'at_1',
      expireAfterSeconds: new Long(60),
      hidden: true,
      partialFilterExpression: { at: { $exists: true } }
    };
    const clustered = { ...id, name: 'byId', unique: true, clustered: true };
    assert.deepEqual(indexSpecsToCreate([id, clustered, text, ttl], undefined), [text, ttl]);
  });

  it('drops the fields createIndexes does not need', () => {
    assert.deepEqual(
      indexSpecsToCreate(
        [{ v: 1, key: { a: 1 }, name: 'a_1', ns: 'src.c', background: true, dropDups: true }],
        undefined
      ),
      [{ v: 1, key: { a: 1 }, name: 'a_1' }]
    );
  });

  it('pins v2 indexes without a collation to simple on a collection with a default collation', () => {
    const inherited = { v: new Int32(2), key: { a: new Int32(1) }, name: 'a_1', collation: FR };
    const simple = { v: new Int32(2), key: { b: new Int32(1) }, name: 'b_1' };
    const v1 = { v: new Int32(1), key: { c: new Int32(1) }, name: 'c_1' };
    assert.deepEqual(indexSpecsToCreate([{ ...id, collation: FR }, inherited, simple, v1], FR), [
      inherited,
      { ...simple, collation: { locale: 'simple' } },
      v1
    ]);
    assert.deepEqual(indexSpecsToCreate([simple], { locale: 'simple' }), [simple]);
  });
});

describe('catalog copier: options', () => {
  const client = new MongoClient('mongodb://127.0.0.1:1');
  const filter = new NamespaceFilter();

  it('applies the defaults', () => {
    const resolved = resolveCatalogCopierOptions({ source: client, target: client, filter });
    assert.equal(resolved.onExistingTarget, 'fail');
    assert.ok(Object.isFrozen(resolved));
  });

  it('names the invalid field before any I/O', () => {
    const cases: [object, string][] = [
      [{ target: client, filter }, 'source'],
      [{ source: client, target: 'mongodb://x', filter }, 'target'],
      [{ source: client, target: client, filter: { include: ['a'] } }, 'filter'],
      [{ source: client, target: client, filter, onExistingTarget: 'replace' }, 'onExistingTarget'],
      [{ source: client, target: client, filter, logger: {} }, 'logger'],
      [{ source: client, target: client, filter, batchSize: 1 }, 'batchSize']
    ];
    for (const [options, field] of cases) {
      assert.throws(
        () => resolveCatalogCopierOptions(options as never),
        (error: unknown) => error instanceof InvalidConfigError && error.field === field,
        field
      );
    }
  });
});
