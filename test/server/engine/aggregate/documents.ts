/** Per-document stages: `$unwind`, `$replaceRoot`/`$replaceWith` and `$lookup`. */
import { Long } from 'bson';

import { type BDoc, type BValue, isDoc } from '../../bson/values.js';
import { compileFilter } from '../query/matcher.js';
import { notImplemented, ServerError } from '../server-error.js';
import { type Compiled, MISSING, type Value } from './expr-core.js';
import { compileExpression, makeScope } from './expressions.js';
import { debugString, typeName } from './format.js';
import type { Stage, StageEnv } from './group.js';

/** Reads a dotted path without looking into arrays (mongod's Document::getNestedField). */
export function getNested(doc: BDoc, parts: string[]): Value {
  let v: BValue = doc;
  for (const part of parts) {
    if (!isDoc(v) || !v.has(part)) return MISSING;
    v = v.get(part) as BValue;
  }
  return v;
}

/** Sets a dotted path in a copy, creating (or replacing non-document) parents: setNestedField. */
export function setNested(doc: BDoc, parts: string[], value: Value): BDoc {
  const out: BDoc = new Map(doc);
  const [head, ...rest] = parts as [string, ...string[]];
  if (rest.length === 0) {
    if (value === MISSING) out.delete(head);
    else out.set(head, value);
    return out;
  }
  const child = out.get(head);
  out.set(head, setNested(isDoc(child) ? child : new Map(), rest, value));
  return out;
}

function fieldPathArg(stage: string, option: string, v: BValue, code: number): string[] {
  if (typeof v !== 'string' || !v.startsWith('$')) {
    throw new ServerError(
      code,
      `${option} option to ${stage} stage should be prefixed with a '$': ${debugString(v)}`
    );
  }
  return v.slice(1).split('.');
}

export function compileUnwind(spec: BValue): Stage {
  let pathSpec: BValue;
  let indexField: string[] | undefined;
  let preserve = false;
  if (typeof spec === 'string') pathSpec = spec;
  else if (isDoc(spec)) {
    pathSpec = spec.get('path') ?? null;
    if (!spec.has('path')) throw new ServerError(28812, 'No path specified to $unwind stage');
    for (const [k, v] of spec) {
      if (k === 'path') continue;
      if (k === 'includeArrayIndex') {
        if (typeof v !== 'string') {
          throw new ServerError(
            28810,
            `expected a non-empty string for the includeArrayIndex option to $unwind stage, got ${typeName(v)}`
          );
        }
        if (v.length === 0)
          throw new ServerError(
            28810,
            'expected a non-empty string for the includeArrayIndex  option to $unwind stage'
          );
        if (v.startsWith('$')) {
          throw new ServerError(
            28822,
            `includeArrayIndex option to $unwind stage should not be prefixed with a '$': ${v}`
          );
        }
        indexField = v.split('.');
      } else if (k === 'preserveNullAndEmptyArrays') {
        if (typeof v !== 'boolean') {
          throw new ServerError(
            28809,
            `expected a boolean for the preserveNullAndEmptyArrays option to $unwind stage, got ${typeName(v)}`
          );
        }
        preserve = v;
      } else throw new ServerError(28811, `unrecognized option to $unwind stage: ${k}`);
    }
  } else {
    throw new ServerError(
      15981,
      `expected either a string or an object as specification for $unwind stage, got ${typeName(spec)}`
    );
  }
  if (typeof pathSpec !== 'string') {
    throw new ServerError(
      28808,
      `expected a string as the path for $unwind stage, got ${typeName(pathSpec)}`
    );
  }
  if (pathSpec.length === 0) throw new ServerError(28812, 'no path specified to $unwind stage');
  const path = fieldPathArg('$unwind', 'path', pathSpec, 28818);
  const idx = indexField;
  return docs => {
    const out: BDoc[] = [];
    for (const doc of docs) {
      const v = getNested(doc, path);
      if (Array.isArray(v) && v.length > 0) {
        v.forEach((item, i) => {
          let d = setNested(doc, path, item);
          if (idx) d = setNested(d, idx, Long.fromNumber(i));
          out.push(d);
        });
      } else if (Array.isArray(v) || v === MISSING || v === null || v === undefined) {
        if (!preserve) continue;
        // An empty array is removed; null and missing stay as they are.
        let d = Array.isArray(v) ? setNested(doc, path, MISSING) : doc;
        if (idx) d = setNested(d, idx, null);
        out.push(d);
      } else {
        // A non-array value unwinds to itself.
        out.push(idx ? setNested(doc, idx, null) : doc);
      }
    }
    return out;
  };
}

