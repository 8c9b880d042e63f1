import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidConfigError } from '../../../src/errors.js';
import {
  NamespaceFilter,
  type NamespaceFilterOptions
} from '../../../src/namespace/namespace-filter.js';

function table(options: NamespaceFilterOptions, cases: Record<string, string | null>): void {
  const filter = new NamespaceFilter(options);
  for (const [ns, expected] of Object.entries(cases)) {
    assert.equal(filter.map(ns), expected, `map(${ns}) with ${filter.describe()}`);
    assert.equal(filter.accepts(ns), expected !== null, `accepts(${ns})`);
    // The memoised second answer must equal the first.
    assert.equal(filter.map(ns), expected);
  }
}

describe('NamespaceFilter: include and exclude', () => {
  it('an empty include accepts every non-system namespace', () => {
    table(
      {},
      {
        'shop.orders': 'shop.orders',
        'a.b.c': 'a.b.c',
        'admin.users': null,
        'config.chunks': null,
        'local.oplog.rs': null,
        'shop.system.js': null,
        'shop.system.views': null,
        'shop.system.buckets.weather': null
      }
    );
  });

  it('supports db, db.*, db.coll, *.coll, globs and RegExp', () => {
    table(
      { include: ['shop', 'crm.*', 'hr.people', '*.audit', 'logs.app_*', /^metrics\.(cpu|mem)$/g] },
      {
        'shop.orders': 'shop.orders',
        'crm.leads': 'crm.leads',
        'hr.people': 'hr.people',
        'hr.salaries': null,
        'billing.audit': 'billing.audit',
        'billing.audit2': null,
        'logs.app_1': 'logs.app_1',
        'logs.db_1': null,
        'metrics.cpu': 'metrics.cpu',
        'metrics.mem': 'metrics.mem', // the g flag was dropped: test() is not stateful
        'metrics.disk': null,
        shopx: null
      }
    );
  });

  it('exclude beats include', () => {
    table(
      { include: ['shop.*'], exclude: ['shop.tmp_*', /\.cache$/, '*.secret'] },
      {
        'shop.orders': 'shop.orders',
        'shop.tmp_1': null,
        'shop.cache': null,
        'shop.secret': null,
        'other.orders': null
      }
    );
  });

  it('system namespaces: excluded by default, opted in by includeSystem or an exact include', () => {
    table(
      { include: ['shop.*', 'shop.system.js', 'admin.settings'] },
      {
        'shop.system.js': 'shop.system.js',
        'shop.system.profile': null,
        'admin.settings': 'admin.settings',
        'admin.users': null
      }
    );
    table(
      { includeSystem: true },
      {
        'admin.system.users': 'admin.system.users',
        'config.settings': 'config.settings',
        'shop.system.js': 'shop.system.js',
        // Never: local is per node, and views travel as create DDL entries.
        'local.oplog.rs': null,
        'shop.system.views': null
      }
    );
    table(
      { include: ['local.oplog.rs', 'shop.system.views'] },
      {
        'local.oplog.rs': null,
        'shop.system.views': null
      }
    );
  });

  it('rejects invalid patterns naming the field', () => {
    assert.throws(
      () => new NamespaceFilter({ include: ['shop', 'bad db.x'] }),
      (error: unknown) => error instanceof InvalidConfigError && error.field === 'filter.include[1]'
    );
    assert.throws(
      () => new NamespaceFilter({ exclude: ['shop.'] }),
      (error: unknown) => error instanceof InvalidConfigError && error.field === 'filter.exclude[0]'
    );
  });
});

