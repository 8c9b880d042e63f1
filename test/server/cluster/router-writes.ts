/**
 * insert, update, delete and findAndModify through mongos (cluster_write_cmd.cpp, BatchWriteOp,
 * ChunkManagerTargeter). Unsharded collections: the whole command goes to the database's primary
 * shard. Sharded collections: each statement is targeted by its shard key (documents by theirs,
 * queries by a full shard key equality); multi-writes go to every shard owning chunks. Ordered
 * batches are sent as consecutive runs per shard and stop at the first error; unordered ones as
 * one command per shard. Retryable writes carry `stmtIds`, the statements' positions in the client's
 * batch, so each shard logs (and remembers) them under the client's statement numbers.
 *
 * A single-document update or delete without the shard key: 4.4–6.0 accept it only with an exact
 * `_id` (then broadcast) and otherwise fail as mongod's targeter does; 7.0 runs the "write without
 * shard key" two-phase protocol (write_without_shard_key_util.cpp): a read phase on every shard
 * picks a matching document, then the write runs on its shard by `_id`, inside an internal
 * transaction (lsid `{id, [txnNumber], txnUUID}`), so the shard logs it as a transaction's
 * `applyOps`. An update that moves a document to another shard's chunk (the shard answers
 * WouldChangeOwningShard) is a delete and an insert in one distributed transaction when the write
 * is retryable or transactional, and fails with IllegalOperation otherwise.
 */
import { Int32, Long, ObjectId, UUID } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { type ReplyBody } from '../commands/context.js';
import { ServerError } from '../engine/server-error.js';
import { renderValue } from '../mongod/render.js';
import { type ShardedCollection } from './catalog.js';
import {
  CONFIG_SERVER,
  failureOf,
  replyBody,
  type RouterContext,
  type RouterHandler,
  throwIfFailed
} from './router.js';

type Targets = string[] | 'twoPhase';

interface Statement {
  readonly index: number;
  readonly value: BValue;
  readonly targets: Targets;
  /** A targeting error: reported as this statement's write error. */
  readonly error?: ServerError;
}

interface Totals {
  n: number;
  nModified: number;
  upserted: Map<string, unknown>[];
  writeErrors: Map<string, unknown>[];
  writeConcernError: unknown;
}

/** True for a retryable write (lsid + txnNumber, not in a transaction). */
function isRetryable(ctx: RouterContext): boolean {
  return isDoc(ctx.cmd.get('lsid')) && ctx.cmd.has('txnNumber') && !ctx.cmd.has('autocommit');
}

function inTransaction(ctx: RouterContext): boolean {
  return ctx.cmd.has('autocommit');
}

/** An unsharded namespace: the whole command runs on its database's primary shard. */
async function passthrough(ctx: RouterContext): Promise<ReplyBody> {
  const member = ctx.router.primaryOf(ctx.db);
  if (member !== CONFIG_SERVER) ctx.router.catalog.ensureDatabase(ctx.db);
  const reply = await ctx.router.send(
    member,
    ctx.db,
    ctx.router.commandFor(ctx, member),
    ctx.connection
  );
  throwIfFailed(reply);
  ctx.router.transactions.decorate(ctx, reply);
  return replyBody(reply);
}

function shardedTarget(ctx: RouterContext): ShardedCollection | undefined {
  if (ctx.db === 'admin' || ctx.db === 'config' || ctx.db === 'local') return undefined;
  const coll = ctx.cmd.get(ctx.name);
  return typeof coll === 'string' ? ctx.router.catalog.collection(`${ctx.db}.${coll}`) : undefined;
}

/** `{_id: <plain value>}` alone (isExactIdQuery). */
function isExactIdQuery(q: BDoc): boolean {
  const id = q.get('_id');
  if (id === undefined || q.size !== 1) return false;
  if (isDoc(id)) {
    if ([...id.keys()].some(key => key.startsWith('$'))) {
      return id.size === 1 && id.has('$eq') && !isDoc(id.get('$eq'));
    }
  }
  return !Array.isArray(id);
}

function renderStatement(value: BValue): string {
  return renderValue(value);
}

