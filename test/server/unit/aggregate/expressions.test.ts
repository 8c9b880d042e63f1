import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Decimal128, Long } from 'bson';

import { type BValue } from '../../bson/values.js';
import { evaluate, REMOVE } from '../../engine/aggregate/expressions.js';
import { ServerError } from '../../engine/server-error.js';
import { d, plain, v } from './fixtures.js';

const root = d({
  a: 1,
  b: 2.5,
  s: 'Hello',
  arr: [1, 2, 3],
  docs: [{ x: 1 }, { x: 2 }, { y: 3 }],
  n: null
});
const ev = (expr: unknown, r = root) => plain(evaluate(v(expr), { root: r }));
const code = (expr: unknown) => {
  try {
    evaluate(v(expr), { root });
  } catch (e) {
    assert.ok(e instanceof ServerError);
    return e.code;
  }
  assert.fail('expected an error');
};

describe('field paths and variables', () => {
  it('reads paths, arrays of documents and missing fields', () => {
    assert.equal(ev('$a'), '1i');
    assert.deepEqual(ev('$docs.x'), ['1i', '2i']);
    assert.equal(evaluate('$nope', { root }), REMOVE);
    assert.equal(evaluate('$$REMOVE', { root }), REMOVE);
    assert.deepEqual(ev({ k: '$nope', j: '$a' }), { j: '1i' });
  });
  it('supports $$ROOT, $$CURRENT, user variables and $let', () => {
    assert.equal(ev('$$ROOT.s'), 'Hello');
    assert.equal(
      plain(evaluate('$$x', { root, vars: new Map<string, BValue>([['x', 'y']]) })),
      'y'
    );
    assert.equal(
      ev({ $let: { vars: { t: { $add: ['$a', 1] } }, in: { $multiply: ['$$t', 2] } } }),
      '4i'
    );
    assert.equal(code('$$undefinedVar'), 17276);
  });
  it('rejects unknown operators with 168', () => {
    assert.equal(code({ $foo: 1 }), 168);
  });
});

describe('arithmetic result types', () => {
  it('keeps int, widens on overflow, doubles and decimals', () => {
    assert.equal(ev({ $add: [1, 2] }), '3i');
    assert.equal(ev({ $add: [2147483647, 1] }), '2147483648L');
    assert.equal(ev({ $add: [1, 0.5] }), '1.5d');
    assert.equal(plain(evaluate(v({ $add: [1, Decimal128.fromString('1.0')] }), { root })), '2.0m');
    assert.equal(ev({ $multiply: [3, 4] }), '12i');
    assert.equal(ev({ $divide: [1, 2] }), '0.5d');
    assert.equal(ev({ $divide: [6, 3] }), '2d');
    assert.equal(ev({ $mod: [7, 3] }), '1i');
    assert.equal(ev({ $subtract: [5, 7] }), '-2i');
    assert.equal(ev({ $add: [null, 1] }), null);
    assert.equal(ev({ $add: ['$missing', 1] }), null);
    assert.equal(ev({ $abs: -5 }), '5i');
    assert.equal(ev({ $pow: [2, 10] }), '1024i');
    assert.equal(ev({ $pow: [2, -1] }), '0.5d');
    assert.equal(ev({ $sqrt: 16 }), '4d');
    assert.equal(ev({ $round: [2.5] }), '2d');
    assert.equal(ev({ $round: [19.25, 1] }), '19.2d');
    assert.equal(ev({ $round: [1234, -2] }), '1200i');
    assert.equal(ev({ $trunc: [-2.7] }), '-2d');
    assert.equal(ev({ $ceil: 1.2 }), '2d');
    assert.equal(ev({ $floor: 1.8 }), '1d');
    assert.equal(
      plain(evaluate(v({ $divide: [Decimal128.fromString('1'), 3] }), { root })),
      '0.3333333333333333333333333333333333m'
    );
  });
  it('does date arithmetic', () => {
    const r = d({ t: new Date(1000) });
    assert.deepEqual(evaluate(v({ $add: ['$t', 500] }), { root: r }), new Date(1500));
    assert.deepEqual(
      evaluate(v({ $subtract: ['$t', new Date(400)] }), { root: r }),
      Long.fromNumber(600)
    );
    assert.deepEqual(evaluate(v({ $subtract: ['$t', 1000] }), { root: r }), new Date(0));
  });
  it('raises mongod errors', () => {
    assert.equal(code({ $divide: [1, 0] }), 2);
    assert.equal(code({ $mod: [1, 0] }), 16610);
    assert.equal(code({ $add: ['x', 1] }), 16554);
    assert.equal(code({ $sqrt: -1 }), 28714);
    assert.equal(code({ $abs: [1, 2] }), 16020);
    assert.equal(code({ $divide: ['x', 1] }), 16609);
    assert.equal(code({ $mod: [1, 'x'] }), 16611);
    assert.throws(
      () => evaluate(v({ $divide: ['x', 1] }), { root }),
      /^ServerError: \$divide only supports numeric types, not string and int$/
    );
  });
});

