/**
 * mongod's match-time path traversal (`BSONElementIterator`): which values a dotted path yields
 * in a document, and at which index of the outermost array along the path each value was found
 * (the positional `$` index).
 */
import { isArrayIndex } from '../../bson/paths.js';
import type { BDoc, BValue } from '../../bson/values.js';

/** The value a path yields where the field does not exist (mongod's EOO element). */
export const MISSING: unique symbol = Symbol('missing');
export type Found = BValue | typeof MISSING;

/**
 * Receives one value the path yields and the outermost array index it came from; returns true to
 * stop the traversal (a match was found).
 */
export type Visitor = (value: Found, offset: number | undefined) => boolean;

/**
 * Calls `visit` for every value `parts` yields in `doc`, stopping at the first `true`.
 * `expandLeaf` is mongod's leaf-array traversal: a terminal array yields each element and then
 * the array itself; without it only the array itself is yielded.
 */
export function visitPath(
  doc: BDoc,
  parts: readonly string[],
  expandLeaf: boolean,
  visit: Visitor
): boolean {
  return walk(doc, parts, 0, expandLeaf, undefined, visit);
}

function walk(
  value: Found,
  parts: readonly string[],
  pos: number,
  expandLeaf: boolean,
  offset: number | undefined,
  visit: Visitor
): boolean {
  // Documents are walked without branching until an array or the end of the path.
  while (pos < parts.length && value instanceof Map) {
    const part = parts[pos] as string;
    const next = value.get(part);
    value = next === undefined && !value.has(part) ? MISSING : next;
    pos++;
  }
  if (pos === parts.length) {
    if (expandLeaf && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        if (visit(value[i], offset ?? i)) return true;
      }
    }
    return visit(value, offset);
  }
  if (!Array.isArray(value)) {
    // A scalar (or nothing) before the end of the path: the field is missing.
    return visit(MISSING, offset);
  }
  return walkArray(value, parts, pos, expandLeaf, offset, visit);
}

/** An array in the middle of a path: documents inside it are searched, other values skipped. */
function walkArray(
  array: BValue[],
  parts: readonly string[],
  pos: number,
  expandLeaf: boolean,
  offset: number | undefined,
  visit: Visitor
): boolean {
  const part = parts[pos] as string;
  const index = isArrayIndex(part) ? Number(part) : -1;
  for (let i = 0; i < array.length; i++) {
    const element = array[i];
    const at = offset ?? i;
    // A numeric component is both a field name inside embedded documents and an array index.
    if (element instanceof Map && walk(element, parts, pos, expandLeaf, at, visit)) return true;
    if (i !== index) continue;
    if (pos + 1 === parts.length) {
      // The path ends at the indexed element: it is yielded as is, even when it is an array.
      if (visit(element, at)) return true;
    } else if (element instanceof Map) {
      if (walk(element, parts, pos + 1, expandLeaf, at, visit)) return true;
    } else if (Array.isArray(element)) {
      if (walkArray(element, parts, pos + 1, expandLeaf, at, visit)) return true;
    }
  }
  return false;
}

/** Every value `parts` yields in `doc` (for diagnostics and tests). */
export function collectPath(doc: BDoc, parts: readonly string[], expandLeaf = true): Found[] {
  const out: Found[] = [];
  visitPath(doc, parts, expandLeaf, value => {
    out.push(value);
    return false;
  });
  return out;
}
