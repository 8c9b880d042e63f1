/**
 * The find filter matcher: `compileFilter` parses a filter once (throwing mongod's errors) and
 * returns a matcher that also reports the positional `$` index for update and projection.
 */
import type { BDoc } from '../../bson/values.js';
import { type FilterVariables, parseFilter } from './parse.js';
import type { Rec } from './predicates.js';

export interface Matcher {
  matches(doc: BDoc): boolean;
  /**
   * Like `matches`, plus `arrayIndex`: the index, in the first array along the matched path, of
   * the element that made the match (mongod's elemMatchKey), when there is one.
   */
  matchPosition(doc: BDoc): { matched: boolean; arrayIndex?: number };
}

/**
 * Compiles a find filter; unsupported operators throw here rather than match wrongly later.
 * `vars` are the constants its `$expr` clauses may read (a command's `let`).
 */
export function compileFilter(filter: BDoc, vars?: FilterVariables): Matcher {
  const predicate = parseFilter(filter, 'top', vars);
  return {
    matches: doc => predicate(doc, null),
    matchPosition: doc => {
      const rec: Rec = { index: undefined };
      const matched = predicate(doc, rec);
      return matched && rec.index !== undefined ? { matched, arrayIndex: rec.index } : { matched };
    }
  };
}
