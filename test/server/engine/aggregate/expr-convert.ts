/** `$type`, `$isNumber` and the conversion operators (`$convert` and its `$toX` shorthands). */
import { Decimal128, Double, Int32, Long, ObjectId, Timestamp } from 'bson';

import { BSON_TYPE_NUMBERS, type BValue, isDoc, isTruthy, typeAlias } from '../../bson/values.js';
import { notImplemented, ServerError } from '../server-error.js';
import { decFromDecimal128, decToDecimal128, decToNumber, decTruncToBigInt } from './decimal.js';
import {
  type Compiled,
  exactArgs,
  isNullish,
  MISSING,
  type OperatorParser,
  type Value
} from './expr-core.js';
import { isoDate } from './expr-string.js';
import { formatDoubleG, typeName } from './format.js';
import { asBigInt, asDec, fitsInt32, fitsInt64, isNum } from './numeric.js';

const ServerErrorCode = { BadValue: 2, FailedToParse: 9 } as const;

type Target = 'double' | 'string' | 'objectId' | 'bool' | 'date' | 'int' | 'long' | 'decimal';

const TARGETS_BY_NUMBER = new Map<number, Target>([
  [1, 'double'],
  [2, 'string'],
  [7, 'objectId'],
  [8, 'bool'],
  [9, 'date'],
  [16, 'int'],
  [18, 'long'],
  [19, 'decimal']
]);

/** A failed conversion; `$convert` answers it with `onError` or error 241. */
class ConversionFailure extends Error {}

function fail(message: string): never {
  throw new ConversionFailure(message);
}

function unsupported(v: BValue, to: Target): never {
  fail(`Unsupported conversion from ${typeAlias(v)} to ${to} in $convert with no onError value`);
}

const INT_TARGET_NAMES = { int: 'int', long: 'long' } as const;

function toIntegral(v: BValue, to: 'int' | 'long'): bigint {
  const fits = to === 'int' ? fitsInt32 : fitsInt64;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (v instanceof Int32 || v instanceof Long) {
    const n = asBigInt(v);
    if (!fits(n))
      fail(`Conversion would overflow target type in $convert with no onError value: ${n}`);
    return n;
  }
  if (v instanceof Double || v instanceof Decimal128) {
    const x = v instanceof Double ? v.value : decToNumber(decFromDecimal128(v));
    const shown = v instanceof Double ? formatDoubleG(x) : v.toString();
    if (Number.isNaN(x))
      fail(
        `Attempt to convert NaN value to integer type in $convert with no onError value: ${shown}`
      );
    if (!Number.isFinite(x))
      fail(
        `Attempt to convert infinity value to integer type in $convert with no onError value: ${shown}`
      );
    const n = v instanceof Double ? BigInt(Math.trunc(x)) : decTruncToBigInt(decFromDecimal128(v))!;
    if (!fits(n))
      fail(`Conversion would overflow target type in $convert with no onError value: ${shown}`);
    return n;
  }
  if (v instanceof Date && to === 'long') return BigInt(v.getTime());
  if (typeof v === 'string') {
    if (!/^[+-]?\d+$/.test(v)) {
      fail(
        `Failed to parse number '${v}' in $convert with no onError value: Did not consume whole string.`
      );
    }
    const n = BigInt(v);
    if (!fits(n)) fail(`Failed to parse number '${v}' in $convert with no onError value: Overflow`);
    return n;
  }
  return unsupported(v, INT_TARGET_NAMES[to]);
}

function toDouble(v: BValue): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Int32 || v instanceof Double) return v.value;
  if (v instanceof Long) return Number(v.toBigInt());
  if (v instanceof Decimal128) {
    const d = decFromDecimal128(v);
    const x = decToNumber(d);
    if (typeof d !== 'number' && !Number.isFinite(x)) {
      fail(
        `Conversion would overflow target type in $convert with no onError value: ${v.toString()}`
      );
    }
    return x;
  }
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') {
    const t = v.toLowerCase();
    if (t === 'nan') return NaN;
    if (t === 'inf' || t === 'infinity') return Infinity;
    if (t === '-inf' || t === '-infinity') return -Infinity;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v)) {
      fail(
        `Failed to parse number '${v}' in $convert with no onError value: Did not consume whole string.`
      );
    }
    const x = Number(v);
    if (!Number.isFinite(x))
      fail(`Failed to parse number '${v}' in $convert with no onError value: Out of range`);
    return x;
  }
  return unsupported(v, 'double');
}

