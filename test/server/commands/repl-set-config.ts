/**
 * `replSetGetConfig` (admin only): the one-member replica set's configuration as mongod 7.0
 * reports it (ReplSetConfig::toBSON), with the `replicaSetId` that identifies the deployment.
 * mongod draws the id when the set is initiated and keeps it in `local.system.replset`, so it
 * survives restarts and differs between two sets even when their names are the same: here it is
 * drawn once per server instance (kept by `restart()`).
 */
import { Double, Int32, Long, ObjectId } from 'bson';

import { type BDoc, type BValue, isNumber, toNumber } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';
import { type CommandHandler } from './context.js';

const replicaSetIds = new WeakMap<Mongod, ObjectId>();

/** The deployment's `settings.replicaSetId`, drawn on first use and fixed for the server. */
export function replicaSetId(mongod: Mongod): ObjectId {
  let id = replicaSetIds.get(mongod);
  if (!id) {
    id = new ObjectId();
    replicaSetIds.set(mongod, id);
  }
  return id;
}

/** The replica set configuration document. */
export function replSetConfig(mongod: Mongod): BDoc {
  const member = new Map<string, BValue>([
    ['_id', new Int32(0)],
    ['host', mongod.host],
    ['arbiterOnly', false],
    ['buildIndexes', true],
    ['hidden', false],
    ['priority', new Double(1)],
    ['tags', new Map()],
    // 5.0 renamed slaveDelay to secondaryDelaySecs.
    [mongod.profile.maxWireVersion >= 13 ? 'secondaryDelaySecs' : 'slaveDelay', Long.ZERO],
    ['votes', new Int32(1)]
  ]);
  const settings = new Map<string, BValue>([
    ['chainingAllowed', true],
    ['heartbeatIntervalMillis', new Int32(2000)],
    ['heartbeatTimeoutSecs', new Int32(10)],
    ['electionTimeoutMillis', new Int32(10000)],
    ['catchUpTimeoutMillis', new Int32(-1)],
    ['catchUpTakeoverDelayMillis', new Int32(30000)],
    ['getLastErrorModes', new Map()],
    [
      'getLastErrorDefaults',
      new Map<string, BValue>([
        ['w', new Int32(1)],
        ['wtimeout', new Int32(0)]
      ])
    ],
    ['replicaSetId', replicaSetId(mongod)]
  ]);
  return new Map<string, BValue>([
    ['_id', mongod.replSetName],
    ['version', new Int32(1)],
    ['term', new Int32(mongod.oplog.term)],
    ['members', [member]],
    ['protocolVersion', Long.ONE],
    ['writeConcernMajorityJournalDefault', true],
    ['settings', settings]
  ]);
}

const replSetGetConfig: CommandHandler = ctx => {
  if (ctx.db !== 'admin') {
    throw new ServerError(13, 'replSetGetConfig may only be run against the admin database.');
  }
  const reply = new Map<string, unknown>([['config', replSetConfig(ctx.mongod)]]);
  const commitmentStatus = ctx.cmd.get('commitmentStatus');
  if (
    commitmentStatus === true ||
    (isNumber(commitmentStatus) && toNumber(commitmentStatus) !== 0)
  ) {
    // The only config there is was committed when the set was initiated.
    reply.set('commitmentStatus', true);
  }
  return reply;
};

export const replSetConfigCommands: Record<string, CommandHandler> = { replSetGetConfig };
