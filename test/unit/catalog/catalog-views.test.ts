import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { orderViews, targetViewOn } from '../../../src/catalog/view-definitions.js';
import { InvalidConfigError } from '../../../src/errors.js';
import { NamespaceFilter } from '../../../src/namespace/namespace-filter.js';

const view = (sourceNs: string, viewOn: string, targetNs = sourceNs) => ({
  sourceNs,
  targetNs,
  options: { viewOn, pipeline: [] }
});

describe('catalog copier: view order', () => {
  it('puts every view after the view it reads, keeping the order otherwise', () => {
    const views = [
      view('a.top', 'middle'),
      view('a.other', 'coll'),
      view('a.middle', 'bottom'),
      view('a.bottom', 'coll'),
      view('b.top', 'bottom'),
      view('b.bottom', 'coll')
    ];
    assert.deepEqual(
      orderViews(views).map(v => v.sourceNs),
      ['a.bottom', 'a.middle', 'a.top', 'a.other', 'b.bottom', 'b.top']
    );
  });

  it('does not match a view on a collection of the same name in another database', () => {
    const views = [view('a.v', 'w'), view('b.w', 'coll')];
    assert.deepEqual(
      orderViews(views).map(v => v.sourceNs),
      ['a.v', 'b.w']
    );
  });

  it('terminates on a cycle, keeping each view once', () => {
    const views = [view('a.x', 'y'), view('a.y', 'x'), view('a.z', 'x')];
    const ordered = orderViews(views).map(v => v.sourceNs);
    assert.deepEqual([...ordered].sort(), ['a.x', 'a.y', 'a.z']);
    assert.ok(ordered.indexOf('a.z') > ordered.indexOf('a.x'));
  });
});

describe('catalog copier: what a view reads on the target', () => {
  const filter = new NamespaceFilter({
    include: ['src.*', 'other.*'],
    exclude: ['src.secret'],
    rename: { 'src.*': 'dst.*', 'src.orders': 'dst.orders_copy', 'other.x': 'elsewhere.x' }
  });

  it('follows the rename of the collection it reads', () => {
    assert.deepEqual(targetViewOn(view('src.v', 'items', 'dst.v'), filter), {
      viewOn: 'items',
      excluded: false
    });
    assert.deepEqual(targetViewOn(view('src.v', 'orders', 'dst.v'), filter), {
      viewOn: 'orders_copy',
      excluded: false
    });
  });

  it('keeps the name, in the view target database, when the filter excludes the source', () => {
    assert.deepEqual(targetViewOn(view('src.v', 'secret', 'dst.v'), filter), {
      viewOn: 'secret',
      excluded: true
    });
  });

  it('refuses rules that put a view and what it reads in different databases', () => {
    assert.throws(
      () => targetViewOn(view('other.v', 'x', 'other.v'), filter),
      (error: unknown) => error instanceof InvalidConfigError && error.field === 'filter.rename'
    );
  });
});
