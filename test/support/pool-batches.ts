/**
 * Feeding the applier pool by hand in tests: the source's oplog read back, cut into batches as
 * the ReplBatcher cuts them, and applied by a pool until its input is drained.
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import {
  type AppliedBatchEvent,
  type ApplierConflictEvent,
  HashedApplierPool,
  type HashedApplierPoolOptions
} from '../../src/apply/hashed-applier-pool.js';
import { type UniqueIndexEvent } from '../../src/apply/unique-guard.js';
import { BoundedQueue } from '../../src/lifecycle/bounded-queue.js';
import { toTargetCommand } from '../../src/oplog/ddl-ops.js';
import { type OplogEntry, parseOplogEntry } from '../../src/oplog/oplog-entry.js';
import { unwrapApplyOps } from '../../src/oplog/transactions.js';
import { type ApplyBatch, type CrudOp } from '../../src/pipeline/pipeline-items.js';
import { type Deployments } from './deployments.js';
import { withTimeout } from './timeout-signal.js';

/**
 * The source's oplog entries of database `db` after `since`, parsed; `applyOps` entries (batched
 * deletes of a `deleteMany`, logged on `admin.$cmd`) are unwrapped.
 */
export async function readOplog(
  source: MongoClient,
  db: string,
  since: Timestamp
): Promise<OplogEntry[]> {
  const raws = await source
    .db('local')
    .collection('oplog.rs')
    .find(
      { ts: { $gt: since }, ns: { $in: [new RegExp(`^${db}\\.`), 'admin.$cmd'] } },
      { sort: { $natural: 1 }, promoteValues: false }
    )
    .toArray();
  return raws
    .map(raw => parseOplogEntry(raw))
    .flatMap(entry =>
      entry.op === 'c' && entry.command === 'applyOps' ? unwrapApplyOps(entry) : [entry]
    )
    .filter(entry => entry.ns.startsWith(`${db}.`));
}

export function crudOp(entry: OplogEntry): CrudOp | undefined {
  switch (entry.op) {
    case 'i':
    case 'd':
      return { entry, targetNs: entry.ns, id: entry.o._id };
    case 'u':
      return { entry, targetNs: entry.ns, id: entry.o2._id };
    default:
      return undefined;
  }
}

/** Batches as the ReplBatcher makes them: CRUD up to `maxOps`, each DDL alone. */
export function toBatches(entries: readonly OplogEntry[], maxOps: number): ApplyBatch[] {
  const batches: ApplyBatch[] = [];
  let ops: CrudOp[] = [];
  const flush = () => {
    if (ops.length === 0) return;
    const last = ops[ops.length - 1]!.entry.ts;
    batches.push({
      kind: 'crud',
      ops,
      bytes: 0,
      lastOptime: last,
      checkpointOptime: last,
      skipped: 0
    });
    ops = [];
  };
  for (const entry of entries) {
    const op = crudOp(entry);
    if (op !== undefined) {
      ops.push(op);
      if (ops.length >= maxOps) flush();
      continue;
    }
    flush();
    const base = { lastOptime: entry.ts, checkpointOptime: entry.ts, skipped: 0 };
    const command = entry.op === 'c' ? toTargetCommand(entry, ns => ns) : null;
    if (entry.op === 'c' && command !== null) {
      batches.push({ kind: 'ddl', entry, command, ...base });
    } else {
      batches.push({ kind: 'progress', ...base, skipped: 1 });
    }
  }
  flush();
  return batches;
}

/** Runs a pool over `batches` until the input is drained; returns what it emitted. */
export async function applyAll(
  d: Deployments,
  batches: readonly ApplyBatch[],
  options: Partial<HashedApplierPoolOptions> = {}
): Promise<{
  pool: HashedApplierPool;
  applied: AppliedBatchEvent[];
  conflicts: ApplierConflictEvent[];
  uniqueIndexes: UniqueIndexEvent[];
}> {
  const input = new BoundedQueue<ApplyBatch>(batches.length + 1, Infinity);
  for (const batch of batches) await input.push(batch, 0);
  input.close();
  const pool = new HashedApplierPool({ input, target: d.target, lanes: 4, ...options });
  const applied: AppliedBatchEvent[] = [];
  const conflicts: ApplierConflictEvent[] = [];
  const uniqueIndexes: UniqueIndexEvent[] = [];
  pool.on('applied', e => applied.push(e));
  pool.on('conflict', e => conflicts.push(e));
  pool.on('uniqueIndex', e => uniqueIndexes.push(e));
  await pool.start();
  await withTimeout(pool.done, 30_000, 'the pool to apply every batch');
  return { pool, applied, conflicts, uniqueIndexes };
}
