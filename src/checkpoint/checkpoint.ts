/**
 * The checkpoint: where replication resumes after a stop or a crash. It names only fully applied
 * batches, so resuming from it never skips a write; replaying a little is safe because applying
 * the oplog is idempotent (DESIGN §3–4).
 */
// BSON classes come from the driver's own copy of bson: an ESM `import 'bson'` loads a second copy
// whose classes fail `instanceof` against values the driver decodes.
import { BSON, type Document, type Timestamp } from 'mongodb';

import { isTimestamp } from '../bson/bson-values.js';
import { CheckpointError } from '../errors.js';

/**
 * Replication phases a checkpoint can record.
 * @public
 */
export type ReplicationPhase = 'full' | 'catchup' | 'incr';

/**
 * One `_id` range of the full copy as a checkpoint stores it: the split is fixed when the copy
 * starts, so a resumed copy reads exactly the same ranges.
 * @public
 */
export interface StoredRange {
  /** Inclusive lower bound of `_id` (in index order); absent: from the lowest. */
  readonly min?: unknown;
  /** Exclusive upper bound of `_id`; absent: to the highest. */
  readonly max?: unknown;
  /** The splitter's estimate of the documents in it. */
  readonly estimatedDocuments: number;
  /** True once every document of the range is on the target. */
  readonly done: boolean;
}

/**
 * The full copy of one collection, as a checkpoint stores it.
 * @public
 */
export interface CopiedCollection {
  /** The source namespace. */
  readonly sourceNs: string;
  /** The target namespace (after renames). */
  readonly targetNs: string;
  /** The source collection's UUID, so a rename during the copy is followed. */
  readonly uuid?: unknown;
  /** Its ranges, in `_id` order. */
  readonly ranges: readonly StoredRange[];
}

/**
 * A persisted replication position.
 * @public
 */
export interface Checkpoint {
  /** The checkpoint's name; a restart with the same name resumes from it. */
  readonly name: string;
  /** Format version of the stored document. */
  readonly version: 1;
  /** The replication mode that wrote it. */
  readonly mode: 'full' | 'incr' | 'all';
  /** Where that mode had got to. */
  readonly phase: ReplicationPhase;
  /**
   * How the source was read; absent means `'oplog'`. A change-stream position cannot be resumed
   * by tailing the oplog (its optime may be no oplog entry) and the other way round it would
   * lose the resume token, so a restart must use the same method.
   */
  readonly fetchMethod?: 'oplog' | 'changeStream' | undefined;
  /** The source replica set the positions refer to, when known. */
  readonly sourceReplicaSet?: string | undefined;
  /**
   * The identity of the source deployment (its replica set id or cluster id) the positions
   * refer to, when the source reports one: a checkpoint never resumes against another source.
   */
  readonly sourceId?: string | undefined;
  /**
   * A fingerprint of the filter the checkpoint was written with: resuming with another filter
   * would skip what the new one adds, so a change is refused.
   */
  readonly filterFingerprint?: string | undefined;
  /**
   * The shards a shard worker reads (`shardWorker.shards`, sorted); absent: every shard. A
   * position of some shards says nothing of the others, so it is never resumed with other shards.
   */
  readonly sourceShards?: readonly string[] | undefined;
  /**
   * Unique secondary indexes of the target kept non-unique until the target is consistent
   * (`namespace` and `name` of each), and the target namespaces applied in source order.
   */
  readonly uniqueIndexes?:
    | {
        readonly relaxedIndexes: readonly { readonly namespace: string; readonly name: string }[];
        readonly orderedNamespaces: readonly string[];
      }
    | undefined;
  /** Mode `full`: when the copy finished (collections, indexes and views); a rerun has nothing to do. */
  readonly copiedAt?: Date | undefined;
  /** The optime of the last oplog entry whose batch was applied everywhere. */
  readonly lastApplied?: Timestamp | undefined;
  /** The change-stream resume token of the last applied event (change-stream fetch method). */
  readonly resumeToken?: Document | undefined;
  /** The source's newest optime taken before a full copy began (mode `all`). */
  readonly fullBeginTs?: Timestamp | undefined;
  /**
   * The source's newest optime once the full copy ended (mode `all`): a document missing on the
   * target is expected while applying entries up to it, and a conflict after it.
   */
  readonly copyEndTs?: Timestamp | undefined;
  /**
   * The collections of the full copy and their ranges, while it is in progress or done. A store
   * that keeps them apart ({@link CopyStateStore}) stores only `copyCollections` with the
   * checkpoint; reading it through {@link loadCheckpoint} fills this in again.
   */
  readonly copy?: readonly CopiedCollection[] | undefined;
  /**
   * How many collections the full copy's state holds when it is kept apart from the checkpoint
   * (a {@link CopyStateStore}): so a save costs the same for 10 collections as for 100 000.
   */
  readonly copyCollections?: number | undefined;
  /** When it was written. */
  readonly updatedAt: Date;
}

