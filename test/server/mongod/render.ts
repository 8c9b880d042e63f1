/** Renders BSON values the way mongod prints them in error messages (`dup key: { _id: 1 }`). */
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'bson';

import { type BValue, isDoc } from '../bson/values.js';

export function renderValue(value: BValue): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (value instanceof Int32) return String(value.value);
  if (value instanceof Double) {
    return Number.isInteger(value.value) ? `${value.value}.0` : String(value.value);
  }
  if (value instanceof Long) return value.toString();
  if (value instanceof Decimal128) return `NumberDecimal("${value.toString()}")`;
  if (value instanceof ObjectId) return `ObjectId('${value.toHexString()}')`;
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (value instanceof Timestamp) return `Timestamp(${value.t}, ${value.i})`;
  if (value instanceof Binary) {
    return `BinData(${value.sub_type}, ${Buffer.from(value.buffer.subarray(0, value.position)).toString('hex').toUpperCase()})`;
  }
  if (Array.isArray(value)) return value.length ? `[ ${value.map(renderValue).join(', ')} ]` : '[]';
  if (isDoc(value)) {
    if (value.size === 0) return '{}';
    return `{ ${[...value].map(([k, v]) => `${k}: ${renderValue(v)}`).join(', ')} }`;
  }
  return String(value);
}
