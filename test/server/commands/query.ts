/** find, getMore, killCursors, count, distinct and aggregate. */
import { Int32, Long } from 'bson';

import { getPath } from '../bson/paths.js';
import { type BDoc, type BValue, isDoc, isNumber, keyOf, toNumber } from '../bson/values.js';
import { parseLetVariables } from '../engine/aggregate/let-variables.js';
import { runPipeline } from '../engine/aggregate/pipeline.js';
import { compileFilter } from '../engine/query/matcher.js';
import { notImplemented, ServerError } from '../engine/server-error.js';
import { ArraySource, type CursorSource } from '../mongod/cursors.js';
import { checkBoundFields } from '../mongod/min-max.js';
import { type Mongod } from '../mongod/mongod.js';
import { checkHint, findSource, namespaceDocs, pipelineContext } from '../mongod/read-path.js';
import { renderValue } from '../mongod/render.js';
import { openChangeStream } from './change-stream-command.js';
import {
  checkCollation,
  checkFields,
  collectionName,
  type CommandContext,
  type CommandHandler,
  int,
  optionalBool,
  optionalDoc,
  optionalNumber,
  requiredArray
} from './context.js';

const FIND_FIELDS = [
  'filter',
  'sort',
  'projection',
  'hint',
  'skip',
  'limit',
  'batchSize',
  'singleBatch',
  'max',
  'min',
  'returnKey',
  'showRecordId',
  'tailable',
  'oplogReplay',
  'noCursorTimeout',
  'awaitData',
  'allowPartialResults',
  'allowDiskUse',
  'let',
  'collation',
  'readOnce',
  'term'
];

/** A cursor reply; change-stream sources add `postBatchResumeToken` as mongod does. */
export function cursorReply(
  opened: { id: Long; batch: BDoc[]; source: CursorSource },
  ns: string,
  first: boolean
): Record<string, unknown> {
  const cursor: Record<string, unknown> = { [first ? 'firstBatch' : 'nextBatch']: opened.batch };
  const token = opened.source.postBatchResumeToken?.();
  if (token) cursor.postBatchResumeToken = token;
  cursor.id = opened.id;
  cursor.ns = ns;
  return { cursor };
}

function nonNegative(ctx: CommandContext, field: string): number | undefined {
  const value = optionalNumber(ctx, field);
  if (value !== undefined && value < 0) {
    throw new ServerError(
      51024,
      `BSON field '${field}' value must be >= 0, actual value '${value}'`,
      { codeName: 'Location51024' }
    );
  }
  return value;
}

/** A document option where `{}` means "not given", as for find's `min` and `max`. */
function nonEmptyDoc(ctx: CommandContext, field: string): BDoc | undefined {
  const value = optionalDoc(ctx, field);
  return value && value.size > 0 ? value : undefined;
}

/**
 * The command's `let` (5.0+). 4.4 parsed find and aggregate by hand and named the field in a
 * FailedToParse (QueryRequest, AggregationRequest).
 */
function commandLet(
  ctx: CommandContext,
  command: 'find' | 'aggregate'
): Map<string, BValue> | undefined {
  const spec = ctx.cmd.get('let');
  if (spec === undefined) return undefined;
  if (ctx.mongod.profile.maxWireVersion < 13) {
    throw new ServerError(
      9,
      command === 'find'
        ? `Failed to parse: ${renderValue(ctx.cmd)}. Unrecognized field 'let'.`
        : "unrecognized field 'let'"
    );
  }
  return parseLetVariables(spec, `${command}.let`);
}

const find: CommandHandler = ctx => {
  checkFields(ctx, FIND_FIELDS);
  checkCollation(ctx.cmd.get('collation'));
  for (const unsupported of ['returnKey', 'showRecordId']) {
    if (ctx.cmd.has(unsupported)) throw notImplemented(`find '${unsupported}'`);
  }
  const letVars = commandLet(ctx, 'find');
  const coll = collectionName(ctx);
  const tailable = optionalBool(ctx, 'tailable') ?? false;
  const awaitData = optionalBool(ctx, 'awaitData') ?? false;
  if (awaitData && !tailable) throw new ServerError(9, 'Cannot set awaitData without tailable');
  const bounds = { min: nonEmptyDoc(ctx, 'min'), max: nonEmptyDoc(ctx, 'max') };
  checkBoundFields(bounds);
  const source = findSource(ctx.mongod, ctx.db, coll, {
    filter: optionalDoc(ctx, 'filter') ?? new Map(),
    sort: optionalDoc(ctx, 'sort'),
    projection: optionalDoc(ctx, 'projection'),
    skip: nonNegative(ctx, 'skip'),
    limit: nonNegative(ctx, 'limit'),
    hint: ctx.cmd.get('hint'),
    tailable,
    bounds,
    vars: letVars
  });
  const ns = `${ctx.db}.${coll}`;
  const opened = ctx.mongod.cursors.open(ns, source, {
    batchSize: nonNegative(ctx, 'batchSize'),
    limit: nonNegative(ctx, 'limit'),
    tailable,
    awaitData,
    singleBatch: optionalBool(ctx, 'singleBatch') ?? false
  });
  return cursorReply(opened, ns, true);
};

