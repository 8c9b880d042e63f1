import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Double, Long } from 'bson';

import { type BDoc } from '../../bson/values.js';
import { runPipeline } from '../../engine/aggregate/pipeline.js';
import { ServerError } from '../../engine/server-error.js';
import { d, plain, v } from './fixtures.js';

const collections: Record<string, BDoc[]> = {
  inventory: [
    d({ _id: 1, sku: 'a', qty: 10 }),
    d({ _id: 2, sku: 'b', qty: 5 }),
    d({ _id: 3, qty: 0 })
  ]
};
const ctx = { dbName: 'test', resolveCollection: (c: string) => collections[c] ?? [] };
const run = (docs: unknown[], pipeline: unknown[]) =>
  plain(
    runPipeline(
      docs.map(x => v(x) as BDoc),
      pipeline.map(x => v(x) as BDoc),
      ctx
    )
  );
const code = (pipeline: unknown[], docs: unknown[] = [{ _id: 1 }]) => {
  try {
    run(docs, pipeline);
  } catch (e) {
    assert.ok(e instanceof ServerError, String(e));
    return e.code;
  }
  assert.fail('expected an error');
};

describe('stage shape', () => {
  it('rejects malformed and unknown stages', () => {
    assert.equal(code([{ $match: {}, $limit: 1 }]), 40323);
    assert.equal(code([{ $foo: 1 }]), 40324);
    assert.equal(code([{ $out: 'x' }]), 238);
    assert.equal(code([{ $redact: '$$KEEP' }]), 238);
  });
});

describe('$project / $addFields / $unset', () => {
  const docs = [{ _id: 1, a: 1, b: { c: 2, d: 3 }, e: [{ c: 1, d: 2 }, 5, [{ c: 3 }]] }];
  it('includes in document order with _id first and computed fields last', () => {
    assert.deepEqual(run(docs, [{ $project: { x: '$a', a: 1 } }]), [
      { _id: '1i', a: '1i', x: '1i' }
    ]);
    assert.deepEqual(run(docs, [{ $project: { 'b.c': 1, _id: 0 } }]), [{ b: { c: '2i' } }]);
    assert.deepEqual(run(docs, [{ $project: { 'e.c': 1, _id: 0 } }]), [
      { e: [{ c: '1i' }, [{ c: '3i' }]] }
    ]);
    assert.deepEqual(run(docs, [{ $project: { _id: '$a', a: 1 } }]), [{ a: '1i', _id: '1i' }]);
  });
  it('excludes', () => {
    assert.deepEqual(run(docs, [{ $project: { b: 0, e: 0 } }]), [{ _id: '1i', a: '1i' }]);
    assert.deepEqual(run(docs, [{ $unset: ['b.c', 'e'] }]), [
      { _id: '1i', a: '1i', b: { d: '3i' } }
    ]);
  });
  it('rejects mixed projections with mongod codes', () => {
    assert.equal(code([{ $project: { a: 1, b: 0 } }]), 31254);
    assert.equal(code([{ $project: { a: 0, b: 1 } }]), 31253);
    assert.equal(code([{ $project: { a: 0, b: '$x' } }]), 31252);
    assert.equal(code([{ $project: {} }]), 51272);
    assert.equal(code([{ $project: { a: 1, 'a.b': 1 } }]), 31249);
    assert.equal(code([{ $project: { 'a.b': 1, a: 1 } }]), 31250);
  });
  it('$addFields overwrites in place and appends new fields', () => {
    const out = runPipeline(
      [d({ _id: 1, a: 1, b: 2 })],
      [v({ $addFields: { a: 'x', c: '$b', b: '$$REMOVE' } }) as BDoc],
      ctx
    );
    assert.deepEqual([...out[0]!.keys()], ['_id', 'a', 'c']);
    assert.deepEqual(run([{ _id: 1, s: { x: 1 } }], [{ $set: { s: { y: 2 } } }]), [
      { _id: '1i', s: { x: '1i', y: '2i' } }
    ]);
    assert.deepEqual(run([{ _id: 1, s: [{ x: 1 }, 2] }], [{ $set: { 's.y': 1 } }]), [
      { _id: '1i', s: [{ x: '1i', y: '1i' }, { y: '1i' }] }
    ]);
  });
});

