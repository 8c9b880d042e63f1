/**
 * Runs one command: finds its handler, adds mongod's reply envelope (`ok`, `$clusterTime`,
 * `operationTime`), and turns failures into `{ok: 0, errmsg, code, codeName}` replies.
 */
import { Binary, Double, Int32, Long } from 'bson';

import { type BDoc } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';
import { catalogCommands } from './catalog-commands.js';
import { type CommandHandler, type ConnectionInfo, type ReplyBody } from './context.js';
import { crudCommands } from './crud.js';
import { handshakeCommands } from './handshake.js';
import { queryCommands } from './query.js';

const COMMANDS: ReadonlyMap<string, CommandHandler> = new Map(
  Object.entries({ ...handshakeCommands, ...crudCommands, ...queryCommands, ...catalogCommands })
);

/** Commands that keep working on a connection before/without a handshake's context. */
export const HELLO_COMMANDS = new Set(['hello', 'isMaster', 'ismaster']);

function clusterTime(mongod: Mongod): Map<string, unknown> {
  return new Map<string, unknown>([
    ['clusterTime', mongod.oplog.lastTimestamp],
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
export function errorReply(mongod: Mongod, error: unknown): Map<string, unknown> {
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
  if (failure.labels.length > 0) reply.set('errorLabels', failure.labels);
  reply.set('$clusterTime', clusterTime(mongod));
  reply.set('operationTime', mongod.oplog.lastTimestamp);
  return reply;
}

/** Runs the command in `body` (already with document sequences folded in). */
export async function runCommand(
  mongod: Mongod,
  body: BDoc,
  connection: ConnectionInfo
): Promise<Map<string, unknown>> {
  try {
    const name = body.keys().next().value;
    if (name === undefined) throw new ServerError(59, "no such command: ''");
    const db = body.get('$db');
    if (typeof db !== 'string') {
      throw new ServerError(40571, 'OP_MSG requests require a $db argument', {
        codeName: 'Location40571'
      });
    }
    const handler = COMMANDS.get(name);
    if (!handler) throw new ServerError(59, `no such command: '${name}'`);
    if (body.has('startTransaction') || body.get('autocommit') === false) {
      throw new ServerError(
        238,
        'multi-document transactions are not supported by the mongo-replicate test server yet'
      );
    }
    const result = await handler({ mongod, db, name, cmd: body, connection });
    const reply = new Map<string, unknown>(toEntries(result));
    reply.set('ok', new Double(1));
    reply.set('$clusterTime', clusterTime(mongod));
    reply.set('operationTime', mongod.oplog.lastTimestamp);
    return reply;
  } catch (error) {
    return errorReply(mongod, error);
  }
}
