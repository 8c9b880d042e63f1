/**
 * Validation of query operator arguments (`$type`, `$size`, `$mod`, `$bits…`, `$regex`), with
 * mongod's error codes and messages, turning each into its single-value predicate.
 */
import { Binary, BSONRegExp, Decimal128, Double, Int32, Long } from 'bson';

import {
  type BDoc,
  BSON_TYPE_NUMBERS,
  type BValue,
  isNumber,
  toNumber
} from '../../bson/values.js';
import { badValue, failedToParse, ServerError, typeMismatch } from '../server-error.js';
import {
  asInt64,
  type BitsOp,
  bitTest,
  modIs,
  regexTest,
  sizeIs,
  typeIn,
  type ValuePredicate
} from './predicates.js';
import { compileRegex } from './regex.js';

/** A short rendering of a value for error messages, close to mongod's element printing. */
export function show(value: BValue): string {
  if (value instanceof Int32 || value instanceof Double) return String(value.value);
  if (value instanceof Long || value instanceof Decimal128) return value.toString();
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Map)
    return `{ ${[...value].map(([k, v]) => `${k}: ${show(v)}`).join(', ')} }`;
  if (Array.isArray(value)) return `[ ${value.map(show).join(', ')} ]`;
  return String(value);
}

const VALID_TYPE_CODES = new Set(Object.values(BSON_TYPE_NUMBERS));

/** `$type`: one alias or code, or an array of them (`MatcherTypeSet::parse`). */
export function parseType(path: string, arg: BValue): ValuePredicate {
  const types = new Set<number>();
  let allNumbers = false;
  const addOne = (item: BValue): void => {
    if (typeof item === 'string') {
      if (item === 'number') {
        allNumbers = true;
      } else if (item === 'missing') {
        throw badValue(
          "'missing' is not a legal type name. To query for non-existence of a field, use {$exists:false}."
        );
      } else if (Object.hasOwn(BSON_TYPE_NUMBERS, item)) {
        types.add(BSON_TYPE_NUMBERS[item] as number);
      } else {
        throw badValue(`Unknown type name alias: ${item}`);
      }
      return;
    }
    if (!isNumber(item)) throw typeMismatch('type must be represented as a number or a string');
    const code = toNumber(item);
    if (code === 0) {
      throw badValue(`Invalid numerical type code: ${show(item)}. Instead use {$exists:false}.`);
    }
    if (!Number.isInteger(code) || !VALID_TYPE_CODES.has(code)) {
      throw badValue(`Invalid numerical type code: ${show(item)}`);
    }
    types.add(code);
  };
  if (Array.isArray(arg)) arg.forEach(addOne);
  else addOne(arg);
  if (types.size === 0 && !allNumbers) {
    throw failedToParse(`${path} must match at least one type`);
  }
  return typeIn(types, allNumbers);
}

/** `$size`: a whole, non-negative 32-bit number. */
export function parseSize(arg: BValue): ValuePredicate {
  let size: number;
  if (arg instanceof Int32) {
    size = arg.value;
  } else if (arg instanceof Long) {
    const n = arg.toBigInt();
    if (n < -(2n ** 31n) || n >= 2n ** 31n) {
      throw badValue('$size must be representable as a 32-bit integer');
    }
    size = Number(n);
  } else if (arg instanceof Double) {
    if (!Number.isInteger(arg.value) || Math.abs(arg.value) >= 2 ** 31) {
      throw badValue('$size must be a whole number');
    }
    size = arg.value;
  } else {
    throw badValue('$size needs a number');
  }
  if (size < 0) throw badValue('$size may not be negative');
  return sizeIs(size);
}

/** `$mod: [divisor, remainder]`, both truncated to 64-bit integers. */
export function parseMod(arg: BValue): ValuePredicate {
  if (!Array.isArray(arg)) throw badValue('malformed mod, needs to be an array');
  if (arg.length < 2) throw badValue('malformed mod, not enough elements');
  const [d, r] = arg as [BValue, BValue];
  if (!isNumber(d)) throw badValue('malformed mod, divisor not a number');
  if (!isNumber(r)) throw badValue('malformed mod, remainder not a number');
  if (arg.length > 2) throw badValue('malformed mod, too many elements');
  const coerce = (value: BValue, what: string): bigint => {
    const n = asInt64(value, true);
    if (n !== undefined) return n;
    const reason = Number.isFinite(toNumber(value))
      ? 'Out of bounds coercing to integral value'
      : 'Unable to coerce NaN/Inf to integral type';
    throw badValue(`malformed mod, ${what} value is invalid :: caused by :: ${reason}`);
  };
  const divisor = coerce(d, 'divisor');
  const remainder = coerce(r, 'remainder');
  if (divisor === 0n) throw badValue('divisor cannot be 0');
  return modIs(divisor, remainder);
}