describe('NamespaceFilter: rename', () => {
  it('collection rules beat database rules', () => {
    table(
      {
        rename: { 'shop.*': 'shop_copy.*', 'shop.orders': 'shop_copy.orders_v2', legacy: 'modern' }
      },
      {
        'shop.orders': 'shop_copy.orders_v2',
        'shop.items': 'shop_copy.items',
        'shop.a.b': 'shop_copy.a.b',
        'legacy.x': 'modern.x',
        'other.x': 'other.x'
      }
    );
  });

  it('renames only accepted namespaces', () => {
    table(
      { include: ['shop.*'], exclude: ['shop.tmp'], rename: { 'shop.*': 'copy.*' } },
      { 'shop.tmp': null, 'shop.a': 'copy.a' }
    );
  });

  it('allows a swap of two collections', () => {
    table({ rename: { 'a.x': 'a.y', 'a.y': 'a.x' } }, { 'a.x': 'a.y', 'a.y': 'a.x' });
  });

  const invalid: [string, Record<string, string>, RegExp][] = [
    ['an invalid target', { 'shop.orders': 'bad db.orders' }, /contains " "/],
    ['a target without a collection', { 'shop.orders': 'copy' }, /must map to a "db.collection"/],
    ['a database rule into a collection', { 'shop.*': 'copy.orders' }, /must map to a database/],
    ['a wildcard inside a rule', { 'shop.tmp_*': 'copy.tmp_*' }, /wildcards elsewhere/],
    ['two collections into one', { 'a.x': 'c.d', 'b.y': 'c.d' }, /both rename to "c.d"/],
    ['two databases into one', { 'a.*': 'c.*', b: 'c' }, /both rename into database "c"/],
    [
      'a collection into a database another rule fills',
      { 'a.*': 'c.*', 'x.y': 'c.d' },
      /which rule "a.\*" also renames into/
    ]
  ];
  for (const [what, rename, message] of invalid) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => new NamespaceFilter({ rename }),
        (error: unknown) =>
          error instanceof InvalidConfigError &&
          error.field.startsWith('filter.rename[') &&
          message.test(error.message)
      );
    });
  }

  it('allows a rename inside a moved database', () => {
    table(
      { rename: { 'a.*': 'c.*', 'a.x': 'c.y', 'a.y': 'c.x' } },
      { 'a.x': 'c.y', 'a.y': 'c.x', 'a.z': 'c.z' }
    );
  });
});

describe('NamespaceFilter: databases', () => {
  it('acceptsDatabase says whether any collection of a database may be replicated', () => {
    const filter = new NamespaceFilter({
      include: ['shop.*', '*.audit', 'hr.people'],
      exclude: ['tmp']
    });
    assert.equal(filter.acceptsDatabase('shop'), true);
    assert.equal(filter.acceptsDatabase('hr'), true);
    assert.equal(filter.acceptsDatabase('billing'), true); // billing.audit
    assert.equal(filter.acceptsDatabase('tmp'), false);
    assert.equal(filter.acceptsDatabase('admin'), false);
    assert.equal(filter.acceptsDatabase('local'), false);
    assert.equal(new NamespaceFilter({ include: ['hr.people'] }).acceptsDatabase('shop'), false);
    assert.equal(new NamespaceFilter({ includeSystem: true }).acceptsDatabase('admin'), true);
  });

  it('mapDatabase names a target only when the whole database maps to it', () => {
    const filter = new NamespaceFilter({
      include: ['shop', 'crm.*', 'hr.people', /^logs\./, 'split', 'mixed', 'donor'],
      exclude: ['crm.tmp_*'],
      rename: { 'shop.*': 'shop_copy.*', 'split.a': 'elsewhere.a', 'donor.x': 'mixed.x' }
    });
    assert.equal(filter.mapDatabase('shop'), 'shop_copy');
    assert.equal(filter.mapDatabase('crm'), null, 'an exclude inside it');
    assert.equal(filter.mapDatabase('hr'), null, 'only one collection included');
    assert.equal(filter.mapDatabase('logs'), null, 'a RegExp include proves nothing');
    assert.equal(filter.mapDatabase('split'), null, 'a collection renamed out of it');
    assert.equal(filter.mapDatabase('mixed'), null, 'receives a collection from another db');
    assert.equal(filter.mapDatabase('other'), null, 'not included');
    assert.equal(new NamespaceFilter().mapDatabase('other'), 'other');
    assert.equal(new NamespaceFilter().mapDatabase('admin'), null);
    assert.equal(
      new NamespaceFilter({ rename: { 'a.*': 'c.*', 'a.x': 'c.y', 'a.y': 'c.x' } }).mapDatabase(
        'a'
      ),
      'c',
      'renames inside the moved database keep it whole'
    );
  });

  it('describe() summarises the configuration', () => {
    const filter = new NamespaceFilter({
      include: ['shop.*'],
      exclude: ['shop.tmp_*'],
      rename: { 'shop.*': 'shop_copy.*' }
    });
    assert.equal(
      filter.describe(),
      'include [shop.*] exclude [shop.tmp_*] rename {shop.* → shop_copy.*} system excluded'
    );
    assert.equal(new NamespaceFilter().describe(), 'include everything system excluded');
  });

  it("never accepts the replicator's own namespaces, whatever the options say", () => {
    for (const filter of [
      new NamespaceFilter(),
      new NamespaceFilter({ includeSystem: true }),
      new NamespaceFilter({ include: ['mongo_replicate.checkpoints', 'mongo_replicate.*'] })
    ]) {
      assert.equal(filter.map('mongo_replicate.checkpoints'), null);
      assert.equal(filter.map('mongo_replicate.fences'), null);
      assert.equal(filter.acceptsDatabase('mongo_replicate'), false);
      assert.equal(filter.mapDatabase('mongo_replicate'), null);
    }
    const elsewhere = new NamespaceFilter({}, { reservedNamespaces: ['ops.checkpoints'] });
    assert.equal(elsewhere.map('ops.checkpoints'), null, 'a checkpoint store placed elsewhere');
    assert.equal(elsewhere.map('ops.jobs'), 'ops.jobs');
  });

  it('refuses renames into server, system or replicator namespaces', () => {
    const refused = (rename: Record<string, string>, context = {}) =>
      assert.throws(
        () => new NamespaceFilter({ rename }, context),
        (error: unknown) =>
          error instanceof InvalidConfigError &&
          error.field.startsWith('filter.rename[') &&
          /cannot rename into it/.test(error.message)
      );
    refused({ 'shop.*': 'admin.*' });
    refused({ shop: 'local' });
    refused({ 'shop.*': 'config.*' });
    refused({ 'shop.users': 'admin.users' });
    refused({ 'shop.users': 'shop.system.users' });
    refused({ 'shop.*': 'mongo_replicate.*' });
    refused({ 'shop.a': 'mongo_replicate.checkpoints' });
    refused({ 'shop.a': 'ops.checkpoints' }, { reservedNamespaces: ['ops.checkpoints'] });
    assert.equal(new NamespaceFilter({ rename: { 'shop.*': 'shop2.*' } }).map('shop.a'), 'shop2.a');
  });
});