const getMore: CommandHandler = async ctx => {
  checkFields(ctx, ['collection', 'batchSize', 'maxTimeMS', 'term', 'lastKnownCommittedOpTime']);
  const id = ctx.cmd.get('getMore');
  if (!(id instanceof Long)) {
    throw new ServerError(
      14,
      `BSON field 'getMore.getMore' is the wrong type '${typeof id}', expected type 'long'`
    );
  }
  const collection = ctx.cmd.get('collection');
  if (typeof collection !== 'string') {
    throw new ServerError(
      40414,
      "BSON field 'getMore.collection' is missing but a required field",
      { codeName: 'Location40414' }
    );
  }
  const ns = `${ctx.db}.${collection}`;
  const result = await ctx.mongod.cursors.getMore(id, ns, {
    batchSize: optionalNumber(ctx, 'batchSize'),
    maxTimeMS: optionalNumber(ctx, 'maxTimeMS')
  });
  return cursorReply(result, ns, false);
};

const killCursors: CommandHandler = ctx => {
  checkFields(ctx, ['cursors']);
  const ids = requiredArray(ctx, 'cursors').map(value => {
    if (!(value instanceof Long))
      throw new ServerError(
        14,
        "BSON field 'killCursors.cursors' is the wrong type, expected type 'long'"
      );
    return value;
  });
  const { killed, notFound } = ctx.mongod.cursors.kill(ids);
  return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [] };
};

const count: CommandHandler = ctx => {
  checkFields(ctx, ['query', 'limit', 'skip', 'hint', 'collation', 'fields']);
  checkCollation(ctx.cmd.get('collation'));
  const coll = collectionName(ctx);
  const query = optionalDoc(ctx, 'query') ?? new Map();
  const skip = optionalNumber(ctx, 'skip') ?? 0;
  const limit = Math.abs(optionalNumber(ctx, 'limit') ?? 0);
  const source = findSource(ctx.mongod, ctx.db, coll, { filter: query, hint: ctx.cmd.get('hint') });
  const all = source.next(Infinity, Infinity).docs.length;
  const n = Math.max(0, Math.min(all - skip, limit > 0 ? limit : Infinity));
  return { n: int(n) };
};

const distinct: CommandHandler = ctx => {
  checkFields(ctx, ['key', 'query', 'collation', 'hint']);
  checkCollation(ctx.cmd.get('collation'));
  const coll = collectionName(ctx);
  checkHint(ctx.mongod, ctx.db, coll, ctx.cmd.get('hint'));
  const key = ctx.cmd.get('key');
  if (typeof key !== 'string')
    throw new ServerError(
      14,
      "BSON field 'distinct.key' is the wrong type, expected type 'string'"
    );
  const matcher = compileFilter(optionalDoc(ctx, 'query') ?? new Map());
  const seen = new Map<string, BValue>();
  const add = (value: BValue | undefined) => {
    if (value === undefined) return;
    const k = keyOf(value);
    if (!seen.has(k)) seen.set(k, value);
  };
  for (const doc of namespaceDocs(ctx.mongod, ctx.db, coll)) {
    if (!matcher.matches(doc)) continue;
    for (const value of distinctValues(doc, key.split('.'))) add(value);
  }
  const values = [...seen.values()];
  return { values };
};

/** The values a document contributes to `distinct`: arrays are unwound (one level per path step). */
function distinctValues(value: BValue | undefined, parts: string[]): BValue[] {
  if (value === undefined) return [];
  if (parts.length === 0) return Array.isArray(value) ? value : [value];
  const [head, ...rest] = parts as [string, ...string[]];
  if (isDoc(value)) return distinctValues(value.get(head), rest);
  if (Array.isArray(value)) {
    if (/^\d+$/.test(head))
      return distinctValues(getPath(new Map([['a', value]]), ['a', head]), rest);
    return value.flatMap(element => distinctValues(element, parts));
  }
  return [];
}

