/**
 * Properties of the oplog spool against a model (an array of the entries appended):
 * - any sequence of appends, syncs, reopens, discards and reads reads back exactly the model's
 *   entries after the read's optime, across segment and chunk sizes;
 * - cutting the newest segment at any byte (a crash mid-write), with or without garbage after
 *   the cut, keeps exactly the records that end before the cut.
 * Set FC_SEED to replay a failure; the seed is printed with every failure.
 */
import assert from 'node:assert/strict';
import { appendFile, readFile, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import fc from 'fast-check';
import { type Timestamp } from 'mongodb';

import { compareOptimes } from '../../../src/oplog/oplog-entry.js';
import { OplogSpool } from '../../../src/spool/oplog-spool.js';
import {
  collect,
  type Entry,
  entryAt,
  optimes,
  recordingLogger,
  removeDirectory,
  segmentPaths,
  tempDirectory
} from './spool-fixtures.js';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.FC_RUNS ?? 40);
const HEADER = 16;

let root: string;
let counter = 0;
before(async () => {
  root = await tempDirectory();
});
after(async () => {
  await removeDirectory(root);
});

type Operation =
  | { readonly kind: 'append'; readonly pads: readonly number[]; readonly gaps: readonly number[] }
  | { readonly kind: 'sync' }
  | { readonly kind: 'reopen' }
  | { readonly kind: 'discard'; readonly pick: number }
  | { readonly kind: 'read'; readonly pick: number | undefined; readonly between: boolean };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 2 })), {
        maxLength: 8
      })
      .map(list => ({
        kind: 'append' as const,
        pads: list.map(([pad]) => pad),
        gaps: list.map(([, gap]) => gap)
      }))
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'sync' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
  { weight: 1, arbitrary: fc.nat().map(pick => ({ kind: 'discard' as const, pick })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.option(fc.nat(), { nil: undefined }), fc.boolean())
      .map(([pick, between]) => ({ kind: 'read' as const, pick, between }))
  }
);

const layout = fc.record({
  segmentBytes: fc.integer({ min: 64, max: 2048 }),
  readChunkBytes: fc.integer({ min: 16, max: 600 })
});

/** The optime after `ts`, `gap` seconds later (0: the next increment). */
function nextOptime(ts: Timestamp | undefined, gap: number): { t: number; i: number } {
  if (ts === undefined) return { t: 1_700_000_000, i: 1 };
  return gap === 0 ? { t: ts.t, i: ts.i + 1 } : { t: ts.t + gap, i: 1 };
}

function later(a: Timestamp | undefined, b: Timestamp): Timestamp {
  return a === undefined || compareOptimes(b, a) > 0 ? b : a;
}

async function runSequence(
  options: { segmentBytes: number; readChunkBytes: number },
  operations: readonly Operation[]
): Promise<void> {
  const directory = join(root, `sequence-${++counter}`);
  let spool = await OplogSpool.open(directory, options);
  const model: Entry[] = [];
  /** The newest optime passed to discardThrough: entries after it must all be readable. */
  let floor: Timestamp | undefined;
  try {
    for (const op of operations) {
      switch (op.kind) {
        case 'append': {
          const batch: Entry[] = [];
          for (const [index, pad] of op.pads.entries()) {
            const { t, i } = nextOptime(batch.at(-1)?.ts ?? model.at(-1)?.ts, op.gaps[index]!);
            batch.push(entryAt(t, i, pad));
          }
          await spool.append(batch);
          model.push(...batch);
          break;
        }
        case 'sync':
          await spool.sync();
          break;
        case 'reopen':
          await spool.close();
          spool = await OplogSpool.open(directory, options);
          break;
        case 'discard': {
          if (model.length === 0) break;
          const ts = model[op.pick % model.length]!.ts;
          await spool.discardThrough(ts);
          floor = later(floor, ts);
          break;
        }
        case 'read': {
          await checkRead(spool, model, floor, op);
          break;
        }
      }
      assert.deepEqual(
        spool.lastOptime && optimes([{ ts: spool.lastOptime }]),
        model.length ? optimes(model.slice(-1)) : undefined
      );
      const sizes = await Promise.all(
        (await segmentPaths(directory)).map(async file => (await stat(file)).size)
      );
      assert.equal(
        spool.bytes,
        sizes.reduce((a, b) => a + b, 0)
      );
    }
    await spool.close();
    spool = await OplogSpool.open(directory, options);
    await checkRead(spool, model, floor, { pick: undefined, between: false });
  } finally {
    await spool.destroy();
  }
}

