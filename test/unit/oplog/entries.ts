/** Builders of raw oplog entries for the oplog unit tests. */
import { Binary, type Document, Int32, Long, Timestamp, UUID } from 'bson';

export const ts = (t: number, i = 1): Timestamp => new Timestamp({ t, i });

export const lsid = (n = 1): Document => ({
  id: new UUID(`00000000-0000-4000-8000-00000000000${n}`).toBinary(),
  uid: new Binary(Buffer.alloc(32, n))
});

export function raw(fields: Document): Document {
  return { ts: ts(100), t: Long.fromNumber(1), v: new Int32(2), wall: new Date(0), ...fields };
}

export const insert = (ns: string, o: Document, extra: Document = {}): Document =>
  raw({ op: 'i', ns, o, ...extra });

export const command = (db: string, o: Document, extra: Document = {}): Document =>
  raw({ op: 'c', ns: `${db}.$cmd`, o, ...extra });