/** `$bitsAllSet` and friends: a bit-position array, a non-negative bitmask, or BinData. */
export function parseBits(op: BitsOp, arg: BValue): ValuePredicate {
  const positions: number[] = [];
  if (Array.isArray(arg)) {
    for (const item of arg) {
      if (!isNumber(item))
        throw badValue(`bit positions must be an integer but got: ${show(item)}`);
      const n = toNumber(item);
      if (Number.isNaN(n)) throw badValue(`bit positions cannot take a NaN: ${show(item)}`);
      if (n > 2 ** 31 - 1 || n < -(2 ** 31)) {
        throw badValue(
          `bit positions cannot be represented as a 32-bit signed integer: ${show(item)}`
        );
      }
      if (!Number.isInteger(n)) {
        throw badValue(`bit positions must be an integer but got: ${show(item)}`);
      }
      if (n < 0) throw badValue(`bit positions must be >= 0 but got: ${show(item)}`);
      positions.push(n);
    }
  } else if (isNumber(arg)) {
    const n = toNumber(arg);
    if (Number.isNaN(n))
      throw failedToParse(`Expected an integer, but found NaN in: ${op}: ${show(arg)}`);
    const mask = asInt64(arg, false);
    if (mask === undefined) {
      throw failedToParse(
        Number.isInteger(n)
          ? `Cannot represent as a 64-bit integer: ${op}: ${show(arg)}`
          : `Expected an integer: ${op}: ${show(arg)}`
      );
    }
    if (mask < 0n) throw failedToParse(`Expected a positive number in: ${op}: ${show(arg)}`);
    for (let bit = 0; bit < 63; bit++) if ((mask >> BigInt(bit)) & 1n) positions.push(bit);
  } else if (arg instanceof Binary) {
    const bytes = arg.buffer.subarray(0, arg.position);
    for (let i = 0; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++)
        if (((bytes[i] as number) >> bit) & 1) positions.push(i * 8 + bit);
    }
  } else {
    throw badValue(
      `${op} takes an Array, a number, or a BinData but received: ${op}: ${show(arg)}`
    );
  }
  return bitTest(op, positions);
}

/** A regex value (`BSONRegExp`, or a JS `RegExp` from hand-built filters) as pattern + options. */
export function regexParts(value: unknown): { pattern: string; options: string } | undefined {
  if (value instanceof BSONRegExp) return { pattern: value.pattern, options: value.options };
  if (value instanceof RegExp) {
    const options = [...'imsux'].filter(f => value.flags.includes(f)).join('');
    return { pattern: value.source, options };
  }
  return undefined;
}

/** A regex match predicate for a pattern and options. */
export function regexPredicate(pattern: string, options: string): ValuePredicate {
  return regexTest(compileRegex(pattern, options), pattern, options);
}

/** `{$regex, $options}` inside an operator document (`parseRegexDocument`). */
export function parseRegexDocument(ops: BDoc): ValuePredicate {
  let pattern = '';
  let options = '';
  for (const [name, value] of ops) {
    if (name === '$regex') {
      const regex = regexParts(value);
      if (typeof value === 'string') {
        pattern = value;
      } else if (regex) {
        pattern = regex.pattern;
        if (regex.options !== '') {
          if (options !== '')
            throw new ServerError(51074, 'options set in both $regex and $options');
          options = regex.options;
        }
      } else {
        throw badValue('$regex has to be a string');
      }
    } else if (name === '$options') {
      if (typeof value !== 'string') throw badValue('$options has to be a string');
      if (options !== '') throw new ServerError(51075, 'options set in both $regex and $options');
      options = value;
    }
  }
  return regexPredicate(pattern, options);
}
