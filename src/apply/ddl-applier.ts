/**
 * DdlApplier: runs one DDL command of the stream on the target, alone (the pool has finished
 * every earlier write and starts no later one meanwhile), treating "already done" answers as
 * success, since a restart replays commands the target may already have run.
 */
import {
  type Document,
  type MongoClient,
  MongoServerError,
  type WriteConcern,
  type WriteConcernSettings
} from 'mongodb';

import { ReplicationError, TargetWriteError } from '../errors.js';
import { describeFailure } from '../lifecycle/side-errors.js';
import { targetWriteOptions } from '../lifecycle/write-options.js';
import { type Logger } from '../logger.js';
import { type TargetCommand } from '../oplog/ddl-ops.js';
import { formatOptime } from '../oplog/oplog-entry.js';
import { type DdlBatch } from '../pipeline/pipeline-items.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';
import { mergeRenamed } from './rename-merge.js';
import { type LaneRetry } from './run-writer.js';

/**
 * Why a DDL command may fail harmlessly on the target: it already happened (mongod's own list
 * for oplog application, `oplog.cpp` `kOpsMap`: the error codes each command may ignore).
 */
const ALREADY_DONE: ReadonlyMap<string, ReadonlySet<number>> = new Map([
  ['create', new Set([48])], // NamespaceExists
  ['createIndexes', new Set([26, 68])], // NamespaceNotFound, IndexAlreadyExists
  ['drop', new Set([26])],
  ['dropDatabase', new Set([26])],
  ['dropIndexes', new Set([26, 27])], // IndexNotFound
  ['renameCollection', new Set([26, 48])],
  ['collMod', new Set([26])],
  ['convertToCapped', new Set([26])],
  ['emptycapped', new Set([26])]
]);

const NAMESPACE_EXISTS = 48;
const NAMESPACE_NOT_FOUND = 26;

/**
 * What a {@link DdlApplier} needs.
 * @internal
 */
export interface DdlApplierOptions {
  readonly target: MongoClient;
  readonly writeConcern: WriteConcern | WriteConcernSettings | undefined;
  /** Whether the documents a rename merge moves skip validation (as every write does). */
  readonly bypassDocumentValidation: boolean;
  readonly retry: LaneRetry;
  /** The rate limit and pause gate: a command counts as one op. */
  readonly throttle: WriteThrottle | undefined;
  readonly logger: Logger;
  /** Runs right before every write; throwing stops it (the lease check). */
  readonly beforeWrite: () => void;
}

/**
 * Runs the DDL commands of the stream on the target.
 * @internal
 */
export class DdlApplier {
  constructor(private readonly options: DdlApplierOptions) {}

  /**
   * Runs `command` (the batch's command, possibly adjusted); returns false when the target
   * reports it as already done. Waits for the throttle first (and for a pause to end), unless
   * `signal` aborts.
   * @throws {@link TargetWriteError} naming the command, namespace and optime when the target
   * refuses it
   */
  async apply(
    batch: DdlBatch,
    target: TargetCommand = batch.command,
    signal?: AbortSignal
  ): Promise<boolean> {
    const { db, command } = withWriteConcern(target, this.options.writeConcern);
    const name = Object.keys(command)[0] ?? '';
    const label = `${name} on ${db}`;
    const { throttle } = this.options;
    const run = () =>
      this.options.retry(label, () => {
        this.options.beforeWrite();
        return this.options.target.db(db).command(command);
      });
    try {
      await (throttle === undefined ? run() : throttle.write(1, 0, signal, run));
      return true;
    } catch (error) {
      const code = error instanceof MongoServerError ? error.code : undefined;
      if (batch.mergeIntoExisting === true && code === NAMESPACE_EXISTS) {
        await this.#mergeRenamed(command, signal);
        return true;
      }
      if (typeof code === 'number' && ALREADY_DONE.get(name)?.has(code) === true) {
        this.options.logger.info(`${label} was already applied on the target`, { code });
        if (name === 'renameCollection' && code === NAMESPACE_EXISTS) {
          await this.#dropRenamed(command);
        }
        return false;
      }
      if (ReplicationError.is(error)) throw error;
      throw new TargetWriteError(
        `The target rejected ${name} of ${describeTarget(batch.command)} at ${formatOptime(batch.entry.ts)}${describeFailure(error)}`,
        false,
        {
          namespace: describeTarget(batch.command),
          optime: batch.entry.ts,
          cause: error,
          hint: 'A DDL command the target rejects stops replication; fix the target (or the rename rules) and restart from the checkpoint'
        }
      );
    }
  }

  /** A rename onto a collection kept by skipped drops: see rename-merge.ts. */
  async #mergeRenamed(command: Document, signal: AbortSignal | undefined): Promise<void> {
    const from = String(command.renameCollection);
    const to = String(command.to);
    const moved = await mergeRenamed(from, to, {
      target: this.options.target,
      writeOptions: targetWriteOptions(this.options),
      retry: this.options.retry,
      throttle: this.options.throttle,
      beforeWrite: this.options.beforeWrite,
      signal
    });
    this.options.logger.info(
      `Renamed ${from} onto ${to}, which the target keeps because drops are skipped: merged into it`,
      { documents: moved }
    );
  }

  /**
   * A rename replayed after it already happened finds its target taken. CRUD ops are applied by
   * name (mongod applies them by collection UUID), so the replay may have re-created the old
   * name from the ops before the rename: that copy is an artifact the source never had after
   * this point, and every later source write to the old name is still ahead in the stream. Drop
   * it, as the rename would have made it disappear.
   */
  async #dropRenamed(command: Document): Promise<void> {
    const from = command.renameCollection as unknown;
    if (typeof from !== 'string') return;
    const dot = from.indexOf('.');
    const db = from.slice(0, dot);
    const drop = withWriteConcern(
      { db, command: { drop: from.slice(dot + 1) } },
      this.options.writeConcern
    );
    await this.options.retry(`drop ${from} left by a replayed rename`, () => {
      this.options.beforeWrite();
      return this.options.target
        .db(db)
        .command(drop.command)
        .catch((error: unknown) => {
          if (error instanceof MongoServerError && error.code === NAMESPACE_NOT_FOUND) {
            return undefined;
          }
          throw error;
        });
    });
  }
}

function withWriteConcern(
  command: TargetCommand,
  writeConcern: WriteConcern | WriteConcernSettings | undefined
): TargetCommand {
  if (writeConcern === undefined || 'writeConcern' in command.command) return command;
  return { db: command.db, command: { ...command.command, writeConcern } };
}

/** The namespace a command concerns: `db.coll`, the source of a rename, or `db.$cmd`. */
function describeTarget(command: TargetCommand): string {
  const name = Object.keys(command.command)[0] ?? '';
  const value: unknown = command.command[name];
  if (typeof value !== 'string') return `${command.db}.$cmd`;
  return name === 'renameCollection' ? value : `${command.db}.${value}`;
}
