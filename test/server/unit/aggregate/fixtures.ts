/** Plain JS → BDoc for tests: integral numbers become Int32, other numbers Double. */
import { Double, Int32 } from 'bson';

import { type BDoc, type BValue } from '../../bson/values.js';

export function v(value: unknown): BValue {
  if (typeof value === 'number')
    return Number.isInteger(value) ? new Int32(value) : new Double(value);
  if (Array.isArray(value)) return value.map(v);
  if (value instanceof Map) return value as BDoc;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return d(value as Record<string, unknown>);
  }
  return value as BValue;
}

export function d(obj: Record<string, unknown>): BDoc {
  return new Map(Object.entries(obj).map(([k, x]) => [k, v(x)]));
}

/** BDoc → plain JS with numbers tagged by type (`1i`, `1.5d`, `1L`, `1m`) for strict comparisons. */
export function plain(value: unknown): unknown {
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, x]) => [k, plain(x)]));
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object' && '_bsontype' in value) {
    const t = (value as { _bsontype: string })._bsontype;
    if (t === 'Int32') return `${(value as Int32).value}i`;
    if (t === 'Double') return `${(value as Double).value}d`;
    if (t === 'Long') return `${String(value)}L`;
    if (t === 'Decimal128') return `${String(value)}m`;
    if (t === 'ObjectId') return `oid:${String(value)}`;
  }
  return value;
}

/** Field names in order, recursively, to check mongod's output ordering. */
export function keys(doc: BDoc): string[] {
  return [...doc.keys()];
}
