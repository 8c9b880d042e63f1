/**
 * Pure planning for the applier lanes: which lane an op goes to, and how one lane's ops become
 * as few round trips as possible without reordering any document's writes.
 *
 * A lane's ops are stable-sorted by target namespace (as a secondary's writer does), so each
 * namespace forms one contiguous segment in source order. A segment is then cut into runs:
 * consecutive inserts become one `insert` run (an unordered `insertMany`), everything else one
 * `write` run (an ordered `bulkWrite`). A run never straddles `catchUpUntil`, so a run's missed
 * updates are either all expected (catch-up) or all conflicts, and counting them needs no
 * per-op round trip.
 */
import { type Timestamp } from 'mongodb';

import { compareOptimes } from '../oplog/oplog-entry.js';
import { type CrudOp } from '../pipeline/pipeline-items.js';
import { laneOf } from './lane-hash.js';

/**
 * One round trip of a lane: ops of one target namespace, all inserts or all non-inserts.
 * @internal
 */
export interface LaneRun {
  /**
   * `insert`: one unordered `insertMany`; `write`: one ordered `bulkWrite` (in a transaction,
   * inserts included, as replace-upserts).
   */
  readonly kind: 'insert' | 'write';
  /** The target namespace every op of the run writes to. */
  readonly ns: string;
  /** The ops, in source order. */
  readonly ops: readonly CrudOp[];
  /**
   * True when every op is at or before `catchUpUntil`: a document missing on the target is then
   * expected (the full copy may have seen a later state), not a conflict.
   */
  readonly catchUp: boolean;
}

/**
 * Splits a batch's ops over `lanes` lanes with {@link laneOf}, keeping source order in each. The
 * ops of an `ordered` namespace (one with unique secondary indexes, whose values may move between
 * documents) all go to one lane, so they reach the target in source order.
 * @internal
 */
export function routeToLanes(
  ops: readonly CrudOp[],
  lanes: number,
  ordered: ReadonlySet<string> = NONE
): CrudOp[][] {
  const routed: CrudOp[][] = Array.from({ length: lanes }, () => []);
  for (const op of ops) {
    const lane =
      ordered.size > 0 && ordered.has(op.targetNs)
        ? laneOf(op.targetNs, ORDERED_KEY, lanes)
        : laneOf(op.targetNs, op.id, lanes);
    routed[lane]!.push(op);
  }
  return routed;
}

const NONE: ReadonlySet<string> = new Set();
/** What an ordered namespace's ops hash as instead of their `_id`: one key, so one lane. */
const ORDERED_KEY = 0;

/**
 * The runs one lane executes, in order.
 *
 * @remarks
 * Ops are stable-sorted by target namespace: ops of one document always share a namespace and a
 * lane, so their order is kept, while writes to different namespaces are independent. An op at
 * or before `catchUpUntil` is a catch-up op; optimes grow within a namespace segment, so each
 * segment splits at most once there.
 * @internal
 */
export function planLane(ops: readonly CrudOp[], catchUpUntil?: Timestamp): LaneRun[] {
  const sorted = stableSortByNamespace(ops);
  const runs: LaneRun[] = [];
  let current: CrudOp[] = [];
  let kind: LaneRun['kind'] = 'insert';
  let ns = '';
  let catchUp = false;
  const flush = () => {
    if (current.length > 0) runs.push({ kind, ns, ops: current, catchUp });
    current = [];
  };
  for (const op of sorted) {
    const opKind = op.entry.op === 'i' ? 'insert' : 'write';
    const opCatchUp = catchUpUntil !== undefined && compareOptimes(op.entry.ts, catchUpUntil) <= 0;
    if (op.targetNs !== ns || opKind !== kind || opCatchUp !== catchUp) {
      flush();
      ns = op.targetNs;
      kind = opKind;
      catchUp = opCatchUp;
    }
    current.push(op);
  }
  flush();
  return runs;
}

/**
 * The runs of one source transaction, in strict source order: each run is the consecutive ops of
 * one target namespace (inserts, updates and deletes together, written as one ordered
 * `bulkWrite`), cut again at `catchUpUntil` like {@link planLane}'s.
 *
 * @remarks
 * Unlike a lane's ops, a transaction's are never reordered: they all run inside one target
 * transaction, one after another, so there is nothing to gain from grouping by namespace, and
 * source order is the simplest thing to be sure of.
 * @internal
 */
export function planTransaction(ops: readonly CrudOp[], catchUpUntil?: Timestamp): LaneRun[] {
  const runs: LaneRun[] = [];
  let current: CrudOp[] = [];
  let ns = '';
  let catchUp = false;
  for (const op of ops) {
    const opCatchUp = catchUpUntil !== undefined && compareOptimes(op.entry.ts, catchUpUntil) <= 0;
    if (current.length > 0 && (op.targetNs !== ns || opCatchUp !== catchUp)) {
      runs.push({ kind: 'write', ns, ops: current, catchUp });
      current = [];
    }
    ns = op.targetNs;
    catchUp = opCatchUp;
    current.push(op);
  }
  if (current.length > 0) runs.push({ kind: 'write', ns, ops: current, catchUp });
  return runs;
}

/** Array.prototype.sort is stable (ES2019), but a map of segments avoids comparing strings. */
function stableSortByNamespace(ops: readonly CrudOp[]): readonly CrudOp[] {
  const byNs = new Map<string, CrudOp[]>();
  for (const op of ops) {
    const segment = byNs.get(op.targetNs);
    if (segment === undefined) byNs.set(op.targetNs, [op]);
    else segment.push(op);
  }
  if (byNs.size <= 1) return ops;
  const names = [...byNs.keys()].sort();
  return names.flatMap(name => byNs.get(name)!);
}
