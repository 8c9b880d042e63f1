/**
 * The first stages of a collectionless `{aggregate: 1}`: `$documents` (5.1+;
 * document_source_documents.cpp) and `$listLocalSessions` (document_source_list_local_sessions.cpp).
 */
import { createHash } from 'node:crypto';

import { Binary } from 'bson';

import { type BDoc, type BValue, isDoc, typeAlias } from '../bson/values.js';
import { compileExpression, makeScope, MISSING } from '../engine/aggregate/expressions.js';
import { debugString } from '../engine/aggregate/format.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';

/**
 * `$documents: <expression>`: mongod expands it to a queue of one empty document, a projection
 * of the expression, a strict `$unwind` (5858203 unless it is an array) and a `$replaceRoot`
 * (40228 unless each element is an object).
 */
export function documentsStage(spec: BValue, vars: Map<string, BValue> | undefined): BDoc[] {
  const value = compileExpression(spec, vars?.keys() ?? [])(makeScope(new Map(), vars));
  if (!Array.isArray(value)) throw new ServerError(5858203, 'an array is expected');
  return value.map(element => {
    if (!isDoc(element)) {
      throw new ServerError(
        40228,
        `'newRoot' expression  must evaluate to an object, but resulting value was: ${debugString(element === undefined ? MISSING : element)}. Type of resulting value: '${typeAlias(element)}'.`
      );
    }
    return element;
  });
}

/** A user's session digest, as `getLogicalSessionUserDigestFor` computes it. */
function userDigest(user: string, db: string): string {
  const name = user === '' && db === '' ? '' : `${user}@${db}`;
  return createHash('sha256').update(name).digest('hex');
}

/** Parses the ListSessionsSpec: `{}`, `{allUsers: true}` or `{users: [{user, db}, ...]}`. */
function selectedDigests(spec: BValue): Set<string> | 'all' {
  if (!isDoc(spec)) {
    throw new ServerError(
      14,
      `$listLocalSessions options must be specified in an object, but found: ${typeAlias(spec)}`
    );
  }
  for (const key of spec.keys()) {
    if (key !== 'allUsers' && key !== 'users' && key !== '$_internalPredicate') {
      throw new ServerError(40415, `BSON field '$listLocalSessions.${key}' is an unknown field.`);
    }
  }
  const allUsers = spec.get('allUsers') === true;
  const users = spec.get('users');
  if (users !== undefined && !Array.isArray(users)) {
    throw new ServerError(
      14,
      `BSON field '$listLocalSessions.users' is the wrong type '${typeAlias(users)}', expected type 'array'`
    );
  }
  if (allUsers && Array.isArray(users) && users.length > 0) {
    throw new ServerError(
      12,
      '$listLocalSessions may not specify {allUsers:true} and {users:[...]} at the same time'
    );
  }
  if (allUsers) return 'all';
  // No users means the current one: without authentication, the user '' of database ''.
  const list =
    Array.isArray(users) && users.length > 0
      ? users
      : [
          new Map([
            ['user', ''],
            ['db', '']
          ])
        ];
  return new Set(
    list.map(entry => {
      const user = isDoc(entry) ? entry.get('user') : undefined;
      const db = isDoc(entry) ? entry.get('db') : undefined;
      return userDigest(typeof user === 'string' ? user : '', typeof db === 'string' ? db : '');
    })
  );
}

/** The sessions this server knows, as LogicalSessionRecord documents `{_id: {id, uid}, lastUse}`. */
export function listLocalSessionsStage(mongod: Mongod, spec: BValue): BDoc[] {
  const digests = selectedDigests(spec);
  const out: BDoc[] = [];
  for (const session of mongod.sessions.list()) {
    const uid = session.lsid.get('uid');
    const hex =
      uid instanceof Binary
        ? Buffer.from(uid.buffer.subarray(0, uid.position)).toString('hex')
        : '';
    if (digests !== 'all' && !digests.has(hex)) continue;
    out.push(
      new Map<string, BValue>([
        ['_id', session.lsid],
        ['lastUse', session.lastUse]
      ])
    );
  }
  return out;
}
