/** insert, update, delete and findAndModify, with mongod's reply and writeErrors shapes. */
import { Int32, Long } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { compileProjection } from '../engine/aggregate/pipeline.js';
import { ServerError } from '../engine/server-error.js';
import { type RetryableWrite } from '../mongod/oplog-entries.js';
import { checkHint } from '../mongod/read-path.js';
import { type WriteOrigin } from '../mongod/write-path.js';
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
  requiredArray
} from './context.js';
import { sessionUid } from './handshake.js';
import {
  deleteLimitOf,
  parseDeleteStatements,
  parseUpdateStatements,
  updateSpecOf
} from './write-statements.js';

// `stmtIds` (one per statement) is what a router sends for the statements it routed to a shard.
const WRITE_FIELDS = ['ordered', 'bypassDocumentValidation', 'let', 'stmtIds'];

/** The retryable-write identity of a command (`lsid` + `txnNumber`, outside a transaction). */
export function retryableWrite(ctx: CommandContext): RetryableWrite | undefined {
  const lsid = ctx.cmd.get('lsid');
  const txnNumber = ctx.cmd.get('txnNumber');
  if (!isDoc(lsid) || !isNumber(txnNumber) || ctx.cmd.has('autocommit')) return undefined;
  return {
    lsid: new Map<string, BValue>([
      ['id', lsid.get('id')],
      ['uid', sessionUid()]
    ]),
    txnNumber: txnNumber instanceof Long ? txnNumber : Long.fromNumber(toNumber(txnNumber))
  };
}

function writeErrorOf(index: number, error: unknown): Map<string, unknown> {
  if (!(error instanceof ServerError)) throw error;
  const out = new Map<string, unknown>([
    ['index', new Int32(index)],
    ['code', new Int32(error.code)]
  ]);
  for (const [key, value] of Object.entries(error.extra)) {
    if (key === 'errInfo') continue;
    out.set(key, value);
  }
  out.set('errmsg', error.message);
  if ('errInfo' in error.extra) out.set('errInfo', error.extra.errInfo);
  return out;
}

/** Runs each statement; ordered writes stop at the first error. */
function runStatements<T>(
  ctx: CommandContext,
  statements: T[],
  run: (statement: T, index: number, origin: WriteOrigin) => void
): Map<string, unknown>[] {
  const ordered = optionalBool(ctx, 'ordered') ?? true;
  const retryable = retryableWrite(ctx);
  const bypassValidation = optionalBool(ctx, 'bypassDocumentValidation') ?? false;
  const stmtBase = isNumber(ctx.cmd.get('stmtId')) ? toNumber(ctx.cmd.get('stmtId')) : 0;
  const stmtIds = ctx.cmd.get('stmtIds');
  const stmtIdOf = (i: number) => {
    const id = Array.isArray(stmtIds) ? stmtIds[i] : undefined;
    return isNumber(id) ? toNumber(id) : stmtBase + i;
  };
  const errors: Map<string, unknown>[] = [];
  for (let i = 0; i < statements.length; i++) {
    try {
      run(statements[i]!, i, { retryable, stmtId: stmtIdOf(i), bypassValidation });
    } catch (error) {
      // A write conflict fails the whole command (and its transaction), not one statement.
      if (error instanceof ServerError && error.code === 112) throw error;
      errors.push(writeErrorOf(i, error));
      if (ordered) break;
    }
  }
  return errors;
}

function writeReply(
  ctx: CommandContext,
  fields: [string, unknown][],
  errors: Map<string, unknown>[]
): Map<string, unknown> {
  const reply = new Map<string, unknown>(fields);
  if (errors.length > 0) reply.set('writeErrors', errors);
  reply.set('electionId', ctx.mongod.electionId);
  reply.set('opTime', ctx.mongod.lastOpTime());
  return reply;
}

const insert: CommandHandler = ctx => {
  checkFields(ctx, ['documents', ...WRITE_FIELDS]);
  const coll = collectionName(ctx);
  const documents = requiredArray(ctx, 'documents');
  let n = 0;
  const errors = runStatements(ctx, documents, (doc, _i, origin) => {
    if (!isDoc(doc)) throw new ServerError(14, 'insert documents must be objects');
    ctx.mongod.writes.insert(ctx.db, coll, doc, origin);
    n++;
  });
  return writeReply(ctx, [['n', int(n)]], errors);
};