describe('simple stages', () => {
  const docs = [
    { _id: 1, n: 3 },
    { _id: 2, n: 1 },
    { _id: 3, n: 2 }
  ];
  it('$match, $sort, $skip, $limit, $count', () => {
    assert.deepEqual(run(docs, [{ $match: { n: { $gte: 2 } } }, { $sort: { n: 1 } }]), [
      { _id: '3i', n: '2i' },
      { _id: '1i', n: '3i' }
    ]);
    assert.deepEqual(run(docs, [{ $match: { $expr: { $lt: ['$n', 2] } } }]), [
      { _id: '2i', n: '1i' }
    ]);
    assert.deepEqual(run(docs, [{ $sort: { n: -1 } }, { $skip: 1 }, { $limit: 1 }]), [
      { _id: '3i', n: '2i' }
    ]);
    assert.deepEqual(run(docs, [{ $count: 'total' }]), [{ total: '3i' }]);
    assert.deepEqual(run([], [{ $count: 'total' }]), []);
    assert.equal(code([{ $limit: 0 }]), 15958);
    assert.equal(code([{ $count: '$x' }]), 40158);
  });
  it('$sample takes distinct documents', () => {
    const out = run(docs, [{ $sample: { size: 2 } }]) as { _id: string }[];
    assert.equal(out.length, 2);
    assert.notEqual(out[0]!._id, out[1]!._id);
    assert.equal((run(docs, [{ $sample: { size: 10 } }]) as unknown[]).length, 3);
  });
});

describe('$group', () => {
  it('groups numerically equal ids of different types together', () => {
    const docs = [
      d({ k: 1, x: 1 }),
      new Map([
        ['k', new Double(1)],
        ['x', v(2)]
      ]),
      new Map([
        ['k', Long.fromNumber(1)],
        ['x', v(3)]
      ]),
      d({ k: 2, x: 4 })
    ];
    const out = plain(
      runPipeline(
        docs,
        [v({ $group: { _id: '$k', total: { $sum: '$x' }, n: { $count: {} } } }) as BDoc],
        ctx
      )
    );
    assert.deepEqual(out, [
      { _id: '1i', total: '6i', n: '3i' },
      { _id: '2i', total: '4i', n: '1i' }
    ]);
  });
  it('supports document and null _ids', () => {
    const docs = [{ a: 1, b: 1 }, { a: 1, b: 1 }, { a: 1 }];
    assert.deepEqual(run(docs, [{ $group: { _id: { a: '$a', b: '$b' }, c: { $sum: 1 } } }]), [
      { _id: { a: '1i', b: '1i' }, c: '2i' },
      { _id: { a: '1i' }, c: '1i' }
    ]);
    assert.deepEqual(run(docs, [{ $group: { _id: null, s: { $push: '$b' } } }]), [
      { _id: null, s: ['1i', '1i'] }
    ]);
    assert.equal(code([{ $group: { c: { $sum: 1 } } }]), 15955);
    assert.equal(code([{ $group: { _id: null, c: { $bogus: 1 } } }]), 15952);
  });
  it('$sortByCount', () => {
    assert.deepEqual(run([{ t: 'a' }, { t: 'b' }, { t: 'b' }], [{ $sortByCount: '$t' }]), [
      { _id: 'b', count: '2i' },
      { _id: 'a', count: '1i' }
    ]);
  });
});

describe('$bucket and $bucketAuto', () => {
  it('$bucket assigns [lower, upper) and default', () => {
    const docs = [{ p: 5 }, { p: 15 }, { p: 12 }, { p: 100 }, { p: 'x' }];
    assert.deepEqual(
      run(docs, [{ $bucket: { groupBy: '$p', boundaries: [0, 10, 20], default: 'other' } }]),
      [
        { _id: '0i', count: '1i' },
        { _id: '10i', count: '2i' },
        { _id: 'other', count: '2i' }
      ]
    );
    assert.equal(code([{ $bucket: { groupBy: '$p', boundaries: [0, 10] } }], [{ p: 50 }]), 40066);
    assert.equal(code([{ $bucket: { groupBy: '$p', boundaries: [10, 0] } }]), 40194);
  });
  it('$bucketAuto never splits equal values and chains boundaries', () => {
    const docs = [1, 1, 1, 2, 3, 4].map(p => ({ p }));
    assert.deepEqual(run(docs, [{ $bucketAuto: { groupBy: '$p', buckets: 3 } }]), [
      { _id: { min: '1i', max: '2i' }, count: '3i' },
      { _id: { min: '2i', max: '4i' }, count: '2i' },
      { _id: { min: '4i', max: '4i' }, count: '1i' }
    ]);
  });
  it('$bucketAuto orders mixed types by BSON order, missing as null', () => {
    const docs = [{ p: 'a' }, { p: 1 }, {}, { p: 2.5 }];
    assert.deepEqual(
      run(docs, [
        { $bucketAuto: { groupBy: '$p', buckets: 2, output: { vals: { $push: '$p' } } } }
      ]),
      [
        { _id: { min: null, max: '2.5d' }, vals: ['1i'] },
        { _id: { min: '2.5d', max: 'a' }, vals: ['2.5d', 'a'] }
      ]
    );
    assert.equal(code([{ $bucketAuto: { groupBy: '$p', buckets: 2, granularity: 'R5' } }]), 238);
    assert.equal(code([{ $bucketAuto: { groupBy: '$p', buckets: 0 } }]), 40243);
  });
});

