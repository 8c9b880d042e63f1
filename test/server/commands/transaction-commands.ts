/** commitTransaction and abortTransaction; a commit publishes the writes and logs `applyOps`. */
import { Long } from 'bson';

import { type BDoc, type BValue } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';
import { type SessionState } from '../mongod/sessions.js';
import { type Transaction } from '../mongod/transaction.js';
import { type CommandContext, type CommandHandler } from './context.js';

/** The largest `applyOps` array one oplog entry holds before the transaction is split. */
const MAX_APPLY_OPS_BYTES = 15 * 1024 * 1024;

function transactionOf(ctx: CommandContext): { session: SessionState; transaction: Transaction } {
  const { session, transaction } = ctx.gate;
  if (!session || !transaction) {
    throw new ServerError(251, 'no transaction started', { labels: ['TransientTransactionError'] });
  }
  return { session, transaction };
}

/**
 * One `applyOps` entry, or a `partialTxn` chain closed by an entry carrying `count`, linked by
 * `prevOpTime` (the writer chains entries of one lsid + txnNumber).
 */
function logCommit(mongod: Mongod, session: SessionState, transaction: Transaction): void {
  if (transaction.ops.length === 0) return;
  const write = { lsid: session.lsid, txnNumber: transaction.txnNumber };
  const chunks = transaction.chunks(mongod.maxTransactionOpsPerOplogEntry, MAX_APPLY_OPS_BYTES);
  let first = 0;
  chunks.forEach((chunk, index) => {
    const o: BDoc = new Map<string, BValue>([['applyOps', chunk]]);
    const last = index === chunks.length - 1;
    if (!last) o.set('partialTxn', true);
    else if (chunks.length > 1) o.set('count', Long.fromNumber(transaction.ops.length));
    // Images are filed under the entry that holds the operation and its index there.
    mongod.log({
      op: 'c',
      ns: 'admin.$cmd',
      o,
      retryable: { write },
      applyOpsImages: transaction.images.slice(first, first + chunk.length)
    });
    first += chunk.length;
  });
}

const commitTransaction: CommandHandler = ctx => {
  const { session, transaction } = transactionOf(ctx);
  if (transaction.state === 'committed') return {};
  try {
    transaction.publish();
  } finally {
    transaction.release();
  }
  transaction.state = 'committed';
  logCommit(ctx.mongod, session, transaction);
  return {};
};

const abortTransaction: CommandHandler = ctx => {
  const { transaction } = transactionOf(ctx);
  if (transaction.state === 'committed') {
    throw new ServerError(
      256,
      `Transaction with { txnNumber: ${transaction.txnNumber.toString()} } has been committed.`,
      { codeName: 'TransactionCommitted' }
    );
  }
  if (transaction.state === 'aborted') {
    throw new ServerError(
      251,
      `Transaction with { txnNumber: ${transaction.txnNumber.toString()} } has been aborted.`,
      { labels: ['TransientTransactionError'] }
    );
  }
  transaction.state = 'aborted';
  transaction.release();
  return {};
};

export const transactionCommands: Record<string, CommandHandler> = {
  commitTransaction,
  abortTransaction
};
