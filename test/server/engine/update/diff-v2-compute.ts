/**
 * The `$v: 2` delta oplog entry mongod logs for an update (document_diff_calculator.cpp): fields
 * are compared in order; a field moved or added is re-inserted at the end (`i`), a changed field
 * kept in place is updated (`u`), and embedded documents/arrays changed in place get a sub-diff
 * (`s<field>`) when that is smaller than the new value. The whole diff is used only when it plus
 * the entry's 15 bytes of metadata is smaller than the post-image; otherwise mongod logs a
 * replacement.
 */
import { Int32 } from 'bson';

import { bsonSize } from '../../bson/codec.js';
import { type BDoc, type BValue, compareStrings } from '../../bson/values.js';
import { binaryEqual } from './binary-equal.js';

/** update_oplog_entry::kSizeOfDeltaOplogEntryMetadata. */
const DELTA_METADATA_BYTES = 15;

interface DocNode {
  readonly kind: 'doc';
  readonly deletes: string[];
  readonly updates: [string, BValue][];
  readonly inserts: [string, BValue][];
  readonly subs: [string, DiffNode][];
}
interface ArrayNode {
  readonly kind: 'array';
  resize: number | undefined;
  readonly entries: [number, { update: BValue } | { sub: DiffNode }][];
}
type DiffNode = DocNode | ArrayNode;

function serialize(node: DiffNode): BDoc {
  const out: BDoc = new Map();
  if (node.kind === 'array') {
    out.set('a', true);
    if (node.resize !== undefined) out.set('l', new Int32(node.resize));
    for (const [index, entry] of node.entries) {
      if ('update' in entry) out.set(`u${index}`, entry.update);
      else out.set(`s${index}`, serialize(entry.sub));
    }
    return out;
  }
  if (node.deletes.length > 0) out.set('d', new Map(node.deletes.map(k => [k, false])));
  if (node.updates.length > 0) out.set('u', new Map(node.updates));
  if (node.inserts.length > 0) out.set('i', new Map(node.inserts));
  for (const [field, sub] of node.subs) out.set(`s${field}`, serialize(sub));
  return out;
}

function arraySize(array: BValue[]): number {
  return bsonSize(new Map(array.map((v, i) => [String(i), v])));
}

function isContainerPair(a: BValue, b: BValue): boolean {
  return (a instanceof Map && b instanceof Map) || (Array.isArray(a) && Array.isArray(b));
}

/** A sub-diff of two documents or two arrays, or null when the new value is smaller. */
function subDiff(pre: BValue, post: BValue, limited: boolean): DiffNode | null {
  return pre instanceof Map
    ? docDiff(pre, post as BDoc, 0, limited)
    : arrayDiff(pre as BValue[], post as BValue[], limited);
}

function arrayDiff(pre: BValue[], post: BValue[], limited: boolean): ArrayNode | null {
  const node: ArrayNode = { kind: 'array', resize: undefined, entries: [] };
  const common = Math.min(pre.length, post.length);
  for (let i = 0; i < common; i++) {
    const a = pre[i];
    const b = post[i];
    if (binaryEqual(a, b)) continue;
    const sub = isContainerPair(a, b) ? subDiff(a, b, limited) : null;
    node.entries.push([i, sub ? { sub } : { update: b }]);
  }
  for (let i = common; i < post.length; i++) node.entries.push([i, { update: post[i] }]);
  if (pre.length > post.length) node.resize = post.length;
  return !limited || bsonSize(serialize(node)) < arraySize(post) ? node : null;
}

function docDiff(pre: BDoc, post: BDoc, padding: number, limited: boolean): DocNode | null {
  const node: DocNode = { kind: 'doc', deletes: [], updates: [], inserts: [], subs: [] };
  const before = [...pre];
  const after = [...post];
  // Fields skipped in the pre-image: deleted unless they reappear later in the post-image.
  const skipped = new Set<string>();
  let p = 0;
  let q = 0;
  while (p < before.length && q < after.length) {
    const [preKey, preValue] = before[p]!;
    const [postKey, postValue] = after[q]!;
    if (preKey !== postKey) {
      skipped.add(preKey);
      p++;
      continue;
    }
    if (!binaryEqual(preValue, postValue)) {
      const sub = isContainerPair(preValue, postValue)
        ? subDiff(preValue, postValue, limited)
        : null;
      if (sub) node.subs.push([preKey, sub]);
      else node.updates.push([preKey, postValue]);
    }
    p++;
    q++;
  }
  for (; p < before.length; p++) node.deletes.push(before[p]![0]);
  for (; q < after.length; q++) {
    node.inserts.push(after[q]!);
    skipped.delete(after[q]![0]);
  }
  // mongod keeps these in a std::set: they are logged in byte order after the trailing deletes.
  node.deletes.push(...[...skipped].sort(compareStrings));
  return !limited || bsonSize(serialize(node)) + padding < bsonSize(post) ? node : null;
}

/**
 * The `o` field of a `$v: 2` update oplog entry turning `pre` into `post`, or null when mongod
 * would log the full post-image instead. Identical documents give an empty diff.
 *
 * `sizeLimited` (pipeline updates, mongod's diff calculator) falls back to whole values and to a
 * replacement when they are smaller. Operator updates pass `false`: mongod's update tree always
 * logs them as a diff, however small the document.
 */
export function computeDiffV2(
  pre: BDoc,
  post: BDoc,
  options: { sizeLimited?: boolean } = {}
): BDoc | null {
  const limited = options.sizeLimited ?? true;
  let diff: BDoc = new Map();
  if (!binaryEqual(pre, post)) {
    const node = docDiff(pre, post, DELTA_METADATA_BYTES, limited);
    if (!node) return null;
    diff = serialize(node);
  }
  return new Map<string, BValue>([
    ['$v', new Int32(2)],
    ['diff', diff]
  ]);
}
