/** Dotted-path helpers shared by the query, update and aggregation engines. */
import { type BDoc, type BValue, isDoc } from './values.js';

/** Splits `a.b.0` into its components; an empty component is kept so callers can reject it. */
export function splitPath(path: string): string[] {
  return path.split('.');
}

/** True when a path component addresses an array element (`0`, `12`; not `01` or `-1`). */
export function isArrayIndex(component: string): boolean {
  return /^(0|[1-9]\d*)$/.test(component);
}

/**
 * The value at `path` without expanding arrays: a numeric component indexes an array, any other
 * component on an array (or on a scalar) yields `undefined`. This is "the field" as `$set`,
 * `$unset`, sort keys of non-array data and `_id` extraction see it.
 */
export function getPath(doc: BDoc, path: string | string[]): BValue | undefined {
  const parts = typeof path === 'string' ? splitPath(path) : path;
  let current: BValue | undefined = doc;
  for (const part of parts) {
    if (isDoc(current)) current = current.get(part);
    else if (Array.isArray(current) && isArrayIndex(part)) current = current[Number(part)];
    else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

/** True when `path` exists in `doc` (a stored `null` exists; a missing field does not). */
export function hasPath(doc: BDoc, path: string | string[]): boolean {
  const parts = typeof path === 'string' ? splitPath(path) : path;
  let current: BValue | undefined = doc;
  for (const part of parts) {
    if (isDoc(current)) {
      if (!current.has(part)) return false;
      current = current.get(part);
    } else if (Array.isArray(current) && isArrayIndex(part) && Number(part) < current.length) {
      current = current[Number(part)];
    } else {
      return false;
    }
  }
  return true;
}
