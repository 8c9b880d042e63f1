/**
 * The 4.4-era `$v: 1` update oplog entry: `$set` of final values (dotted paths into embedded
 * documents and same-length arrays where that reproduces the post-image) and `$unset` of removed
 * fields. Modifiers can only create fields in lexicographic order after the existing ones, so a
 * level whose field order they cannot reproduce is set as a whole value.
 */
import { Int32 } from 'bson';

import { type BDoc, type BValue, compareStrings, valuesIdentical } from '../../bson/values.js';
import { applyModifiers } from './apply-update.js';
import { binaryEqual } from './binary-equal.js';

interface Ops {
  sets: [string, BValue][];
  unsets: string[];
}

/** Field names a dotted update path can name unambiguously. */
function nameable(name: string): boolean {
  return name !== '' && !name.includes('.') && !name.startsWith('$');
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

/** Changes of a value in place: recurse into containers, else set it whole. */
function diffValue(pre: BValue, post: BValue, path: string, ops: Ops): void {
  if (binaryEqual(pre, post)) return;
  if (pre instanceof Map && post instanceof Map) {
    const nested: Ops = { sets: [], unsets: [] };
    if (diffDoc(pre, post, path, nested)) {
      ops.sets.push(...nested.sets);
      ops.unsets.push(...nested.unsets);
      return;
    }
  } else if (Array.isArray(pre) && Array.isArray(post) && pre.length === post.length) {
    pre.forEach((v, i) => diffValue(v, post[i], join(path, String(i)), ops));
    return;
  }
  ops.sets.push([path, post]);
}

/** False when modifiers cannot turn `pre` into `post` at this level (field order). */
function diffDoc(pre: BDoc, post: BDoc, prefix: string, ops: Ops): boolean {
  const postKeys = [...post.keys()];
  const kept = [...pre.keys()].filter(k => post.has(k));
  if (kept.some((k, i) => postKeys[i] !== k)) return false;
  const added = postKeys.slice(kept.length);
  if (added.some((k, i) => i > 0 && compareStrings(added[i - 1]!, k) >= 0)) return false;
  const touched = [...pre.keys()].filter(
    k => !post.has(k) || !binaryEqual(pre.get(k), post.get(k))
  );
  if (![...touched, ...added].every(nameable)) return false;
  for (const k of pre.keys()) if (!post.has(k)) ops.unsets.push(join(prefix, k));
  for (const k of kept) diffValue(pre.get(k), post.get(k), join(prefix, k), ops);
  for (const k of added) ops.sets.push([join(prefix, k), post.get(k)]);
  return true;
}

/**
 * The `o` field of a `$v: 1` update entry turning `pre` into `post`, or null when no `$set` /
 * `$unset` reproduces `post` exactly (the caller then logs a replacement).
 */
export function computeUpdateV1(pre: BDoc, post: BDoc): BDoc | null {
  const ops: Ops = { sets: [], unsets: [] };
  if (!diffDoc(pre, post, '', ops)) return null;
  const modifiers: BDoc = new Map();
  if (ops.sets.length > 0) modifiers.set('$set', new Map(ops.sets));
  if (ops.unsets.length > 0) modifiers.set('$unset', new Map(ops.unsets.map(p => [p, true])));
  if (modifiers.size > 0) {
    // Verify by replaying: anything the modifiers cannot express exactly falls back to null.
    try {
      const replayed = applyModifiers(pre, modifiers, { now: new Date(0) });
      if (!valuesIdentical(replayed, post) || !binaryEqual(replayed, post)) return null;
    } catch {
      return null;
    }
  }
  return new Map<string, BValue>([['$v', new Int32(1)], ...modifiers]);
}
