/**
 * Random documents and edits for the diff translation property tests, adapted from the test
 * server's test/server/unit/update/random-docs.ts: no integer-like field names (plain objects
 * reorder those), plus names with a dot or a leading `$`, which force the `$replaceWith` form.
 */
import { Decimal128, Double, Int32, Long } from 'bson';

import { type BDoc, type BValue } from '../../server/bson/values.js';
import { computeDiffV2 } from '../../server/engine/update/oplog-diff.js';
import { prng } from '../../server/unit/update/random-docs.js';

export { prng };

const PLAIN_KEYS = ['a', 'b', 'c', 'd', 'e', 'A', 'é', 'ab', 'b_'];
const ODD_KEYS = ['x.y', '$z'];

const pick = <T>(rng: () => number, items: readonly T[]): T =>
  items[Math.floor(rng() * items.length)]!;

export interface Shape {
  /** Whether field names with a dot or a leading `$` may appear. */
  readonly oddKeys: boolean;
  /** Whether arrays should be frequent (array diffs are otherwise rare). */
  readonly arrays?: boolean;
}

export class RandomDocs {
  readonly #keys: string[];
  readonly #scalarBelow: number;
  readonly #docBelow: number;

  constructor(
    readonly rng: () => number,
    shape: Shape
  ) {
    this.#keys = shape.oddKeys ? [...PLAIN_KEYS, ...ODD_KEYS] : PLAIN_KEYS;
    [this.#scalarBelow, this.#docBelow] = shape.arrays ? [0.3, 0.5] : [0.55, 0.78];
  }

  /** A field name; never `$`-prefixed at the top level, which mongod refuses to store. */
  key(top = false): string {
    const key = pick(this.rng, this.#keys);
    return top && key.startsWith('$') ? 'a' : key;
  }

  scalar(): BValue {
    const rng = this.rng;
    const n = Math.floor(rng() * 5) - 1;
    return pick(rng, [
      new Int32(n),
      new Double(n),
      new Double(n + 0.5),
      Long.fromNumber(n),
      Decimal128.fromString(String(n)),
      'x'.repeat(Math.floor(rng() * 40)),
      '$notAPath',
      rng() < 0.5,
      null,
      new Date(Math.floor(rng() * 1000))
    ]);
  }

  value(depth: number): BValue {
    const r = this.rng();
    if (depth <= 0 || r < this.#scalarBelow) return this.scalar();
    if (r < this.#docBelow) return this.doc(depth - 1);
    return Array.from({ length: Math.floor(this.rng() * 6) }, () => this.value(depth - 1));
  }

  doc(depth: number, top = false): BDoc {
    const doc: BDoc = new Map();
    const size = Math.floor(this.rng() * 6);
    for (let i = 0; i < size; i++) doc.set(this.key(top), this.value(depth));
    return doc;
  }

  mutate(value: BValue, depth: number): BValue {
    const rng = this.rng;
    if (rng() < 0.15) return this.value(depth);
    if (value instanceof Map) return this.mutateDoc(value, depth);
    if (Array.isArray(value)) return this.mutateArray(value, depth);
    return rng() < 0.5 ? value : this.scalar();
  }

  mutateArray(value: BValue[], depth: number): BValue[] {
    const rng = this.rng;
    {
      let out = value.map(v => (rng() < 0.3 ? this.mutate(v, depth - 1) : v));
      const r = rng();
      if (r < 0.2) out = out.slice(0, Math.floor(rng() * out.length));
      else if (r < 0.4) out.push(this.value(depth - 1));
      else if (r < 0.5) out.push(this.value(depth - 1), this.value(depth - 1));
      else if (r < 0.55) out.splice(Math.floor(rng() * out.length), 1);
      return out;
    }
  }

  mutateDoc(doc: BDoc, depth: number, top = doc.has('_id')): BDoc {
    const rng = this.rng;
    let entries: [string, BValue][] = [];
    for (const [k, v] of doc) {
      const r = rng();
      if (r < 0.15 && k !== '_id') continue;
      entries.push([k, r < 0.5 && k !== '_id' ? this.mutate(v, depth - 1) : v]);
    }
    const r = rng();
    if (r < 0.2 && entries.length > 1) {
      const [moved] = entries.splice(Math.floor(rng() * entries.length), 1);
      entries.push(moved!);
    } else if (r < 0.3) {
      entries = entries.sort(() => rng() - 0.5);
    }
    const out: BDoc = new Map(entries);
    const added = Math.floor(rng() * 3);
    for (let i = 0; i < added; i++) out.set(this.key(top), this.value(depth - 1));
    // _id first, as in stored documents.
    const id = out.get('_id');
    if (id !== undefined) {
      out.delete('_id');
      return new Map([['_id', id], ...out]);
    }
    return out;
  }
}

/** A random `[pre, post]` pair with the same `_id`, and the generator for more edits. */
export function prePost(seed: number, depth: number, shape: Shape): [BDoc, BDoc, RandomDocs] {
  const docs = new RandomDocs(prng(seed), shape);
  const pre: BDoc = new Map([['_id', new Int32(seed & 0xff)], ...docs.doc(depth, true)]);
  return [pre, docs.mutateDoc(pre, depth), docs];
}

/** A document holding one array, and a version where that array was edited in place. */
export function arrayPrePost(seed: number, depth: number): [BDoc, BDoc, RandomDocs] {
  const docs = new RandomDocs(prng(seed), { oddKeys: false, arrays: true });
  // Small seeds give a few tiny first draws from xorshift; skip them.
  for (let i = 0; i < 4; i++) docs.rng();
  const length = Math.floor(docs.rng() * 8);
  const array = Array.from({ length }, () => docs.value(depth - 1));
  const id = new Int32(seed & 0xff);
  const pre: BDoc = new Map<string, BValue>([
    ['_id', id],
    ['arr', array],
    ['z', 'x'.repeat(10)]
  ]);
  const post: BDoc = new Map<string, BValue>([
    ['_id', id],
    ['arr', docs.mutateArray(array, depth)],
    ['z', 'x'.repeat(10)]
  ]);
  return [pre, post, docs];
}

/**
 * The `$v: 2` diffs mongod would log for `pre` → `post`: unlimited, and size-limited (pipelines).
 * None when nothing changed: mongod logs no entry for a no-op update (and refuses an empty diff).
 */
export function diffsOf(pre: BDoc, post: BDoc): BDoc[] {
  const out: BDoc[] = [];
  for (const sizeLimited of [false, true]) {
    const o = computeDiffV2(pre, post, { sizeLimited });
    const diff = o?.get('diff') as BDoc | undefined;
    if (diff !== undefined && diff.size > 0) out.push(diff);
  }
  return out;
}
