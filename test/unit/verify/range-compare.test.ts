import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BSON, type Document, Double, Int32 } from 'mongodb';

import { decodeRawValue } from '../../../src/bson/raw-bson.js';
import {
  compareSortedDocuments,
  type MismatchKind,
  UnorderedStreamError
} from '../../../src/verify/range-compare.js';

/** Documents as a raw stream, the way the driver yields them with `raw: true`. */
async function* stream(documents: readonly Document[]): AsyncGenerator<Uint8Array> {
  for (const document of documents) yield BSON.serialize(document);
}

/** A stream that records whether it was closed before its end. */
function closable(documents: readonly Document[]) {
  const state = { closed: false, read: 0 };
  const iterable: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        next: () => {
          const document = documents[i++];
          if (document === undefined) return Promise.resolve({ done: true, value: undefined });
          state.read++;
          return Promise.resolve({ done: false, value: BSON.serialize(document) });
        },
        return: () => {
          state.closed = true;
          return Promise.resolve({ done: true, value: undefined });
        }
      };
    }
  };
  return { iterable, state };
}

async function mismatchesOf(source: Document[], target: Document[]) {
  const found: [MismatchKind, unknown][] = [];
  const result = await compareSortedDocuments(stream(source), stream(target), {
    onMismatch: (kind, id) => found.push([kind, decodeRawValue(id)])
  });
  return { result, found };
}

describe('compareSortedDocuments', () => {
  it('finds nothing in equal streams, and counts both sides', async () => {
    const docs = [{ _id: 1, a: 'x' }, { _id: 2 }, { _id: 'k', n: new Double(1) }];
    const { result, found } = await mismatchesOf(docs, docs);
    assert.deepEqual(found, []);
    assert.deepEqual(result, {
      sourceDocuments: 3,
      targetDocuments: 3,
      missing: 0,
      extra: 0,
      different: 0,
      stoppedEarly: false
    });
  });

  it('merges by _id: missing, extra and different, in _id order', async () => {
    const { result, found } = await mismatchesOf(
      [{ _id: 1 }, { _id: 2, v: 1 }, { _id: 4 }, { _id: 'a' }],
      [{ _id: 0 }, { _id: 2, v: 2 }, { _id: 3 }, { _id: 4 }, { _id: 'b' }]
    );
    assert.deepEqual(found, [
      ['extra', new Int32(0)],
      ['missing', new Int32(1)],
      ['different', new Int32(2)],
      ['extra', new Int32(3)],
      ['missing', 'a'],
      ['extra', 'b']
    ]);
    assert.deepEqual(
      [result.sourceDocuments, result.targetDocuments, result.missing, result.extra],
      [4, 5, 2, 3]
    );
  });

  it('matches _ids MongoDB calls equal, and reports their byte differences', async () => {
    const { found } = await mismatchesOf(
      [
        { _id: new Int32(1) },
        { _id: 2, n: new Int32(5) },
        { _id: 3, a: 1, b: 2 },
        { _id: 4, a: { x: 1, y: 2 } }
      ],
      [
        { _id: new Double(1) },
        { _id: 2, n: new Double(5) },
        { _id: 3, b: 2, a: 1 },
        { _id: 4, a: { y: 2, x: 1 } }
      ]
    );
    assert.deepEqual(
      found.map(([kind]) => kind),
      ['different', 'different', 'different', 'different']
    );
    // The source's _id, with its type.
    assert.ok(found[0]![1] instanceof Int32);
  });

  it('reads everything against an empty side', async () => {
    const { result } = await mismatchesOf([{ _id: 1 }, { _id: 2 }], []);
    assert.deepEqual([result.missing, result.targetDocuments], [2, 0]);
    const other = await mismatchesOf([], [{ _id: 1 }]);
    assert.deepEqual([other.result.extra, other.result.sourceDocuments], [1, 0]);
  });

  it('stops at the first mismatch when asked, and closes both streams', async () => {
    const source = closable([{ _id: 1 }, { _id: 2 }, { _id: 3 }, { _id: 4 }]);
    const target = closable([{ _id: 1 }, { _id: 3 }, { _id: 4 }]);
    const result = await compareSortedDocuments(source.iterable, target.iterable, {
      stopAtFirstMismatch: true
    });
    assert.deepEqual([result.missing, result.stoppedEarly], [1, true]);
    assert.ok(source.state.read < 4, 'the rest of the source was not read');
    assert.deepEqual([source.state.closed, target.state.closed], [true, true]);
  });

  it('refuses a stream out of _id order or without _id', async () => {
    await assert.rejects(
      compareSortedDocuments(stream([{ _id: 2 }, { _id: 1 }]), stream([])),
      (error: unknown) => error instanceof UnorderedStreamError && error.side === 'source'
    );
    await assert.rejects(
      compareSortedDocuments(stream([]), stream([{ _id: 'b' }, { _id: 3 }])),
      (error: unknown) => error instanceof UnorderedStreamError && error.side === 'target'
    );
    await assert.rejects(
      compareSortedDocuments(stream([{ a: 1 }]), stream([])),
      (error: unknown) => error instanceof UnorderedStreamError && /no _id/.test(error.message)
    );
  });

  it('stops with the reason when its signal aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(
      compareSortedDocuments(stream([{ _id: 1 }]), stream([{ _id: 1 }]), {
        signal: controller.signal
      }),
      (error: unknown) => error === reason
    );
  });
});
