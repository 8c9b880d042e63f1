import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type BDoc, type BValue } from '../../bson/values.js';
import { applyUpdatePipeline } from '../../engine/aggregate/apply-update-pipeline.js';
import { ServerError } from '../../engine/server-error.js';
import { d, plain, v } from './fixtures.js';

describe('applyUpdatePipeline', () => {
  it('runs $set/$unset/$replaceWith without mutating the input', () => {
    const input = d({ _id: 1, a: 1, s: { x: 1 } });
    const out = applyUpdatePipeline(input, [
      v({ $set: { b: { $add: ['$a', 1] }, 's.y': 2 } }),
      v({ $unset: 'a' })
    ] as BDoc[]);
    assert.deepEqual(plain(out), { _id: '1i', s: { x: '1i', y: '2i' }, b: '2i' });
    assert.deepEqual(plain(input), { _id: '1i', a: '1i', s: { x: '1i' } });
    const replaced = applyUpdatePipeline(
      input,
      [v({ $replaceWith: { _id: '$_id', z: '$$v' } })] as BDoc[],
      new Map<string, BValue>([['v', 'V']])
    );
    assert.deepEqual(plain(replaced), { _id: '1i', z: 'V' });
  });
  it('rejects other stages with code 72 and unknown ones with 40324', () => {
    const code = (stage: Record<string, unknown>) => {
      try {
        applyUpdatePipeline(d({ _id: 1 }), [v(stage) as BDoc]);
      } catch (e) {
        assert.ok(e instanceof ServerError);
        return [e.code, e.message];
      }
      return undefined;
    };
    assert.deepEqual(code({ $match: {} }), [
      72,
      '$match is not allowed to be used within an update'
    ]);
    assert.equal(code({ $nope: {} })?.[0], 40324);
  });
});
