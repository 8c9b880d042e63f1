/** Object operators: `$mergeObjects`, `$objectToArray`, `$arrayToObject`, `$getField`, `$setField`. */
import { type BDoc, type BValue, isDoc } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import {
  argList,
  type Compiled,
  exactArgs,
  isNullish,
  MISSING,
  type OperatorParser,
  type Parser,
  type Value
} from './expr-core.js';
import { debugString, typeName } from './format.js';

/** Merges documents left to right; null and missing inputs are skipped. */
export function mergeInto(out: BDoc, v: Value, index: number): void {
  if (isNullish(v)) return;
  if (!isDoc(v)) {
    throw new ServerError(
      40400,
      `$mergeObjects requires object inputs, but input ${debugString(v)} is of type ${typeName(v)}`
    );
  }
  for (const [k, x] of v) out.set(k, x);
  void index;
}

const mergeObjects: OperatorParser = (arg, p) => {
  const args = argList(arg).map(a => p.compile(a));
  return s => {
    const out: BDoc = new Map();
    args.forEach((c, i) => mergeInto(out, c(s), i));
    return out;
  };
};

const objectToArray: OperatorParser = (arg, p, name) => {
  const [a] = exactArgs(name, arg, 1, p) as [Compiled];
  return s => {
    const v = a(s);
    if (isNullish(v)) return null;
    if (!isDoc(v))
      throw new ServerError(
        40390,
        `$objectToArray requires a document input, found: ${typeName(v)}`
      );
    return [...v].map(
      ([k, x]) =>
        new Map<string, BValue>([
          ['k', k],
          ['v', x]
        ])
    );
  };
};

const arrayToObject: OperatorParser = (arg, p, name) => {
  const [a] = exactArgs(name, arg, 1, p) as [Compiled];
  return s => {
    const v = a(s);
    if (isNullish(v)) return null;
    if (!Array.isArray(v))
      throw new ServerError(40386, `$arrayToObject requires an array input, found: ${typeName(v)}`);
    const out: BDoc = new Map();
    if (v.length === 0) return out;
    const pairs = Array.isArray(v[0]);
    for (const item of v) {
      let key: BValue;
      let value: BValue;
      if (pairs) {
        if (!Array.isArray(item)) {
          throw new ServerError(
            40398,
            `Unrecognised input type format for $arrayToObject: ${typeName(item)}`
          );
        }
        if (item.length !== 2) {
          throw new ServerError(
            40397,
            `$arrayToObject requires an array of size 2 arrays,found array of size: ${item.length}`
          );
        }
        [key, value] = item as [BValue, BValue];
        if (typeof key !== 'string') {
          throw new ServerError(
            40395,
            `$arrayToObject requires an array of key-value pairs, where the key must be of type string. Found key type: ${typeName(key)}`
          );
        }
      } else {
        if (!isDoc(item))
          throw new ServerError(
            40398,
            `Unrecognised input type format for $arrayToObject: ${typeName(item)}`
          );
        if (item.size !== 2 || !item.has('k') || !item.has('v')) {
          throw new ServerError(
            40392,
            `$arrayToObject requires an object keys of 'k' and 'v'. Found incorrect number of keys:${item.size}`
          );
        }
        key = item.get('k')!;
        value = item.get('v')!;
        if (typeof key !== 'string') {
          throw new ServerError(
            40394,
            `$arrayToObject requires an object with keys 'k' and 'v', where the value of 'k' must be of type string. Found type: ${typeName(key)}`
          );
        }
      }
      if (key.includes('\0')) {
        throw new ServerError(4940400, 'Key field cannot contain an embedded null byte');
      }
      out.set(key, value);
    }
    return out;
  };
};

/** `field` must be a constant string (or `$literal` of one), as mongod checks at parse time. */
function constantField(name: string, v: BValue | undefined): string {
  if (typeof v === 'string' && !v.startsWith('$')) return v;
  if (isDoc(v) && v.size === 1 && v.has('$literal') && typeof v.get('$literal') === 'string') {
    return v.get('$literal') as string;
  }
  throw new ServerError(
    name === '$getField' ? 5654602 : 4161106,
    `${name} requires 'field' to evaluate to a constant, but got a non-constant argument`
  );
}

const getField: OperatorParser = (arg, p) => {
  let field: string;
  let input: Compiled = s => s.current;
  if (isDoc(arg) && !([...arg.keys()][0] ?? '').startsWith('$')) {
    for (const key of arg.keys()) {
      if (key !== 'field' && key !== 'input') {
        throw new ServerError(3041701, `$getField found an unknown argument: ${key}`);
      }
    }
    if (!arg.has('field'))
      throw new ServerError(3041702, "$getField requires 'field' to be specified");
    field = constantField('$getField', arg.get('field'));
    if (arg.has('input')) input = p.compile(arg.get('input')!);
  } else {
    field = constantField('$getField', arg);
  }
  return s => {
    const v = input(s);
    if (isNullish(v)) return v === MISSING ? MISSING : null;
    if (!isDoc(v)) return MISSING;
    return v.has(field) ? (v.get(field) as BValue) : MISSING;
  };
};

const setField: OperatorParser = (arg, p: Parser) => {
  if (!isDoc(arg))
    throw new ServerError(4161100, `$setField only supports an object as its argument`);
  for (const key of arg.keys()) {
    if (!['field', 'input', 'value'].includes(key)) {
      throw new ServerError(4161101, `$setField found an unknown argument: ${key}`);
    }
  }
  if (!arg.has('field'))
    throw new ServerError(4161102, "$setField requires 'field' to be specified");
  if (!arg.has('value'))
    throw new ServerError(4161103, "$setField requires 'value' to be specified");
  if (!arg.has('input'))
    throw new ServerError(4161109, "$setField requires 'input' to be specified");
  const field = constantField('$setField', arg.get('field'));
  const input = p.compile(arg.get('input')!);
  const value = p.compile(arg.get('value')!);
  return s => {
    const doc = input(s);
    if (isNullish(doc)) return null;
    if (!isDoc(doc)) {
      throw new ServerError(4161105, `$setField requires 'input' to evaluate to type Object`);
    }
    const out: BDoc = new Map(doc);
    const v = value(s);
    if (v === MISSING) out.delete(field);
    else out.set(field, v);
    return out;
  };
};

export const OBJECT_OPERATORS: Record<string, OperatorParser> = {
  $mergeObjects: mergeObjects,
  $objectToArray: objectToArray,
  $arrayToObject: arrayToObject,
  $getField: getField,
  $setField: setField
};
