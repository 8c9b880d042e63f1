/**
 * The aggregation pipeline: each stage is parsed once into a function over the document batch.
 * Unsupported stages throw (notImplemented) instead of being skipped.
 */
import { Int32 } from 'bson';

import { type BDoc, type BValue, isDoc, isTruthy } from '../../bson/values.js';
import { compileFilter } from '../query/matcher.js';
import { compileSort } from '../query/sort.js';
import { notImplemented, ServerError } from '../server-error.js';
import { compileLookup, compileReplaceRoot, compileUnwind } from './documents.js';
import { MISSING } from './expr-core.js';
import { compileExpression, makeScope } from './expressions.js';
import { debugString, typeName } from './format.js';
import {
  compileBucket,
  compileBucketAuto,
  compileGroup,
  compileSortByCount,
  type Stage,
  type StageEnv
} from './group.js';
import { asDouble, isNum } from './numeric.js';
import { compileAddFields, compileProjection, compileUnset } from './projection.js';

export { compileProjection, type Projector } from './projection.js';

export type PipelineContext = {
  dbName: string;
  /** The documents of a collection of `dbName`, for `$lookup`. */
  resolveCollection(coll: string): BDoc[];
  now?: Date;
  /** Variables in scope (the aggregate command's `let`). */
  vars?: Map<string, BValue>;
};

/** Stages mongod has that the test server refuses. */
const NOT_IMPLEMENTED = new Set([
  '$redact',
  '$out',
  '$merge',
  '$changeStream',
  '$collStats',
  '$indexStats',
  '$currentOp',
  '$listSessions',
  '$listLocalSessions',
  '$graphLookup',
  '$geoNear',
  '$unionWith',
  '$densify',
  '$fill',
  '$setWindowFields',
  '$search',
  '$searchMeta',
  '$vectorSearch',
  '$documents',
  '$planCacheStats',
  '$changeStreamSplitLargeEvent',
  '$listSearchIndexes',
  '$shardedDataDistribution',
  '$querySettings',
  '$queryStats',
  '$listSampledQueries',
  '$listCatalog',
  '$listClusterCatalog'
]);

/** Stages not allowed inside `$facet` (mongod's code 40600). */
const NOT_IN_FACET = new Set([
  '$collStats',
  '$facet',
  '$geoNear',
  '$indexStats',
  '$out',
  '$merge',
  '$planCacheStats',
  '$changeStream'
]);

export const KNOWN_STAGES = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$sort',
  '$skip',
  '$limit',
  '$count',
  '$group',
  '$sample',
  '$bucketAuto',
  '$bucket',
  '$unwind',
  '$replaceRoot',
  '$replaceWith',
  '$lookup',
  '$sortByCount',
  '$facet'
]);

/** True for a stage name mongod knows, whether or not the test server implements it. */
export function isKnownStage(name: string): boolean {
  return KNOWN_STAGES.has(name) || NOT_IMPLEMENTED.has(name);
}

/** The single `$name: spec` of a stage document, with mongod's shape errors. */
export function stageEntry(stage: BValue): [string, BValue] {
  if (!isDoc(stage))
    throw new ServerError(14, `Each element of the 'pipeline' array must be an object`);
  if (stage.size !== 1) {
    throw new ServerError(
      40323,
      'A pipeline stage specification object must contain exactly one field.'
    );
  }
  const [name, spec] = stage.entries().next().value as [string, BValue];
  if (!KNOWN_STAGES.has(name)) {
    if (NOT_IMPLEMENTED.has(name)) throw notImplemented(`aggregation stage ${name}`);
    throw new ServerError(40324, `Unrecognized pipeline stage name: '${name}'`);
  }
  return [name, spec];
}

interface CompileEnv {
  vars: string[];
  ctx: PipelineContext;
}

function perDoc(fn: (doc: BDoc) => BDoc): Stage {
  return docs => docs.map(d => fn(d));
}