const MODES = new Set(['full', 'incr', 'all']);
const PHASES = new Set(['full', 'catchup', 'incr']);

/**
 * Checks a stored document and returns it as a {@link Checkpoint}.
 * @throws CheckpointError when the document is not a valid checkpoint (it is never guessed at).
 * @internal
 */
export function decodeCheckpoint(raw: unknown, source: string): Checkpoint {
  const fail = (what: string) =>
    new CheckpointError(`Checkpoint in ${source} is invalid: ${what}`, false, {
      hint: 'Fix or delete the stored checkpoint, then restart (a deleted checkpoint means starting over)'
    });
  if (typeof raw !== 'object' || raw === null) throw fail('not a document');
  const doc = raw as Record<string, unknown>;
  if (typeof doc.name !== 'string' || doc.name.length === 0)
    throw fail('"name" must be a non-empty string');
  if (Number(doc.version) !== 1)
    throw fail(`unsupported "version" ${String(doc.version)} (this release reads version 1)`);
  if (typeof doc.mode !== 'string' || !MODES.has(doc.mode))
    throw fail('"mode" must be full, incr or all');
  if (typeof doc.phase !== 'string' || !PHASES.has(doc.phase))
    throw fail('"phase" must be full, catchup or incr');
  for (const field of ['lastApplied', 'fullBeginTs', 'copyEndTs'] as const) {
    if (doc[field] !== undefined && !isTimestamp(doc[field]))
      throw fail(`"${field}" must be a Timestamp`);
  }
  if (
    doc.resumeToken !== undefined &&
    (typeof doc.resumeToken !== 'object' || doc.resumeToken === null)
  ) {
    throw fail('"resumeToken" must be a document');
  }
  if (doc.copy !== undefined && !isCopy(doc.copy)) {
    throw fail(
      '"copy" must be a list of {sourceNs, targetNs, ranges: [{estimatedDocuments, done}]}'
    );
  }
  if (
    doc.fetchMethod !== undefined &&
    doc.fetchMethod !== 'oplog' &&
    doc.fetchMethod !== 'changeStream'
  ) {
    throw fail('"fetchMethod" must be oplog or changeStream');
  }
  for (const field of ['sourceReplicaSet', 'sourceId', 'filterFingerprint'] as const) {
    if (doc[field] !== undefined && typeof doc[field] !== 'string') {
      throw fail(`"${field}" must be a string`);
    }
  }
  if (
    doc.sourceShards !== undefined &&
    !(
      Array.isArray(doc.sourceShards) &&
      doc.sourceShards.every((shard: unknown) => typeof shard === 'string')
    )
  ) {
    throw fail('"sourceShards" must be a list of shard names');
  }
  if (doc.uniqueIndexes !== undefined && !isUniqueIndexes(doc.uniqueIndexes)) {
    throw fail('"uniqueIndexes" must be {relaxedIndexes: [{namespace, name}], orderedNamespaces}');
  }
  if (
    doc.copyCollections !== undefined &&
    !(Number.isInteger(Number(doc.copyCollections)) && Number(doc.copyCollections) >= 0)
  ) {
    throw fail('"copyCollections" must be a count');
  }
  if (doc.copiedAt !== undefined && !(doc.copiedAt instanceof Date)) {
    throw fail('"copiedAt" must be a date');
  }
  if (!(doc.updatedAt instanceof Date)) throw fail('"updatedAt" must be a date');
  const checkpoint: Record<string, unknown> = {
    name: doc.name,
    version: 1,
    mode: doc.mode,
    phase: doc.phase
  };
  for (const field of [
    'fetchMethod',
    'sourceReplicaSet',
    'sourceId',
    'filterFingerprint',
    'sourceShards',
    'uniqueIndexes',
    'copiedAt',
    'lastApplied',
    'resumeToken',
    'fullBeginTs',
    'copyEndTs',
    'copy'
  ] as const) {
    if (doc[field] !== undefined) checkpoint[field] = doc[field];
  }
  if (doc.copyCollections !== undefined) checkpoint.copyCollections = Number(doc.copyCollections);
  checkpoint.updatedAt = doc.updatedAt;
  return checkpoint as unknown as Checkpoint;
}

