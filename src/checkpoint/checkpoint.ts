/**
 * The checkpoint: where replication resumes after a stop or a crash. It names only fully applied
 * batches, so resuming from it never skips a write; replaying a little is safe because applying
 * the oplog is idempotent (DESIGN §3–4).
 */
// BSON classes come from the driver's own copy of bson: an ESM `import 'bson'` loads a second copy
// whose classes fail `instanceof` against values the driver decodes.
import { BSON, type Document, type Timestamp } from 'mongodb';

import { CheckpointError } from '../errors.js';

/**
 * Replication phases a checkpoint can record.
 * @public
 */
export type ReplicationPhase = 'full' | 'catchup' | 'incr';

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
  /** The source replica set the positions refer to, when known. */
  readonly sourceReplicaSet?: string | undefined;
  /** The optime of the last oplog entry whose batch was applied everywhere. */
  readonly lastApplied?: Timestamp | undefined;
  /** The change-stream resume token of the last applied event (change-stream fetch method). */
  readonly resumeToken?: Document | undefined;
  /** The source's newest optime taken before a full copy began (mode `all`). */
  readonly fullBeginTs?: Timestamp | undefined;
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
  for (const field of ['lastApplied', 'fullBeginTs'] as const) {
    if (doc[field] !== undefined && !isTimestamp(doc[field]))
      throw fail(`"${field}" must be a Timestamp`);
  }
  if (
    doc.resumeToken !== undefined &&
    (typeof doc.resumeToken !== 'object' || doc.resumeToken === null)
  ) {
    throw fail('"resumeToken" must be a document');
  }
  if (doc.sourceReplicaSet !== undefined && typeof doc.sourceReplicaSet !== 'string') {
    throw fail('"sourceReplicaSet" must be a string');
  }
  if (!(doc.updatedAt instanceof Date)) throw fail('"updatedAt" must be a date');
  const checkpoint: Record<string, unknown> = {
    name: doc.name,
    version: 1,
    mode: doc.mode,
    phase: doc.phase
  };
  for (const field of ['sourceReplicaSet', 'lastApplied', 'resumeToken', 'fullBeginTs'] as const) {
    if (doc[field] !== undefined) checkpoint[field] = doc[field];
  }
  checkpoint.updatedAt = doc.updatedAt;
  return checkpoint as unknown as Checkpoint;
}

/** True for a BSON Timestamp from any copy of the bson package. */
function isTimestamp(value: unknown): value is Timestamp {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { _bsontype?: unknown })._bsontype === 'Timestamp'
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