describe('$unwind', () => {
  const docs = [
    { _id: 1, a: [1, 2] },
    { _id: 2, a: [] },
    { _id: 3, a: null },
    { _id: 4 },
    { _id: 5, a: 7 }
  ];
  it('unwinds arrays and scalars, drops null/missing/empty', () => {
    assert.deepEqual(run(docs, [{ $unwind: '$a' }]), [
      { _id: '1i', a: '1i' },
      { _id: '1i', a: '2i' },
      { _id: '5i', a: '7i' }
    ]);
  });
  it('preserves and indexes', () => {
    assert.deepEqual(
      run(docs, [
        { $unwind: { path: '$a', includeArrayIndex: 'i', preserveNullAndEmptyArrays: true } }
      ]),
      [
        { _id: '1i', a: '1i', i: '0L' },
        { _id: '1i', a: '2i', i: '1L' },
        { _id: '2i', i: null },
        { _id: '3i', a: null, i: null },
        { _id: '4i', i: null },
        { _id: '5i', a: '7i', i: null }
      ]
    );
    assert.equal(code([{ $unwind: 'a' }]), 28818);
  });
});

describe('$replaceRoot, $lookup, $facet', () => {
  it('$replaceRoot / $replaceWith', () => {
    assert.deepEqual(run([{ _id: 1, s: { x: 1 } }], [{ $replaceRoot: { newRoot: '$s' } }]), [
      { x: '1i' }
    ]);
    assert.deepEqual(
      run([{ _id: 1, s: { x: 1 } }], [{ $replaceWith: { $mergeObjects: [{ y: 0 }, '$s'] } }]),
      [{ y: '0i', x: '1i' }]
    );
    assert.equal(code([{ $replaceWith: '$nope' }]), 40228);
  });
  it('$lookup with localField/foreignField (arrays and missing match)', () => {
    const out = run(
      [{ _id: 1, item: ['a', 'b'] }, { _id: 2 }],
      [{ $lookup: { from: 'inventory', localField: 'item', foreignField: 'sku', as: 'inv' } }]
    ) as { inv: { _id: string }[] }[];
    assert.deepEqual(
      out[0]!.inv.map(x => x._id),
      ['1i', '2i']
    );
    assert.deepEqual(
      out[1]!.inv.map(x => x._id),
      ['3i']
    );
  });
  it('$lookup with let and pipeline', () => {
    const out = run(
      [{ _id: 1, min: 5 }],
      [
        {
          $lookup: {
            from: 'inventory',
            let: { m: '$min' },
            pipeline: [{ $match: { $expr: { $gte: ['$qty', '$$m'] } } }, { $project: { _id: 1 } }],
            as: 'inv'
          }
        }
      ]
    );
    assert.deepEqual(out, [{ _id: '1i', min: '5i', inv: [{ _id: '1i' }, { _id: '2i' }] }]);
  });
  it('$facet runs each sub-pipeline on the same input', () => {
    assert.deepEqual(
      run(
        [{ n: 1 }, { n: 2 }],
        [{ $facet: { c: [{ $count: 'k' }], s: [{ $match: { n: 2 } }, { $project: { _id: 0 } }] } }]
      ),
      [{ c: [{ k: '2i' }], s: [{ n: '2i' }] }]
    );
    assert.equal(code([{ $facet: { x: [{ $facet: {} }] } }]), 40600);
  });
});
