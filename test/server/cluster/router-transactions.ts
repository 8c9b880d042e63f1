/**
 * Transactions through mongos (TransactionRouter, src/mongo/s/transaction_router.cpp): each shard
 * a statement reaches joins as a participant (its first statement carries `startTransaction` and
 * the transaction's readConcern); replies carry a `recoveryToken`. At commit:
 * - one participant, or only one that wrote: commitTransaction to the read-only participants,
 *   then to the writer, which logs its single `applyOps` as on a replica set;
 * - several writers: two-phase commit, coordinated by the first participant
 *   (transaction_coordinator.cpp): its `config.transaction_coordinators` document
 *   `{_id: {lsid, txnNumber}, participants}`, then every writer logs the transaction as an
 *   `applyOps` with `prepare: true` (its prepareTimestamp), the decision
 *   `{decision: 'commit', commitTimestamp: max(prepareTimestamps)}` is recorded, every writer logs
 *   `{commitTransaction: 1, commitTimestamp}` linked to its prepare entry by `prevOpTime`
 *   (op_observer_impl onTransactionPrepare / onPreparedTransactionCommit), and the coordinator
 *   document is deleted.
 */
import { Int32, Long, type Timestamp } from 'bson';

import {
  type BDoc,
  type BValue,
  compareValues,
  isDoc,
  isNumber,
  toNumber
} from '../bson/values.js';
import { type ReplyBody } from '../commands/context.js';
import { sessionUid } from '../commands/handshake.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';
import { type SessionState } from '../mongod/sessions.js';
import { type Transaction } from '../mongod/transaction.js';
import { type Router, type RouterContext, type RouterHandler, throwIfFailed } from './router.js';

/** The largest `applyOps` one entry holds before a prepared transaction is split. */
const MAX_APPLY_OPS_BYTES = 15 * 1024 * 1024;

const WRITE_COMMANDS = new Set([
  'insert',
  'update',
  'delete',
  'findAndModify',
  'findandmodify',
  'create',
  'createIndexes'
]);

interface RouterTransaction {
  readonly txnNumber: Long;
  /** Shards in the order they joined; the first coordinates a two-phase commit. */
  readonly participants: string[];
  readonly writers: Set<string>;
  readonly readConcern: BValue;
  state: 'active' | 'committed' | 'aborted';
}

function sessionKey(lsid: BDoc): string {
  const id = lsid.get('id') as { buffer: Uint8Array; position: number } | undefined;
  if (!id) return '';
  return Buffer.from(id.buffer.subarray(0, id.position)).toString('hex');
}

function txnNumberOf(cmd: BDoc): Long | undefined {
  const value = cmd.get('txnNumber');
  if (!isNumber(value)) return undefined;
  return value instanceof Long ? value : Long.fromNumber(toNumber(value));
}

function noSuchTransaction(txnNumber: Long | undefined): ServerError {
  return new ServerError(
    251,
    `Transaction with { txnNumber: ${txnNumber?.toString() ?? '-1'} } has been aborted or not started`,
    { labels: ['TransientTransactionError'] }
  );
}

export class RouterTransactions {
  readonly #sessions = new Map<string, RouterTransaction>();
  readonly #byCommand = new WeakMap<RouterContext, RouterTransaction>();

  /** The transaction a statement belongs to (started by it, or already open), if any. */
  of(ctx: RouterContext): RouterTransaction | undefined {
    const known = this.#byCommand.get(ctx);
    if (known) return known;
    const lsid = ctx.cmd.get('lsid');
    if (!isDoc(lsid) || ctx.cmd.get('autocommit') === undefined) return undefined;
    const txnNumber = txnNumberOf(ctx.cmd);
    if (!txnNumber) return undefined;
    const key = sessionKey(lsid);
    let txn = this.#sessions.get(key);
    if (ctx.cmd.get('startTransaction') === true) {
      txn = {
        txnNumber,
        participants: [],
        writers: new Set(),
        readConcern: ctx.cmd.get('readConcern'),
        state: 'active'
      };
      this.#sessions.set(key, txn);
    } else if (!txn || !txn.txnNumber.equals(txnNumber)) {
      throw noSuchTransaction(txnNumber);
    }
    this.#byCommand.set(ctx, txn);
    return txn;
  }

