import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { errorOf, ids, match } from './fixtures.js';

describe('$expr in find filters', () => {
  it('keeps documents whose expression is truthy', () => {
    const docs = [
      { _id: 1, a: 1, b: 2 },
      { _id: 2, a: 3, b: 2 }
    ];
    assert.deepEqual(ids({ $expr: { $gt: ['$a', '$b'] } }, docs), [2]);
    assert.deepEqual(ids({ $expr: { $lt: ['$a', '$b'] }, a: 1 }, docs), [1]);
  });

  it('takes the expression language truthiness (0, null and false are false)', () => {
    assert.equal(match({ $expr: '$a' }, { a: 0 }), false);
    assert.equal(match({ $expr: '$a' }, { a: 'x' }), true);
    assert.equal(match({ $expr: '$missing' }, {}), false);
  });

  it('is only allowed at the top level', () => {
    assert.equal(errorOf(() => match({ a: { $elemMatch: { $expr: true } } }, {}))?.code, 2);
  });
});
