/**
 * The leaf update modifiers ($set, $inc, $push, ...): each parses its argument once, with mongod's
 * errors (modifier_table / *_node.cpp `init`), and applies to an existing element or produces the
 * value of an element it creates.
 */
import { Int32, Long, Timestamp } from 'bson';

import {
  type BDoc,
  type BValue,
  cloneValue,
  compareValues,
  isNumber,
  toNumber,
  typeAlias,
  valuesEqual
} from '../../bson/values.js';
import { compileFilter, type Matcher } from '../query/matcher.js';
import { ServerError } from '../server-error.js';
import { type Num, numDebugString, numIdentical, safeAdd, safeBit, safeMul } from './arithmetic.js';
import { binaryEqual } from './binary-equal.js';
import type { UpdateContext } from './context.js';
import { docString, elementString, idString } from './format.js';
import { parsePushSpec, performPush } from './push.js';
import type { Ref } from './ref.js';

export interface ApplyEnv {
  /** The working document (for the `_id` quoted in messages). */
  readonly root: BDoc;
  readonly ctx: UpdateContext;
}

export interface Modifier {
  readonly op: string;
  /** Path-creating modifiers create missing fields; the others are no-ops on them. */
  readonly allowCreation: boolean;
  /** $unset alone skips the viability check on a missing path. */
  readonly allowNonViablePath: boolean;
  /** $setOnInsert: applies only when the update builds an upsert's document. */
  readonly insertOnly: boolean;
  /** Applies to an existing element at dotted `path`; returns true when it changed. */
  applyExisting(ref: Ref, path: string, env: ApplyEnv): boolean;
  /** The value of a newly created element (path-creating modifiers only). */
  createValue(env: ApplyEnv): BValue;
  /** Set for $rename only: the node sits at `to` and moves `from` there. */
  readonly rename?: { from: string; to: string };
}

const badValue = (message: string): ServerError => new ServerError(2, message);

function base(op: string, creates: boolean): Omit<Modifier, 'applyExisting' | 'createValue'> {
  return { op, allowCreation: creates, allowNonViablePath: false, insertOnly: false };
}

function setLike(op: string, value: BValue): Modifier {
  return {
    ...base(op, true),
    insertOnly: op === '$setOnInsert',
    applyExisting(ref) {
      if (binaryEqual(ref.get(), value)) return false;
      ref.set(cloneValue(value));
      return true;
    },
    createValue: () => cloneValue(value)
  };
}

function unset(): Modifier {
  return {
    ...base('$unset', false),
    allowNonViablePath: true,
    applyExisting(ref) {
      // An $unset of an array element sets it to null rather than shifting the array.
      if (ref.where === 'array') ref.set(null);
      else ref.remove();
      return true;
    },
    createValue: () => null
  };
}

function arithmetic(op: '$inc' | '$mul', path: string, value: BValue): Modifier {
  if (!isNumber(value)) {
    const verb = op === '$inc' ? 'increment' : 'multiply';
    throw new ServerError(
      14,
      `Cannot ${verb} with non-numeric argument: {${elementString(path, value)}}`
    );
  }
  const operand = value as Num;
  const compute = op === '$inc' ? safeAdd : safeMul;
  return {
    ...base(op, true),
    applyExisting(ref, _path, env) {
      const current = ref.get();
      if (!isNumber(current)) {
        throw new ServerError(
          14,
          `Cannot apply ${op} to a value of non-numeric type. {${idString(env.root)}} has the ` +
            `field '${ref.name}' of non-numeric type ${typeAlias(current)}`
        );
      }
      const result = compute(operand, current);
      if (result === null) {
        throw badValue(
          `Failed to apply ${op} operations to current value (${numDebugString(current)}) for ` +
            `document {${idString(env.root)}}`
        );
      }
      if (numIdentical(result, current)) return false;
      ref.set(result);
      return true;
    },
    // $inc creates the increment itself; $mul creates a zero of the multiplier's type.
    createValue: () => (op === '$inc' ? operand : (safeMul(operand, new Int32(0)) as Num))
  };
}

function compare(op: '$min' | '$max', value: BValue): Modifier {
  return {
    ...base(op, true),
    applyExisting(ref) {
      const c = compareValues(ref.get(), value);
      if (c === 0 || (op === '$max' ? c > 0 : c < 0)) return false;
      ref.set(cloneValue(value));
      return true;
    },
    createValue: () => cloneValue(value)
  };
}