/** Where a query-targeted single statement goes (see the module comment). */
function queryTargets(
  ctx: RouterContext,
  coll: ShardedCollection,
  q: BDoc,
  multi: boolean,
  upsert: boolean,
  describe: () => { kind: 'update' | 'delete'; statement: BValue }
): Targets {
  const { catalog } = ctx.router;
  const key = coll.key.keyOfQuery(q);
  if (key) return [catalog.chunkFor(coll, key).shard];
  const owners = catalog.shardsWithChunks(coll);
  if (multi) return owners;
  const sevenZero = ctx.router.profile.maxWireVersion >= 21;
  if (!upsert && isExactIdQuery(q)) return owners;
  if (sevenZero) return 'twoPhase';
  const { kind, statement } = describe();
  if (upsert) {
    throw new ServerError(
      61,
      `Failed to target upsert by query :: could not extract exact shard key`,
      { codeName: 'ShardKeyNotFound' }
    );
  }
  if (kind === 'delete') {
    throw new ServerError(
      61,
      `A single delete on a sharded collection must contain an exact match on _id (and have the collection default collation) or contain the shard key (and have the simple collation). Delete request: ${renderStatement(statement)}, shard key pattern: ${renderValue(coll.key.spec)}`,
      { codeName: 'ShardKeyNotFound' }
    );
  }
  throw new ServerError(
    72,
    `A {multi:false} update on a sharded collection must contain an exact match on _id (and have the collection default collation) or target a single shard (and have the simple collation), but this update targeted ${owners.length} shards. Update request: ${renderStatement(statement)}, shard key pattern: ${renderValue(coll.key.spec)}`
  );
}

type Targeter = (value: BValue, index: number) => Targets;

function targetOne(values: BValue[], index: number, target: Targeter): Statement {
  const value = values[index];
  try {
    return { index, value, targets: target(value, index) };
  } catch (error) {
    if (!(error instanceof ServerError)) throw error;
    return { index, value, targets: [], error };
  }
}

function writeError(index: number, error: ServerError): Map<string, unknown> {
  const out = new Map<string, unknown>([
    ['index', new Int32(index)],
    ['code', new Int32(error.code)]
  ]);
  for (const [key, value] of Object.entries(error.extra))
    if (key !== 'errInfo') out.set(key, value);
  out.set('errmsg', error.message);
  if ('errInfo' in error.extra) out.set('errInfo', error.extra.errInfo);
  return out;
}

/**
 * Runs the statements as mongos batches them and merges the shards' replies. Statements are
 * targeted right before their batch is sent (after any migration's critical section), and a
 * batch's commands start without yielding in between, so no batch follows stale routing.
 */
async function runBatches(
  ctx: RouterContext,
  ns: string,
  field: 'documents' | 'updates' | 'deletes',
  values: BValue[],
  target: Targeter
): Promise<Totals> {
  const ordered = ctx.cmd.get('ordered') !== false;
  const totals: Totals = {
    n: 0,
    nModified: 0,
    upserted: [],
    writeErrors: [],
    writeConcernError: undefined
  };
  const { router } = ctx;
  let pending = values.map((_, index) => index);
  while (pending.length > 0) {
    await router.waitForCriticalSection(ns);
    const errorsBefore = totals.writeErrors.length;
    const first = targetOne(values, pending[0]!, target);
    let done: number[];
    if (first.error) {
      totals.writeErrors.push(writeError(first.index, first.error));
      done = [first.index];
    } else if (first.targets === 'twoPhase') {
      await writeWithoutShardKey(ctx, field, first, totals);
      done = [first.index];
    } else if (first.targets.length !== 1) {
      await broadcast(ctx, field, first, totals);
      done = [first.index];
    } else {
      const shard = first.targets[0]!;
      const run: Statement[] = [first];
      for (const index of pending.slice(1)) {
        const next = targetOne(values, index, target);
        const single = !next.error && next.targets !== 'twoPhase' && next.targets.length === 1;
        if (single && (next.targets as string[])[0] === shard) run.push(next);
        else if (ordered) break;
      }
      await sendRun(ctx, field, shard, run, totals);
      done = run.map(stmt => stmt.index);
    }
    const finished = new Set(done);
    pending = pending.filter(index => !finished.has(index));
    if (ordered && totals.writeErrors.length > errorsBefore) break;
  }
  totals.writeErrors.sort(
    (a, b) => toNumber(a.get('index') as Int32) - toNumber(b.get('index') as Int32)
  );
  return totals;
}

