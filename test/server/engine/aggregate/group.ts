/** Grouping stages: `$group`, `$sortByCount`, `$bucket` and `$bucketAuto`. */
import { Int32 } from 'bson';

import {
  type BDoc,
  type BValue,
  canonicalType,
  compareValues,
  equalityKey,
  isDoc
} from '../../bson/values.js';
import { notImplemented, ServerError } from '../server-error.js';
import {
  type AccumulatorState,
  compileAccumulator,
  type CompiledAccumulator
} from './accumulators.js';
import { type Compiled, MISSING, type Parser, type Scope, type Value } from './expr-core.js';
import { expressionParser, makeScope } from './expressions.js';
import { debugString, typeName } from './format.js';
import { asDouble, isNum } from './numeric.js';

export type Stage = (docs: BDoc[], env: StageEnv) => BDoc[];
export interface StageEnv {
  vars: Map<string, BValue>;
  now: Date;
}

function scopeFor(doc: BDoc, env: StageEnv): Scope {
  return makeScope(doc, env.vars, env.now);
}

function parseOutputs(spec: BDoc, skip: Set<string>, p: Parser): [string, CompiledAccumulator][] {
  const out: [string, CompiledAccumulator][] = [];
  for (const [field, value] of spec) {
    if (skip.has(field)) continue;
    if (field.includes('.'))
      throw new ServerError(40235, `The field name '${field}' cannot contain '.'`);
    if (field.startsWith('$'))
      throw new ServerError(40236, `The field name '${field}' cannot be an operator name`);
    out.push([field, compileAccumulator(field, value, p)]);
  }
  return out;
}

interface Group {
  id: BValue;
  states: AccumulatorState[];
}

function runGroups(
  docs: BDoc[],
  env: StageEnv,
  key: (s: Scope) => BValue,
  outputs: [string, CompiledAccumulator][]
): Group[] {
  const groups = new Map<string, Group>();
  for (const doc of docs) {
    const s = scopeFor(doc, env);
    const id = key(s);
    const k = equalityKey(id);
    let g = groups.get(k);
    if (!g) {
      g = { id, states: outputs.map(([, acc]) => acc.create()) };
      groups.set(k, g);
    }
    outputs.forEach(([, acc], i) => g.states[i]!.add(acc.arg(s)));
  }
  return [...groups.values()];
}

function groupDoc(
  id: BValue,
  outputs: [string, CompiledAccumulator][],
  states: AccumulatorState[]
): BDoc {
  const out: BDoc = new Map([['_id', id]]);
  outputs.forEach(([field], i) => {
    const v = states[i]!.result();
    if (v !== MISSING) out.set(field, v);
  });
  return out;
}

export function compileGroup(spec: BValue, vars: string[]): Stage {
  if (!isDoc(spec)) throw new ServerError(15947, "a group's fields must be specified in an object");
  if (!spec.has('_id')) throw new ServerError(15955, 'a group specification must include an _id');
  const p = expressionParser(vars);
  const idExpr = p.compile(spec.get('_id')!);
  const outputs = parseOutputs(spec, new Set(['_id']), p);
  const key = (s: Scope): BValue => {
    const v = idExpr(s);
    return v === MISSING ? null : v;
  };
  // mongod's hash-based $group has no defined output order; groups come out in first-seen order.
  return (docs, env) =>
    runGroups(docs, env, key, outputs).map(g => groupDoc(g.id, outputs, g.states));
}

export function compileSortByCount(spec: BValue, vars: string[]): Stage {
  const isExpr =
    (typeof spec === 'string' && spec.startsWith('$')) ||
    (isDoc(spec) && spec.size === 1 && [...spec.keys()][0]!.startsWith('$'));
  if (!isExpr) {
    throw new ServerError(
      40148,
      'the sortByCount field must be defined as a $-prefixed path or an expression'
    );
  }
  const p = expressionParser(vars);
  const expr = p.compile(spec);
  const outputs: [string, CompiledAccumulator][] = [
    ['count', compileAccumulator('count', new Map([['$sum', new Int32(1)]]), p)]
  ];
  const key = (s: Scope): BValue => {
    const v = expr(s);
    return v === MISSING ? null : v;
  };
  return (docs, env) => {
    const out = runGroups(docs, env, key, outputs).map(g => groupDoc(g.id, outputs, g.states));
    return out.sort((a, b) => compareValues(b.get('count')!, a.get('count')!));
  };
}