describe('NamespaceFilter: skip', () => {
  const refuses = (skip: unknown, field: string, message?: RegExp) =>
    assert.throws(
      () => new NamespaceFilter({ skip } as NamespaceFilterOptions),
      (error: unknown) =>
        error instanceof InvalidConfigError &&
        error.field === field &&
        (message === undefined || message.test(error.message))
    );

  it('skips write kinds; replacements are updates', () => {
    const filter = new NamespaceFilter({ skip: ['delete', 'update'] });
    assert.equal(filter.skipsWrite('d'), true);
    assert.equal(filter.skipsWrite('u'), true);
    assert.equal(filter.skipsWrite('i'), false);
    assert.equal(filter.skipsCommand('drop'), false);
    assert.deepEqual(filter.skipped, ['delete', 'update']);
    assert.match(filter.describe(), /skip \[delete, update\]$/);
  });

  it('skips one DDL command by the name the target runs it under, or every one with "ddl"', () => {
    const indexes = new NamespaceFilter({ skip: ['createIndexes', 'dropIndexes'] });
    for (const command of ['createIndexes', 'commitIndexBuild', 'dropIndexes', 'deleteIndexes']) {
      assert.equal(indexes.skipsCommand(command), true, command);
    }
    assert.equal(indexes.skipsCommand('drop'), false);
    const ddl = new NamespaceFilter({ skip: ['ddl'] });
    for (const command of ['create', 'drop', 'renameCollection', 'dropDatabase', 'collMod']) {
      assert.equal(ddl.skipsCommand(command), true, command);
    }
    // Transactions are not DDL, and an unknown command is never skipped (it stops replication).
    assert.equal(ddl.skipsCommand('applyOps'), false);
    assert.equal(ddl.skipsCommand('frobnicate'), false);
    assert.equal(ddl.skipsWrite('i'), false);
    assert.deepEqual(new NamespaceFilter().skipped, []);
  });

  it('refuses a name it does not know by its index, listing what it knows', () => {
    refuses(['delete', 'dropCollection'], 'filter.skip[1]', /"dropDatabase".*"dropCollection"/);
    refuses(['applyOps'], 'filter.skip[0]');
    refuses([3], 'filter.skip[0]');
    refuses('delete', 'filter.skip', /expected an array/);
  });
});
