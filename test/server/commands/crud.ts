/** insert, update, delete and findAndModify, with mongod's reply and writeErrors shapes. */
import { Int32, Long } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { compileProjection } from '../engine/aggregate/pipeline.js';
import { notImplemented, ServerError } from '../engine/server-error.js';
import { type RetryableWrite } from '../mongod/oplog-entries.js';
import { checkHint } from '../mongod/read-path.js';
import { type UpdateSpec, type WriteOrigin } from '../mongod/write-path.js';
import {
  checkCollation,
  checkFields,
  collectionName,
  type CommandContext,
  type CommandHandler,
  int,
  optionalBool,
  optionalDoc,
  requiredArray
} from './context.js';
import { sessionUid } from './handshake.js';

const WRITE_FIELDS = ['ordered', 'bypassDocumentValidation', 'let'];

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
  const errors: Map<string, unknown>[] = [];
  for (let i = 0; i < statements.length; i++) {
    try {
      run(statements[i]!, i, { retryable, stmtId: stmtBase + i, bypassValidation });
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

const UPDATE_STATEMENT_FIELDS = [
  'q',
  'u',
  'upsert',
  'multi',
  'arrayFilters',
  'hint',
  'collation',
  'c',
  'upsertSupplied',
  'sort'
];

function parseUpdateStatement(ctx: CommandContext, raw: BValue): UpdateSpec {
  if (!isDoc(raw)) throw new ServerError(14, "BSON field 'update.updates' is the wrong type");
  for (const key of raw.keys()) {
    if (!UPDATE_STATEMENT_FIELDS.includes(key)) {
      throw new ServerError(40415, `BSON field 'update.updates.${key}' is an unknown field.`);
    }
  }
  checkCollation(raw.get('collation'));
  const q = raw.get('q');
  const u = raw.get('u');
  if (!isDoc(q))
    throw new ServerError(
      14,
      "BSON field 'update.updates.q' is the wrong type, expected type 'object'"
    );
  if (!isDoc(u) && !Array.isArray(u)) {
    throw new ServerError(
      14,
      "BSON field 'update.updates.u' is the wrong type, expected type 'object' or 'array'"
    );
  }
  const arrayFilters = raw.get('arrayFilters');
  const multi = raw.get('multi') === true;
  if (multi && isDoc(u) && u.size > 0 && !String(u.keys().next().value).startsWith('$')) {
    throw new ServerError(9, 'multi update is not supported for replacement-style update');
  }
  if (raw.has('sort')) throw notImplemented("update statement 'sort' (MongoDB 8.0)");
  checkHint(ctx.mongod, ctx.db, collectionName(ctx), raw.get('hint'));
  if (raw.has('c'))
    throw new ServerError(
      238,
      "update 'c' (let constants) is not supported by the mongo-replicate test server"
    );
  return {
    q,
    u: Array.isArray(u) ? (u as BDoc[]) : u,
    upsert: raw.get('upsert') === true,
    multi,
    arrayFilters: Array.isArray(arrayFilters) ? (arrayFilters as BDoc[]) : undefined
  };
}

const update: CommandHandler = ctx => {
  checkFields(ctx, ['updates', ...WRITE_FIELDS]);
  if (ctx.cmd.has('let'))
    throw new ServerError(238, "update 'let' is not supported by the mongo-replicate test server");
  const coll = collectionName(ctx);
  const statements = requiredArray(ctx, 'updates');
  let n = 0;
  let nModified = 0;
  const upserted: Map<string, unknown>[] = [];
  const errors = runStatements(ctx, statements, (raw, index, origin) => {
    const spec = parseUpdateStatement(ctx, raw);
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
  const statements = requiredArray(ctx, 'deletes');
  let n = 0;
  const errors = runStatements(ctx, statements, (raw, _index, origin) => {
    if (!isDoc(raw)) throw new ServerError(14, "BSON field 'delete.deletes' is the wrong type");
    for (const key of raw.keys()) {
      if (!['q', 'limit', 'hint', 'collation'].includes(key)) {
        throw new ServerError(40415, `BSON field 'delete.deletes.${key}' is an unknown field.`);
      }
    }
    checkCollation(raw.get('collation'));
    checkHint(ctx.mongod, ctx.db, coll, raw.get('hint'));
    const q = raw.get('q');
    const limit = raw.get('limit');
    if (!isDoc(q))
      throw new ServerError(
        14,
        "BSON field 'delete.deletes.q' is the wrong type, expected type 'object'"
      );
    if (!isNumber(limit) || ![0, 1].includes(toNumber(limit))) {
      throw new ServerError(
        9,
        `The limit field in delete objects must be 0 or 1. Got ${String(limit)}`
      );
    }
    n += ctx.mongod.writes.delete(ctx.db, coll, q, toNumber(limit), origin).length;
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
  checkCollation(ctx.cmd.get('collation'));
  if (ctx.cmd.has('let'))
    throw new ServerError(
      238,
      "findAndModify 'let' is not supported by the mongo-replicate test server"
    );
  const coll = collectionName(ctx);
  const query = optionalDoc(ctx, 'query') ?? new Map();
  const sort = optionalDoc(ctx, 'sort');
  const remove = optionalBool(ctx, 'remove') ?? false;
  const updateDoc = ctx.cmd.get('update');
  const returnNew = optionalBool(ctx, 'new') ?? false;
  const upsert = optionalBool(ctx, 'upsert') ?? false;
  const fields = optionalDoc(ctx, 'fields');
  const project =
    fields && fields.size > 0 ? compileProjection(fields, 'find') : (doc: BDoc) => doc;
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
    const [deleted] = ctx.mongod.writes.delete(ctx.db, coll, query, 1, origin, sort);
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
      sort
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