function toDecimal(v: BValue): Decimal128 {
  if (typeof v === 'boolean') return Decimal128.fromString(v ? '1' : '0');
  if (isNum(v)) return v instanceof Decimal128 ? v : decToDecimal128(asDec(v));
  if (v instanceof Date) return Decimal128.fromString(String(v.getTime()));
  if (typeof v === 'string') {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v) && !/^[+-]?(nan|inf|infinity)$/i.test(v)) {
      fail(
        `Failed to parse number '${v}' in $convert with no onError value: Failed to parse string to decimal`
      );
    }
    return Decimal128.fromString(v);
  }
  return unsupported(v, 'decimal');
}

function toStringValue(v: BValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Double) {
    const x = v.value;
    if (Number.isNaN(x)) return 'NaN';
    if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
    return formatDoubleG(x);
  }
  if (v instanceof Int32 || v instanceof Long || v instanceof Decimal128) return v.toString();
  if (v instanceof ObjectId) return v.toHexString();
  if (v instanceof Date) return isoDate(v);
  return unsupported(v, 'string');
}

function toObjectId(v: BValue): ObjectId {
  if (v instanceof ObjectId) return v;
  if (typeof v === 'string') {
    if (v.length !== 24) {
      fail(
        `Failed to parse objectId '${v}' in $convert with no onError value: Invalid string length for parsing to OID, expected 24 but found ${v.length}`
      );
    }
    if (!/^[0-9a-fA-F]{24}$/.test(v)) {
      fail(
        `Failed to parse objectId '${v}' in $convert with no onError value: Invalid character found in hex string: ${v}`
      );
    }
    return new ObjectId(v);
  }
  return unsupported(v, 'objectId');
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

function toDate(v: BValue): Date {
  if (v instanceof Date) return v;
  if (v instanceof Double || v instanceof Long || v instanceof Decimal128) {
    const x =
      v instanceof Long
        ? Number(v.toBigInt())
        : v instanceof Double
          ? v.value
          : decToNumber(decFromDecimal128(v));
    if (!Number.isFinite(x))
      fail(`Conversion would overflow target type in $convert with no onError value: ${x}`);
    return new Date(Math.trunc(x));
  }
  if (v instanceof ObjectId) return new Date(v.getTimestamp().getTime());
  if (v instanceof Timestamp) return new Date(v.t * 1000);
  if (typeof v === 'string') {
    // Only unambiguous ISO-8601 forms: mongod's parser accepts more, which we refuse rather than guess.
    const m = ISO_DATE.exec(v);
    if (!m) throw notImplemented(`converting the string '${v}' to a date`);
    const ms = Date.parse(
      `${m[1]}-${m[2]}-${m[3]}T${m[4] ?? '00'}:${m[5] ?? '00'}:${m[6] ?? '00'}.${(m[7] ?? '0').padEnd(3, '0')}${normalizeZone(m[8])}`
    );
    if (Number.isNaN(ms)) fail(`Error parsing date string '${v}'`);
    return new Date(ms);
  }
  return unsupported(v, 'date');
}

function normalizeZone(zone: string | undefined): string {
  if (!zone || zone === 'Z') return 'Z';
  return zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
}

function convertTo(v: BValue, to: Target): BValue {
  switch (to) {
    case 'double':
      return new Double(toDouble(v));
    case 'int':
      return new Int32(Number(toIntegral(v, 'int')));
    case 'long':
      return Long.fromBigInt(toIntegral(v, 'long'));
    case 'decimal':
      return toDecimal(v);
    case 'string':
      return toStringValue(v);
    case 'bool':
      return isTruthy(v);
    case 'objectId':
      return toObjectId(v);
    case 'date':
      return toDate(v);
  }
}

function resolveTarget(t: Value): Target {
  if (typeof t === 'string') {
    if (['double', 'string', 'objectId', 'bool', 'date', 'int', 'long', 'decimal'].includes(t))
      return t as Target;
    if (t in BSON_TYPE_NUMBERS) throw notImplemented(`$convert to ${t}`);
    throw new ServerError(ServerErrorCode.BadValue, `Unknown type name: ${t}`);
  }
  if (isNum(t)) {
    const n = Number(t.valueOf());
    const target = TARGETS_BY_NUMBER.get(n);
    if (target) return target;
    throw notImplemented(`$convert to BSON type ${n}`);
  }
  throw new ServerError(
    ServerErrorCode.FailedToParse,
    `$convert's 'to' argument must be a string or number, but is ${typeName(t)}`
  );
}

function runConvert(
  v: Value,
  to: Target,
  onError: Compiled | undefined,
  onNull: Compiled | undefined,
  s: Parameters<Compiled>[0]
): Value {
  if (isNullish(v)) return onNull ? onNull(s) : null;
  try {
    return convertTo(v as BValue, to);
  } catch (e) {
    if (!(e instanceof ConversionFailure)) throw e;
    if (onError) return onError(s);
    throw new ServerError(241, e.message, { codeName: 'ConversionFailure' });
  }
}

function shorthand(to: Target): OperatorParser {
  return (arg, p, name) => {
    const [a] = exactArgs(name, arg, 1, p) as [Compiled];
    return s => runConvert(a(s), to, undefined, undefined, s);
  };
}

const typeOp: OperatorParser = (arg, p, name) => {
  const [a] = exactArgs(name, arg, 1, p) as [Compiled];
  return s => {
    const v = a(s);
    return v === MISSING ? 'missing' : typeAlias(v);
  };
};

const isNumberOp: OperatorParser = (arg, p, name) => {
  const [a] = exactArgs(name, arg, 1, p) as [Compiled];
  return s => isNum(a(s));
};

export const CONVERT_OPERATORS: Record<string, OperatorParser> = {
  $type: typeOp,
  $isNumber: isNumberOp,
  $convert: (arg, p) => {
    if (!isDoc(arg)) {
      throw new ServerError(
        ServerErrorCode.FailedToParse,
        `$convert expects an object of named arguments but found: ${typeName(arg)}`
      );
    }
    let input: Compiled | undefined;
    let to: Compiled | undefined;
    let onError: Compiled | undefined;
    let onNull: Compiled | undefined;
    for (const [k, v] of arg) {
      if (k === 'input') input = p.compile(v);
      else if (k === 'to') to = p.compile(v);
      else if (k === 'onError') onError = p.compile(v);
      else if (k === 'onNull') onNull = p.compile(v);
      else if (k === 'format' || k === 'base' || k === 'byteOrder')
        throw notImplemented(`$convert option '${k}'`);
      else
        throw new ServerError(
          ServerErrorCode.FailedToParse,
          `$convert found an unknown argument: ${k}`
        );
    }
    if (!input)
      throw new ServerError(ServerErrorCode.FailedToParse, "Missing 'input' parameter to $convert");
    if (!to)
      throw new ServerError(ServerErrorCode.FailedToParse, "Missing 'to' parameter to $convert");
    const inp = input;
    const target = to;
    return s => {
      const t = target(s);
      if (isNullish(t)) return null;
      const resolved = resolveTarget(t);
      return runConvert(inp(s), resolved, onError, onNull, s);
    };
  },
  $toDouble: shorthand('double'),
  $toString: shorthand('string'),
  $toObjectId: shorthand('objectId'),
  $toBool: shorthand('bool'),
  $toDate: shorthand('date'),
  $toInt: shorthand('int'),
  $toLong: shorthand('long'),
  $toDecimal: shorthand('decimal')
};
