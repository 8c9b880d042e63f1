/**
 * mongod's `BSONElement::toString` / `BSONObj::toString` rendering, which update error messages
 * embed (`Cannot create field 'b' in element {a: 1}`, `{_id: 1} has the field ...`).
 */
import {
  Binary,
  BSONRegExp,
  BSONSymbol,
  Code,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp
} from 'bson';

import { type BDoc, type BValue } from '../../bson/values.js';

/** C's `%.16g` plus ".0" when the text has no '.', 'E' or 'N' (mongod's `appendDoubleNice`). */
export function formatDoubleNice(x: number): string {
  let text: string;
  if (Number.isNaN(x)) text = 'nan';
  else if (!Number.isFinite(x)) text = x > 0 ? 'inf' : '-inf';
  else if (x === 0) text = Object.is(x, -0) ? '-0' : '0';
  else {
    const [mant, expText] = x.toExponential(15).split('e') as [string, string];
    const exp = Number(expText);
    const strip = (s: string): string =>
      s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
    if (exp < -4 || exp >= 16) {
      const abs = Math.abs(exp);
      text = `${strip(mant)}e${exp < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
    } else {
      text = strip(x.toFixed(Math.max(0, 15 - exp)));
    }
  }
  return /[.EN]/.test(text) ? text : text + '.0';
}

/** A value as `BSONElement::toString` prints it after the field name. */
export function valueString(value: BValue): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (value instanceof Map) return docString(value);
  if (Array.isArray(value)) {
    return value.length === 0 ? '[]' : `[ ${value.map(valueString).join(', ')} ]`;
  }
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (value instanceof Int32) return String(value.value);
  if (value instanceof Double) return formatDoubleNice(value.value);
  if (value instanceof Long) return value.toString();
  if (value instanceof Decimal128) return `NumberDecimal("${value.toString()}")`;
  if (value instanceof ObjectId) return `ObjectId('${value.toHexString()}')`;
  if (value instanceof Timestamp) return `Timestamp(${value.t}, ${value.i})`;
  if (value instanceof BSONRegExp) return `/${value.pattern}/${value.options}`;
  if (value instanceof Binary) {
    const hex = Buffer.from(value.buffer.subarray(0, value.position)).toString('hex').toUpperCase();
    return `BinData(${value.sub_type}, ${hex})`;
  }
  if (value instanceof BSONSymbol) return JSON.stringify(value.valueOf());
  if (value instanceof Code) return String(value.code);
  if (value instanceof MinKey) return 'MinKey';
  if (value instanceof MaxKey) return 'MaxKey';
  return String(value);
}

/** `BSONObj::toString`: `{ a: 1, b: "x" }`, `{}` when empty. */
export function docString(doc: BDoc): string {
  if (doc.size === 0) return '{}';
  return `{ ${[...doc].map(([k, v]) => elementString(k, v)).join(', ')} }`;
}

/** `BSONElement::toString`: `name: value`. */
export function elementString(name: string, value: BValue): string {
  return `${name}: ${valueString(value)}`;
}

/** `{_id: 1}` as update messages quote the document's id (`no id` without one). */
export function idString(doc: BDoc): string {
  return doc.has('_id') ? elementString('_id', doc.get('_id')) : 'no id';
}