function compileMatch(spec: BValue, vars: string[], values: ReadonlyMap<string, BValue>): Stage {
  if (!isDoc(spec))
    throw new ServerError(15959, 'the match filter must be an expression in an object');
  // A top-level $expr is evaluated here so it sees pipeline variables ($lookup's let) and $$NOW.
  const rest: BDoc = new Map([...spec].filter(([k]) => k !== '$expr'));
  const expr = spec.has('$expr') ? compileExpression(spec.get('$expr')!, vars) : undefined;
  // Nested $expr clauses (under $and, $or, $nor) read the variables of this run.
  const matcher = compileFilter(rest, values);
  return (docs, env) =>
    docs.filter(doc => {
      if (expr) {
        const v = expr(makeScope(doc, env.vars, env.now));
        if (v === MISSING || !isTruthy(v)) return false;
      }
      return matcher.matches(doc);
    });
}

function nonNegativeInt(stage: string, v: BValue, typeCode: number, negCode: number): number {
  if (!isNum(v))
    throw new ServerError(
      typeCode,
      `invalid argument to ${stage} stage: Expected a number in: ${stage}: ${debugString(v)}`
    );
  const n = asDouble(v);
  if (!Number.isInteger(n)) {
    throw new ServerError(
      typeCode,
      `invalid argument to ${stage} stage: Expected an integer: ${stage}: ${debugString(v)}`
    );
  }
  if (n < 0)
    throw new ServerError(
      negCode,
      `invalid argument to ${stage} stage: Expected a non-negative number in: ${stage}: ${debugString(v)}`
    );
  return n;
}

function compileCount(spec: BValue): Stage {
  if (typeof spec !== 'string') {
    throw new ServerError(
      40156,
      `the count field must be a non-empty string, but found type: ${typeName(spec)}`
    );
  }
  if (spec.length === 0) throw new ServerError(40157, 'the count field must be a non-empty string');
  if (spec.startsWith('$'))
    throw new ServerError(40158, 'the count field cannot be a $-prefixed path');
  if (spec.includes('.')) throw new ServerError(40160, "the count field cannot contain '.'");
  return docs => (docs.length === 0 ? [] : [new Map([[spec, new Int32(docs.length)]])]);
}

