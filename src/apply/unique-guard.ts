/**
 * UniqueIndexGuard: keeps unique secondary indexes from stopping replication of a consistent
 * source, for the {@link HashedApplierPool}.
 *
 * ```
 * lanes apply a batch in parallel ──duplicate key on a unique index──► UniqueConflict
 *   → the pool stops dispatching, lets every batch in flight finish, and hands them here:
 *   replay: every op of those batches again, in source order (one stream), and on a duplicate
 *           key: relax that index (rebuilt non-unique), write the op again
 *   → the namespace is "ordered" from now on: its ops go to one lane, in source order
 *   enforce: once the target is consistent — right after the replay, or at the end of the
 *           window where it may hold later versions (catch-up after a copy, the stretch a
 *           restart replays) — every relaxed index is made unique again
 * ```
 *
 * Applied in source order from a consistent state, a source whose indexes were unique cannot
 * collide; what the lanes' reordering or a replay over later versions produced passes while the
 * index is relaxed, and the state is whole again at the end. A duplicate that remains when the
 * index is enforced is real (another writer on the target, or data the source does not hold):
 * the `uniqueConflictPolicy` decides — `fail` (the default) names the index, `ignore` leaves it
 * non-unique and reports it. Relaxed indexes are persisted through `onChange` before any
 * op is written under them, so a crash never leaves one relaxed without anyone to enforce it.
 */
import { type Document, type Timestamp } from 'mongodb';

import {
  UniqueIndexDuplicatesError,
  type UniqueIndexes,
  type UniqueIndexRef
} from '../catalog/unique-indexes.js';
import { ApplyConflictError } from '../errors.js';
import { type Logger } from '../logger.js';
import { type TargetCommand } from '../oplog/ddl-ops.js';
import { compareOptimes, formatOptime } from '../oplog/oplog-entry.js';
import { type CrudBatch, type CrudOp } from '../pipeline/pipeline-items.js';
import { type ApplyCounts, emptyCounts } from './apply-outcome.js';
import { type LaneRun } from './lane-plan.js';
import { type RunWriter } from './run-writer.js';
import { UniqueConflict } from './unique-conflict.js';

/**
 * What to do when a unique index cannot be enforced again: `fail` stops replication naming the
 * index; `ignore` leaves it non-unique on the target and reports it (`uniqueIndex` event).
 * @public
 */
export type UniqueConflictPolicy = 'fail' | 'ignore';

/**
 * Payload of the `uniqueIndex` event: a unique index of the target was relaxed (made non-unique
 * while the target may be inconsistent), enforced again, or left relaxed by the policy.
 * @public
 */
export interface UniqueIndexEvent {
  /** What happened to it. */
  readonly action: 'relaxed' | 'enforced' | 'leftRelaxed';
  /** The target namespace. */
  readonly namespace: string;
  /** The index name. */
  readonly index: string;
  /**
   * Why: relaxed because of a `copy` (built non-unique by a full copy), a `conflict` (a
   * duplicate key while applying) or a `ddl` (created or converted on the source during the
   * window); enforced because the target is `consistent`; left relaxed because of `duplicates`.
   */
  readonly reason: 'copy' | 'conflict' | 'ddl' | 'consistent' | 'duplicates';
}

/**
 * What {@link UniqueIndexGuard} needs.
 * @internal
 */
export interface UniqueIndexGuardOptions {
  readonly indexes: UniqueIndexes;
  /** Writes replayed runs (exact forms; misses counted as expected). */
  readonly writer: RunWriter;
  readonly policy: UniqueConflictPolicy;
  /** Until this optime the target may hold later versions: enforcing waits until it is applied. */
  readonly windowEnd: Timestamp | undefined;
  /** Indexes already relaxed (a copy, or an earlier run), with their namespaces ordered. */
  readonly relaxed: readonly UniqueIndexRef[];
  /** Namespaces already known to need source order. */
  readonly ordered: readonly string[];
  /** Persists the relaxed indexes and ordered namespaces; awaited before writing under them. */
  readonly onChange: (state: UniqueGuardState) => Promise<void>;
  readonly onEvent: (event: UniqueIndexEvent) => void;
  readonly logger: Logger;
}

