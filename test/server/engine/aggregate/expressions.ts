/**
 * The aggregation expression language: `compileExpression` parses once into a closure, `evaluate`
 * is the one-shot form. Field paths, system and user variables and object/array literals live
 * here; the operators are in the `expr-*.ts` families.
 */
import { type BDoc, type BValue, isDoc } from '../../bson/values.js';
import { fieldPathParts } from '../field-path.js';
import { notImplemented, ServerError } from '../server-error.js';
import { ARITHMETIC_OPERATORS } from './expr-arith.js';
import { ARRAY_OPERATORS } from './expr-array.js';
import { CONVERT_OPERATORS } from './expr-convert.js';
import {
  type Compiled,
  MISSING,
  type OperatorParser,
  type Parser,
  type Scope,
  validateVariableName,
  type Value
} from './expr-core.js';
import { DATE_OPERATORS } from './expr-date.js';
import { LOGIC_OPERATORS } from './expr-logic.js';
import { OBJECT_OPERATORS } from './expr-object.js';
import { STRING_OPERATORS } from './expr-string.js';

export {
  type Compiled,
  isMissing,
  MISSING,
  type Scope,
  validateVariableName,
  type Value
} from './expr-core.js';

/**
 * What `evaluate` returns for "no value" (a missing field, `$$REMOVE`): callers omit the field.
 * It is JS `undefined` so it stays a `BValue` and is falsy for `isTruthy` (as missing is in
 * mongod); internally compiled expressions use the distinct `MISSING` symbol instead.
 */
export const REMOVE = undefined;

export type ExprContext = { root: BDoc; current?: BDoc; vars?: Map<string, BValue>; now?: Date };

const OPERATORS: ReadonlyMap<string, OperatorParser> = new Map(
  Object.entries({
    ...ARITHMETIC_OPERATORS,
    ...LOGIC_OPERATORS,
    ...STRING_OPERATORS,
    ...ARRAY_OPERATORS,
    ...CONVERT_OPERATORS,
    ...OBJECT_OPERATORS,
    ...DATE_OPERATORS
  })
);

/** Operators mongod knows that the test server refuses rather than approximates. */
const NOT_IMPLEMENTED = new Set([
  '$meta',
  '$function',
  '$accumulator',
  '$regexMatch',
  '$regexFind',
  '$regexFindAll',
  '$replaceOne',
  '$replaceAll',
  '$dateToString',
  '$dateFromString',
  '$dateToParts',
  '$dateFromParts',
  '$dateAdd',
  '$dateSubtract',
  '$dateDiff',
  '$dateTrunc',
  '$week',
  '$isoWeek',
  '$isoWeekYear',
  '$isoDayOfWeek',
  '$exp',
  '$ln',
  '$log',
  '$log10',
  '$sin',
  '$cos',
  '$tan',
  '$asin',
  '$acos',
  '$atan',
  '$atan2',
  '$asinh',
  '$acosh',
  '$atanh',
  '$sinh',
  '$cosh',
  '$tanh',
  '$degreesToRadians',
  '$radiansToDegrees',
  '$setUnion',
  '$setIntersection',
  '$setDifference',
  '$setEquals',
  '$setIsSubset',
  '$anyElementTrue',
  '$allElementsTrue',
  '$zip',
  '$sortArray',
  '$maxN',
  '$minN',
  '$firstN',
  '$lastN',
  '$top',
  '$topN',
  '$bottom',
  '$bottomN',
  '$strLenBytes',
  '$indexOfBytes',
  '$binarySize',
  '$bsonSize',
  '$rand',
  '$sampleRate',
  '$tsSecond',
  '$tsIncrement',
  '$unsetField',
  '$toHashedIndexKey',
  '$sum',
  '$avg',
  '$min',
  '$max',
  '$stdDevPop',
  '$stdDevSamp',
  '$median',
  '$percentile',
  '$bitAnd',
  '$bitOr',
  '$bitXor',
  '$bitNot',
  '$getField_internal',
  '$toUUID',
  '$createObjectId',
  '$hash',
  '$encStrStartsWith'
]);

const UNSUPPORTED_SYSTEM_VARS = new Set([
  'CLUSTER_TIME',
  'DESCEND',
  'PRUNE',
  'KEEP',
  'SEARCH_META',
  'USER_ROLES'
]);

function makeParser(defined: ReadonlySet<string>): Parser {
  const parser: Parser = {
    compile: expr => compileWith(expr, parser, defined),
    withVars: names => makeParser(new Set([...defined, ...names]))
  };
  return parser;
}

/** Parses `expr` once; `vars` names the user variables that will be in scope when it runs. */
export function compileExpression(expr: BValue, vars: Iterable<string> = []): Compiled {
  return makeParser(new Set(vars)).compile(expr);
}

/** A parser for operator-style sub-compilation (stages that hold several expressions). */
export function expressionParser(vars: Iterable<string> = []): Parser {
  return makeParser(new Set(vars));
}

export function makeScope(
  root: BDoc,
  vars: Map<string, BValue> = new Map(),
  now: Date = new Date()
): Scope {
  return { root, current: root, vars, now };
}

/**
 * Evaluates an aggregation expression against a document (one-shot; compile for reuse). A missing
 * result comes back as `REMOVE` (undefined).
 */
export function evaluate(expr: BValue, ctx: ExprContext): BValue {
  const v = evaluateValue(expr, ctx);
  return v === MISSING ? REMOVE : v;
}

