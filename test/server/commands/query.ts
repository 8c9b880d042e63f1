/** find, getMore, killCursors, count and distinct (aggregate is in aggregate.ts). */
import { Long } from 'bson';

import { getPath } from '../bson/paths.js';
import { type BDoc, type BValue, equalityKey, isDoc, withCollation } from '../bson/values.js';
import { compileFilter } from '../engine/query/matcher.js';
import { notImplemented, ServerError } from '../engine/server-error.js';
import { type CursorSource } from '../mongod/cursors.js';
import { checkBoundFields } from '../mongod/min-max.js';
import { checkHint, findSource, namespaceDocs } from '../mongod/read-path.js';
import { commandLet } from './command-let.js';
import {
  checkFields,
  collectionName,
  type CommandContext,
  type CommandHandler,
  effectiveCollation,
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

const find: CommandHandler = ctx => {
  checkFields(ctx, FIND_FIELDS);
  for (const unsupported of ['returnKey', 'showRecordId']) {
    if (ctx.cmd.has(unsupported)) throw notImplemented(`find '${unsupported}'`);
  }
  const letVars = commandLet(ctx);
  const coll = collectionName(ctx);
  const tailable = optionalBool(ctx, 'tailable') ?? false;
  const awaitData = optionalBool(ctx, 'awaitData') ?? false;
  if (awaitData && !tailable) throw new ServerError(9, 'Cannot set awaitData without tailable');
  const bounds = { min: nonEmptyDoc(ctx, 'min'), max: nonEmptyDoc(ctx, 'max') };
  checkBoundFields(bounds);
  const collation = effectiveCollation(ctx.mongod, ctx.db, coll, ctx.cmd.get('collation'));
  // Results are computed when the cursor opens, so the collation is needed only for this call.
  const source = withCollation(collation, () =>
    findSource(ctx.mongod, ctx.db, coll, {
      filter: optionalDoc(ctx, 'filter') ?? new Map(),
      sort: optionalDoc(ctx, 'sort'),
      projection: optionalDoc(ctx, 'projection'),
      skip: nonNegative(ctx, 'skip'),
      limit: nonNegative(ctx, 'limit'),
      hint: ctx.cmd.get('hint'),
      tailable,
      bounds,
      vars: letVars
    })
  );
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
  const coll = collectionName(ctx);
  const collation = effectiveCollation(ctx.mongod, ctx.db, coll, ctx.cmd.get('collation'));
  const query = optionalDoc(ctx, 'query') ?? new Map();
  const skip = optionalNumber(ctx, 'skip') ?? 0;
  const limit = Math.abs(optionalNumber(ctx, 'limit') ?? 0);
  const all = withCollation(collation, () =>
    findSource(ctx.mongod, ctx.db, coll, { filter: query, hint: ctx.cmd.get('hint') }).next(
      Infinity,
      Infinity
    )
  ).docs.length;
  const n = Math.max(0, Math.min(all - skip, limit > 0 ? limit : Infinity));
  return { n: int(n) };
};

const distinct: CommandHandler = ctx => {
  checkFields(ctx, ['key', 'query', 'collation', 'hint']);
  const coll = collectionName(ctx);
  const collation = effectiveCollation(ctx.mongod, ctx.db, coll, ctx.cmd.get('collation'));
  checkHint(ctx.mongod, ctx.db, coll, ctx.cmd.get('hint'));
  const key = ctx.cmd.get('key');
  if (typeof key !== 'string')
    throw new ServerError(
      14,
      "BSON field 'distinct.key' is the wrong type, expected type 'string'"
    );
  const query = optionalDoc(ctx, 'query') ?? new Map();
  // Values equal under the collation are one value: the first one met.
  const values = withCollation(collation, () => {
    const matcher = compileFilter(query);
    const seen = new Map<string, BValue>();
    for (const doc of namespaceDocs(ctx.mongod, ctx.db, coll)) {
      if (!matcher.matches(doc)) continue;
      for (const value of distinctValues(doc, key.split('.'))) {
        if (value === undefined) continue;
        const k = equalityKey(value);
        if (!seen.has(k)) seen.set(k, value);
      }
    }
    return [...seen.values()];
  });
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

export const queryCommands: Record<string, CommandHandler> = {
  find,
  getMore,
  killCursors,
  count,
  distinct
};