const update: CommandHandler = ctx => {
  checkFields(ctx, ['updates', ...WRITE_FIELDS]);
  const coll = collectionName(ctx);
  const statements = parseUpdateStatements(ctx, requiredArray(ctx, 'updates'));
  const letVars = commandLet(ctx);
  let n = 0;
  let nModified = 0;
  const upserted: Map<string, unknown>[] = [];
  const errors = runStatements(ctx, statements, (statement, index, origin) => {
    const spec = updateSpecOf(ctx, coll, statement, letVars);
    const outcome = ctx.mongod.writes.update(ctx.db, coll, spec, origin);
    if (outcome.upsertedId !== undefined) {
      n++;
      upserted.push(
        new Map<string, unknown>([
          ['index', new Int32(index)],
          ['_id', outcome.upsertedId]
        ])
      );
    } else {
      n += outcome.n;
      nModified += outcome.nModified;
    }
  });
  const fields: [string, unknown][] = [['n', int(n)]];
  if (upserted.length > 0) fields.push(['upserted', upserted]);
  fields.push(['nModified', int(nModified)]);
  return writeReply(ctx, fields, errors);
};

const del: CommandHandler = ctx => {
  checkFields(ctx, ['deletes', ...WRITE_FIELDS]);
  const coll = collectionName(ctx);
  const statements = parseDeleteStatements(requiredArray(ctx, 'deletes'));
  const letVars = commandLet(ctx);
  let n = 0;
  const errors = runStatements(ctx, statements, (statement, _index, origin) => {
    const collation = effectiveCollation(ctx.mongod, ctx.db, coll, statement.raw.get('collation'));
    checkHint(ctx.mongod, ctx.db, coll, statement.raw.get('hint'));
    const limit = deleteLimitOf(statement);
    n += ctx.mongod.writes.delete(
      ctx.db,
      coll,
      statement.q,
      limit,
      origin,
      undefined,
      letVars,
      collation
    ).length;
  });
  return writeReply(ctx, [['n', int(n)]], errors);
};

const findAndModify: CommandHandler = ctx => {
  checkFields(ctx, [
    'query',
    'sort',
    'remove',
    'update',
    'new',
    'fields',
    'upsert',
    'bypassDocumentValidation',
    'arrayFilters',
    'hint',
    'collation',
    'let',
    'maxTimeMS'
  ]);
  const letVars = commandLet(ctx);
  const coll = collectionName(ctx);
  const collation = effectiveCollation(ctx.mongod, ctx.db, coll, ctx.cmd.get('collation'));
  const query = optionalDoc(ctx, 'query') ?? new Map();
  const sort = optionalDoc(ctx, 'sort');
  const remove = optionalBool(ctx, 'remove') ?? false;
  const updateDoc = ctx.cmd.get('update');
  const returnNew = optionalBool(ctx, 'new') ?? false;
  const upsert = optionalBool(ctx, 'upsert') ?? false;
  const fields = optionalDoc(ctx, 'fields');
  const project =
    fields && fields.size > 0
      ? compileProjection(fields, 'find', letVars ? { vars: letVars } : {})
      : (doc: BDoc) => doc;
  const retryable = retryableWrite(ctx);
  const origin: WriteOrigin = {
    retryable,
    stmtId: 0,
    bypassValidation: optionalBool(ctx, 'bypassDocumentValidation') ?? false
  };
  if (remove && updateDoc !== undefined)
    throw new ServerError(9, 'Either an update or remove=true must be specified, but not both');
  if (remove) {
    if (upsert) throw new ServerError(9, 'Cannot specify both upsert=true and remove=true ');
    if (returnNew)
      throw new ServerError(
        9,
        "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document"
      );
    const [deleted] = ctx.mongod.writes.delete(
      ctx.db,
      coll,
      query,
      1,
      origin,
      sort,
      letVars,
      collation
    );
    return {
      lastErrorObject: { n: new Int32(deleted ? 1 : 0) },
      value: deleted ? project(deleted) : null
    };
  }
  if (!isDoc(updateDoc) && !Array.isArray(updateDoc)) {
    throw new ServerError(9, 'Either an update or remove=true must be specified');
  }
  const arrayFilters = ctx.cmd.get('arrayFilters');
  const outcome = ctx.mongod.writes.update(
    ctx.db,
    coll,
    {
      q: query,
      u: Array.isArray(updateDoc) ? (updateDoc as BDoc[]) : updateDoc,
      upsert,
      multi: false,
      arrayFilters: Array.isArray(arrayFilters) ? (arrayFilters as BDoc[]) : undefined,
      sort,
      filterVars: letVars,
      updateVars: letVars,
      collation
    },
    origin
  );
  const lastErrorObject = new Map<string, unknown>([
    ['n', new Int32(outcome.upsertedId !== undefined ? 1 : outcome.n)],
    ['updatedExisting', outcome.upsertedId === undefined && outcome.n > 0]
  ]);
  if (outcome.upsertedId !== undefined) lastErrorObject.set('upserted', outcome.upsertedId);
  const value = returnNew ? outcome.after : outcome.before;
  return { lastErrorObject, value: value ? project(value) : null };
};

export const crudCommands: Record<string, CommandHandler> = {
  insert,
  update,
  delete: del,
  findAndModify,
  findandmodify: findAndModify
};