/** Like `evaluate`, but keeps MISSING distinct from a BSON undefined result. */
export function evaluateValue(expr: BValue, ctx: ExprContext): Value {
  const vars = ctx.vars ?? new Map<string, BValue>();
  const compiled = compileExpression(expr, vars.keys());
  return compiled({
    root: ctx.root,
    current: ctx.current ?? ctx.root,
    vars,
    now: ctx.now ?? new Date()
  });
}

function compileWith(expr: BValue, p: Parser, defined: ReadonlySet<string>): Compiled {
  if (typeof expr === 'string') {
    if (expr.startsWith('$$')) return compileVariable(expr.slice(2), defined);
    if (expr.startsWith('$')) return compileFieldPath(expr.slice(1));
    return () => expr;
  }
  if (Array.isArray(expr)) {
    const items = expr.map(e => p.compile(e));
    // A missing element becomes null, as mongod's ExpressionArray does.
    return s =>
      items.map(c => {
        const v = c(s);
        return v === MISSING ? null : v;
      });
  }
  if (isDoc(expr)) {
    const first = expr.keys().next();
    if (!first.done && first.value.startsWith('$')) return compileOperator(expr, p);
    return compileObject(expr, p);
  }
  return () => expr;
}

function compileOperator(expr: BDoc, p: Parser): Compiled {
  if (expr.size !== 1) {
    throw new ServerError(
      15983,
      `an expression specification must contain exactly one field, the name of the expression. Found ${expr.size} fields in ${renderKeys(expr)}`
    );
  }
  const [name, arg] = expr.entries().next().value as [string, BValue];
  const parse = OPERATORS.get(name);
  if (parse) return parse(arg, p, name);
  if (NOT_IMPLEMENTED.has(name)) throw notImplemented(`expression ${name}`);
  throw new ServerError(168, `Unrecognized expression '${name}'`, {
    codeName: 'InvalidPipelineOperator'
  });
}

function renderKeys(expr: BDoc): string {
  return `{ ${[...expr.keys()].map(k => `${k}: ...`).join(', ')} }`;
}

function compileObject(expr: BDoc, p: Parser): Compiled {
  const fields: [string, Compiled][] = [];
  for (const [key, value] of expr) {
    validateFieldName(key);
    fields.push([key, p.compile(value)]);
  }
  return s => {
    const out: BDoc = new Map();
    for (const [key, c] of fields) {
      const v = c(s);
      if (v !== MISSING) out.set(key, v);
    }
    return out;
  };
}

export function validateFieldName(key: string): void {
  if (key.length === 0)
    throw new ServerError(16412, 'FieldPath cannot be constructed with empty string');
  if (key.startsWith('$')) {
    throw new ServerError(
      16410,
      `FieldPath field names may not start with '$'. Consider using $getField or $setField.`
    );
  }
  if (key.includes('.')) throw new ServerError(16412, "FieldPath field names may not contain '.'.");
}

function splitFieldPath(path: string): string[] {
  if (path.length === 0) throw new ServerError(16872, "'$' by itself is not a valid FieldPath");
  return fieldPathParts(path);
}

function compileFieldPath(path: string): Compiled {
  const parts = splitFieldPath(path);
  return s => walk(s.current, parts, 0);
}

function compileVariable(text: string, defined: ReadonlySet<string>): Compiled {
  const [name, ...rest] = text.split('.') as [string, ...string[]];
  const parts = rest.length > 0 ? splitFieldPath(rest.join('.')) : [];
  let base: Compiled;
  if (name === 'ROOT') base = s => s.root;
  else if (name === 'CURRENT') base = s => s.current;
  else if (name === 'NOW') base = s => s.now;
  else if (name === 'REMOVE') base = () => MISSING;
  else if (UNSUPPORTED_SYSTEM_VARS.has(name)) throw notImplemented(`variable $$${name}`);
  else {
    validateVariableName(name, true);
    if (!defined.has(name)) throw new ServerError(17276, `Use of undefined variable: ${name}`);
    base = s => (s.vars.has(name) ? (s.vars.get(name) as BValue) : MISSING);
  }
  if (parts.length === 0) return base;
  return s => {
    const v = base(s);
    return v === MISSING ? MISSING : walk(v, parts, 0);
  };
}

/** ExpressionFieldPath::evaluatePath: arrays of documents yield arrays of the sub-values. */
function walk(value: Value, parts: string[], index: number): Value {
  if (index === parts.length) return value;
  if (isDoc(value)) {
    const next = value.get(parts[index]!);
    if (next === undefined && !value.has(parts[index]!)) return MISSING;
    if (index + 1 === parts.length) return next as BValue;
    return walk(next as BValue, parts, index + 1);
  }
  if (Array.isArray(value)) return walkArray(value, parts, index);
  return MISSING;
}

function walkArray(values: BValue[], parts: string[], index: number): BValue[] {
  const out: BValue[] = [];
  for (const item of values) {
    if (isDoc(item)) {
      const v = walk(item, parts, index);
      if (v !== MISSING) out.push(v);
    } else if (Array.isArray(item)) {
      out.push(walkArray(item, parts, index));
    }
  }
  return out;
}

/** Reads a field path (without `$`) from a document as an expression would. */
export function readFieldPath(doc: BValue, path: string): Value {
  return walk(doc, splitFieldPath(path), 0);
}
