/**
 * A command's `let` (find, aggregate, update, delete, findAndModify; MongoDB 5.0+) and an update
 * statement's `c`: constants evaluated once, before any document is read, as mongod's
 * `Variables::seedVariablesWithLetParameters` does (src/mongo/db/pipeline/variables.cpp). Each
 * value is an expression that may use `$$NOW` and the variables defined before it, but no field
 * of a document.
 */
import { type BDoc, type BValue, isDoc, typeAlias } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import { compileExpression, makeScope, MISSING, validateVariableName } from './expressions.js';

/** System variables a `let` may only set from an internal client (mongos, another shard). */
const INTERNAL_CONSTANTS = new Set(['NOW', 'CLUSTER_TIME', 'JS_SCOPE', 'IS_MR', 'USER_ROLES']);

/** Evaluates `let` (or `c`) into the variables it defines; `field` names it in type errors. */
export function parseLetVariables(
  spec: BValue,
  field: string,
  now: Date = new Date()
): Map<string, BValue> {
  if (!isDoc(spec)) {
    throw new ServerError(
      14,
      `BSON field '${field}' is the wrong type '${typeAlias(spec)}', expected type 'object'`
    );
  }
  const vars = new Map<string, BValue>();
  for (const [name, expr] of spec) {
    checkName(name);
    if (readsDocument(expr)) {
      // sic: mongod's message lacks the space between the two sentences.
      throw new ServerError(
        4890500,
        'Command let Expression tried to access a field, but this is not allowed because' +
          'Command let Expressions run before the query examines any documents.'
      );
    }
    const value = compileExpression(expr, vars.keys())(makeScope(new Map(), vars, now));
    vars.set(name, value === MISSING ? undefined : value);
  }
  return vars;
}

function checkName(name: string): void {
  if (INTERNAL_CONSTANTS.has(name)) {
    throw new ServerError(4738901, `Attempt to set internal constant: ${name}`);
  }
  try {
    validateVariableName(name);
  } catch (error) {
    if (!(error instanceof ServerError)) throw error;
    throw new ServerError(error.code, `Invalid 'let' parameter :: caused by :: ${error.message}`);
  }
}

/**
 * True when an expression depends on the document: a field path, `$$ROOT` or `$$CURRENT`
 * (mongod's "has no requirements" dependency check). `$literal` arguments are values.
 */
function readsDocument(expr: BValue): boolean {
  if (typeof expr === 'string') {
    if (expr.startsWith('$$')) return /^\$\$(ROOT|CURRENT)(\.|$)/.test(expr);
    return expr.startsWith('$');
  }
  if (Array.isArray(expr)) return expr.some(readsDocument);
  if (isDoc(expr)) {
    if (expr.size === 1 && expr.has('$literal')) return false;
    for (const value of (expr as BDoc).values()) if (readsDocument(value)) return true;
  }
  return false;
}
