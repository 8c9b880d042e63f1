/**
 * Random documents and random edits of them for the oplog diff property tests: nested documents
 * and arrays, mixed BSON types (int32 1 vs double 1.0 vs long 1), deletions, additions,
 * type changes and field reorders.
 */
import { Decimal128, Double, Int32, Long } from 'bson';
import fc from 'fast-check';

import type { BDoc, BValue } from '../../bson/values.js';

const KEYS = ['a', 'b', 'c', 'd', 'e', '0', '1', '10', '9', 'A', 'é'];

/** A small deterministic PRNG so one fast-check seed reproduces the whole edit. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const pick = <T>(rng: () => number, items: readonly T[]): T =>
  items[Math.floor(rng() * items.length)]!;

function randomScalar(rng: () => number): BValue {
  const n = Math.floor(rng() * 5) - 1;
  return pick(rng, [
    new Int32(n),
    new Double(n),
    new Double(n + 0.5),
    Long.fromNumber(n),
    Decimal128.fromString(String(n)),
    'x'.repeat(Math.floor(rng() * 40)),
    rng() < 0.5,
    null,
    new Date(Math.floor(rng() * 1000))
  ]);
}

export function randomValue(rng: () => number, depth: number): BValue {
  const r = rng();
  if (depth <= 0 || r < 0.6) return randomScalar(rng);
  if (r < 0.8) return randomDoc(rng, depth - 1);
  return Array.from({ length: Math.floor(rng() * 5) }, () => randomValue(rng, depth - 1));
}

export function randomDoc(rng: () => number, depth: number): BDoc {
  const doc: BDoc = new Map();
  const size = Math.floor(rng() * 6);
  for (let i = 0; i < size; i++) doc.set(pick(rng, KEYS), randomValue(rng, depth));
  return doc;
}

/** A new value derived from `value`: mostly small changes, sometimes a wholesale replacement. */
export function mutate(value: BValue, rng: () => number, depth: number): BValue {
  if (rng() < 0.15) return randomValue(rng, depth);
  if (value instanceof Map) return mutateDoc(value, rng, depth);
  if (Array.isArray(value)) {
    let out = value.map(v => (rng() < 0.3 ? mutate(v, rng, depth - 1) : v));
    const r = rng();
    if (r < 0.25) out = out.slice(0, Math.floor(rng() * out.length));
    else if (r < 0.5) out.push(randomValue(rng, depth - 1));
    return out;
  }
  return rng() < 0.5 ? value : randomScalar(rng);
}

export function mutateDoc(doc: BDoc, rng: () => number, depth: number): BDoc {
  let entries: [string, BValue][] = [];
  for (const [k, v] of doc) {
    const r = rng();
    if (r < 0.15) continue;
    entries.push([k, r < 0.5 ? mutate(v, rng, depth - 1) : v]);
  }
  const r = rng();
  if (r < 0.2 && entries.length > 1) {
    // Move one field to the end (what $rename and pipelines do to order).
    const [moved] = entries.splice(Math.floor(rng() * entries.length), 1);
    entries.push(moved!);
  } else if (r < 0.3) {
    entries = entries.sort(() => rng() - 0.5);
  }
  const out: BDoc = new Map(entries);
  if (rng() < 0.3) out.set(pick(rng, KEYS), randomValue(rng, depth - 1));
  return out;
}

/** fast-check arbitrary of `[pre, post]` pairs. */
export const prePost = fc
  .tuple(fc.integer(), fc.integer({ min: 1, max: 4 }))
  .map(([seed, depth]) => {
    const rng = prng(seed);
    const pre = randomDoc(rng, depth);
    pre.set('_id', new Int32(seed & 0xff));
    const post = mutateDoc(pre, rng, depth);
    post.set('_id', pre.get('_id'));
    return [pre, post] as [BDoc, BDoc];
  });
