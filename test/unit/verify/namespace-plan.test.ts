import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type SourceCatalog } from '../../../src/catalog/index.js';
import { NamespaceFilter } from '../../../src/namespace/namespace-filter.js';
import { pairNamespaces } from '../../../src/verify/namespace-plan.js';
import { type TargetNamespace } from '../../../src/verify/target-catalog.js';

const collection = (sourceNs: string, targetNs: string) => ({
  sourceNs,
  targetNs,
  type: 'collection' as const,
  options: {},
  indexes: []
});

const target = (type = 'collection'): TargetNamespace => ({ type, options: {} });

describe('pairNamespaces', () => {
  const rename = { 'shop.*': 'copy.*', 'shop.people': 'copy.persons', 'shop.gone': 'copy.away' };
  const filter = new NamespaceFilter({ include: ['shop.*'], rename });
  const catalog: SourceCatalog = {
    collections: [collection('shop.items', 'copy.items')],
    views: [
      {
        sourceNs: 'shop.v',
        targetNs: 'copy.v',
        type: 'view',
        options: { viewOn: 'items', pipeline: [] },
        indexes: []
      }
    ]
  };
  const targets = new Map<string, TargetNamespace>([
    ['copy.items', target()],
    ['copy.stray', target()],
    ['copy.strayview', target('view')],
    ['copy.away', target()],
    ['copy.persons', target()],
    ['other.x', target()],
    ['mongo_replicate.checkpoints', target()]
  ]);

  it('pairs source namespaces with their targets, then finds target-only ones', () => {
    const pairs = pairNamespaces(catalog, targets, {
      filter,
      sourceDatabases: ['shop', 'admin'],
      renameRules: rename
    });
    assert.deepEqual(
      pairs.map(p => [
        p.source,
        p.target,
        p.kind,
        p.sourceEntry !== undefined,
        p.targetEntry?.type
      ]),
      [
        ['shop.items', 'copy.items', 'collection', true, 'collection'],
        ['shop.v', 'copy.v', 'view', true, undefined],
        ['shop.stray', 'copy.stray', 'collection', false, 'collection'],
        ['shop.strayview', 'copy.strayview', 'view', false, 'view'],
        ['shop.gone', 'copy.away', 'collection', false, 'collection'],
        ['shop.people', 'copy.persons', 'collection', false, 'collection']
      ]
    );
  });

  it('finds target-only namespaces of a filter given as an instance through the source databases', () => {
    const pairs = pairNamespaces(catalog, targets, {
      filter,
      sourceDatabases: ['shop'],
      renameRules: {}
    });
    const targetOnly = pairs.filter(p => p.sourceEntry === undefined).map(p => p.source);
    // Without the rules, shop.gone is unknown; the database rule gives shop.away and shop.persons.
    assert.deepEqual(targetOnly, ['shop.stray', 'shop.strayview', 'shop.away', 'shop.persons']);
  });

  it('leaves out namespaces the filter maps nothing onto', () => {
    const pairs = pairNamespaces(
      { collections: [], views: [] },
      new Map([
        ['mine.a', target()],
        ['admin.system.users', target()],
        ['mongo_replicate.checkpoints', target()]
      ]),
      { filter: new NamespaceFilter({ include: ['mine.*'] }), sourceDatabases: [], renameRules: {} }
    );
    assert.deepEqual(
      pairs.map(p => [p.source, p.target]),
      [['mine.a', 'mine.a']]
    );
  });
});