/**
 * What the guard persists.
 * @public
 */
export interface UniqueGuardState {
  /** Unique indexes of the target kept non-unique until the target is consistent. */
  readonly relaxedIndexes: readonly UniqueIndexRef[];
  /** Target namespaces applied in source order (one lane each). */
  readonly orderedNamespaces: readonly string[];
}

const key = (ref: UniqueIndexRef): string => `${ref.namespace}\u0000${ref.name}`;

/**
 * See the file header.
 * @internal
 */
export class UniqueIndexGuard {
  readonly #options: UniqueIndexGuardOptions;
  readonly #relaxed = new Map<string, UniqueIndexRef>();
  readonly #ordered: Set<string>;
  /** Indexes the `ignore` policy left relaxed: never tried again in this run. */
  readonly #abandoned = new Set<string>();

  constructor(options: UniqueIndexGuardOptions) {
    this.#options = options;
    for (const ref of options.relaxed) this.#relaxed.set(key(ref), ref);
    this.#ordered = new Set([...options.ordered, ...options.relaxed.map(ref => ref.namespace)]);
  }

  /** Namespaces whose ops must reach the target in source order (one lane each). */
  get ordered(): ReadonlySet<string> {
    return this.#ordered;
  }

  /** True while some index is relaxed. */
  get relaxing(): boolean {
    return this.#relaxed.size > this.#abandoned.size;
  }

  /** True while ops at or before `optime` may meet later versions on the target. */
  inWindow(optime: Timestamp): boolean {
    const end = this.#options.windowEnd;
    return end !== undefined && compareOptimes(optime, end) <= 0;
  }

