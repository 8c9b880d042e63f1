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
        retryReply: undefined
      };
      this.#sessions.set(key, session);
    }
    return session;
  }

  /** `endSessions`/`killSessions`: aborts their open transactions and forgets them. */
  end(ids: BValue[]): void {
    for (const value of ids) {
      const id = value instanceof Map ? value.get('id') : undefined;
      if (!id || typeof id !== 'object' || !('buffer' in id)) continue;
      const binary = id as Binary;
      const key = Buffer.from(binary.buffer.subarray(0, binary.position)).toString('hex');
      const session = this.#sessions.get(key);
      if (session?.transaction?.state === 'inProgress') {
        session.transaction.state = 'aborted';
        session.transaction.release();
      }
      this.#sessions.delete(key);
    }
  }

  /** Aborts every open transaction (server restart). */
  abortAll(): void {
    for (const session of this.#sessions.values()) {
      if (session.transaction?.state === 'inProgress') {
        session.transaction.state = 'aborted';
        session.transaction.release();
      }
    }
  }
}