/** A statement for several shards (a multi-write): sent to all of them at once. */
async function broadcast(
  ctx: RouterContext,
  field: string,
  stmt: Statement,
  totals: Totals
): Promise<void> {
  const shards = stmt.targets as string[];
  const replies = shards.map(shard =>
    ctx.router.send(
      shard,
      ctx.db,
      ctx.router.commandFor(ctx, shard, runOverrides(ctx, field, [stmt])),
      ctx.connection
    )
  );
  for (const reply of await Promise.all(replies)) mergeReply(ctx, reply, [stmt], totals);
  await moveDocuments(ctx, totals);
}

function runOverrides(
  ctx: RouterContext,
  field: string,
  stmts: Statement[]
): Record<string, BValue> {
  const overrides: Record<string, BValue> = { [field]: stmts.map(stmt => stmt.value) };
  if (isRetryable(ctx)) {
    const base = isNumber(ctx.cmd.get('stmtId')) ? toNumber(ctx.cmd.get('stmtId')) : 0;
    overrides.stmtIds = stmts.map(stmt => new Int32(base + stmt.index));
    overrides.stmtId = undefined;
  }
  return overrides;
}

/** Updates the shards refused with WouldChangeOwningShard: the documents move shards. */
async function moveDocuments(ctx: RouterContext, totals: Totals): Promise<void> {
  const moved = totals.writeErrors.filter(error => {
    const code = error.get('code');
    return isNumber(code) && toNumber(code) === 283;
  });
  for (const error of moved) {
    totals.writeErrors.splice(totals.writeErrors.indexOf(error), 1);
    await changeOwningShard(ctx, error, toNumber(error.get('index') as BValue), totals);
  }
}

/** Sends one run of statements to one shard and merges its reply. */
async function sendRun(
  ctx: RouterContext,
  field: string,
  shard: string,
  stmts: Statement[],
  totals: Totals
): Promise<void> {
  const reply = await ctx.router.send(
    shard,
    ctx.db,
    ctx.router.commandFor(ctx, shard, runOverrides(ctx, field, stmts)),
    ctx.connection
  );
  mergeReply(ctx, reply, stmts, totals);
  await moveDocuments(ctx, totals);
}

function mergeReply(
  ctx: RouterContext,
  reply: Map<string, unknown>,
  stmts: Statement[],
  totals: Totals
): void {
  const failure = failureOf(reply);
  if (failure) {
    if (inTransaction(ctx)) throw failure;
    totals.writeErrors.push(writeError(stmts[0]!.index, failure));
    return;
  }
  totals.n += toNumber(reply.get('n') as BValue);
  if (reply.has('nModified')) totals.nModified += toNumber(reply.get('nModified') as BValue);
  const upserted = reply.get('upserted');
  if (Array.isArray(upserted)) {
    for (const entry of upserted as BDoc[]) {
      const at = toNumber(entry.get('index') as BValue);
      totals.upserted.push(
        new Map<string, unknown>([
          ['index', new Int32(stmts[at]!.index)],
          ['_id', entry.get('_id')]
        ])
      );
    }
  }
  const errors = reply.get('writeErrors');
  if (Array.isArray(errors)) {
    for (const entry of errors as BDoc[]) {
      const at = toNumber(entry.get('index') as BValue);
      const remapped = new Map<string, unknown>(entry);
      remapped.set('index', new Int32(stmts[at]!.index));
      totals.writeErrors.push(remapped);
    }
  }
  if (totals.writeConcernError === undefined && reply.has('writeConcernError')) {
    totals.writeConcernError = reply.get('writeConcernError');
  }
}