  /**
   * A DDL command inside the window: a unique index it creates is built relaxed, and a
   * `collMod` making one unique is left for the enforcement (and the index recorded). Outside
   * the window the command runs as logged; an index it makes unique orders its namespace.
   * @returns the command to run, or undefined when nothing is left to run
   */
  async forDdl(command: TargetCommand, optime: Timestamp): Promise<TargetCommand | undefined> {
    const body = command.command;
    const name = Object.keys(body)[0];
    const coll = body[name ?? ''];
    if (typeof coll !== 'string') return command;
    const namespace = `${command.db}.${coll}`;
    if (name === 'createIndexes' && Array.isArray(body.indexes)) {
      const specs = body.indexes as Document[];
      const unique = specs.filter(spec => spec.unique === true || spec.prepareUnique === true);
      if (unique.length === 0) return command;
      await this.#order(namespace);
      if (!this.inWindow(optime)) return command;
      await this.#relax(
        unique.map(spec => ({ namespace, name: String(spec.name) })),
        'ddl'
      );
      const relaxed = specs.map(spec => {
        if (!unique.includes(spec)) return spec;
        const { unique: _u, prepareUnique: _p, ...rest } = spec;
        return rest;
      });
      return { db: command.db, command: { ...body, indexes: relaxed } };
    }
    if (name === 'collMod' && typeof body.index === 'object' && body.index !== null) {
      const index = body.index as Document;
      if (index.unique !== true && index.prepareUnique !== true) return command;
      await this.#order(namespace);
      if (!this.inWindow(optime)) return command;
      const indexName = typeof index.name === 'string' ? index.name : undefined;
      if (indexName !== undefined) await this.#relax([{ namespace, name: indexName }], 'ddl');
      const { unique: _u, prepareUnique: _p, ...rest } = index;
      const remaining = Object.keys(rest).filter(
        field => field !== 'name' && field !== 'keyPattern'
      );
      if (remaining.length === 0 && Object.keys(body).length === 2) return undefined;
      return { db: command.db, command: { ...body, index: rest } };
    }
    return command;
  }

  /**
   * Applies every op of `batches` again, in source order, relaxing each unique index a write
   * collides with; orders the namespaces involved. Enforces right away when the target is then
   * consistent (outside the window).
   */
  async replay(batches: readonly CrudBatch[], signal: AbortSignal): Promise<void> {
    const ops = batches.flatMap(batch => batch.ops);
    const last = batches.at(-1)?.lastOptime;
    this.#options.logger.info(
      'A unique index met a duplicate key while lanes applied in parallel; applying the batches again in source order',
      { batches: batches.length, ops: ops.length }
    );
    for (const run of runsOf(ops)) {
      signal.throwIfAborted();
      await this.#order(run.ns);
      await this.#writeRelaxing(run);
    }
    if (last !== undefined) await this.enforceIfDue(last);
  }

  /**
   * Applies a transaction (or anything written as one unit) with `write`, relaxing each unique
   * index it collides with and trying again.
   */
  async withRelaxing<T>(write: () => Promise<T>): Promise<T> {
    const relaxedHere = new Set<string>();
    for (;;) {
      try {
        return await write();
      } catch (error) {
        if (!(error instanceof UniqueConflict)) throw error;
        const ref = { namespace: error.namespace, name: error.index };
        // Written again after this very call made the index non-unique, and it still collided.
        if (relaxedHere.has(key(ref))) throw stillUnique(ref);
        relaxedHere.add(key(ref));
        await this.#order(error.namespace);
        await this.#relaxConflict(error);
      }
    }
  }

  /**
   * Relaxes the indexes of the conflicts the lanes reported (before the batches are replayed).
   * Several lanes can report the same index in one round: it is relaxed once.
   */
  async relaxConflicts(conflicts: readonly UniqueConflict[]): Promise<void> {
    const seen = new Set<string>();
    for (const conflict of conflicts) {
      const id = key({ namespace: conflict.namespace, name: conflict.index });
      if (seen.has(id)) continue;
      seen.add(id);
      await this.#order(conflict.namespace);
      await this.#relaxConflict(conflict);
    }
  }

  /**
   * Enforces every relaxed index once `applied` (the optime applied everywhere) has passed the
   * window: the target is consistent from then on.
   * @throws {@link ApplyConflictError} under policy `fail` when duplicates remain
   */
  async enforceIfDue(applied: Timestamp): Promise<void> {
    const end = this.#options.windowEnd;
    // Consistent once everything up to the window's end is applied.
    if (!this.relaxing || (end !== undefined && compareOptimes(applied, end) < 0)) return;
    for (const [id, ref] of [...this.#relaxed]) {
      if (this.#abandoned.has(id)) continue;
      let enforced: boolean;
      try {
        enforced = await this.#options.indexes.enforce(ref.namespace, ref.name);
      } catch (error) {
        if (!(error instanceof UniqueIndexDuplicatesError)) throw error;
        if (this.#options.policy === 'fail') {
          throw new ApplyConflictError(
            `Unique index ${ref.name} of ${ref.namespace} cannot be enforced again after ${formatOptime(applied)}: the target holds duplicate keys for it`,
            {
              namespace: ref.namespace,
              optime: applied,
              cause: error,
              hint: 'uniqueConflictPolicy is "fail". Something besides the source wrote to the target, or the target was not empty; remove the duplicates and restart, or set uniqueConflictPolicy "ignore" to leave the index non-unique'
            }
          );
        }
        this.#abandoned.add(id);
        this.#report({
          action: 'leftRelaxed',
          namespace: ref.namespace,
          index: ref.name,
          reason: 'duplicates'
        });
        continue;
      }
      this.#relaxed.delete(id);
      await this.#persist();
      // An index dropped meanwhile (a DDL of the source) has nothing to enforce.
      if (enforced) {
        this.#report({
          action: 'enforced',
          namespace: ref.namespace,
          index: ref.name,
          reason: 'consistent'
        });
      }
    }
  }

  /** The state to persist. */
  state(): UniqueGuardState {
    return { relaxedIndexes: [...this.#relaxed.values()], orderedNamespaces: [...this.#ordered] };
  }

  async #writeRelaxing(run: LaneRun): Promise<ApplyCounts> {
    const counts = emptyCounts();
    await this.withRelaxing(() => this.#options.writer.write(run, counts));
    return counts;
  }

  async #relaxConflict(conflict: UniqueConflict): Promise<void> {
    const ref = { namespace: conflict.namespace, name: conflict.index };
    if (!this.#relaxed.has(key(ref))) return this.#relax([ref], 'conflict');
    // Recorded as relaxed, yet it collided: a crash came between recording it and rebuilding it
    // (relaxed now), or the write ran before the rebuild (nothing left to do).
    if (await this.#options.indexes.relax(ref.namespace, ref.name)) {
      this.#report({
        action: 'relaxed',
        namespace: ref.namespace,
        index: ref.name,
        reason: 'conflict'
      });
    }
  }

  async #relax(refs: readonly UniqueIndexRef[], reason: UniqueIndexEvent['reason']): Promise<void> {
    const fresh = refs.filter(ref => !this.#relaxed.has(key(ref)));
    if (fresh.length === 0) return;
    for (const ref of fresh) this.#relaxed.set(key(ref), ref);
    // Recorded before the index changes: a crash in between leaves it to enforce, never lost.
    await this.#persist();
    for (const ref of fresh) {
      await this.#options.indexes.relax(ref.namespace, ref.name);
      this.#report({
        action: 'relaxed',
        namespace: ref.namespace,
        index: ref.name,
        reason
      });
    }
  }

  async #order(namespace: string): Promise<void> {
    if (this.#ordered.has(namespace)) return;
    this.#ordered.add(namespace);
    await this.#persist();
  }

  #report(event: UniqueIndexEvent): void {
    logUniqueIndexEvent(this.#options.logger, event);
    this.#options.onEvent(event);
  }

  #persist(): Promise<void> {
    return this.#options.onChange(this.state());
  }
}

