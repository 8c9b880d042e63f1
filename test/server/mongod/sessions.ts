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
  /** The reply of the retryable write at `txnNumber`, returned again on a retry. */
  retryReply: Map<string, unknown> | undefined;
  /** When a command last used the session (`lastUse` of `$listLocalSessions`). */
  lastUse: Date;
}

export class Sessions {
  readonly #sessions = new Map<string, SessionState>();

  /** The session for a client `lsid` (`{id: UUID}`), created on first use. */
  get(clientLsid: BDoc, uid: Binary): SessionState {
    const id = clientLsid.get('id') as Binary;
    const key = Buffer.from(id.buffer.subarray(0, id.position)).toString('hex');
    let session = this.#sessions.get(key);
    if (!session) {
      session = {
        lsid: new Map<string, BValue>([
          ['id', id],
          ['uid', uid]
        ]),
        txnNumber: undefined,
        transaction: undefined,
        retryReply: undefined,
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
