/**
 * Writes oplog entries in mongod's shape and field order:
 * `{lsid?, txnNumber?, op, ns, ui?, o, o2?, stmtId?, ts, t, v, wall, prevOpTime?}`.
 */
import { type Binary, Int32, Long, Timestamp } from 'bson';

import { type BDoc, type BValue } from '../bson/values.js';
import { type DocumentImages } from './change-stream-images.js';
import { type Oplog, type OplogRecord } from './oplog.js';

/** A retryable write's identity: oplog entries carry it so a retry can be recognised. */
export interface RetryableWrite {
  /** The full server-side lsid: `{id: UUID, uid: BinData(32 bytes)}`. */
  readonly lsid: BDoc;
  readonly txnNumber: Long;
}

export interface EntryFields {
  readonly op: 'i' | 'u' | 'd' | 'c' | 'n';
  readonly ns: string;
  readonly ui?: Binary | undefined;
  readonly o: BDoc;
  readonly o2?: BDoc | undefined;
  /** The session write this entry belongs to (retryable write statement or transaction). */
  readonly retryable?: { write: RetryableWrite; stmtId?: number | undefined } | undefined;
  readonly fromMigrate?: boolean;
  /** Change-stream images of this document write (collections that record them). */
  readonly images?: DocumentImages | undefined;
  /** For an `applyOps` entry (a batched delete): the images of each operation, by index. */
  readonly applyOpsImages?: readonly (DocumentImages | undefined)[] | undefined;
}

/** The first `prevOpTime` of a chain, as mongod writes it. */
export function nullOpTime(): BDoc {
  return new Map<string, BValue>([
    ['ts', new Timestamp({ t: 0, i: 0 })],
    ['t', Long.fromNumber(-1)]
  ]);
}

/** Appends entries and keeps each retryable write's `prevOpTime` chain. */
export class OplogWriter {
  readonly #lastOpTime = new Map<string, BDoc>();

  constructor(readonly oplog: Oplog) {}

  /** Appends an entry; writes to the `local` database are never logged, as on mongod. */
  append(fields: EntryFields): OplogRecord | undefined {
    if (fields.ns.startsWith('local.')) return undefined;
    const retryable = fields.retryable;
    const chainKey = retryable ? chainKeyOf(retryable.write) : undefined;
    const record = this.oplog.append((ts, t, wall) => {
      const entry: BDoc = new Map();
      if (retryable) {
        entry.set('lsid', retryable.write.lsid);
        entry.set('txnNumber', retryable.write.txnNumber);
      }
      entry.set('op', fields.op);
      entry.set('ns', fields.ns);
      if (fields.ui) entry.set('ui', fields.ui);
      entry.set('o', fields.o);
      if (fields.o2) entry.set('o2', fields.o2);
      if (fields.fromMigrate) entry.set('fromMigrate', true);
      if (retryable?.stmtId !== undefined) entry.set('stmtId', new Int32(retryable.stmtId));
      entry.set('ts', ts);
      entry.set('t', t);
      entry.set('v', Long.fromNumber(2));
      entry.set('wall', wall);
      if (chainKey !== undefined)
        entry.set('prevOpTime', this.#lastOpTime.get(chainKey) ?? nullOpTime());
      return entry;
    });
    if (chainKey !== undefined) {
      this.#lastOpTime.set(
        chainKey,
        new Map<string, BValue>([
          ['ts', record.ts],
          ['t', record.doc.get('t') as Long]
        ])
      );
    }
    return record;
  }
}

function chainKeyOf(write: RetryableWrite): string {
  const id = write.lsid.get('id') as Binary;
  return `${Buffer.from(id.buffer.subarray(0, id.position)).toString('hex')}:${write.txnNumber.toString()}`;
}
