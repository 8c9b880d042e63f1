/** Comparison, boolean and conditional operators, plus `$literal` and `$let`. */
import { Int32 } from 'bson';

import { type BValue, compareValues, isDoc, isTruthy } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import {
  argList,
  type Compiled,
  exactArgs,
  isNullish,
  MISSING,
  type OperatorParser,
  type Parser,
  validateVariableName,
  type Value
} from './expr-core.js';

/** Expression comparison: MISSING sorts below null (mongod's EOO), else BSON order. */
export function compareExpr(a: Value, b: Value): number {
  if (a === MISSING || b === MISSING) return a === b ? 0 : a === MISSING ? -1 : 1;
  return compareValues(a, b);
}

function comparison(test: (c: number) => boolean): OperatorParser {
  return (arg, p, name) => {
    const [a, b] = exactArgs(name, arg, 2, p) as [Compiled, Compiled];
    return s => test(compareExpr(a(s), b(s)));
  };
}

const cmp: OperatorParser = (arg, p, name) => {
  const [a, b] = exactArgs(name, arg, 2, p) as [Compiled, Compiled];
  return s => new Int32(Math.sign(compareExpr(a(s), b(s))));
};

function truthy(v: Value): boolean {
  return v !== MISSING && isTruthy(v);
}

const and: OperatorParser = (arg, p) => {
  const args = argList(arg).map(a => p.compile(a));
  return s => args.every(c => truthy(c(s)));
};

const or: OperatorParser = (arg, p) => {
  const args = argList(arg).map(a => p.compile(a));
  return s => args.some(c => truthy(c(s)));
};

const not: OperatorParser = (arg, p, name) => {
  const [a] = exactArgs(name, arg, 1, p) as [Compiled];
  return s => !truthy(a(s));
};

const cond: OperatorParser = (arg, p, name) => {
  let parts: [BValue, BValue, BValue];
  if (isDoc(arg)) {
    for (const key of arg.keys()) {
      if (!['if', 'then', 'else'].includes(key)) {
        throw new ServerError(17083, `Unrecognized parameter to $cond: ${key}`);
      }
    }
    if (!arg.has('if')) throw new ServerError(17080, "Missing 'if' parameter to $cond");
    if (!arg.has('then')) throw new ServerError(17081, "Missing 'then' parameter to $cond");
    if (!arg.has('else')) throw new ServerError(17082, "Missing 'else' parameter to $cond");
    parts = [arg.get('if')!, arg.get('then')!, arg.get('else')!];
  } else {
    const list = argList(arg);
    if (list.length !== 3) {
      throw new ServerError(
        16020,
        `Expression ${name} takes exactly 3 arguments. ${list.length} were passed in.`
      );
    }
    parts = list as [BValue, BValue, BValue];
  }
  const [i, t, e] = parts.map(x => p.compile(x)) as [Compiled, Compiled, Compiled];
  return s => (truthy(i(s)) ? t(s) : e(s));
};

const ifNull: OperatorParser = (arg, p) => {
  const list = argList(arg);
  if (list.length < 2) {
    throw new ServerError(1257300, '$ifNull needs at least two arguments, had: ' + list.length);
  }
  const args = list.map(a => p.compile(a));
  return s => {
    let v: Value = null;
    for (const c of args) {
      v = c(s);
      if (!isNullish(v)) return v;
    }
    return v;
  };
};

const switchOp: OperatorParser = (arg, p) => {
  if (!isDoc(arg))
    throw new ServerError(40060, `$switch requires an object as an argument, found: ${typeof arg}`);
  const branches: [Compiled, Compiled][] = [];
  let fallback: Compiled | undefined;
  for (const [key, value] of arg) {
    if (key === 'branches') {
      if (!Array.isArray(value))
        throw new ServerError(40061, "$switch expected an array for 'branches'");
      for (const branch of value) {
        if (!isDoc(branch))
          throw new ServerError(40062, '$switch expected each branch to be an object');
        let c: Compiled | undefined;
        let t: Compiled | undefined;
        for (const [bk, bv] of branch) {
          if (bk === 'case') c = p.compile(bv);
          else if (bk === 'then') t = p.compile(bv);
          else throw new ServerError(40063, `$switch found an unknown argument to a branch: ${bk}`);
        }
        if (!c)
          throw new ServerError(40064, "$switch requires each branch have a 'case' expression");
        if (!t)
          throw new ServerError(40065, "$switch requires each branch have a 'then' expression.");
        branches.push([c, t]);
      }
    } else if (key === 'default') fallback = p.compile(value);
    else throw new ServerError(40067, `$switch found an unknown argument: ${key}`);
  }
  if (branches.length === 0) throw new ServerError(40068, '$switch requires at least one branch.');
  return s => {
    for (const [c, t] of branches) if (truthy(c(s))) return t(s);
    if (fallback) return fallback(s);
    throw new ServerError(
      40066,
      '$switch could not find a matching branch for an input, and no default was specified.'
    );
  };
};

const literal: OperatorParser = arg => () => arg;

const letOp: OperatorParser = (arg, p) => {
  if (!isDoc(arg)) throw new ServerError(16874, '$let only supports an object as its argument');
  for (const key of arg.keys()) {
    if (key !== 'vars' && key !== 'in')
      throw new ServerError(16875, `Unrecognized parameter to $let: ${key}`);
  }
  const vars = arg.get('vars');
  if (!arg.has('vars')) throw new ServerError(16876, "Missing 'vars' parameter to $let");
  if (!arg.has('in')) throw new ServerError(16877, "Missing 'in' parameter to $let");
  if (!isDoc(vars)) throw new ServerError(10065, 'invalid parameter: expected an object (vars)');
  const defs: [string, Compiled][] = [];
  for (const [name, expr] of vars) {
    validateVariableName(name);
    defs.push([name, p.compile(expr)]);
  }
  const body = p.withVars(defs.map(([n]) => n)).compile(arg.get('in')!);
  return s => {
    const scoped = new Map(s.vars);
    for (const [name, c] of defs) {
      const v = c(s);
      if (v === MISSING) scoped.delete(name);
      else scoped.set(name, v);
    }
    return body({ ...s, vars: scoped });
  };
};

export function bindVar(s: Parameters<Compiled>[0], name: string, v: BValue) {
  const vars = new Map(s.vars);
  vars.set(name, v);
  return { ...s, vars };
}

export type { Parser };

export const LOGIC_OPERATORS: Record<string, OperatorParser> = {
  $eq: comparison(c => c === 0),
  $ne: comparison(c => c !== 0),
  $gt: comparison(c => c > 0),
  $gte: comparison(c => c >= 0),
  $lt: comparison(c => c < 0),
  $lte: comparison(c => c <= 0),
  $cmp: cmp,
  $and: and,
  $or: or,
  $not: not,
  $cond: cond,
  $ifNull: ifNull,
  $switch: switchOp,
  $literal: literal,
  $let: letOp
};
