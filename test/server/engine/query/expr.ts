/**
 * `$expr` inside a find filter: the aggregation expression is compiled once (with the command's
 * `let` variables in scope) and its result taken as a boolean the way the expression language
 * does.
 */
import { type BDoc, type BValue, isTruthy } from '../../bson/values.js';
import { compileExpression, makeScope, MISSING } from '../aggregate/expressions.js';

const NO_VARIABLES: ReadonlyMap<string, BValue> = new Map();

/** A document test for `{$expr: expr}`; `vars` are constants such as the command's `let`. */
export function exprPredicate(
  expr: BValue,
  vars: ReadonlyMap<string, BValue> = NO_VARIABLES
): (doc: BDoc) => boolean {
  const compiled = compileExpression(expr, vars.keys());
  const scopeVars = new Map(vars);
  return doc => {
    const value = compiled(makeScope(doc, scopeVars));
    return value !== MISSING && isTruthy(value);
  };
}