function isUniqueIndexes(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const { relaxedIndexes, orderedNamespaces } = value as Record<string, unknown>;
  return (
    Array.isArray(relaxedIndexes) &&
    relaxedIndexes.every(
      (ref: unknown) =>
        typeof (ref as { namespace?: unknown } | null)?.namespace === 'string' &&
        typeof (ref as { name?: unknown }).name === 'string'
    ) &&
    Array.isArray(orderedNamespaces) &&
    orderedNamespaces.every(ns => typeof ns === 'string')
  );
}

function isCopy(value: unknown): value is CopiedCollection[] {
  return Array.isArray(value) && value.every(isCopiedCollection);
}

/**
 * `collection` with its ranges' estimates as plain numbers (stored forms may wrap them as Int32).
 * @internal
 */
export function withNumericEstimates(collection: CopiedCollection): CopiedCollection {
  return {
    ...collection,
    ranges: collection.ranges.map(range => ({
      ...range,
      estimatedDocuments: Number(range.estimatedDocuments)
    }))
  };
}

/**
 * Whether `value` has the shape of a {@link CopiedCollection}.
 * @internal
 */
export function isCopiedCollection(value: unknown): value is CopiedCollection {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.sourceNs === 'string' &&
    typeof c.targetNs === 'string' &&
    Array.isArray(c.ranges) &&
    c.ranges.every((range: unknown) => {
      if (typeof range !== 'object' || range === null) return false;
      const r = range as Record<string, unknown>;
      return typeof r.done === 'boolean' && Number.isFinite(Number(r.estimatedDocuments));
    })
  );
}

/**
 * The stored form of a checkpoint (undefined fields left out).
 * @internal
 */
export function encodeCheckpoint(checkpoint: Checkpoint): Document {
  const out: Document = {};
  for (const [key, value] of Object.entries(checkpoint)) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * Canonical Extended JSON text of a checkpoint (Timestamps and dates kept exact).
 * @internal
 */
export function checkpointToJson(checkpoint: Checkpoint): string {
  return BSON.EJSON.stringify(encodeCheckpoint(checkpoint), undefined, 2, { relaxed: false });
}

/**
 * Parses the text written by {@link checkpointToJson}.
 * @internal
 */
export function checkpointFromJson(text: string, source: string): Checkpoint {
  let parsed: unknown;
  try {
    parsed = BSON.EJSON.parse(text, { relaxed: false });
  } catch (error) {
    throw new CheckpointError(`Checkpoint in ${source} is not valid Extended JSON`, false, {
      cause: error,
      hint: 'Fix or delete the file, then restart'
    });
  }
  return decodeCheckpoint(parsed, source);
}