async function checkRead(
  spool: OplogSpool,
  model: readonly Entry[],
  floor: Timestamp | undefined,
  op: { readonly pick: number | undefined; readonly between: boolean }
): Promise<void> {
  if (op.pick === undefined || model.length === 0) {
    // Everything still in the spool: a suffix of the model holding every entry past the floor.
    const read = await collect(spool.read());
    const suffix = model.slice(model.length - read.length);
    assert.deepEqual(optimes(read), optimes(suffix));
    read.forEach((entry, index) =>
      assert.ok(Buffer.from(entry.raw).equals(Buffer.from(suffix[index]!.raw)))
    );
    const lost = model.slice(0, model.length - read.length);
    assert.ok(lost.every(entry => floor !== undefined && compareOptimes(entry.ts, floor) <= 0));
    assert.deepEqual(
      spool.firstOptime && optimes([{ ts: spool.firstOptime }]),
      read.length ? optimes(read.slice(0, 1)) : undefined
    );
    return;
  }
  let from = model[op.pick % model.length]!.ts;
  if (floor !== undefined) from = later(from, floor);
  // `between`: an optime that no entry has, just after `from`.
  const afterTs = op.between ? entryAt(from.t, from.i + 1_000_000).ts : from;
  const expected = model.filter(entry => compareOptimes(entry.ts, afterTs) > 0);
  assert.deepEqual(optimes(await collect(spool.read(afterTs))), optimes(expected));
}

describe(`OplogSpool properties (seed ${seed})`, () => {
  it('reads back what a sequence of appends, syncs, reopens and discards left', async () => {
    await fc.assert(fc.asyncProperty(layout, fc.array(operation, { maxLength: 30 }), runSequence), {
      seed,
      numRuns,
      includeErrorInReport: true
    });
  });

  it('keeps exactly the whole records when the newest segment is cut at any byte', async () => {
    await fc.assert(
      fc.asyncProperty(
        layout,
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.uint8Array({ maxLength: 40 }),
        async (options, pads, where, garbage) => {
          const directory = join(root, `cut-${++counter}`);
          const model = pads.map((pad, n) => entryAt(1_700_000_000 + n, 1, pad));
          const spool = await OplogSpool.open(directory, options);
          await spool.append(model);
          await spool.close();

          const newest = (await segmentPaths(directory)).at(-1)!;
          const size = (await stat(newest)).size;
          const cut = Math.floor(where * size);
          // Garbage that starts with the byte it overwrites could rebuild the record it cut.
          const original = (await readFile(newest))[cut];
          if (garbage[0] !== undefined && garbage[0] === original) garbage[0] ^= 0xff;
          await truncate(newest, cut);
          if (garbage.length > 0) await appendFile(newest, garbage);
          // The newest segment holds the model's last records: walk back to the last boundary
          // at or before the cut; the records before it are whole.
          let boundary = size;
          let kept = model.length;
          while (boundary > cut) boundary -= HEADER + model[--kept]!.raw.byteLength;

          const logger = recordingLogger();
          const reopened = await OplogSpool.open(directory, { ...options, logger });
          try {
            assert.deepEqual(
              optimes(await collect(reopened.read())),
              optimes(model.slice(0, kept))
            );
            const dropped = cut + garbage.length - boundary;
            assert.deepEqual(
              logger.warnings.map(warning => warning.fields?.droppedBytes),
              dropped > 0 ? [dropped] : []
            );
            assert.equal((await stat(newest)).size, boundary);
          } finally {
            await reopened.destroy();
          }
        }
      ),
      { seed, numRuns: numRuns * 2, includeErrorInReport: true }
    );
  });
});