  /** Adds the session and transaction fields a member needs to a command sent to it. */
  sessionFields(ctx: RouterContext, member: string, out: BDoc): void {
    const lsid = ctx.cmd.get('lsid');
    if (!isDoc(lsid)) {
      if (ctx.cmd.has('readConcern')) out.set('readConcern', ctx.cmd.get('readConcern'));
      return;
    }
    out.set('lsid', lsid);
    const txnNumber = ctx.cmd.get('txnNumber');
    if (txnNumber === undefined) {
      if (ctx.cmd.has('readConcern')) out.set('readConcern', ctx.cmd.get('readConcern'));
      return;
    }
    out.set('txnNumber', txnNumber);
    const txn = this.of(ctx);
    if (!txn) {
      if (ctx.cmd.has('readConcern')) out.set('readConcern', ctx.cmd.get('readConcern'));
      return;
    }
    out.set('autocommit', false);
    if (!txn.participants.includes(member)) {
      txn.participants.push(member);
      out.set('startTransaction', true);
      if (txn.readConcern !== undefined) out.set('readConcern', txn.readConcern);
    }
    if (WRITE_COMMANDS.has(ctx.name)) txn.writers.add(member);
  }

  /** Statement replies in a transaction carry the `recoveryToken` drivers send back at commit. */
  decorate(ctx: RouterContext, reply: Map<string, unknown>): void {
    const txn = this.#byCommand.get(ctx);
    const coordinator = txn?.participants[0];
    if (coordinator !== undefined) {
      reply.set('recoveryToken', new Map([['recoveryShardId', coordinator]]));
    }
  }

  /** endSessions/killSessions: forget the sessions' transactions. */
  forget(ids: BValue[]): void {
    for (const value of ids) if (isDoc(value)) this.#sessions.delete(sessionKey(value));
  }

  forgetAll(): void {
    this.#sessions.clear();
  }

  #current(ctx: RouterContext): RouterTransaction {
    const lsid = ctx.cmd.get('lsid');
    const txnNumber = txnNumberOf(ctx.cmd);
    const txn = isDoc(lsid) ? this.#sessions.get(sessionKey(lsid)) : undefined;
    if (!txn || !txnNumber || !txn.txnNumber.equals(txnNumber)) throw noSuchTransaction(txnNumber);
    return txn;
  }

  readonly commitTransaction: RouterHandler = async ctx => {
    const txn = this.#current(ctx);
    if (txn.state === 'committed') return {};
    if (txn.state === 'aborted') throw noSuchTransaction(txn.txnNumber);
    const writers = txn.participants.filter(p => txn.writers.has(p));
    if (writers.length <= 1) {
      // The single-write-shard commit: read-only participants first, then the writer.
      const order = [...txn.participants.filter(p => !txn.writers.has(p)), ...writers];
      for (const member of order) {
        await ctx.router.sendOk(
          member,
          'admin',
          this.#control(ctx, 'commitTransaction'),
          ctx.connection
        );
      }
    } else {
      twoPhaseCommit(ctx.router, ctx.cmd.get('lsid') as BDoc, txn.txnNumber, txn.participants);
    }
    txn.state = 'committed';
    return {};
  };

  /**
   * Commits an internal transaction of the router's own (a document moving shards) across its
   * participants: commitTransaction on one, two-phase commit on several.
   */
  async commitInternal(ctx: RouterContext, lsid: BDoc, participants: string[]): Promise<void> {
    if (participants.length === 1) {
      await ctx.router.sendOk(
        participants[0]!,
        'admin',
        new Map<string, BValue>([
          ['commitTransaction', new Int32(1)],
          ['lsid', lsid],
          ['txnNumber', Long.ZERO],
          ['autocommit', false]
        ]),
        ctx.connection
      );
      return;
    }
    twoPhaseCommit(ctx.router, lsid, Long.ZERO, participants);
  }

  readonly abortTransaction: RouterHandler = async ctx => {
    const txn = this.#current(ctx);
    if (txn.state === 'committed') {
      throw new ServerError(
        256,
        `Transaction with { txnNumber: ${txn.txnNumber.toString()} } has been committed.`,
        { codeName: 'TransactionCommitted' }
      );
    }
    txn.state = 'aborted';
    let first: ReplyBody | undefined;
    for (const member of txn.participants) {
      const reply = await ctx.router.send(
        member,
        'admin',
        this.#control(ctx, 'abortTransaction'),
        ctx.connection
      );
      if (first === undefined) first = reply;
    }
    return {};
  };

  #control(ctx: RouterContext, name: string): BDoc {
    const out: BDoc = new Map<string, BValue>([[name, new Int32(1)]]);
    out.set('lsid', ctx.cmd.get('lsid'));
    out.set('txnNumber', ctx.cmd.get('txnNumber'));
    out.set('autocommit', false);
    if (ctx.cmd.has('writeConcern')) out.set('writeConcern', ctx.cmd.get('writeConcern'));
    return out;
  }
}

interface Participant {
  readonly id: string;
  readonly mongod: Mongod;
  readonly session: SessionState;
  readonly transaction: Transaction;
}

