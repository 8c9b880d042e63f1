import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { type Document, Double, Int32, Long, Timestamp } from 'mongodb';

import { laneOf } from '../../../src/apply/lane-hash.js';
import { planLane, planTransaction, routeToLanes } from '../../../src/apply/lane-plan.js';
import {
  attributeMisses,
  documentKey,
  groupByDocument
} from '../../../src/apply/miss-attribution.js';
import {
  type DeleteEntry,
  type InsertEntry,
  parseOplogEntry,
  type UpdateEntry
} from '../../../src/oplog/oplog-entry.js';
import { type CrudOp } from '../../../src/pipeline/pipeline-items.js';

let clock = 0;
function op(kind: 'i' | 'u' | 'r' | 'd', ns: string, id: unknown, t?: number): CrudOp {
  const ts = new Timestamp({ t: t ?? 100, i: ++clock });
  const raw: Document =
    kind === 'i'
      ? { ts, op: 'i', ns, o: { _id: id, v: 1 } }
      : kind === 'u'
        ? { ts, op: 'u', ns, o: { $v: 2, diff: { u: { v: 2 } } }, o2: { _id: id } }
        : kind === 'r'
          ? { ts, op: 'u', ns, o: { _id: id, v: 3 }, o2: { _id: id } }
          : { ts, op: 'd', ns, o: { _id: id } };
  const entry = parseOplogEntry(raw) as InsertEntry | UpdateEntry | DeleteEntry;
  return { entry, targetNs: ns, id };
}

const shape = (runs: ReturnType<typeof planLane>) =>
  runs.map(
    r => `${r.kind}:${r.ns}:${r.ops.map(o => String(o.id)).join(',')}${r.catchUp ? ':c' : ''}`
  );

describe('routeToLanes', () => {
  it('puts every op of a document in its laneOf lane, in source order', () => {
    const ops = [
      op('i', 'a.x', 1),
      op('i', 'a.x', 2),
      op('u', 'a.x', new Int32(1)),
      op('d', 'a.x', Long.fromNumber(1)),
      op('r', 'a.x', new Double(1))
    ];
    const lanes = routeToLanes(ops, 8);
    assert.equal(lanes.length, 8);
    assert.equal(lanes.flat().length, ops.length);
    const lane = laneOf('a.x', 1, 8);
    assert.deepEqual(
      lanes[lane]!.filter(o => documentKey(o.id) === documentKey(1)).map(o => o.entry.op),
      ['i', 'u', 'd', 'u']
    );
    for (const [index, ops] of lanes.entries()) {
      for (const o of ops) assert.equal(laneOf(o.targetNs, o.id, 8), index);
    }
  });
});

describe('planLane', () => {
  it('stable-sorts by namespace and groups consecutive inserts', () => {
    const ops = [
      op('i', 'b.y', 1),
      op('i', 'a.x', 1),
      op('i', 'b.y', 2),
      op('u', 'a.x', 1),
      op('i', 'a.x', 2),
      op('i', 'a.x', 3),
      op('d', 'b.y', 1),
      op('u', 'b.y', 2)
    ];
    assert.deepEqual(shape(planLane(ops)), [
      'insert:a.x:1',
      'write:a.x:1',
      'insert:a.x:2,3',
      'insert:b.y:1,2',
      'write:b.y:1,2'
    ]);
  });

  it('never lets a run straddle catchUpUntil', () => {
    const ops = [op('u', 'a.x', 1, 10), op('u', 'a.x', 2, 20), op('d', 'a.x', 3, 30)];
    const runs = planLane(ops, new Timestamp({ t: 20, i: 1_000_000 }));
    assert.deepEqual(shape(runs), ['write:a.x:1,2:c', 'write:a.x:3']);
    assert.deepEqual(shape(planLane(ops)), ['write:a.x:1,2,3']);
  });

  it('returns nothing for no ops', () => {
    assert.deepEqual(planLane([]), []);
  });
});

describe('planTransaction', () => {
  it('keeps source order: one run per stretch of one namespace, inserts included', () => {
    const ops = [
      op('i', 'b.y', 1),
      op('u', 'b.y', 1),
      op('i', 'a.x', 1),
      op('d', 'a.x', 1),
      op('i', 'a.x', 1),
      op('d', 'b.y', 1)
    ];
    assert.deepEqual(shape(planTransaction(ops)), [
      'write:b.y:1,1',
      'write:a.x:1,1,1',
      'write:b.y:1'
    ]);
  });

  it('cuts a run at catchUpUntil, and returns nothing for no ops', () => {
    const ops = [op('i', 'a.x', 1, 10), op('u', 'a.x', 1, 20), op('d', 'a.x', 1, 30)];
    const runs = planTransaction(ops, new Timestamp({ t: 20, i: 1_000_000 }));
    assert.deepEqual(shape(runs), ['write:a.x:1,1:c', 'write:a.x:1']);
    assert.deepEqual(planTransaction([]), []);
  });
});

describe('attributeMisses', () => {
  const run = [
    op('u', 'a.x', 1), // doc 1: updates only
    op('u', 'a.x', 2), // doc 2: update, delete
    op('d', 'a.x', new Int32(2)),
    op('r', 'a.x', 3), // doc 3: replace, update
    op('u', 'a.x', 3),
    op('d', 'a.x', 4), // doc 4: delete, replace, update
    op('r', 'a.x', 4),
    op('u', 'a.x', Long.fromNumber(4))
  ];
  const docs = groupByDocument(run);

  it('groups equal _ids of different BSON types as one document', () => {
    assert.equal(docs.size, 4);
    assert.deepEqual(docs.get(documentKey(2))!.indexes, [1, 2]);
    assert.equal(docs.get(documentKey(2))!.first, 'delete');
    assert.equal(docs.get(documentKey(3))!.first, 'replace');
    assert.equal(docs.get(documentKey(1))!.first, 'none');
    assert.equal(docs.get(documentKey(4))!.hasDelete, true);
  });

  it('derives every miss from whether each document existed before the run', () => {
    assert.deepEqual(
      attributeMisses(run, docs, () => true),
      []
    );
    // Missing before: doc 1's update, doc 2's update and delete, doc 4's delete miss; a
    // replacement upserts, after which updates match.
    assert.deepEqual(
      attributeMisses(run, docs, () => false),
      [0, 1, 2, 5]
    );
    assert.deepEqual(
      attributeMisses(run, docs, key =>
        key === documentKey(1) ? undefined : key !== documentKey(2)
      ),
      [1, 2]
    );
  });
});
