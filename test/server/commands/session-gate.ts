/**
 * Session rules applied before a command runs: which transaction a statement belongs to, the
 * errors mongod gives for transaction numbers out of order, and retryable-write retries answered
 * from the stored reply instead of being executed twice.
 */
import { Long } from 'bson';

import { type BDoc, isDoc, isNumber, toNumber } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';
import { type SessionState } from '../mongod/sessions.js';
import { Transaction } from '../mongod/transaction.js';
import { sessionUid } from './handshake.js';

/** Commands mongod allows inside a multi-document transaction. */
const TRANSACTION_COMMANDS = new Set([
  'find',
  'getMore',
  'killCursors',
  'insert',
  'update',
  'delete',
  'findAndModify',
  'findandmodify',
  'aggregate',
  'distinct',
  // DDL on new collections is allowed in transactions from 4.4 (every profile here).
  'create',
  'createIndexes',
  'commitTransaction',
  'abortTransaction'
]);

/** Commands that are retryable writes when sent with a txnNumber outside a transaction. */
const RETRYABLE_WRITES = new Set(['insert', 'update', 'delete', 'findAndModify', 'findandmodify']);

export interface SessionGate {
  readonly session?: SessionState | undefined;
  /** Set for a statement of a multi-document transaction (and for commit/abort). */
  readonly transaction?: Transaction | undefined;
  /** Set for a retryable write whose reply must be remembered. */
  readonly retryableWrite?: boolean;
  /** The stored reply of this very retryable write: return it, do not execute again. */
  readonly retried?: Map<string, unknown> | undefined;
  /** A retryable write's first statement id, under which its reply is stored. */
  readonly stmtKey?: number;
}

function txnNumberOf(cmd: BDoc): Long | undefined {
  const value = cmd.get('txnNumber');
  if (value === undefined) return undefined;
  if (!isNumber(value))
    throw new ServerError(14, "BSON field 'txnNumber' is the wrong type, expected type 'long'");
  return value instanceof Long ? value : Long.fromNumber(toNumber(value));
}

function noSuchTransaction(message: string): ServerError {
  return new ServerError(251, message, { labels: ['TransientTransactionError'] });
}

export function enterSession(mongod: Mongod, name: string, cmd: BDoc): SessionGate {
  const lsid = cmd.get('lsid');
  const txnNumber = txnNumberOf(cmd);
  const autocommit = cmd.get('autocommit');
  const startTransaction = cmd.get('startTransaction') === true;
  if (!isDoc(lsid)) {
    if (txnNumber !== undefined || autocommit !== undefined) {
      throw new ServerError(
        50768,
        'Transaction number requires a session ID to also be specified',
        { codeName: 'Location50768' }
      );
    }
    return {};
  }
  const session = mongod.sessions.get(lsid, sessionUid());
  if (autocommit === undefined) {
    if (startTransaction)
      throw new ServerError(50768, 'startTransaction requires autocommit: false', {
        codeName: 'Location50768'
      });
    if (txnNumber === undefined || !RETRYABLE_WRITES.has(name)) return { session };
    return retryableWrite(session, txnNumber, firstStmtId(cmd));
  }
  if (autocommit !== false) {
    throw new ServerError(72, 'autocommit must be false', { codeName: 'InvalidOptions' });
  }
  if (txnNumber === undefined) {
    throw new ServerError(
      50768,
      "'autocommit' field requires a transaction number to also be specified",
      { codeName: 'Location50768' }
    );
  }
  if (!TRANSACTION_COMMANDS.has(name)) {
    throw new ServerError(263, `Cannot run '${name}' in a multi-document transaction.`);
  }
  if (startTransaction) return { session, transaction: begin(mongod, session, txnNumber) };
  const transaction = session.transaction;
  if (!transaction || !transaction.txnNumber.equals(txnNumber)) {
    const active = session.txnNumber?.toString() ?? 'none';
    throw noSuchTransaction(
      `Given transaction number ${txnNumber.toString()} does not match any in-progress transactions. The active transaction number is ${active}`
    );
  }
  if (transaction.state === 'aborted' && name !== 'abortTransaction') {
    throw noSuchTransaction(
      `Transaction with { txnNumber: ${txnNumber.toString()} } has been aborted.`
    );
  }
  if (
    transaction.state === 'committed' &&
    name !== 'commitTransaction' &&
    name !== 'abortTransaction'
  ) {
    throw new ServerError(
      256,
      `Transaction with { txnNumber: ${txnNumber.toString()} } has been committed.`,
      { codeName: 'TransactionCommitted' }
    );
  }
  return { session, transaction };
}

function begin(mongod: Mongod, session: SessionState, txnNumber: Long): Transaction {
  if (session.txnNumber && txnNumber.lessThan(session.txnNumber)) {
    throw new ServerError(
      225,
      `Cannot start transaction ${txnNumber.toString()} on session because a newer transaction ${session.txnNumber.toString()} has already started.`,
      { codeName: 'TransactionTooOld' }
    );
  }
  if (session.txnNumber && txnNumber.equals(session.txnNumber)) {
    throw new ServerError(
      50911,
      `Cannot start a transaction at given transaction number ${txnNumber.toString()} a transaction with the same number is in progress.`,
      { codeName: 'Location50911' }
    );
  }
  if (session.transaction?.state === 'inProgress') {
    // A newer transaction number implicitly aborts the open one, as on mongod.
    session.transaction.state = 'aborted';
    session.transaction.release();
  }
  const transaction = new Transaction(txnNumber, mongod.catalog, mongod.writeLocks);
  session.txnNumber = txnNumber;
  session.transaction = transaction;
  session.retryReplies.clear();
  return transaction;
}

/** The first statement id of a write (`stmtIds[0]`, else `stmtId`, else 0). */
function firstStmtId(cmd: BDoc): number {
  const ids = cmd.get('stmtIds');
  const first = Array.isArray(ids) ? ids[0] : cmd.get('stmtId');
  return isNumber(first) ? toNumber(first) : 0;
}

function retryableWrite(session: SessionState, txnNumber: Long, stmtKey: number): SessionGate {
  if (session.txnNumber && txnNumber.lessThan(session.txnNumber)) {
    throw new ServerError(
      225,
      `Retryable write with txnNumber ${txnNumber.toString()} is prohibited on session because a newer retryable write with txnNumber ${session.txnNumber.toString()} has already started on this session.`,
      { codeName: 'TransactionTooOld' }
    );
  }
  const sameNumber = session.txnNumber !== undefined && txnNumber.equals(session.txnNumber);
  const stored = sameNumber ? session.retryReplies.get(stmtKey) : undefined;
  if (stored) return { session, retried: stored };
  if (!sameNumber) session.retryReplies.clear();
  session.txnNumber = txnNumber;
  session.transaction = undefined;
  return { session, retryableWrite: true, stmtKey };
}
