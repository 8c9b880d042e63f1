/** Text renderings mongod uses in results ($toString) and in error messages. */
import { Binary, BSONRegExp, Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'bson';

import { type BValue, typeAlias } from '../../bson/values.js';

/** C's `%g` (6 significant digits), which mongod's `str::stream() << double` produces. */
export function formatDoubleG(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant, expText] = x.toExponential(5).split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const m = mant.includes('.') ? mant.replace(/0+$/, '').replace(/\.$/, '') : mant;
    const sign = exp < 0 ? '-' : '+';
    const abs = Math.abs(exp);
    return `${m}e${sign}${abs < 10 ? '0' : ''}${abs}`;
  }
  const fixed = x.toFixed(Math.max(0, 5 - exp));
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

/** The type name mongod prints in messages; `undefined` (JS) never reaches here, missing does. */
export function typeName(v: BValue | symbol): string {
  return typeof v === 'symbol' ? 'missing' : typeAlias(v);
}

/** A compact rendering of a value for error messages (mongod's `Value::toString` style). */
export function debugString(v: BValue | symbol): string {
  if (typeof v === 'symbol') return 'MISSING';
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Map) {
    if (v.size === 0) return '{}';
    return `{${[...v].map(([k, x]) => `${k}: ${debugString(x)}`).join(', ')}}`;
  }
  if (Array.isArray(v)) return `[${v.map(debugString).join(', ')}]`;
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (v instanceof Int32) return String(v.value);
  if (v instanceof Double) return formatDoubleG(v.value);
  if (v instanceof Long) return v.toString();
  if (v instanceof Decimal128) return v.toString();
  if (v instanceof ObjectId) return `ObjectId('${v.toHexString()}')`;
  if (v instanceof Timestamp) return `Timestamp(${v.t}, ${v.i})`;
  if (v instanceof BSONRegExp) return `/${v.pattern}/${v.options}`;
  if (v instanceof Binary)
    return `BinData(${v.sub_type}, ${Buffer.from(v.buffer.subarray(0, v.position)).toString('hex')})`;
  return String(v);
}
