/**
 * `$expr` inside a find filter: the aggregation expression is evaluated against the document and
 * its result taken as a boolean the way the expression language does.
 */
import { type BDoc, type BValue, isTruthy } from '../../bson/values.js';
import { evaluate } from '../aggregate/expressions.js';

/** A document test for `{$expr: expr}`. */
export function exprPredicate(expr: BValue): (doc: BDoc) => boolean {
  return doc => isTruthy(evaluate(expr, { root: doc }));
}