/** The error for an index that keeps rejecting writes after it was made non-unique. */
function stillUnique(ref: UniqueIndexRef): ApplyConflictError {
  return new ApplyConflictError(
    `Unique index ${ref.name} of ${ref.namespace} still rejects a write after it was made non-unique`,
    {
      namespace: ref.namespace,
      hint: "Something else changes the target's indexes; stop it and restart"
    }
  );
}

/**
 * Logs a {@link UniqueIndexEvent}: `info` when an index is relaxed or enforced, `warn` when one
 * is left non-unique (the target accepts duplicates for it).
 * @internal
 */
export function logUniqueIndexEvent(logger: Logger, event: UniqueIndexEvent): void {
  const fields = { namespace: event.namespace, index: event.index, reason: event.reason };
  const what = `Unique index ${event.index} of ${event.namespace}`;
  if (event.action === 'relaxed') logger.info(`${what} is non-unique for now`, fields);
  else if (event.action === 'enforced') logger.info(`${what} is unique again`, fields);
  else logger.warn(`${what} stays non-unique: the target holds duplicate keys for it`, fields);
}

/** Consecutive ops of one namespace, in source order; misses are expected (a replay). */
function runsOf(ops: readonly CrudOp[]): LaneRun[] {
  const runs: LaneRun[] = [];
  let current: CrudOp[] = [];
  for (const op of ops) {
    if (current.length > 0 && current[0]!.targetNs !== op.targetNs) {
      runs.push({ kind: 'write', ns: current[0]!.targetNs, ops: current, catchUp: true });
      current = [];
    }
    current.push(op);
  }
  if (current.length > 0)
    runs.push({ kind: 'write', ns: current[0]!.targetNs, ops: current, catchUp: true });
  return runs;
}

/**
 * `state` with `relaxed` added (and their namespaces ordered), each once.
 * @internal
 */
export function withRelaxed(
  state: UniqueGuardState,
  relaxed: readonly UniqueIndexRef[]
): UniqueGuardState {
  const refs = new Map(state.relaxedIndexes.map(ref => [key(ref), ref]));
  for (const ref of relaxed) refs.set(key(ref), ref);
  return {
    relaxedIndexes: [...refs.values()],
    orderedNamespaces: [
      ...new Set([...state.orderedNamespaces, ...relaxed.map(ref => ref.namespace)])
    ]
  };
}