function groupByArg(stage: string, v: BValue | undefined, code: number): BValue {
  const ok =
    (typeof v === 'string' && v.startsWith('$')) ||
    (isDoc(v) && v.size > 0 && [...v.keys()][0]!.startsWith('$'));
  if (!ok) {
    throw new ServerError(
      code,
      `The ${stage} 'groupBy' field must be defined as a $-prefixed path or an expression, but found: ${debugString(v ?? MISSING)}.`
    );
  }
  return v!;
}

function defaultCount(p: Parser): [string, CompiledAccumulator][] {
  return [['count', compileAccumulator('count', new Map([['$sum', new Int32(1)]]), p)]];
}

export function compileBucket(spec: BValue, vars: string[]): Stage {
  if (!isDoc(spec))
    throw new ServerError(
      40201,
      `Argument to $bucket stage must be an object, but found type: ${typeName(spec)}.`
    );
  const p = expressionParser(vars);
  let groupBy: Compiled | undefined;
  let boundaries: BValue[] | undefined;
  let fallback: BValue | typeof MISSING = MISSING;
  let outputs: [string, CompiledAccumulator][] | undefined;
  for (const [k, v] of spec) {
    if (k === 'groupBy') groupBy = p.compile(groupByArg('$bucket', v, 40202));
    else if (k === 'boundaries') {
      if (!Array.isArray(v))
        throw new ServerError(
          40200,
          `The $bucket 'boundaries' field must be an array, but found type: ${typeName(v)}.`
        );
      boundaries = v;
    } else if (k === 'default') fallback = v;
    else if (k === 'output') {
      if (!isDoc(v))
        throw new ServerError(
          40196,
          `The $bucket 'output' field must be an object, but found type: ${typeName(v)}.`
        );
      outputs = parseOutputs(v, new Set(), p);
    } else throw new ServerError(40197, `Unrecognized option to $bucket: ${k}.`);
  }
  if (!groupBy || !boundaries)
    throw new ServerError(40198, "$bucket requires 'groupBy' and 'boundaries' to be specified.");
  if (boundaries.length < 2) {
    throw new ServerError(
      40192,
      `The $bucket 'boundaries' field must have at least 2 values, but found ${boundaries.length} value(s).`
    );
  }
  for (let i = 1; i < boundaries.length; i++) {
    const a = boundaries[i - 1]!;
    const b = boundaries[i]!;
    if (canonicalType(a) !== canonicalType(b)) {
      throw new ServerError(
        40193,
        `All values in the the 'boundaries' option to $bucket must have the same type. Found conflicting types ${typeName(a)} and ${typeName(b)}.`
      );
    }
    if (compareValues(a, b) >= 0) {
      throw new ServerError(
        40194,
        `The 'boundaries' option to $bucket must be sorted in ascending order, but elements ${i - 1} and ${i} are not in ascending order (${debugString(a)} is not less than ${debugString(b)}).`
      );
    }
  }
  const bounds = boundaries;
  if (fallback !== MISSING) {
    const d = fallback;
    const lo = bounds[0]!;
    const hi = bounds[bounds.length - 1]!;
    if (
      canonicalType(d) === canonicalType(lo) &&
      compareValues(d, lo) >= 0 &&
      compareValues(d, hi) < 0
    ) {
      throw new ServerError(
        40199,
        "The $bucket 'default' field must be less than the lowest boundary or greater than or equal to the highest boundary."
      );
    }
  }
  const outs = outputs ?? defaultCount(p);
  const by = groupBy;
  const def = fallback;
  const key = (s: Scope): BValue => {
    const v: Value = by(s);
    const x = v === MISSING ? null : v;
    for (let i = 0; i + 1 < bounds.length; i++) {
      if (compareValues(x, bounds[i]!) >= 0 && compareValues(x, bounds[i + 1]!) < 0)
        return bounds[i]!;
    }
    if (def === MISSING) {
      throw new ServerError(
        40066,
        '$switch could not find a matching branch for an input, and no default was specified.'
      );
    }
    return def;
  };
  return (docs, env) =>
    runGroups(docs, env, key, outs)
      .sort((a, b) => compareValues(a.id, b.id))
      .map(g => groupDoc(g.id, outs, g.states));
}

