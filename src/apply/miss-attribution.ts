/**
 * Which ops of an ordered `bulkWrite` run matched no document, worked out without a round trip
 * per op.
 *
 * A bulk result only gives totals (matched, upserted with their indexes, deleted). Per document,
 * the run's ops are a sequence of updates (existence unchanged), replace-upserts (the document
 * exists afterwards) and deletes (it is gone afterwards), so every miss follows from whether the
 * document existed just before the run. That is known:
 * - when the document's first existence-changing op is a replace-upsert: from the result's
 *   `upsertedIds` (it upserted exactly when the document was missing);
 * - when the run only updates it: from whether it exists after the run (one `find` by `_id`,
 *   made only when the totals show a miss);
 * - when its first existence-changing op is a delete: nothing afterwards tells, so the lane
 *   reads those documents' existence before the run (one `find`, only for runs with such deletes
 *   after catch-up).
 */
import { canonicalIdBytes } from '../bson/canonical-id.js';
import { type CrudOp } from '../pipeline/pipeline-items.js';

/**
 * The ops of one document within a run.
 * @internal
 */
export interface DocumentOps {
  /** The document's `_id` as the first op carried it. */
  readonly id: unknown;
  /** Indexes of its ops in the run, in order. */
  readonly indexes: number[];
  /** Its first op that changes existence: a replacement, a delete, or `none` (updates only). */
  first: 'replace' | 'delete' | 'none';
  /** Index (in the run) of that op; -1 for `none`. */
  firstIndex: number;
  /** Whether any of its ops is a delete. */
  hasDelete: boolean;
}

/**
 * A key equal for `_id` values MongoDB considers equal (`1`, `1.0`, `Long(1)`), so several ops
 * on one document are grouped even when their `_id`s were logged with different BSON types.
 * @internal
 */
export function documentKey(id: unknown): string {
  return Buffer.from(canonicalIdBytes(id)).toString('latin1');
}

/**
 * Groups a run's ops by document, keyed by {@link documentKey}.
 * @internal
 */
export function groupByDocument(ops: readonly CrudOp[]): Map<string, DocumentOps> {
  const docs = new Map<string, DocumentOps>();
  ops.forEach((op, index) => {
    const key = documentKey(op.id);
    let doc = docs.get(key);
    if (doc === undefined) {
      doc = { id: op.id, indexes: [], first: 'none', firstIndex: -1, hasDelete: false };
      docs.set(key, doc);
    }
    doc.indexes.push(index);
    const entry = op.entry;
    const changesExistence =
      entry.op === 'd' || entry.op === 'i' || (entry.op === 'u' && entry.kind === 'replacement');
    if (entry.op === 'd') doc.hasDelete = true;
    if (changesExistence && doc.first === 'none') {
      doc.first = entry.op === 'd' ? 'delete' : 'replace';
      doc.firstIndex = index;
    }
  });
  return docs;
}

/**
 * The run indexes of the ops that matched nothing, given whether each document existed just
 * before the run (`existed(key)`); documents it returns `undefined` for are skipped.
 * @internal
 */
export function attributeMisses(
  ops: readonly CrudOp[],
  docs: ReadonlyMap<string, DocumentOps>,
  existed: (key: string, doc: DocumentOps) => boolean | undefined
): number[] {
  const missed: number[] = [];
  for (const [key, doc] of docs) {
    let exists = existed(key, doc);
    if (exists === undefined) continue;
    for (const index of doc.indexes) {
      const entry = ops[index]!.entry;
      if (entry.op === 'd') {
        if (!exists) missed.push(index);
        exists = false;
      } else if (entry.op === 'i' || entry.kind === 'replacement') {
        exists = true; // an upsert: never a miss
      } else if (!exists) {
        missed.push(index);
      }
    }
  }
  return missed.sort((a, b) => a - b);
}
