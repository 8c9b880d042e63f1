/**
 * Runs one command: finds its handler, applies fail points and session rules, runs it (inside its
 * transaction's view when it is a transaction statement), adds mongod's reply envelope (`ok`,
 * `$clusterTime`, `operationTime`), and turns failures into `{ok: 0, errmsg, code, codeName}`.
 */
import { Binary, Double, Int32, Long } from 'bson';

import { type BDoc, isNumber, toNumber } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';
import { aggregateCommands } from './aggregate.js';
import { catalogCommands } from './catalog-commands.js';
import { type CommandHandler, type ConnectionInfo, type ReplyBody } from './context.js';
import { crudCommands } from './crud.js';
import { errorLabelsFor } from './error-labels.js';
import { handshakeCommands } from './handshake.js';
import { queryCommands } from './query.js';
import { enterSession, type SessionGate } from './session-gate.js';
import { testCommands } from './test-commands.js';
import { transactionCommands } from './transaction-commands.js';
import { unsatisfiableWriteConcern } from './write-concern.js';

const COMMANDS: ReadonlyMap<string, CommandHandler> = new Map(
  Object.entries({
    ...handshakeCommands,
    ...crudCommands,
    ...queryCommands,
    ...aggregateCommands,
    ...catalogCommands,
    ...transactionCommands,
    ...testCommands
  })
);

/** Commands that keep working on a connection before/without a handshake's context. */
export const HELLO_COMMANDS = new Set(['hello', 'isMaster', 'ismaster']);

/** What the connection must do instead of replying: a fail point closed it. */
export const CLOSE_CONNECTION = Symbol('close connection');

function clusterTime(mongod: Mongod): Map<string, unknown> {
  return new Map<string, unknown>([
    ['clusterTime', mongod.oplog.clusterTime],
    [
      'signature',
      new Map<string, unknown>([
        ['hash', new Binary(Buffer.alloc(20), 0)],
        ['keyId', Long.ZERO]
      ])
    ]
  ]);
}

function toEntries(body: ReplyBody): Iterable<[string, unknown]> {
  return body instanceof Map ? body.entries() : Object.entries(body);
}

/** mongod's failure reply for a ServerError (or an unexpected exception, as InternalError). */
export function errorReply(
  mongod: Mongod,
  error: unknown,
  labels: string[] = []
): Map<string, unknown> {
  const failure =
    error instanceof ServerError
      ? error
      : new ServerError(
          1,
          `mongo-replicate test server internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`
        );
  const reply = new Map<string, unknown>([
    ['ok', new Double(0)],
    ['errmsg', failure.message],
    ['code', new Int32(failure.code)],
    ['codeName', failure.codeName]
  ]);
  for (const [key, value] of Object.entries(failure.extra)) reply.set(key, value);
  const allLabels = [...new Set([...failure.labels, ...labels])];
  if (allLabels.length > 0) reply.set('errorLabels', allLabels);
  reply.set('$clusterTime', clusterTime(mongod));
  reply.set('operationTime', mongod.oplog.lastTimestamp);
  return reply;
}

function wait(ms: number, closed: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      closed.removeEventListener('abort', done);
      resolve();
    }
    closed.addEventListener('abort', done, { once: true });
  });
}

/** The labels of a reply, from the command's own session fields (see error-labels.ts). */
function labelsFor(
  name: string,
  body: BDoc,
  outcome: { code?: number | undefined; wcCode?: number | undefined; changeStream: boolean }
): string[] {
  return errorLabelsFor({
    command: name,
    txnNumber: body.has('txnNumber'),
    autocommit: body.has('autocommit'),
    ...outcome
  });
}

/** True for an `aggregate` whose first stage is `$changeStream`. */
function opensChangeStream(name: string, body: BDoc): boolean {
  if (name !== 'aggregate') return false;
  const pipeline = body.get('pipeline');
  const first = Array.isArray(pipeline) ? pipeline[0] : undefined;
  return first instanceof Map && first.has('$changeStream');
}

/** True for a command that reads a change stream: its aggregate, or a getMore on its cursor. */
function readsChangeStream(mongod: Mongod, name: string, body: BDoc): boolean {
  if (name !== 'getMore') return opensChangeStream(name, body);
  const id = body.get('getMore');
  return id instanceof Long && mongod.cursors.isChangeStream(id);
}

