/**
 * Shared types of the expression compiler: every expression is parsed once into a closure over a
 * `Scope`. Kept apart from `expressions.ts` so operator families can import it without a cycle.
 */
import { type BDoc, type BValue } from '../../bson/values.js';
import { ServerError } from '../server-error.js';

/** "No value" as mongod's `Value()`: a missing field, `$$REMOVE`; distinct from BSON null. */
export const MISSING: unique symbol = Symbol('MISSING');
export type Missing = typeof MISSING;
/** An expression result: a BSON value or MISSING. */
export type Value = BValue | Missing;

export interface Scope {
  root: BDoc;
  current: BValue;
  vars: Map<string, BValue>;
  now: Date;
}

export type Compiled = (scope: Scope) => Value;

/** What an operator parser gets: a way to compile sub-expressions, with variables in scope. */
export interface Parser {
  compile(expr: BValue): Compiled;
  /** A parser that also accepts `$$name` for each of `names` (for `$let`, `$map`, …). */
  withVars(names: string[]): Parser;
}

export type OperatorParser = (arg: BValue, p: Parser, name: string) => Compiled;

export function isMissing(v: Value): v is Missing {
  return v === MISSING;
}

/** null, undefined (BSON) or missing: what most operators answer with null. */
export function isNullish(v: Value): v is null | undefined | Missing {
  return v === null || v === undefined || v === MISSING;
}

export function orNull(v: Value): BValue {
  return v === MISSING ? null : v;
}

/** The argument list of an n-ary operator: an array, or one non-array value. */
export function argList(arg: BValue): BValue[] {
  return Array.isArray(arg) ? arg : [arg];
}

export function exactArgs(name: string, arg: BValue, n: number, p: Parser): Compiled[] {
  const list = argList(arg);
  if (list.length !== n) {
    throw new ServerError(
      16020,
      `Expression ${name} takes exactly ${n} arguments. ${list.length} were passed in.`
    );
  }
  return list.map(a => p.compile(a));
}

export function rangeArgs(
  name: string,
  arg: BValue,
  min: number,
  max: number,
  p: Parser
): Compiled[] {
  const list = argList(arg);
  if (list.length < min || list.length > max) {
    throw new ServerError(
      28667,
      `Expression ${name} takes at least ${min} arguments, and at most ${max}, but ${list.length} were passed in.`
    );
  }
  return list.map(a => p.compile(a));
}

/** The fields of an object-form argument, rejecting unknown ones with mongod's code. */
export function objectArg(
  name: string,
  arg: BValue,
  allowed: readonly string[],
  code: number
): BDoc {
  if (!(arg instanceof Map)) {
    throw new ServerError(code, `${name} only supports an object as its argument`);
  }
  for (const key of arg.keys()) {
    if (!allowed.includes(key)) {
      throw new ServerError(code, `Unrecognized parameter to ${name}: ${key}`);
    }
  }
  return arg;
}

export function constant(v: Value): Compiled {
  return () => v;
}

const SYSTEM_VARS = new Set(['ROOT', 'CURRENT', 'NOW', 'REMOVE']);

/** mongod's user variable names: a lowercase letter or non-ASCII first, then word characters. */
export function validateVariableName(name: string, isReference = false): void {
  if (SYSTEM_VARS.has(name) && !isReference) {
    throw new ServerError(
      16867,
      `'${name}' starts with an invalid character for a user variable name`
    );
  }
  if (name.length === 0) throw new ServerError(16866, 'empty variable names are not allowed');
  const first = name.charCodeAt(0);
  if (!((first >= 97 && first <= 122) || first >= 128)) {
    throw new ServerError(
      16867,
      `'${name}' starts with an invalid character for a user variable name`
    );
  }
  for (const ch of name) {
    if (!/[A-Za-z0-9_]/.test(ch) && ch.charCodeAt(0) < 128) {
      throw new ServerError(
        16868,
        `'${name}' contains an invalid character for a variable name: '${ch}'`
      );
    }
  }
}