describe('comparison, boolean and conditionals', () => {
  it('compares across numeric types', () => {
    assert.equal(ev({ $eq: [1, 1.0] }), true);
    assert.equal(ev({ $gt: ['$b', '$a'] }), true);
    assert.equal(ev({ $cmp: ['a', 'b'] }), '-1i');
    assert.equal(ev({ $lt: ['$missing', null] }), true);
  });
  it('evaluates $and/$or/$not/$cond/$ifNull/$switch', () => {
    assert.equal(ev({ $and: [1, 'x'] }), true);
    assert.equal(ev({ $or: [0, null] }), false);
    assert.equal(ev({ $not: [0] }), true);
    assert.equal(ev({ $cond: [{ $gt: ['$a', 0] }, 'pos', 'neg'] }), 'pos');
    assert.equal(ev({ $cond: { if: false, then: 1, else: 2 } }), '2i');
    assert.equal(ev({ $ifNull: ['$n', '$missing', 'dflt'] }), 'dflt');
    assert.equal(ev({ $switch: { branches: [{ case: false, then: 1 }], default: 'd' } }), 'd');
    assert.equal(code({ $switch: { branches: [{ case: false, then: 1 }] } }), 40066);
  });
});

describe('strings', () => {
  it('implements the string operators', () => {
    assert.equal(ev({ $concat: ['$s', ' ', 'x'] }), 'Hello x');
    assert.equal(ev({ $concat: ['$s', null] }), null);
    assert.equal(ev({ $substrBytes: ['$s', 1, 3] }), 'ell');
    assert.equal(ev({ $substrCP: ['héllo', 1, 2] }), 'él');
    assert.equal(ev({ $toUpper: 'abcé' }), 'ABCé');
    assert.equal(ev({ $toLower: 5 }), '5');
    assert.equal(ev({ $strLenCP: 'héllo' }), '5i');
    assert.deepEqual(ev({ $split: ['a,b,c', ','] }), ['a', 'b', 'c']);
    assert.equal(ev({ $trim: { input: '  x  ' } }), 'x');
    assert.equal(ev({ $ltrim: { input: 'xxa', chars: 'x' } }), 'a');
    assert.equal(ev({ $indexOfCP: ['hello', 'l'] }), '2i');
    assert.equal(ev({ $strcasecmp: ['ABC', 'abc'] }), '0i');
    assert.equal(code({ $concat: [1] }), 16702);
  });
});

describe('arrays', () => {
  it('implements the array operators', () => {
    assert.equal(ev({ $size: '$arr' }), '3i');
    assert.equal(ev({ $arrayElemAt: ['$arr', -1] }), '3i');
    assert.equal(evaluate(v({ $arrayElemAt: ['$arr', 5] }), { root }), REMOVE);
    assert.deepEqual(ev({ $concatArrays: ['$arr', [4]] }), ['1i', '2i', '3i', '4i']);
    assert.deepEqual(ev({ $filter: { input: '$arr', as: 'x', cond: { $gte: ['$$x', 2] } } }), [
      '2i',
      '3i'
    ]);
    assert.deepEqual(ev({ $map: { input: '$arr', in: { $multiply: ['$$this', 10] } } }), [
      '10i',
      '20i',
      '30i'
    ]);
    assert.equal(
      ev({ $reduce: { input: '$arr', initialValue: 0, in: { $add: ['$$value', '$$this'] } } }),
      '6i'
    );
    assert.equal(ev({ $in: [2.0, '$arr'] }), true);
    assert.deepEqual(ev({ $slice: ['$arr', -2] }), ['2i', '3i']);
    assert.deepEqual(ev({ $slice: ['$arr', 1, 1] }), ['2i']);
    assert.equal(ev({ $first: '$arr' }), '1i');
    assert.equal(ev({ $last: '$arr' }), '3i');
    assert.equal(ev({ $isArray: ['$arr'] }), true);
    assert.deepEqual(ev({ $reverseArray: '$arr' }), ['3i', '2i', '1i']);
    assert.deepEqual(ev({ $range: [0, 6, 2] }), ['0i', '2i', '4i']);
    assert.equal(ev({ $indexOfArray: ['$arr', 3] }), '2i');
    assert.equal(code({ $size: 'x' }), 17124);
    assert.equal(code({ $in: [1, 'x'] }), 40081);
  });
});