function currentDate(value: BValue): Modifier {
  let asDate: boolean;
  if (typeof value === 'boolean') asDate = true;
  else if (value instanceof Map) {
    let found: boolean | undefined;
    for (const [k, v] of value) {
      if (k !== '$type') throw badValue(`Unrecognized $currentDate option: ${k}`);
      if (v === 'date') found = true;
      else if (v === 'timestamp') found = false;
    }
    if (found === undefined) {
      throw badValue(
        "The '$type' string field is required to be 'date' or 'timestamp': " +
          "{$currentDate: {field : {$type: 'date'}}}"
      );
    }
    asDate = found;
  } else {
    throw badValue(
      `${typeAlias(value)} is not valid type for $currentDate. Please use a boolean ('true') or ` +
        "a $type expression ({$type: 'timestamp/date'})."
    );
  }
  const make = (ctx: UpdateContext): BValue =>
    asDate
      ? new Date(ctx.now.getTime())
      : (ctx.timestamp ?? new Timestamp({ t: Math.floor(ctx.now.getTime() / 1000), i: 1 }));
  return {
    ...base('$currentDate', true),
    applyExisting(ref, _path, env) {
      ref.set(make(env.ctx));
      return true;
    },
    createValue: env => make(env.ctx)
  };
}

type BitOp = { op: 'and' | 'or' | 'xor'; operand: Int32 | Long };

function bit(value: BValue): Modifier {
  if (!(value instanceof Map)) {
    throw badValue(
      `The $bit modifier is not compatible with a ${typeAlias(value)}. ` +
        'You must pass in an embedded document: {$bit: {field: {and/or/xor: #}}'
    );
  }
  const ops: BitOp[] = [];
  for (const [k, v] of value) {
    if (k !== 'and' && k !== 'or' && k !== 'xor') {
      throw badValue(
        `The $bit modifier only supports 'and', 'or', and 'xor', not '${k}' which is an unknown ` +
          `operator: {${elementString(k, v)}}`
      );
    }
    if (!(v instanceof Int32) && !(v instanceof Long)) {
      throw badValue(
        `The $bit modifier field must be an Integer(32/64 bit); a '${typeAlias(v)}' is not ` +
          `supported here: {${elementString(k, v)}}`
      );
    }
    ops.push({ op: k, operand: v });
  }
  if (ops.length === 0) {
    throw badValue(
      'You must pass in at least one bitwise operation. The format is: ' +
        '{$bit: {field: {and/or/xor: #}}'
    );
  }
  const run = (start: Int32 | Long): Int32 | Long =>
    ops.reduce((acc, { op, operand }) => safeBit(op, acc, operand), start);
  return {
    ...base('$bit', true),
    applyExisting(ref, _path, env) {
      const current = ref.get();
      if (!(current instanceof Int32) && !(current instanceof Long)) {
        throw badValue(
          `Cannot apply $bit to a value of non-integral type.${idString(env.root)} has the field ` +
            `${ref.name} of non-integer type ${typeAlias(current)}`
        );
      }
      const result = run(current);
      if (numIdentical(result, current)) return false;
      ref.set(result);
      return true;
    },
    createValue: () => run(new Int32(0))
  };
}

function push(value: BValue): Modifier {
  const spec = parsePushSpec(value);
  return {
    ...base('$push', true),
    applyExisting(ref, path, env) {
      const current = ref.get();
      if (!Array.isArray(current)) {
        throw badValue(
          `The field '${path}' must be an array but is of type ${typeAlias(current)} in document ` +
            `{${idString(env.root)}}`
        );
      }
      return performPush(current, spec);
    },
    createValue: () => {
      const array: BValue[] = [];
      performPush(array, spec);
      return array;
    }
  };
}

function addToSet(value: BValue): Modifier {
  let elements: BValue[] = [value];
  if (value instanceof Map && value.keys().next().value === '$each') {
    const each = value.get('$each');
    if (!Array.isArray(each)) {
      throw new ServerError(
        14,
        `The argument to $each in $addToSet must be an array but it was of type ${typeAlias(each)}`
      );
    }
    if (value.size > 1) {
      throw badValue(`Found unexpected fields after $each in $addToSet: ${docString(value)}`);
    }
    elements = [];
    for (const item of each) if (!elements.some(e => valuesEqual(e, item))) elements.push(item);
  }
  return {
    ...base('$addToSet', true),
    applyExisting(ref) {
      const current = ref.get();
      if (!Array.isArray(current)) {
        throw badValue(
          `Cannot apply $addToSet to non-array field. Field named '${ref.name}' has non-array ` +
            `type ${typeAlias(current)}`
        );
      }
      const toAdd = elements.filter(e => !current.some(c => valuesEqual(c, e)));
      for (const e of toAdd) current.push(cloneValue(e));
      return toAdd.length > 0;
    },
    createValue: () => elements.map(e => cloneValue(e))
  };
}