function writeReply(fields: 'insert' | 'update' | 'delete', totals: Totals): Map<string, unknown> {
  const reply = new Map<string, unknown>([['n', new Int32(totals.n)]]);
  if (fields === 'update') {
    if (totals.upserted.length > 0) {
      totals.upserted.sort(
        (a, b) => toNumber(a.get('index') as Int32) - toNumber(b.get('index') as Int32)
      );
      reply.set('upserted', totals.upserted);
    }
    reply.set('nModified', new Int32(totals.nModified));
  }
  if (totals.writeErrors.length > 0) reply.set('writeErrors', totals.writeErrors);
  if (totals.writeConcernError !== undefined) {
    reply.set('writeConcernError', totals.writeConcernError);
  }
  return reply;
}

/** Puts `_id` first, generating an ObjectId when missing (mongos does before targeting). */
function withId(doc: BDoc): BDoc {
  if (doc.keys().next().value === '_id') return doc;
  const out: BDoc = new Map<string, BValue>([['_id', doc.get('_id') ?? new ObjectId()]]);
  for (const [key, value] of doc) if (key !== '_id') out.set(key, value);
  return out;
}

const insert: RouterHandler = async ctx => {
  const coll = shardedTarget(ctx);
  const documents = ctx.cmd.get('documents');
  if (!coll || !Array.isArray(documents)) return passthrough(ctx);
  const docs = documents.map(doc => (isDoc(doc) ? withId(doc) : doc));
  const { catalog } = ctx.router;
  const totals = await runBatches(ctx, coll.ns, 'documents', docs, doc => {
    if (!isDoc(doc)) throw new ServerError(14, 'insert documents must be objects');
    return [catalog.chunkFor(coll, coll.key.keyOfDocument(doc)).shard];
  });
  return writeReply('insert', totals);
};

const update: RouterHandler = async ctx => {
  const coll = shardedTarget(ctx);
  const updates = ctx.cmd.get('updates');
  if (!coll || !Array.isArray(updates)) return passthrough(ctx);
  const totals = await runBatches(ctx, coll.ns, 'updates', updates, value => {
    if (!isDoc(value) || !isDoc(value.get('q'))) {
      throw new ServerError(14, "BSON field 'update.updates.q' is the wrong type");
    }
    return queryTargets(
      ctx,
      coll,
      value.get('q') as BDoc,
      value.get('multi') === true,
      value.get('upsert') === true,
      () => ({ kind: 'update', statement: value })
    );
  });
  return writeReply('update', totals);
};

const del: RouterHandler = async ctx => {
  const coll = shardedTarget(ctx);
  const deletes = ctx.cmd.get('deletes');
  if (!coll || !Array.isArray(deletes)) return passthrough(ctx);
  const totals = await runBatches(ctx, coll.ns, 'deletes', deletes, value => {
    if (!isDoc(value) || !isDoc(value.get('q'))) {
      throw new ServerError(14, "BSON field 'delete.deletes.q' is the wrong type");
    }
    const limit = value.get('limit');
    const multi = !(isNumber(limit) && toNumber(limit) === 1);
    return queryTargets(ctx, coll, value.get('q') as BDoc, multi, false, () => ({
      kind: 'delete',
      statement: value
    }));
  });
  return writeReply('delete', totals);
};

/** The client's session id for an internal transaction's lsid (a new one without a session). */
function internalSession(ctx: RouterContext): BDoc {
  const lsid = ctx.cmd.get('lsid');
  const out = new Map<string, BValue>([['id', isDoc(lsid) ? lsid.get('id') : new UUID()]]);
  if (isRetryable(ctx)) out.set('txnNumber', ctx.cmd.get('txnNumber'));
  out.set('txnUUID', new UUID());
  return out;
}

/**
 * Runs `body` on one shard inside an internal transaction (txn_api): the statement starts it,
 * then commitTransaction; the shard logs one `applyOps` under the internal lsid.
 */