describe('types and conversion', () => {
  it('converts like $convert', () => {
    assert.equal(ev({ $type: '$missing' }), 'missing');
    assert.equal(ev({ $type: '$b' }), 'double');
    assert.equal(ev({ $toString: 2.5 }), '2.5');
    assert.equal(ev({ $toString: 1234567.0 + 0.5 }), '1.23457e+06');
    assert.equal(ev({ $toInt: '42' }), '42i');
    assert.equal(ev({ $toInt: 2.9 }), '2i');
    assert.equal(ev({ $toLong: 5 }), '5L');
    assert.equal(ev({ $toDouble: '1.5' }), '1.5d');
    assert.equal(ev({ $toDecimal: 2.5 }), '2.50000000000000m');
    assert.equal(ev({ $toBool: 0 }), false);
    assert.equal(ev({ $toBool: '' }), true);
    assert.equal(ev({ $toObjectId: '5ab9cbfa31c2ab715d42129e' }), 'oid:5ab9cbfa31c2ab715d42129e');
    assert.deepEqual(
      evaluate(v({ $toDate: '2018-03-03T00:00:00Z' }), { root }),
      new Date('2018-03-03T00:00:00Z')
    );
    assert.equal(ev({ $convert: { input: 'x', to: 'int', onError: 'bad' } }), 'bad');
    assert.equal(ev({ $convert: { input: null, to: 'int', onNull: 'nul' } }), 'nul');
    assert.equal(ev({ $isNumber: '1' }), false);
    assert.equal(code({ $toInt: 'x' }), 241);
    assert.equal(code({ $toInt: 3.5e10 + 0.5 }), 241);
  });
});

describe('objects and dates', () => {
  it('implements the object operators', () => {
    assert.deepEqual(ev({ $mergeObjects: [{ a: 1, b: 1 }, null, { b: 2, c: 3 }] }), {
      a: '1i',
      b: '2i',
      c: '3i'
    });
    assert.deepEqual(ev({ $objectToArray: { x: 1 } }), [{ k: 'x', v: '1i' }]);
    assert.deepEqual(
      ev({
        $arrayToObject: [
          [
            ['x', 1],
            ['y', 2]
          ]
        ]
      }),
      { x: '1i', y: '2i' }
    );
    assert.deepEqual(ev({ $arrayToObject: [[{ k: 'x', v: 1 }]] }), { x: '1i' });
    assert.equal(ev({ $getField: 'a' }), '1i');
    assert.equal(ev({ $getField: { field: 'x', input: { x: 5 } } }), '5i');
    assert.deepEqual(ev({ $setField: { field: 'z', input: { x: 1 }, value: 2 } }), {
      x: '1i',
      z: '2i'
    });
    assert.deepEqual(ev({ $setField: { field: 'x', input: { x: 1 }, value: '$$REMOVE' } }), {});
    assert.equal(code({ $mergeObjects: [1] }), 40400);
  });
  it('extracts UTC date parts', () => {
    const r = d({ t: new Date('2020-02-29T13:14:15.016Z') });
    const part = (op: string) => plain(evaluate(v({ [op]: '$t' }), { root: r }));
    assert.equal(part('$year'), '2020i');
    assert.equal(part('$month'), '2i');
    assert.equal(part('$dayOfMonth'), '29i');
    assert.equal(part('$hour'), '13i');
    assert.equal(part('$minute'), '14i');
    assert.equal(part('$second'), '15i');
    assert.equal(part('$millisecond'), '16i');
    assert.equal(part('$dayOfWeek'), '7i');
    assert.equal(part('$dayOfYear'), '60i');
    assert.equal(
      plain(evaluate(v({ $year: { date: '$t', timezone: 'UTC' } }), { root: r })),
      '2020i'
    );
    assert.throws(
      () => evaluate(v({ $year: { date: '$t', timezone: 'Europe/Paris' } }), { root: r }),
      /not supported/
    );
  });
});
