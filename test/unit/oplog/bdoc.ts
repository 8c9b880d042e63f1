/**
 * Converts between the driver's documents (plain objects of BSON values), which src/oplog works
 * on, and the test server's value model (ordered Maps), which its update engine works on.
 * Plain JS numbers (in generated expressions) become Int32 or Double, as BSON would encode them.
 */
import { Double, Int32 } from 'bson';
import { type Document } from 'mongodb';

import { type BDoc, type BValue } from '../../server/bson/values.js';

function isPlainObject(value: unknown): value is Document {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function toBValue(value: unknown): BValue {
  if (typeof value === 'number') {
    return Number.isInteger(value) && Math.abs(value) < 2 ** 31
      ? new Int32(value)
      : new Double(value);
  }
  if (Array.isArray(value)) return value.map(toBValue);
  if (isPlainObject(value)) return toBDoc(value);
  return value as BValue;
}

export function toBDoc(doc: Document): BDoc {
  return new Map(Object.entries(doc).map(([k, v]) => [k, toBValue(v)]));
}

export function fromBValue(value: BValue): unknown {
  if (value instanceof Map) return fromBDoc(value);
  if (Array.isArray(value)) return value.map(fromBValue);
  return value;
}

export function fromBDoc(doc: BDoc): Document {
  const out: Document = {};
  for (const [k, v] of doc) {
    Object.defineProperty(out, k, {
      value: fromBValue(v),
      enumerable: true,
      writable: true,
      configurable: true
    });
  }
  return out;
}

/** The update as the test server's engine takes it. */
export function toBUpdate(update: Document | Document[]): BDoc | BDoc[] {
  return Array.isArray(update) ? update.map(toBDoc) : toBDoc(update);
}
