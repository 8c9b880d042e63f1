/**
 * `aggregate`: on a collection or view, collectionless (`{aggregate: 1}` with `$documents` or
 * `$listLocalSessions` first), opening a change stream, or writing its results (`$out` or
 * `$merge` last, which answer an empty cursor).
 */
import { Int32, Long } from 'bson';

import {
  type BDoc,
  type BValue,
  isDoc,
  isNumber,
  toNumber,
  withCollation
} from '../bson/values.js';
import { runPipeline, stageEntry } from '../engine/aggregate/pipeline.js';
import { notImplemented, ServerError } from '../engine/server-error.js';
import { parseMerge, runMerge } from '../mongod/aggregate-merge.js';
import { parseOut, runOut } from '../mongod/aggregate-out.js';
import { ArraySource } from '../mongod/cursors.js';
import { type Mongod } from '../mongod/mongod.js';
import { checkHint, namespaceDocs, pipelineContext } from '../mongod/read-path.js';
import { openChangeStream } from './change-stream-command.js';
import { documentsStage, listLocalSessionsStage } from './collectionless-stages.js';
import { commandLet } from './command-let.js';
import {
  checkFields,
  type CommandContext,
  type CommandHandler,
  effectiveCollation,
  optionalBool,
  requiredArray
} from './context.js';
import { cursorReply } from './query.js';

/** Stages that produce the pipeline's input, so they may only come first (40602). */
const FIRST_ONLY = new Set(['$changeStream', '$collStats', '$documents', '$listLocalSessions']);

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

function stageName(stage: BDoc | undefined): string | undefined {
  return stage?.keys().next().value;
}

/** mongod's position checks: input stages first, writing stages last. */
function checkPositions(stages: BDoc[], maxWireVersion: number): void {
  stages.forEach((stage, index) => {
    const name = stageName(stage);
    if (name === undefined) return;
    // $documents arrived with 5.1; older versions do not know the stage.
    if (name === '$documents' && maxWireVersion < 14) {
      throw new ServerError(40324, "Unrecognized pipeline stage name: '$documents'");
    }
    if (index > 0 && FIRST_ONLY.has(name)) {
      throw new ServerError(40602, `${name} is only valid as the first stage in a pipeline`);
    }
    if ((name === '$out' || name === '$merge') && index < stages.length - 1) {
      throw new ServerError(40601, `${name} can only be the final stage in the pipeline`);
    }
  });
}

/** The pipeline's input and the stages left to run over it, plus the cursor's collection. */
function pipelineInput(
  ctx: CommandContext,
  stages: BDoc[],
  letVars: Map<string, BValue> | undefined
): { input: BDoc[]; rest: BDoc[]; coll: string } {
  const target = ctx.cmd.get('aggregate');
  const first = stages[0];
  const firstName = stageName(first);
  if (typeof target === 'string') {
    checkHint(ctx.mongod, ctx.db, target, ctx.cmd.get('hint'));
    if (firstName === '$collStats') {
      return {
        input: [collStatsStage(ctx.mongod, ctx.db, target, first!.get('$collStats'))],
        rest: stages.slice(1),
        coll: target
      };
    }
    if (firstName === '$listLocalSessions') {
      throw new ServerError(
        73,
        '$listLocalSessions must be run against the database with {aggregate: 1}, not a collection'
      );
    }
    if (firstName === '$documents') throw notImplemented('$documents on a collection');
    return { input: namespaceDocs(ctx.mongod, ctx.db, target), rest: stages, coll: target };
  }
  if (!isNumber(target) || toNumber(target) !== 1) {
    throw new ServerError(73, 'Invalid aggregate namespace');
  }
  const coll = '$cmd.aggregate';
  if (firstName === '$listLocalSessions') {
    return {
      input: listLocalSessionsStage(ctx.mongod, first!.get(firstName)),
      rest: stages.slice(1),
      coll
    };
  }
  if (firstName === '$documents') {
    return { input: documentsStage(first!.get(firstName), letVars), rest: stages.slice(1), coll };
  }
  if (firstName !== undefined && first!.size === 1) stageEntry(first!);
  throw new ServerError(
    73,
    `{aggregate: 1} is not valid for '${String(firstName)}'; a collection is required.`
  );
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
  if (ctx.cmd.has('explain')) throw notImplemented("aggregate 'explain'");
  const letVars = commandLet(ctx);
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
  const stages = pipeline as BDoc[];
  const target = ctx.cmd.get('aggregate');
  const collation = effectiveCollation(
    ctx.mongod,
    ctx.db,
    typeof target === 'string' ? target : undefined,
    ctx.cmd.get('collation')
  );
  if (stageName(stages[0]) === '$changeStream') {
    if (collation && ctx.cmd.has('collation'))
      throw notImplemented('$changeStream with a collation');
    return openChangeStream(ctx, stages, batchSize);
  }
  checkPositions(stages, ctx.mongod.profile.maxWireVersion);
  const last = stages.at(-1);
  const lastName = stageName(last);
  const writes = lastName === '$out' || lastName === '$merge';
  const inTransaction = ctx.mongod.currentTransaction !== undefined;
  // The write stage is parsed with the pipeline, before any document is read.
  const out = lastName === '$out' ? parseOut(last!.get('$out'), ctx.db, inTransaction) : undefined;
  const merge =
    lastName === '$merge' ? parseMerge(last!.get('$merge'), ctx.db, inTransaction) : undefined;
  const origin = { bypassValidation: optionalBool(ctx, 'bypassDocumentValidation') ?? false };
  // The whole pipeline, its input, $lookup and the writes of $merge use the collation.
  const { results, coll } = withCollation(collation, () => {
    const { input, rest, coll } = pipelineInput(ctx, stages, letVars);
    const results = runPipeline(input, writes ? rest.slice(0, -1) : rest, {
      ...pipelineContext(ctx.mongod, ctx.db),
      ...(letVars ? { vars: letVars } : {})
    });
    if (out) runOut(ctx.mongod, out, results, origin);
    if (merge) runMerge(ctx.mongod, merge, results, origin);
    return { results, coll };
  });
  const ns = `${ctx.db}.${coll}`;
  if (writes) {
    return cursorReply({ id: Long.ZERO, batch: [], source: new ArraySource([]) }, ns, true);
  }
  const opened = ctx.mongod.cursors.open(ns, new ArraySource(results), { batchSize });
  return cursorReply(opened, ns, true);
};

export const aggregateCommands: Record<string, CommandHandler> = { aggregate };
