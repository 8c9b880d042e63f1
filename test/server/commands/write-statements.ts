/**
 * The statements of `update` and `delete`, parsed in two steps as mongod does: the command's IDL
 * parse checks every statement's fields and types before anything runs (a bad statement fails
 * the whole command: `BSON field 'update.updates.sort' is an unknown field.`), and the rest is
 * checked when the statement runs (a write error at its index).
 */
import { type BDoc, type BValue, isDoc, isNumber, toNumber, typeAlias } from '../bson/values.js';
import { parseLetVariables } from '../engine/aggregate/let-variables.js';
import { ServerError } from '../engine/server-error.js';
import { checkHint } from '../mongod/read-path.js';
import { type UpdateSpec } from '../mongod/write-path.js';
import { type CommandContext, effectiveCollation } from './context.js';

/** Update statement fields by version: `c` came with 5.0; `sort` (8.0) is unknown to all here. */
function updateStatementFields(maxWireVersion: number): string[] {
  const fields = ['q', 'u', 'upsert', 'multi', 'arrayFilters', 'hint', 'collation'];
  if (maxWireVersion >= 13) fields.push('c', 'upsertSupplied');
  return fields;
}

const DELETE_STATEMENT_FIELDS = ['q', 'limit', 'hint', 'collation'];

function checkStatement(raw: BValue, path: string, allowed: readonly string[]): BDoc {
  if (!isDoc(raw)) {
    throw new ServerError(
      14,
      `BSON field '${path}' is the wrong type '${typeAlias(raw)}', expected type 'object'`
    );
  }
  for (const key of raw.keys()) {
    if (!allowed.includes(key)) {
      throw new ServerError(40415, `BSON field '${path}.${key}' is an unknown field.`);
    }
  }
  return raw;
}

function wrongType(path: string, value: BValue, expected: string): ServerError {
  return new ServerError(
    14,
    `BSON field '${path}' is the wrong type '${typeAlias(value)}', expected type '${expected}'`
  );
}

/** An update statement after the IDL parse: fields and types checked. */
export interface UpdateStatement {
  readonly raw: BDoc;
  readonly q: BDoc;
  readonly u: BDoc | BDoc[];
}

/** Checks every statement of `update.updates` (whole-command errors). */
export function parseUpdateStatements(
  ctx: CommandContext,
  statements: BValue[]
): UpdateStatement[] {
  const allowed = updateStatementFields(ctx.mongod.profile.maxWireVersion);
  return statements.map(value => {
    const raw = checkStatement(value, 'update.updates', allowed);
    const q = raw.get('q');
    const u = raw.get('u');
    if (q === undefined) {
      throw new ServerError(
        40414,
        "BSON field 'update.updates.q' is missing but a required field",
        {
          codeName: 'Location40414'
        }
      );
    }
    if (!isDoc(q)) throw wrongType('update.updates.q', q, 'object');
    if (u === undefined) {
      throw new ServerError(
        40414,
        "BSON field 'update.updates.u' is missing but a required field",
        {
          codeName: 'Location40414'
        }
      );
    }
    if (!isDoc(u) && !Array.isArray(u)) throw wrongType('update.updates.u', u, 'object');
    const c = raw.get('c');
    if (c !== undefined && !isDoc(c)) throw wrongType('update.updates.c', c, 'object');
    return { raw, q, u: Array.isArray(u) ? (u as BDoc[]) : u };
  });
}

/**
 * The statement as the write path runs it, with the checks mongod makes when it executes the
 * statement. `letVars` are the command's `let`; `c` adds constants for a pipeline update.
 */
export function updateSpecOf(
  ctx: CommandContext,
  coll: string,
  statement: UpdateStatement,
  letVars: Map<string, BValue> | undefined
): UpdateSpec {
  const { raw, q, u } = statement;
  const collation = effectiveCollation(ctx.mongod, ctx.db, coll, raw.get('collation'));
  const multi = raw.get('multi') === true;
  if (multi && !Array.isArray(u) && u.size > 0 && !String(u.keys().next().value).startsWith('$')) {
    throw new ServerError(9, 'multi update is not supported for replacement-style update');
  }
  checkHint(ctx.mongod, ctx.db, coll, raw.get('hint'));
  let updateVars = letVars;
  const constants = raw.get('c');
  if (constants !== undefined) {
    if (!Array.isArray(u)) {
      throw new ServerError(51198, 'Constant values may only be specified for pipeline updates');
    }
    updateVars = new Map([...(letVars ?? []), ...parseLetVariables(constants, 'update.updates.c')]);
  }
  const arrayFilters = raw.get('arrayFilters');
  return {
    q,
    u,
    upsert: raw.get('upsert') === true,
    multi,
    arrayFilters: Array.isArray(arrayFilters) ? (arrayFilters as BDoc[]) : undefined,
    filterVars: letVars,
    updateVars,
    collation
  };
}

/** A delete statement after the IDL parse. */
export interface DeleteStatement {
  readonly raw: BDoc;
  readonly q: BDoc;
  readonly limit: BValue;
}

/** Checks every statement of `delete.deletes` (whole-command errors). */
export function parseDeleteStatements(statements: BValue[]): DeleteStatement[] {
  return statements.map(value => {
    const raw = checkStatement(value, 'delete.deletes', DELETE_STATEMENT_FIELDS);
    const q = raw.get('q');
    const limit = raw.get('limit');
    if (q === undefined) {
      throw new ServerError(
        40414,
        "BSON field 'delete.deletes.q' is missing but a required field",
        {
          codeName: 'Location40414'
        }
      );
    }
    if (!isDoc(q)) throw wrongType('delete.deletes.q', q, 'object');
    if (limit === undefined) {
      throw new ServerError(
        40414,
        "BSON field 'delete.deletes.limit' is missing but a required field",
        { codeName: 'Location40414' }
      );
    }
    if (!isNumber(limit)) throw wrongType('delete.deletes.limit', limit, 'long');
    return { raw, q, limit };
  });
}

/** The `limit` of a delete statement (0 = all, 1 = one), checked when the statement runs. */
export function deleteLimitOf(statement: DeleteStatement): number {
  const n = toNumber(statement.limit);
  if (n !== 0 && n !== 1) {
    throw new ServerError(9, `The limit field in delete objects must be 0 or 1. Got ${n}`);
  }
  return n;
}
