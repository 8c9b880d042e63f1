/**
 * Test fixtures: plain JS values → the server's value model. Integral JS numbers become Int32,
 * other numbers Double; plain objects become ordered Maps; RegExps become BSONRegExp; BSON class
 * instances pass through.
 */
import assert from 'node:assert/strict';

import { BSONRegExp, Double, Int32 } from 'bson';

import { type BDoc, type BValue, valuesIdentical } from '../../bson/values.js';
import { ServerError } from '../../engine/server-error.js';
import { docString } from '../../engine/update/format.js';

export function v(value: unknown): BValue {
  if (typeof value === 'number') {
    return Number.isInteger(value) && Math.abs(value) < 2 ** 31
      ? new Int32(value)
      : new Double(value);
  }
  if (Array.isArray(value)) return value.map(v);
  if (value instanceof RegExp) return new BSONRegExp(value.source, value.flags);
  if (value instanceof Map) return value as BDoc;
  if (
    value !== null &&
    typeof value === 'object' &&
    Object.getPrototypeOf(value) === Object.prototype
  ) {
    return d(value as Record<string, unknown>);
  }
  return value as BValue;
}

export function d(object: Record<string, unknown>): BDoc {
  return new Map(Object.entries(object).map(([k, x]) => [k, v(x)]));
}

/** Builds a document from `[key, value]` pairs, for numeric-looking keys whose order matters. */
export function pairs(entries: [string, unknown][]): BDoc {
  return new Map(entries.map(([k, x]) => [k, v(x)]));
}

export function assertIdentical(actual: BValue, expected: BValue): void {
  const show = (x: BValue): string => (x instanceof Map ? docString(x) : String(x));
  assert.ok(
    valuesIdentical(actual, expected),
    `expected ${show(expected)}\n     got ${show(actual)}`
  );
}

/** Asserts `fn` throws a ServerError with `code` (and `message` when given). */
export function assertServerError(
  fn: () => unknown,
  code: number,
  message?: string | RegExp
): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ServerError, `expected ServerError, got ${String(error)}`);
    assert.equal(error.code, code, `code ${error.code}: ${error.message}`);
    if (typeof message === 'string') assert.equal(error.message, message);
    else if (message) assert.match(error.message, message);
    return true;
  });
}

export const NOW = new Date('2024-01-02T03:04:05.678Z');
