/**
 * The update command's `arrayFilters` (ExpressionWithPlaceholder): each filter names one
 * identifier by its top-level field and is matched against `{<identifier>: element}`.
 */
import { type BDoc, type BValue } from '../../bson/values.js';
import { compileFilter, type Matcher } from '../query/matcher.js';
import { ServerError } from '../server-error.js';

/** The top-level field names a filter's paths start with ($and/$or/$nor recurse). */
function topLevelNames(filter: BDoc, out: Set<string>): void {
  for (const [key, value] of filter) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      if (Array.isArray(value)) {
        for (const member of value) if (member instanceof Map) topLevelNames(member, out);
      }
    } else if (!key.startsWith('$')) {
      out.add(key.split('.')[0]!);
    }
  }
}

/** Parses the arrayFilters into identifier → matcher, with mongod's parse errors. */
export function parseArrayFilters(filters: readonly BValue[] | undefined): Map<string, Matcher> {
  const out = new Map<string, Matcher>();
  for (const filter of filters ?? []) {
    if (!(filter instanceof Map)) {
      throw new ServerError(14, 'arrayFilters must be an array of objects');
    }
    const names = new Set<string>();
    topLevelNames(filter, names);
    if (names.size === 0) {
      throw new ServerError(
        9,
        'Cannot use an expression without a top-level field name in arrayFilters'
      );
    }
    if (names.size > 1) {
      const [a, b] = [...names];
      throw new ServerError(
        9,
        `Error parsing array filter :: caused by :: Expected a single top-level field name, found '${a}' and '${b}'`
      );
    }
    const identifier = [...names][0]!;
    if (!/^[a-z][a-zA-Z0-9]*$/.test(identifier)) {
      throw new ServerError(
        2,
        `Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '${identifier}'`
      );
    }
    if (out.has(identifier)) {
      throw new ServerError(
        9,
        `Found multiple array filters with the same top-level field name ${identifier}`
      );
    }
    out.set(identifier, compileFilter(filter));
  }
  return out;
}

/** True when array element `element` satisfies the filter bound to `identifier`. */
export function elementMatches(matcher: Matcher, identifier: string, element: BValue): boolean {
  return matcher.matches(new Map([[identifier, element]]));
}