async function runInInternalTransaction(
  ctx: RouterContext,
  shard: string,
  body: BDoc
): Promise<Map<string, unknown>> {
  const lsid = internalSession(ctx);
  body.set('lsid', lsid);
  body.set('txnNumber', Long.ZERO);
  body.set('startTransaction', true);
  body.set('autocommit', false);
  const reply = await ctx.router.send(shard, ctx.db, body, ctx.connection);
  const failure = failureOf(reply);
  const errors = reply.get('writeErrors');
  const commitOrAbort = failure || Array.isArray(errors) ? 'abortTransaction' : 'commitTransaction';
  await ctx.router.send(
    shard,
    'admin',
    new Map<string, BValue>([
      [commitOrAbort, new Int32(1)],
      ['lsid', lsid],
      ['txnNumber', Long.ZERO],
      ['autocommit', false]
    ]),
    ctx.connection
  );
  return reply;
}

/**
 * 7.0's write without shard key: the first shard (in shard order) with a matching document runs
 * the statement restricted to that document's `_id`.
 */
async function writeWithoutShardKey(
  ctx: RouterContext,
  field: 'documents' | 'updates' | 'deletes',
  stmt: Statement,
  totals: Totals
): Promise<void> {
  const value = stmt.value as BDoc;
  const q = value.get('q') as BDoc;
  const coll = shardedTarget(ctx)!;
  const { router } = ctx;
  for (const shard of router.catalog.shardsWithChunks(coll)) {
    const found = await router.sendOk(
      shard,
      ctx.db,
      new Map<string, BValue>([
        ['find', coll.coll],
        ['filter', q],
        ['projection', new Map([['_id', new Int32(1)]])],
        ['limit', new Int32(1)],
        ['singleBatch', true],
        ...(value.has('collation')
          ? ([['collation', value.get('collation')]] as [string, BValue][])
          : [])
      ]),
      ctx.connection
    );
    const batch = ((found.get('cursor') as BDoc).get('firstBatch') as BDoc[]) ?? [];
    if (batch.length === 0) continue;
    const targeted = new Map(value);
    targeted.set('q', new Map([['$and', [q, new Map([['_id', batch[0]!.get('_id')]])]]]));
    const body = ctx.router.commandFor(ctx, shard, { [field]: [targeted], stmtId: undefined });
    const reply = inTransaction(ctx)
      ? await router.send(shard, ctx.db, body, ctx.connection)
      : await runInInternalTransaction(ctx, shard, body);
    mergeReply(ctx, reply, [stmt], totals);
    return;
  }
  if (value.get('upsert') === true) {
    throw new ServerError(
      238,
      'an upsert without the shard key (7.0 write without shard key) is not supported by the mongo-replicate test server'
    );
  }
}

/**
 * WouldChangeOwningShard: the document moves to the shard owning its new shard key, as one
 * distributed transaction (delete on the old shard, insert on the new one); outside a retryable
 * write or transaction mongos refuses (IllegalOperation).
 */
async function changeOwningShard(
  ctx: RouterContext,
  error: Map<string, unknown>,
  index: number,
  totals: Totals
): Promise<void> {
  if (!isRetryable(ctx) && !inTransaction(ctx)) {
    totals.writeErrors.push(
      writeError(
        index,
        new ServerError(
          20,
          'Must run update to shard key field in a multi-statement transaction or with retryWrites: true.'
        )
      )
    );
    return;
  }
  const coll = shardedTarget(ctx)!;
  const pre = error.get('preImage') as BDoc;
  const post = error.get('postImage') as BDoc;
  const { router } = ctx;
  const from = router.catalog.chunkFor(coll, coll.key.keyOfDocument(pre)).shard;
  const to = router.catalog.chunkFor(coll, coll.key.keyOfDocument(post)).shard;
  const deleteBody = new Map<string, BValue>([
    ['delete', coll.coll],
    [
      'deletes',
      [
        new Map<string, BValue>([
          ['q', new Map([['_id', pre.get('_id')]])],
          ['limit', new Int32(1)]
        ])
      ]
    ]
  ]);
  const insertBody = new Map<string, BValue>([
    ['insert', coll.coll],
    ['documents', [post]]
  ]);
  if (inTransaction(ctx)) {
    // Inside the client's transaction: both writes join it.
    router.transactions.sessionFields(ctx, from, deleteBody);
    throwIfFailed(await router.send(from, ctx.db, deleteBody, ctx.connection));
    router.transactions.sessionFields(ctx, to, insertBody);
    throwIfFailed(await router.send(to, ctx.db, insertBody, ctx.connection));
  } else {
    const session = internalSession(ctx);
    for (const [member, body] of [
      [from, deleteBody],
      [to, insertBody]
    ] as const) {
      body.set('lsid', session);
      body.set('txnNumber', Long.ZERO);
      body.set('startTransaction', true);
      body.set('autocommit', false);
      throwIfFailed(await router.send(member, ctx.db, body, ctx.connection));
    }
    await router.transactions.commitInternal(ctx, session, [from, to]);
  }
  totals.n += 1;
  totals.nModified += 1;
}

