import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidConfigError } from '../../../src/errors.js';
import {
  formatNamespace,
  isValidNamespace,
  parseNamespace,
  splitNamespace
} from '../../../src/namespace/namespace.js';

describe('parseNamespace', () => {
  it('splits at the first dot; collection names keep their dots', () => {
    assert.deepEqual(parseNamespace('shop.orders.archive'), {
      db: 'shop',
      coll: 'orders.archive'
    });
    assert.equal(formatNamespace({ db: 'shop', coll: 'orders.archive' }), 'shop.orders.archive');
  });

  it('accepts the special $ collections', () => {
    assert.deepEqual(parseNamespace('shop.$cmd'), { db: 'shop', coll: '$cmd' });
    assert.ok(isValidNamespace('local.oplog.$main'));
  });

  const invalid: [string, RegExp][] = [
    ['shop', /expected "database.collection"/],
    ['.orders', /must not be empty/],
    ['shop.', /collection name must not be empty/],
    ['sh op.orders', /contains " "/],
    ['sh$op.orders', /contains "\$"/],
    ['sh/op.orders', /contains "\/"/],
    ['sh\\op.orders', /contains "\\\\"/],
    ['sh"op.orders', /contains/],
    ['sh\0op.orders', /contains/],
    ['shop.ord$ers', /contains "\$"/],
    ['shop..orders', /starts with "\."/],
    ['shop.ord\0ers', /NUL/],
    [`${'d'.repeat(64)}.orders`, /64 bytes long; the limit is 63/],
    [`${'é'.repeat(32)}.orders`, /64 bytes long/],
    [`shop.${'c'.repeat(251)}`, /256 bytes long; the limit is 255/]
  ];
  for (const [ns, message] of invalid) {
    it(`rejects ${JSON.stringify(ns.slice(0, 20))} with a clear InvalidConfigError`, () => {
      assert.throws(
        () => parseNamespace(ns, 'filter.rename["x"]'),
        (error: unknown) =>
          error instanceof InvalidConfigError &&
          error.field === 'filter.rename["x"]' &&
          message.test(error.message)
      );
      assert.equal(isValidNamespace(ns), false);
    });
  }

  it('accepts a 63-byte database name', () => {
    assert.ok(isValidNamespace(`${'d'.repeat(63)}.orders`));
  });

  it('splitNamespace never throws', () => {
    assert.deepEqual(splitNamespace('shop'), { db: 'shop', coll: '' });
    assert.deepEqual(splitNamespace('a.b.c'), { db: 'a', coll: 'b.c' });
  });
});
