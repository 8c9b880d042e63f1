/**
 * Server-side logical sessions: the newest transaction number each one used, its open
 * transaction, and the reply of its last retryable write (so a retry returns it instead of
 * writing twice, as mongod's `config.transactions` does).
 */
import { type Binary, type Long } from 'bson';

import { type BDoc, type BValue } from '../bson/values.js';
import { type Transaction } from './transaction.js';

export interface SessionState {
  /** `{id: UUID, uid: BinData}` as it appears in the oplog. */
  readonly lsid: BDoc;
  /** Highest txnNumber seen (retryable write or transaction). */
  txnNumber: Long | undefined;
  transaction: Transaction | undefined;
  /**
   * The replies of the retryable writes at `txnNumber`, by their first statement id (a router
   * sends one command per shard and batch), returned again on a retry.
   */
  readonly retryReplies: Map<number, Map<string, unknown>>;
  /** When a command last used the session (`lastUse` of `$listLocalSessions`). */
  lastUse: Date;
}

export class Sessions {
  readonly #sessions = new Map<string, SessionState>();

  /** The session for a client `lsid` (`{id: UUID}`), created on first use. */
  get(clientLsid: BDoc, uid: Binary): SessionState {
    const id = clientLsid.get('id') as Binary;
    // An internal session (a router's internal transaction, `{id, [txnNumber], txnUUID}`) is a
    // session of its own, logged with its full lsid.
    const txnUUID = clientLsid.get('txnUUID') as Binary | undefined;
    let key = Buffer.from(id.buffer.subarray(0, id.position)).toString('hex');
    if (txnUUID)
      key += `:${Buffer.from(txnUUID.buffer.subarray(0, txnUUID.position)).toString('hex')}`;
    let session = this.#sessions.get(key);
    if (!session) {
      const lsid = new Map<string, BValue>([
        ['id', id],
        ['uid', uid]
      ]);
      if (txnUUID) {
        if (clientLsid.has('txnNumber')) lsid.set('txnNumber', clientLsid.get('txnNumber'));
        lsid.set('txnUUID', txnUUID);
      }
      session = {
        lsid,
        txnNumber: undefined,
        transaction: undefined,
        retryReplies: new Map(),
        lastUse: new Date()
      };
      this.#sessions.set(key, session);
    }
    session.lastUse = new Date();
    return session;
  }

  /** `endSessions`: aborts their open transactions and forgets them. */
  end(ids: BValue[]): void {
    for (const key of keysOf(ids)) {
      abortOpen(this.#sessions.get(key));
      this.#sessions.delete(key);
    }
  }

  /**
   * `killSessions`: aborts the sessions' open transactions (mongod kills their operations and
   * aborts the transaction); the session and its transaction number stay, so a later statement
   * or commit of the killed transaction gets NoSuchTransaction.
   */
  kill(ids: BValue[]): void {
    for (const key of keysOf(ids)) abortOpen(this.#sessions.get(key));
  }

  /** `killAllSessions` and a restart: aborts every open transaction. */
  abortAll(): void {
    for (const session of this.#sessions.values()) abortOpen(session);
  }

  /** Every known session, for `$listLocalSessions`. */
  list(): SessionState[] {
    return [...this.#sessions.values()];
  }
}

function keysOf(ids: BValue[]): string[] {
  const keys: string[] = [];
  for (const value of ids) {
    const id = value instanceof Map ? value.get('id') : undefined;
    if (!id || typeof id !== 'object' || !('buffer' in id)) continue;
    const binary = id as Binary;
    keys.push(Buffer.from(binary.buffer.subarray(0, binary.position)).toString('hex'));
  }
  return keys;
}

function abortOpen(session: SessionState | undefined): void {
  if (session?.transaction?.state === 'inProgress') {
    session.transaction.state = 'aborted';
    session.transaction.release();
  }
}