export function compileReplaceRoot(
  stage: '$replaceRoot' | '$replaceWith',
  spec: BValue,
  vars: string[]
): Stage {
  let expr: BValue;
  if (stage === '$replaceRoot') {
    if (!isDoc(spec))
      throw new ServerError(
        40228,
        `expected an object as specification for $replaceRoot stage, got ${typeName(spec)}`
      );
    for (const k of spec.keys()) {
      if (k !== 'newRoot')
        throw new ServerError(40415, `BSON field '$replaceRoot.${k}' is an unknown field.`);
    }
    if (!spec.has('newRoot'))
      throw new ServerError(
        40414,
        "BSON field '$replaceRoot.newRoot' is missing but a required field"
      );
    expr = spec.get('newRoot')!;
  } else expr = spec;
  const compiled = compileExpression(expr, vars);
  const label = stage === '$replaceRoot' ? "'newRoot' expression " : "'replacement document' ";
  return (docs, env) =>
    docs.map(doc => {
      const v = compiled(makeScope(doc, env.vars, env.now));
      if (!isDoc(v)) {
        throw new ServerError(
          40228,
          `${label} must evaluate to an object, but resulting value was: ${debugString(v)}. Type of resulting value: '${typeName(v)}'. Input document: ${debugString(doc)}`
        );
      }
      return v;
    });
}

/** Every value along `parts`, expanding arrays (what $lookup's localField matches on). */
function valuesAlong(v: BValue, parts: string[], i: number, out: BValue[]): void {
  if (i === parts.length) {
    if (Array.isArray(v)) out.push(...v);
    else out.push(v);
    return;
  }
  if (isDoc(v)) {
    if (v.has(parts[i]!)) valuesAlong(v.get(parts[i]!) as BValue, parts, i + 1, out);
  } else if (Array.isArray(v)) {
    for (const item of v) if (isDoc(item)) valuesAlong(item, parts, i, out);
  }
}

export interface LookupEnv {
  resolveCollection(coll: string): BDoc[];
  runSubPipeline(input: BDoc[], pipeline: BDoc[], vars: Map<string, BValue>): BDoc[];
}

export function compileLookup(spec: BValue, vars: string[], lookupEnv: LookupEnv): Stage {
  if (!isDoc(spec))
    throw new ServerError(
      40319,
      `the $lookup stage specification must be an object, but found ${typeName(spec)}`
    );
  let from: string | undefined;
  let as: string | undefined;
  let localField: string | undefined;
  let foreignField: string | undefined;
  let pipeline: BDoc[] | undefined;
  let letSpec: BDoc | undefined;
  for (const [k, v] of spec) {
    if (k === 'from') {
      if (typeof v !== 'string') throw notImplemented('$lookup from a non-string namespace');
      from = v;
    } else if (k === 'as' || k === 'localField' || k === 'foreignField') {
      if (typeof v !== 'string')
        throw new ServerError(
          40321,
          `$lookup argument '${k}: ${debugString(v)}' must be a string, is type ${typeName(v)}`
        );
      if (k === 'as') as = v;
      else if (k === 'localField') localField = v;
      else foreignField = v;
    } else if (k === 'pipeline') {
      if (!Array.isArray(v) || !v.every(isDoc))
        throw new ServerError(14, "'pipeline' option must be specified as an array");
      pipeline = v as BDoc[];
    } else if (k === 'let') {
      if (!isDoc(v))
        throw new ServerError(
          14,
          `$lookup argument 'let' must be an object, is type ${typeName(v)}`
        );
      letSpec = v;
    } else throw new ServerError(9, `unknown argument to $lookup: ${k}`);
  }
  if (!as) throw new ServerError(9, "must specify 'as' field for a $lookup");
  if (!from) throw new ServerError(9, "must specify 'from' field for a $lookup");
  if ((localField === undefined) !== (foreignField === undefined)) {
    throw new ServerError(
      9,
      "$lookup requires both or neither of 'localField' and 'foreignField' to be specified"
    );
  }
  if (localField === undefined && !pipeline) {
    throw new ServerError(
      9,
      "$lookup requires either 'pipeline' or both 'localField' and 'foreignField' to be specified"
    );
  }
  if (pipeline && localField === undefined && letSpec === undefined && pipeline.length === 0) {
    // Valid: every foreign document joins.
  }
  const asPath = as.split('.');
  const localParts = localField?.split('.');
  const foreign = foreignField;
  const lets: [string, Compiled][] = [...(letSpec ?? new Map())].map(([name, e]) => [
    name,
    compileExpression(e, vars)
  ]);
  const coll = from;
  const sub = pipeline;
  return (docs, env: StageEnv) => {
    const foreignDocs = lookupEnv.resolveCollection(coll);
    return docs.map(doc => {
      let joined = foreignDocs;
      if (localParts && foreign !== undefined) {
        const values: BValue[] = [];
        valuesAlong(doc, localParts, 0, values);
        if (values.length === 0) values.push(null);
        const matcher = compileFilter(new Map([[foreign, new Map([['$in', values]])]]));
        joined = joined.filter(d => matcher.matches(d));
      }
      if (sub) {
        const scope = makeScope(doc, env.vars, env.now);
        const subVars = new Map(env.vars);
        for (const [name, c] of lets) {
          const v = c(scope);
          subVars.set(name, v === MISSING ? null : v);
        }
        joined = lookupEnv.runSubPipeline(joined, sub, subVars);
      }
      return setNested(doc, asPath, joined);
    });
  };
}