/** `$collStats` as the first stage: sizes the splitter and MongoShake-style tools read. */
function collStatsStage(mongod: Mongod, db: string, coll: string, spec: BValue): BDoc {
  const collection = mongod.catalog.collection(db, coll);
  if (!collection)
    throw new ServerError(
      26,
      `Unable to retrieve storageStats in $collStats stage :: caused by :: Collection [${db}.${coll}] not found.`
    );
  const out: BDoc = new Map<string, BValue>([
    ['ns', `${db}.${coll}`],
    ['host', mongod.host],
    ['localTime', new Date()]
  ]);
  const count = collection.count;
  const size = collection.dataBytes;
  if (isDoc(spec) && spec.has('storageStats')) {
    out.set(
      'storageStats',
      new Map<string, BValue>([
        ['size', Long.fromNumber(size)],
        ['count', Long.fromNumber(count)],
        ['avgObjSize', new Int32(count ? Math.floor(size / count) : 0)],
        ['storageSize', Long.fromNumber(size)],
        ['capped', collection.capped],
        ['nindexes', new Int32(collection.indexes.length)],
        ['totalIndexSize', Long.ZERO],
        ['totalSize', Long.fromNumber(size)]
      ])
    );
  }
  if (isDoc(spec) && spec.has('count')) out.set('count', Long.fromNumber(count));
  return out;
}

const aggregate: CommandHandler = ctx => {
  checkFields(ctx, [
    'pipeline',
    'cursor',
    'explain',
    'allowDiskUse',
    'hint',
    'collation',
    'let',
    'bypassDocumentValidation',
    'fromMongos',
    'needsMerge'
  ]);
  checkCollation(ctx.cmd.get('collation'));
  if (ctx.cmd.has('explain')) throw notImplemented("aggregate 'explain'");
  const letVars = commandLet(ctx, 'aggregate');
  const pipeline = requiredArray(ctx, 'pipeline');
  for (const stage of pipeline) {
    if (!isDoc(stage))
      throw new ServerError(14, "Each element of the 'pipeline' array must be an object");
  }
  const cursorSpec = ctx.cmd.get('cursor');
  if (!isDoc(cursorSpec)) {
    throw new ServerError(
      9,
      "The 'cursor' option is required, except for aggregate with the explain argument"
    );
  }
  const batchSizeValue = cursorSpec.get('batchSize');
  const batchSize = isNumber(batchSizeValue) ? toNumber(batchSizeValue) : undefined;
  const target = ctx.cmd.get('aggregate');
  const stages = pipeline as BDoc[];
  const firstName = stages[0]?.keys().next().value;
  if (firstName === '$changeStream') return openChangeStream(ctx, stages, batchSize);
  let input: BDoc[];
  let coll: string;
  let rest = stages;
  if (typeof target === 'string') {
    coll = target;
    checkHint(ctx.mongod, ctx.db, coll, ctx.cmd.get('hint'));
    if (firstName === '$collStats') {
      input = [collStatsStage(ctx.mongod, ctx.db, coll, stages[0]!.get('$collStats'))];
      rest = stages.slice(1);
    } else {
      input = namespaceDocs(ctx.mongod, ctx.db, coll);
    }
  } else if (isNumber(target) && toNumber(target) === 1) {
    if (firstName !== '$documents') {
      throw new ServerError(
        73,
        `{aggregate: 1} is not valid for '${String(firstName)}'; a collection is required.`
      );
    }
    coll = '$cmd.aggregate';
    input = [];
  } else {
    throw new ServerError(73, 'Invalid aggregate namespace');
  }
  const lastName = stages.at(-1)?.keys().next().value;
  if (lastName === '$out' || lastName === '$merge') throw notImplemented(String(lastName));
  const results = runPipeline(input, rest, {
    ...pipelineContext(ctx.mongod, ctx.db),
    ...(letVars ? { vars: letVars } : {})
  });
  const ns = `${ctx.db}.${coll}`;
  const opened = ctx.mongod.cursors.open(ns, new ArraySource(results), { batchSize });
  return cursorReply(opened, ns, true);
};

export const queryCommands: Record<string, CommandHandler> = {
  find,
  getMore,
  killCursors,
  count,
  distinct,
  aggregate
};
