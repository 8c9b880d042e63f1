/**
 * Write concerns a single-member replica set cannot satisfy. mongod performs the write, then
 * fails waiting for the write concern (`checkIfWriteConcernCanBeSatisfied` in the replication
 * coordinator) and reports it as a `writeConcernError`, not as a command error:
 * `{code: 100, codeName: 'UnsatisfiableWriteConcern', errmsg: 'Not enough data-bearing nodes',
 * errInfo: {writeConcern: {w, [j], wtimeout, provenance: 'clientSupplied'}}}`.
 */
import { Int32 } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';

/** Commands that accept a write concern and wait for it (`supportsWriteConcern`). */
const WRITE_CONCERN_COMMANDS = new Set([
  'insert',
  'update',
  'delete',
  'findAndModify',
  'findandmodify',
  'create',
  'drop',
  'dropDatabase',
  'createIndexes',
  'dropIndexes',
  'collMod',
  'renameCollection',
  'commitTransaction',
  'abortTransaction'
]);

/** True for an aggregate that writes (`$out` or `$merge` last), which waits for write concern. */
function writesAggregate(cmd: BDoc): boolean {
  const pipeline = cmd.get('pipeline');
  const last = Array.isArray(pipeline) ? pipeline.at(-1) : undefined;
  return isDoc(last) && (last.has('$out') || last.has('$merge'));
}

/** The `writeConcernError` mongod adds for a `w` above the one data-bearing member, if any. */
export function unsatisfiableWriteConcern(name: string, cmd: BDoc): BDoc | undefined {
  if (!WRITE_CONCERN_COMMANDS.has(name) && !(name === 'aggregate' && writesAggregate(cmd))) {
    return undefined;
  }
  const writeConcern = cmd.get('writeConcern');
  if (!isDoc(writeConcern)) return undefined;
  const w = writeConcern.get('w');
  if (!isNumber(w) || toNumber(w) <= 1) return undefined;
  const echoed: BDoc = new Map<string, BValue>([['w', new Int32(toNumber(w))]]);
  const j = writeConcern.get('j');
  if (typeof j === 'boolean') echoed.set('j', j);
  const wtimeout = writeConcern.get('wtimeout');
  echoed.set('wtimeout', new Int32(isNumber(wtimeout) ? toNumber(wtimeout) : 0));
  echoed.set('provenance', 'clientSupplied');
  return new Map<string, BValue>([
    ['code', new Int32(100)],
    ['codeName', 'UnsatisfiableWriteConcern'],
    ['errmsg', 'Not enough data-bearing nodes'],
    ['errInfo', new Map([['writeConcern', echoed]])]
  ]);
}