const findAndModify: RouterHandler = async ctx => {
  const coll = shardedTarget(ctx);
  if (!coll) return passthrough(ctx);
  const query = isDoc(ctx.cmd.get('query')) ? (ctx.cmd.get('query') as BDoc) : new Map();
  const { router } = ctx;
  const key = coll.key.keyOfQuery(query);
  let shard: string | undefined;
  let body: BDoc | undefined;
  if (key) {
    shard = router.catalog.chunkFor(coll, key).shard;
    body = router.commandFor(ctx, shard);
  } else if (router.profile.maxWireVersion >= 21) {
    for (const candidate of router.catalog.shardsWithChunks(coll)) {
      const found = await router.sendOk(
        candidate,
        ctx.db,
        new Map<string, BValue>([
          ['find', coll.coll],
          ['filter', query],
          ['projection', new Map([['_id', new Int32(1)]])],
          ['limit', new Int32(1)],
          ['singleBatch', true],
          ...(isDoc(ctx.cmd.get('sort'))
            ? ([['sort', ctx.cmd.get('sort')]] as [string, BValue][])
            : [])
        ]),
        ctx.connection
      );
      const batch = ((found.get('cursor') as BDoc).get('firstBatch') as BDoc[]) ?? [];
      if (batch.length === 0) continue;
      shard = candidate;
      body = router.commandFor(ctx, shard, {
        query: new Map([['$and', [query, new Map([['_id', batch[0]!.get('_id')]])]]])
      });
      break;
    }
    if (!shard || !body) {
      if (ctx.cmd.get('upsert') === true) {
        throw new ServerError(
          238,
          'an upsert without the shard key (7.0 write without shard key) is not supported by the mongo-replicate test server'
        );
      }
      return {
        lastErrorObject: new Map<string, unknown>([
          ['n', new Int32(0)],
          ['updatedExisting', false]
        ]),
        value: null
      };
    }
    if (!inTransaction(ctx)) {
      const reply = await runInInternalTransaction(ctx, shard, body);
      throwIfFailed(reply);
      return replyBody(reply);
    }
  } else {
    throw new ServerError(61, 'Query for sharded findAndModify must contain the shard key', {
      codeName: 'ShardKeyNotFound'
    });
  }
  const reply = await router.send(shard, ctx.db, body, ctx.connection);
  const failure = failureOf(reply);
  if (failure?.code === 283) {
    const totals: Totals = {
      n: 0,
      nModified: 0,
      upserted: [],
      writeErrors: [],
      writeConcernError: undefined
    };
    const asWriteError = new Map<string, unknown>(Object.entries(failure.extra));
    await changeOwningShard(ctx, asWriteError, 0, totals);
    if (totals.writeErrors.length > 0) {
      const first = totals.writeErrors[0]!;
      throw new ServerError(toNumber(first.get('code') as BValue), String(first.get('errmsg')));
    }
    const pre = failure.extra.preImage as BDoc;
    const post = failure.extra.postImage as BDoc;
    return {
      lastErrorObject: new Map<string, unknown>([
        ['n', new Int32(1)],
        ['updatedExisting', true]
      ]),
      value: ctx.cmd.get('new') === true ? post : pre
    };
  }
  if (failure) throw failure;
  router.transactions.decorate(ctx, reply);
  return replyBody(reply);
};

export const writeCommands: Record<string, RouterHandler> = {
  insert,
  update,
  delete: del,
  findAndModify,
  findandmodify: findAndModify
};