/** Runs the command in `body` (already with document sequences folded in). */
export async function runCommand(
  mongod: Mongod,
  body: BDoc,
  connection: ConnectionInfo
): Promise<Map<string, unknown> | typeof CLOSE_CONNECTION> {
  let gate: SessionGate = {};
  let name = '';
  try {
    name = body.keys().next().value ?? '';
    const db = body.get('$db');
    if (typeof db !== 'string') {
      throw new ServerError(40571, 'OP_MSG requests require a $db argument', {
        codeName: 'Location40571'
      });
    }
    const handler = COMMANDS.get(name);
    if (!handler) throw new ServerError(59, `no such command: '${name}'`);
    const target = body.get(name);
    // Only commands listed in failCommands fire, so hello is failed only when it is named.
    const failure = mongod.failPoints.failCommand(
      name,
      db,
      typeof target === 'string' ? target : undefined,
      connection.appName
    );
    if (failure?.blockTimeMS) await wait(failure.blockTimeMS, connection.closed);
    if (failure?.closeConnection) return CLOSE_CONNECTION;
    if (failure?.errorCode !== undefined) {
      // mongod evaluates failCommand before it checks the session out, so the injected error
      // neither starts nor aborts a transaction; a getMore's cursor is not known yet either.
      const labels =
        failure.errorLabels ??
        labelsFor(name, body, {
          code: failure.errorCode,
          changeStream: opensChangeStream(name, body)
        });
      const injected = new ServerError(
        failure.errorCode,
        `Failing command via 'failCommand' failpoint`
      );
      const reply = errorReply(mongod, injected, []);
      if (labels.length > 0) reply.set('errorLabels', labels);
      else reply.delete('errorLabels');
      return reply;
    }
    gate = enterSession(mongod, name, body);
    if (name === 'getMore') {
      const code = mongod.failPoints.failGetMore();
      if (code !== undefined) {
        const id = body.get('getMore');
        const labels = labelsFor(name, body, {
          code,
          changeStream: readsChangeStream(mongod, name, body)
        });
        if (id instanceof Long) mongod.cursors.kill([id]);
        return errorReply(
          mongod,
          new ServerError(code, `Failing command via 'failGetMoreAfterCursorCheckout' failpoint`),
          labels
        );
      }
    }
    if (gate.retried) return withEnvelope(mongod, gate.retried);
    const statement =
      gate.transaction && name !== 'commitTransaction' && name !== 'abortTransaction';
    let pending: ReplyBody | Promise<ReplyBody>;
    mongod.currentTransaction = statement ? gate.transaction : undefined;
    try {
      pending = handler({ mongod, db, name, cmd: body, connection, gate });
    } finally {
      mongod.currentTransaction = undefined;
    }
    const reply = new Map<string, unknown>(toEntries(await pending));
    if (statement && reply.has('writeErrors')) abortTransaction(gate);
    const writeConcernError = failure?.writeConcernError ?? unsatisfiableWriteConcern(name, body);
    if (writeConcernError) reply.set('writeConcernError', writeConcernError);
    const final = withEnvelope(mongod, reply);
    if (gate.retryableWrite && gate.session)
      gate.session.retryReplies.set(gate.stmtKey ?? 0, reply);
    if (writeConcernError) {
      const code = writeConcernError.get('code');
      const labels =
        failure?.errorLabels ??
        labelsFor(name, body, {
          wcCode: isNumber(code) ? toNumber(code) : 0,
          changeStream: false
        });
      if (labels.length > 0) final.set('errorLabels', labels);
    }
    return final;
  } catch (error) {
    if (gate.transaction && name !== 'commitTransaction' && name !== 'abortTransaction')
      abortTransaction(gate);
    const code = error instanceof ServerError ? error.code : 1;
    let changeStream = false;
    try {
      changeStream = readsChangeStream(mongod, name, body);
    } catch {
      // A malformed command cannot be a change stream.
    }
    return errorReply(mongod, error, labelsFor(name, body, { code, changeStream }));
  }
}

/** Any error inside a transaction statement aborts the transaction, as on mongod. */
function abortTransaction(gate: SessionGate): void {
  const transaction = gate.transaction;
  if (transaction?.state === 'inProgress') {
    transaction.state = 'aborted';
    transaction.release();
  }
}

function withEnvelope(mongod: Mongod, body: Map<string, unknown>): Map<string, unknown> {
  const reply = new Map(body);
  reply.delete('ok');
  reply.set('ok', new Double(1));
  reply.set('$clusterTime', clusterTime(mongod));
  reply.set('operationTime', mongod.oplog.lastTimestamp);
  return reply;
}
