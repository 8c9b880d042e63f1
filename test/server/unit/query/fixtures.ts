/**
 * Test fixtures for the query engine: plain JS values turned into the server's value model
 * (integral numbers become Int32, others Double, objects become ordered Maps).
 */
import { BSONRegExp, Double, Int32 } from 'bson';

import type { BDoc, BValue } from '../../bson/values.js';
import { compileFilter } from '../../engine/query/matcher.js';

/** Converts a plain value recursively; bson class instances, Dates and Maps pass through. */
export function bv(value: unknown): BValue {
  if (typeof value === 'number')
    return Number.isInteger(value) ? new Int32(value) : new Double(value);
  if (Array.isArray(value)) return value.map(bv);
  if (value instanceof RegExp) return new BSONRegExp(value.source, value.flags);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, bv(v)]));
  if (value !== null && typeof value === 'object' && value.constructor === Object) {
    return new Map(Object.entries(value).map(([k, v]) => [k, bv(v)]));
  }
  return value as BValue;
}

/** A document from a plain object. */
export function d(value: Record<string, unknown>): BDoc {
  return bv(value) as BDoc;
}

/** Whether `filter` matches `doc` (both plain objects). */
export function match(filter: Record<string, unknown>, doc: Record<string, unknown>): boolean {
  return compileFilter(d(filter)).matches(d(doc));
}

/** The `_id`s (as numbers) of the documents `filter` matches. */
export function ids(filter: Record<string, unknown>, docs: Record<string, unknown>[]): number[] {
  const matcher = compileFilter(d(filter));
  return docs.filter(doc => matcher.matches(d(doc))).map(doc => doc._id as number);
}

/** Asserts-friendly shape of a thrown ServerError. */
export function errorOf(fn: () => unknown): { code: number; message: string } | undefined {
  try {
    fn();
  } catch (error) {
    const e = error as { code: number; message: string };
    return { code: e.code, message: e.message };
  }
  return undefined;
}