/** Two-phase commit across the participants (see the module comment). */
function twoPhaseCommit(router: Router, lsid: BDoc, txnNumber: Long, ids: string[]): void {
  const participants: Participant[] = ids.map(id => {
    const mongod = router.shard(id).mongod;
    const session = mongod.sessions.get(lsid, sessionUid());
    const transaction = session.transaction;
    if (!transaction || !transaction.txnNumber.equals(txnNumber)) {
      throw noSuchTransaction(txnNumber);
    }
    if (transaction.state !== 'inProgress') throw noSuchTransaction(txnNumber);
    return { id, mongod, session, transaction };
  });
  const txn = { txnNumber };
  const coordinator = participants[0]!;
  const coordinatorId = new Map<string, BValue>([
    ['lsid', coordinator.session.lsid],
    ['txnNumber', txn.txnNumber]
  ]);
  const coordinatorDocs = (change: (mongod: Mongod) => void) => change(coordinator.mongod);
  coordinatorDocs(mongod =>
    mongod.writes.insert(
      'config',
      'transaction_coordinators',
      new Map<string, BValue>([
        ['_id', coordinatorId],
        ['participants', participants.map(p => p.id)]
      ]),
      {}
    )
  );
  // Prepare: every participant must be able to commit, or the coordinator decides abort.
  try {
    for (const participant of participants) participant.transaction.checkPublishable();
  } catch (error) {
    for (const participant of participants) {
      participant.transaction.state = 'aborted';
      participant.transaction.release();
    }
    coordinatorDocs(mongod =>
      mongod.writes.delete(
        'config',
        'transaction_coordinators',
        new Map([['_id', coordinatorId]]),
        1,
        {}
      )
    );
    throw error;
  }
  let commitTimestamp: Timestamp | undefined;
  for (const participant of participants) {
    const prepared = logPrepare(participant, txn.txnNumber);
    if (prepared && (!commitTimestamp || compareValues(prepared, commitTimestamp) > 0)) {
      commitTimestamp = prepared;
    }
  }
  const decision = new Map<string, BValue>([['decision', 'commit']]);
  if (commitTimestamp) decision.set('commitTimestamp', commitTimestamp);
  coordinatorDocs(mongod =>
    mongod.writes.update(
      'config',
      'transaction_coordinators',
      {
        q: new Map([['_id', coordinatorId]]),
        u: new Map([['$set', new Map([['decision', decision]])]]),
        upsert: false,
        multi: false
      },
      {}
    )
  );
  for (const participant of participants) {
    const { transaction, mongod, session } = participant;
    try {
      transaction.publish();
    } finally {
      transaction.release();
    }
    transaction.state = 'committed';
    if (transaction.ops.length > 0 && commitTimestamp) {
      mongod.log({
        op: 'c',
        ns: 'admin.$cmd',
        o: new Map<string, BValue>([
          ['commitTransaction', new Int32(1)],
          ['commitTimestamp', commitTimestamp]
        ]),
        retryable: { write: { lsid: session.lsid, txnNumber: txn.txnNumber } }
      });
    }
  }
  coordinatorDocs(mongod =>
    mongod.writes.delete(
      'config',
      'transaction_coordinators',
      new Map([['_id', coordinatorId]]),
      1,
      {}
    )
  );
}

/**
 * A participant's prepare entries: one `{applyOps, prepare: true}`, or a `partialTxn` chain whose
 * last entry has `prepare: true` and `count`. Returns the prepareTimestamp (none when read-only).
 */
function logPrepare(participant: Participant, txnNumber: Long): Timestamp | undefined {
  const { transaction, mongod, session } = participant;
  if (transaction.ops.length === 0) return undefined;
  const write = { lsid: session.lsid, txnNumber };
  const chunks = transaction.chunks(mongod.maxTransactionOpsPerOplogEntry, MAX_APPLY_OPS_BYTES);
  let first = 0;
  chunks.forEach((chunk, index) => {
    const o: BDoc = new Map<string, BValue>([['applyOps', chunk]]);
    const last = index === chunks.length - 1;
    if (!last) o.set('partialTxn', true);
    else {
      o.set('prepare', true);
      if (chunks.length > 1) o.set('count', Long.fromNumber(transaction.ops.length));
    }
    mongod.log({
      op: 'c',
      ns: 'admin.$cmd',
      o,
      retryable: { write },
      applyOpsImages: transaction.images.slice(first, first + chunk.length)
    });
    first += chunk.length;
  });
  return mongod.oplog.lastTimestamp;
}

/** Reply of a transaction statement must fail the same way when a shard failed it. */
export function checkStatement(reply: Map<string, unknown>): void {
  throwIfFailed(reply);
}