function pop(path: string, value: BValue): Modifier {
  if (!isNumber(value)) {
    throw new ServerError(9, `Expected a number in: ${elementString(path, value)}`);
  }
  const n = toNumber(value);
  if (n !== 1 && n !== -1) throw new ServerError(9, `$pop expects 1 or -1, found: ${n}`);
  return {
    ...base('$pop', false),
    applyExisting(ref, path) {
      const current = ref.get();
      if (!Array.isArray(current)) {
        throw new ServerError(
          14,
          `Path '${path}' contains an element of non-array type '${typeAlias(current)}'`
        );
      }
      if (current.length === 0) return false;
      if (n === -1) current.shift();
      else current.pop();
      return true;
    },
    createValue: () => null
  };
}

/** Query operators that make `{$pull: {a: {$gt: 1}}}` a condition on the element itself. */
const PATH_KEYWORDS = new Set([
  '$all',
  '$bitsAllClear',
  '$bitsAllSet',
  '$bitsAnyClear',
  '$bitsAnySet',
  '$elemMatch',
  '$eq',
  '$exists',
  '$geoIntersects',
  '$geoWithin',
  '$gt',
  '$gte',
  '$in',
  '$lt',
  '$lte',
  '$maxDistance',
  '$minDistance',
  '$mod',
  '$ne',
  '$near',
  '$nearSphere',
  '$nin',
  '$not',
  '$options',
  '$regex',
  '$size',
  '$type',
  '$within'
]);

/** The key the wrapped $pull condition and its element are put under (any name behaves alike). */
const WRAP = 'pullElement';

function pullPredicate(value: BValue): (element: BValue) => boolean {
  if (value instanceof Map) {
    const first = value.keys().next().value;
    if (first === undefined || !PATH_KEYWORDS.has(first)) {
      // A document of field conditions matches only embedded documents.
      const matcher = compileFilter(value);
      return element => element instanceof Map && matcher.matches(element);
    }
  }
  if (value instanceof Map || typeAlias(value) === 'regex') {
    const matcher: Matcher = compileFilter(new Map([[WRAP, value]]));
    return element => matcher.matches(new Map([[WRAP, element]]));
  }
  return element => valuesEqual(element, value);
}

function culling(op: '$pull' | '$pullAll', value: BValue): Modifier {
  let test: (element: BValue) => boolean;
  if (op === '$pullAll') {
    if (!Array.isArray(value)) {
      throw badValue(`$pullAll requires an array argument but was given a ${typeAlias(value)}`);
    }
    test = element => value.some(v => valuesEqual(element, v));
  } else {
    test = pullPredicate(value);
  }
  return {
    ...base(op, false),
    applyExisting(ref) {
      const current = ref.get();
      if (!Array.isArray(current)) throw badValue(`Cannot apply ${op} to a non-array value`);
      const kept = current.filter(e => !test(e));
      if (kept.length === current.length) return false;
      current.splice(0, current.length, ...kept);
      return true;
    },
    createValue: () => null
  };
}

/** The $rename node placed at the destination path; apply-tree performs the move. */
export function renameModifier(from: string, to: string): Modifier {
  return {
    ...base('$rename', true),
    rename: { from, to },
    applyExisting: () => false,
    createValue: () => null
  };
}

/** The modifiers mongod knows, in modifier_table order. */
export const MODIFIER_NAMES = new Set([
  '$addToSet',
  '$bit',
  '$currentDate',
  '$inc',
  '$max',
  '$min',
  '$mul',
  '$pop',
  '$pull',
  '$pullAll',
  '$push',
  '$rename',
  '$set',
  '$setOnInsert',
  '$unset'
]);

/** Parses one `path: value` entry of modifier `op` (not $rename, which tree.ts handles). */
export function parseModifier(op: string, path: string, value: BValue): Modifier {
  switch (op) {
    case '$set':
    case '$setOnInsert':
      return setLike(op, value);
    case '$unset':
      return unset();
    case '$inc':
    case '$mul':
      return arithmetic(op, path, value);
    case '$min':
    case '$max':
      return compare(op, value);
    case '$currentDate':
      return currentDate(value);
    case '$bit':
      return bit(value);
    case '$push':
      return push(value);
    case '$addToSet':
      return addToSet(value);
    case '$pop':
      return pop(path, value);
    case '$pull':
    case '$pullAll':
      return culling(op, value);
    default:
      throw new Error(`parseModifier: unexpected ${op}`);
  }
}
