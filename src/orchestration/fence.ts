/**
 * The cutover fence: a marker written on the source, whose optime the target must reach. Once
 * the applied position passes it, every source write made before the fence is on the target.
 */
import { type MongoClient, type Timestamp } from 'mongodb';

import { InvalidConfigError, InvalidStateError, SourceReadError } from '../errors.js';
import { classifyError } from '../lifecycle/classify-error.js';
import { redactText } from '../logger.js';
import { type NamespaceFilter, REPLICATOR_DATABASE } from '../namespace/namespace-filter.js';

/**
 * Options of {@link Replicator.fence}.
 * @public
 */
export interface FenceOptions {
  /**
   * The source collection the marker is written to (one document per checkpoint name). It
   * needs no special treatment by the filter: a filtered-out marker still moves the applied
   * position past it.
   * @defaultValue 'mongo_replicate.fences'
   */
  namespace?: string;
  /** Rejects the wait with `signal.reason` when it aborts (use it as a deadline). */
  signal?: AbortSignal;
}

/**
 * What {@link Replicator.fence} resolves with: every source write made before the fence is on
 * the target.
 * @public
 */
export interface FenceResult {
  /** The optime of the marker write on the source. */
  readonly optime: Timestamp;
  /** Where the marker was written. */
  readonly namespace: string;
  /** How long the target took to apply up to the marker. */
  readonly durationMs: number;
}

/**
 * Where fence markers go by default.
 * @internal
 */
export const DEFAULT_FENCE_NAMESPACE = 'mongo_replicate.fences';

/**
 * The marker's namespace (`requested`, or the default), refused when the filter replicates it:
 * the marker is the replicator's own write and must never reach the target.
 * @throws {@link InvalidConfigError} naming `fence.namespace`
 * @internal
 */
export function fenceNamespace(requested: string | undefined, filter: NamespaceFilter): string {
  const namespace = requested ?? DEFAULT_FENCE_NAMESPACE;
  if (filter.accepts(namespace)) {
    throw new InvalidConfigError(
      'fence.namespace',
      `the filter replicates ${namespace}; use a namespace in ${REPLICATOR_DATABASE} or one the filter excludes`
    );
  }
  return namespace;
}

/**
 * Upserts the marker `{_id: name}` in `namespace` on the source and returns the write's optime.
 * @throws {@link InvalidConfigError} for a namespace that is not `db.collection`
 * @throws {@link SourceReadError} when the write fails or the source reports no optime
 * @internal
 */
export async function writeFenceMarker(
  source: MongoClient,
  namespace: string,
  name: string,
  signal: AbortSignal | undefined
): Promise<Timestamp> {
  const dot = namespace.indexOf('.');
  if (dot <= 0 || dot === namespace.length - 1) {
    throw new InvalidConfigError('fence.namespace', 'must be a "db.collection" name');
  }
  const session = source.startSession();
  let optime: Timestamp | undefined;
  try {
    await source
      .db(namespace.slice(0, dot))
      .collection<{ _id: string }>(namespace.slice(dot + 1))
      .updateOne(
        { _id: name },
        { $set: { at: new Date() }, $inc: { fences: 1 } },
        { upsert: true, session, ...(signal ? { signal } : {}) }
      );
    optime = session.operationTime;
  } catch (error) {
    throw new SourceReadError(
      `Writing the fence marker to ${namespace} on the source failed: ${redactText(error instanceof Error ? error.message : String(error))}`,
      classifyError(error).retryable,
      {
        namespace,
        cause: error,
        hint: `fence() writes one document to ${namespace} on the source; grant the source user write access there, or pass another namespace`
      }
    );
  } finally {
    await session.endSession();
  }
  if (optime === undefined) {
    throw new SourceReadError('The source reported no operationTime for the fence marker', false, {
      namespace,
      hint: 'The source must be a replica set'
    });
  }
  return optime;
}

/**
 * What {@link runFence} needs from the replicator.
 * @internal
 */
export interface FenceRun {
  readonly mode: 'full' | 'incr' | 'all';
  /** The replicator's lifecycle state: only a running one tails the source. */
  readonly state: string;
  /** The source client, once connected. */
  readonly source: MongoClient | undefined;
  /** The checkpoint name: the marker's `_id`. */
  readonly name: string;
  readonly filter: NamespaceFilter;
  readonly options: FenceOptions;
  /** The applied position now. */
  readonly applied: () => Timestamp | undefined;
  /** Resolves at the next applied batch; rejects with `signal.reason` or if the replicator ends. */
  readonly nextBatch: (signal: AbortSignal | undefined) => Promise<unknown>;
}

/**
 * Writes the marker and waits until the applied position reaches it.
 * @internal
 */
export async function runFence(run: FenceRun): Promise<FenceResult> {
  const { options, source } = run;
  if (run.mode === 'full') {
    throw new InvalidConfigError(
      'mode',
      'fence() needs mode "incr" or "all": mode "full" does not follow the source'
    );
  }
  // A paused replicator still reads the source: its fence resolves once resume() applies it.
  if ((run.state !== 'running' && run.state !== 'paused') || source === undefined) {
    throw new InvalidStateError(
      `fence() needs a running replicator (it is ${run.state})`,
      run.state,
      { hint: 'Call it after start() has resolved and before stop()' }
    );
  }
  const namespace = fenceNamespace(options.namespace, run.filter);
  const started = performance.now();
  const marker = await writeFenceMarker(source, namespace, run.name, options.signal);
  while (run.applied()?.lessThan(marker) !== false) await run.nextBatch(options.signal);
  return { optime: marker, namespace, durationMs: performance.now() - started };
}