function compileSample(spec: BValue): Stage {
  if (!isDoc(spec))
    throw new ServerError(28745, 'the $sample stage specification must be an object');
  let size: number | undefined;
  for (const [k, v] of spec) {
    if (k !== 'size') throw new ServerError(28748, `unrecognized option to $sample: ${k}`);
    if (!isNum(v)) throw new ServerError(28746, 'size argument to $sample must be a number');
    size = asDouble(v);
    if (size < 0) throw new ServerError(28747, 'size argument to $sample must not be negative');
  }
  if (size === undefined) throw new ServerError(28749, '$sample stage must specify a size');
  const n = Math.trunc(size);
  return docs => {
    // Partial Fisher-Yates: a uniform sample without replacement.
    const pool = [...docs];
    const take = Math.min(n, pool.length);
    for (let i = 0; i < take; i++) {
      const j = i + Math.floor(Math.random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    return pool.slice(0, take);
  };
}

function compileFacet(spec: BValue, env: CompileEnv): Stage {
  if (!isDoc(spec) || spec.size === 0)
    throw new ServerError(40169, 'the $facet specification must be a non-empty object');
  const facets: [string, Stage[]][] = [];
  for (const [name, sub] of spec) {
    if (!Array.isArray(sub))
      throw new ServerError(
        40170,
        `arguments to $facet must be arrays, ${name} is type ${typeName(sub)}`
      );
    for (const stage of sub) {
      const stageName = isDoc(stage) ? [...stage.keys()][0] : undefined;
      if (stageName && NOT_IN_FACET.has(stageName)) {
        throw new ServerError(
          40600,
          `${stageName} is not allowed to be used within a $facet stage`
        );
      }
    }
    facets.push([name, compileStages(sub as BDoc[], env)]);
  }
  return (docs, stageEnv) => [
    new Map(facets.map(([name, stages]) => [name, runStages(docs, stages, stageEnv)]))
  ];
}

function compileStage(name: string, spec: BValue, env: CompileEnv): Stage {
  const vars = env.vars;
  const options = () => ({ vars: new Map(vars.map(v => [v, null])) });
  switch (name) {
    case '$match':
      return compileMatch(spec, vars, env.ctx.vars ?? new Map());
    case '$project': {
      if (!isDoc(spec)) throw new ServerError(15969, '$project specification must be an object');
      compileProjection(spec, 'aggregate', options());
      return withVars(o => compileProjection(spec, 'aggregate', o));
    }
    case '$addFields':
    case '$set': {
      if (!isDoc(spec))
        throw new ServerError(
          40272,
          `${name} specification stage must be an object, got ${typeName(spec)}`
        );
      compileAddFields(spec, options(), name);
      return withVars(o => compileAddFields(spec, o, name));
    }
    case '$unset':
      return perDoc(compileUnset(spec));
    case '$sort': {
      if (!isDoc(spec))
        throw new ServerError(15973, 'the $sort key specification must be an object');
      if (spec.size === 0)
        throw new ServerError(15976, '$sort stage must have at least one sort key');
      const cmp = compileSort(spec);
      return docs => [...docs].sort(cmp);
    }
    case '$skip': {
      const n = nonNegativeInt('$skip', spec, 15972, 15956);
      return docs => docs.slice(n);
    }
    case '$limit': {
      if (!isNum(spec)) throw new ServerError(15957, 'the limit must be specified as a number');
      const n = asDouble(spec);
      if (!Number.isInteger(n))
        throw new ServerError(15957, 'the limit must be specified as a number');
      if (n <= 0) throw new ServerError(15958, 'the limit must be positive');
      return docs => docs.slice(0, n);
    }
    case '$count':
      return compileCount(spec);
    case '$group':
      return compileGroup(spec, vars);
    case '$sample':
      return compileSample(spec);
    case '$bucketAuto':
      return compileBucketAuto(spec, vars);
    case '$bucket':
      return compileBucket(spec, vars);
    case '$unwind':
      return compileUnwind(spec);
    case '$replaceRoot':
    case '$replaceWith':
      return compileReplaceRoot(name, spec, vars);
    case '$lookup':
      return compileLookup(spec, vars, {
        resolveCollection: coll => env.ctx.resolveCollection(coll),
        runSubPipeline: (input, pipeline, subVars) =>
          runPipeline(input, pipeline, { ...env.ctx, vars: subVars })
      });
    case '$sortByCount':
      return compileSortByCount(spec, vars);
    case '$facet':
      return compileFacet(spec, env);
    default:
      throw new ServerError(40324, `Unrecognized pipeline stage name: '${name}'`);
  }
}

/**
 * Projections evaluate with the variables of the run; they are validated at compile time and
 * rebuilt only when the run's variables differ (a `$lookup` sub-pipeline), so plain pipelines
 * still compile once.
 */
function withVars(
  build: (options: { vars: Map<string, BValue>; now: Date }) => (doc: BDoc) => BDoc
): Stage {
  let cache: { env: StageEnv; fn: (doc: BDoc) => BDoc } | undefined;
  return (docs, env) => {
    if (!cache || cache.env !== env) cache = { env, fn: build({ vars: env.vars, now: env.now }) };
    const fn = cache.fn;
    return docs.map(d => fn(d));
  };
}

function compileStages(pipeline: BDoc[], env: CompileEnv): Stage[] {
  return pipeline.map(stage => {
    const [name, spec] = stageEntry(stage);
    return compileStage(name, spec, env);
  });
}

function runStages(input: BDoc[], stages: Stage[], env: StageEnv): BDoc[] {
  let docs = input;
  for (const stage of stages) docs = stage(docs, env);
  return docs;
}

/** Runs `pipeline` over `input`; all stages are parsed (and validated) before any runs. */
export function runPipeline(input: Iterable<BDoc>, pipeline: BDoc[], ctx: PipelineContext): BDoc[] {
  const vars = ctx.vars ?? new Map<string, BValue>();
  const stages = compileStages(pipeline, { vars: [...vars.keys()], ctx });
  return runStages([...input], stages, { vars, now: ctx.now ?? new Date() });
}
