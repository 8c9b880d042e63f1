/**
 * mongod's `$v: 2` diff application (`document_diff_applier.cpp`) on a decoded document, for the
 * diffs no update the target can run expresses: a binary section `b` (`{o: offset, d: BinData}`:
 * the field's bytes up to `o`, then `d`), which time-series buckets of recent servers log, and
 * aggregation has no operator to edit bytes with. The applier reads the document, applies the
 * diff here and writes the result back.
 *
 * Rules, as mongod applies them: fields keep their order; `d` removes (absent: ignored); `u`
 * replaces in place, or appends when absent; `i` always appends; a sub-diff (`s<field>`) or a
 * binary diff applies to a value of the right type, turns one of another type into `null` (a
 * later entry is bound to overwrite it: this is a replay), and leaves an absent field absent;
 * new fields are appended `u` first, then `i`, each in diff order. In arrays, `u<n>` overwrites,
 * `s<n>` sub-diffs (`null` past the end or on another type), and `l` truncates or pads with
 * `null`.
 */
import { Binary, type Document } from 'mongodb';

import { isDocument, numberOf } from './oplog-entry.js';

/**
 * The diff has a section only {@link applyDiffToDocument} can apply (a binary diff `b`).
 * @internal
 */
export function needsPreImage(diff: Document): boolean {
  for (const [key, value] of Object.entries(diff)) {
    if (key === 'b') return true;
    if (key.startsWith('s') && isDocument(value) && needsPreImage(value)) return true;
    // Array diffs nest sub-diffs under `s<n>` too; `u<n>` values are literals.
  }
  return false;
}

/**
 * The document after applying `diff` (an entry's `o.diff`) to `pre`, as a secondary would.
 * `pre` is not modified. The diff is assumed valid (it was parsed before).
 * @internal
 */
export function applyDiffToDocument(pre: Document, diff: Document): Document {
  return applyToObject(pre, diff);
}

type Modification =
  | { readonly kind: 'delete' }
  | { readonly kind: 'update'; readonly value: unknown }
  | { readonly kind: 'insert' }
  | { readonly kind: 'sub'; readonly diff: Document }
  | { readonly kind: 'binary'; readonly offset: number; readonly data: Uint8Array };

function applyToObject(pre: Document, diff: Document): Document {
  const table = new Map<string, Modification>();
  const appended: [string, unknown][] = [];
  for (const field of Object.keys(section(diff.d))) table.set(field, { kind: 'delete' });
  for (const [field, value] of Object.entries(section(diff.u))) {
    table.set(field, { kind: 'update', value });
    appended.push([field, value]);
  }
  for (const [field, value] of Object.entries(section(diff.i))) {
    table.set(field, { kind: 'insert' });
    appended.push([field, value]);
  }
  for (const [field, value] of Object.entries(section(diff.b))) {
    const { o, d } = value as { o?: unknown; d?: unknown };
    table.set(field, { kind: 'binary', offset: numberOf(o) ?? 0, data: bytesOf(d) });
  }
  for (const [key, value] of Object.entries(diff)) {
    if (key.startsWith('s') && isDocument(value))
      table.set(key.slice(1), { kind: 'sub', diff: value });
  }
  const out: Document = {};
  const placed = new Set<string>();
  for (const [field, value] of Object.entries(pre)) {
    const mod = table.get(field);
    if (mod === undefined) {
      out[field] = value;
      continue;
    }
    switch (mod.kind) {
      case 'delete':
      case 'insert':
        break;
      case 'update':
        out[field] = mod.value;
        placed.add(field);
        break;
      case 'sub':
        out[field] = applySub(value, mod.diff);
        break;
      case 'binary':
        out[field] = applyBinary(value, mod.offset, mod.data);
        break;
    }
  }
  for (const [field, value] of appended) if (!placed.has(field)) out[field] = value;
  return out;
}

/** A sub-diff applied to a value of the type it expects, else `null`. */
function applySub(value: unknown, diff: Document): unknown {
  if (diff.a === true) return Array.isArray(value) ? applyToArray(value, diff) : null;
  return isDocument(value) ? applyToObject(value, diff) : null;
}

function applyToArray(pre: readonly unknown[], diff: Document): unknown[] {
  const length = diff.l === undefined ? undefined : numberOf(diff.l);
  const mods = new Map<number, { value: unknown } | { sub: Document }>();
  for (const [key, value] of Object.entries(diff)) {
    const match = /^([us])(\d+)$/.exec(key);
    if (!match) continue;
    const index = Number(match[2]);
    mods.set(index, match[1] === 'u' ? { value } : { sub: value as Document });
  }
  const lastMod = mods.size === 0 ? -1 : Math.max(...mods.keys());
  const end = length ?? Math.max(pre.length, lastMod + 1);
  const out: unknown[] = [];
  for (let index = 0; index < end; index++) {
    const mod = mods.get(index);
    const present = index < pre.length;
    if (mod === undefined) out.push(present ? pre[index] : null);
    else if ('value' in mod) out.push(mod.value);
    else out.push(present ? applySub(pre[index], mod.sub) : null);
  }
  return out;
}

/** The field's bytes up to `offset`, then `data`, keeping its subtype; `null` on another type. */
function applyBinary(value: unknown, offset: number, data: Uint8Array): unknown {
  if ((value as { _bsontype?: unknown } | null)?._bsontype !== 'Binary') return null;
  const binary = value as Binary;
  const old = binary.buffer.subarray(0, binary.position);
  const bytes = new Uint8Array(offset + data.length);
  bytes.set(old.subarray(0, Math.min(offset, old.length)));
  bytes.set(data, offset);
  return new Binary(bytes, binary.sub_type);
}

function section(value: unknown): Document {
  return isDocument(value) ? value : {};
}

function bytesOf(value: unknown): Uint8Array {
  if ((value as { _bsontype?: unknown })?._bsontype === 'Binary') {
    const binary = value as Binary;
    return binary.buffer.subarray(0, binary.position);
  }
  return new Uint8Array(0);
}