export function compileBucketAuto(spec: BValue, vars: string[]): Stage {
  if (!isDoc(spec))
    throw new ServerError(
      40240,
      `The argument to $bucketAuto must be an object, but found type: ${typeName(spec)}.`
    );
  const p = expressionParser(vars);
  let groupBy: Compiled | undefined;
  let buckets: number | undefined;
  let outputs: [string, CompiledAccumulator][] | undefined;
  for (const [k, v] of spec) {
    if (k === 'groupBy') groupBy = p.compile(groupByArg('$bucketAuto', v, 40239));
    else if (k === 'buckets') {
      if (!isNum(v))
        throw new ServerError(
          40241,
          `The $bucketAuto 'buckets' field must be a numeric value, but found type: ${typeName(v)}.`
        );
      const n = asDouble(v);
      if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
        throw new ServerError(
          40242,
          `The $bucketAuto 'buckets' field must be representable as a 32-bit integer, but found ${debugString(v)}.`
        );
      }
      if (n <= 0)
        throw new ServerError(
          40243,
          `The $bucketAuto 'buckets' field must be greater than 0, but found: ${n}.`
        );
      buckets = n;
    } else if (k === 'output') {
      if (!isDoc(v))
        throw new ServerError(
          40244,
          `The $bucketAuto 'output' field must be an object, but found type: ${typeName(v)}.`
        );
      outputs = parseOutputs(v, new Set(), p);
    } else if (k === 'granularity') throw notImplemented('$bucketAuto granularity');
    else throw new ServerError(40245, `Unrecognized option to $bucketAuto: ${k}.`);
  }
  if (!groupBy || buckets === undefined) {
    throw new ServerError(40246, "$bucketAuto requires 'groupBy' and 'buckets' to be specified");
  }
  const by = groupBy;
  const nBuckets = buckets;
  const outs = outputs ?? defaultCount(p);
  return (docs, env) => {
    // Missing groupBy values count as null; a stable sort keeps input order among equal keys.
    const entries = docs.map(doc => {
      const s = scopeFor(doc, env);
      const v = by(s);
      return { key: v === MISSING ? null : v, s };
    });
    entries.sort((a, b) => compareValues(a.key, b.key));
    if (entries.length === 0) return [];
    const approx = Math.max(1, Math.round(entries.length / nBuckets));
    const result: { min: BValue; max: BValue; states: AccumulatorState[] }[] = [];
    let i = 0;
    for (let b = 0; b < nBuckets && i < entries.length; b++) {
      const states = outs.map(([, acc]) => acc.create());
      const add = (e: (typeof entries)[number]) =>
        outs.forEach(([, acc], j) => states[j]!.add(acc.arg(e.s)));
      const min = entries[i]!.key;
      let max = min;
      const last = b === nBuckets - 1;
      const end = last ? entries.length : Math.min(entries.length, i + approx);
      for (; i < end; i++) {
        add(entries[i]!);
        max = entries[i]!.key;
      }
      // Values equal to the bucket's last value join it, so equal values never split.
      while (i < entries.length && compareValues(entries[i]!.key, max) === 0) add(entries[i++]!);
      result.push({ min, max, states });
    }
    // Each bucket's max is the next bucket's min; the last keeps its largest value.
    for (let b = 0; b + 1 < result.length; b++) result[b]!.max = result[b + 1]!.min;
    return result.map(r =>
      groupDoc(
        new Map([
          ['min', r.min],
          ['max', r.max]
        ]),
        outs,
        r.states
      )
    );
  };
}
