/**
 * Applies a `$v: 2` diff as a secondary does (document_diff_applier.cpp, with the existence checks
 * oplog application uses): `d` removes, `u` replaces in place (appends when absent), `i` moves or
 * adds the field at the end, `s<field>` recurses and is a no-op on an absent field. A sub-diff that
 * meets the wrong type nulls the field: a later oplog entry is bound to overwrite it.
 */
import { type BDoc, type BValue, toNumber } from '../../bson/values.js';
import { ServerError } from '../server-error.js';

type Mod =
  | { kind: 'delete' }
  | { kind: 'update'; value: BValue }
  | { kind: 'insert' }
  | { kind: 'sub'; diff: BDoc };

function asDoc(value: BValue, section: string): BDoc {
  if (!(value instanceof Map)) {
    throw new ServerError(4770507, `Expected an object for diff section '${section}'`);
  }
  return value;
}

function isArrayDiff(diff: BDoc): boolean {
  return diff.get('a') === true;
}

function applyDocDiff(pre: BDoc, diff: BDoc): BDoc {
  const table = new Map<string, Mod>();
  const updates: [string, BValue][] = [];
  const inserts: [string, BValue][] = [];
  const put = (field: string, mod: Mod): void => {
    if (table.has(field)) throw new ServerError(4728000, `duplicate field name in diff: ${field}`);
    table.set(field, mod);
  };
  for (const [section, value] of diff) {
    if (section === 'd') {
      for (const field of asDoc(value, section).keys()) put(field, { kind: 'delete' });
    } else if (section === 'u') {
      for (const [field, v] of asDoc(value, section)) {
        put(field, { kind: 'update', value: v });
        updates.push([field, v]);
      }
    } else if (section === 'i') {
      for (const [field, v] of asDoc(value, section)) {
        put(field, { kind: 'insert' });
        inserts.push([field, v]);
      }
    } else if (section.startsWith('s')) {
      // `s` alone is the sub-diff of the field named "" (mongod's DocumentDiffReader).
      put(section.slice(1), { kind: 'sub', diff: asDoc(value, section) });
    } else {
      throw new ServerError(4770503, `Unrecognized diff section: ${section}`);
    }
  }
  const out: BDoc = new Map();
  const placed = new Set<string>();
  for (const [field, value] of pre) {
    const mod = table.get(field);
    if (!mod) out.set(field, value);
    else if (mod.kind === 'update') {
      out.set(field, mod.value);
      placed.add(field);
    } else if (mod.kind === 'sub') {
      out.set(field, applySub(value, mod.diff));
    }
    // 'delete' drops the field; 'insert' re-adds it at the end below.
  }
  // Updates of absent fields come first, then inserts, in diff order.
  for (const [field, value] of [...updates, ...inserts]) {
    if (!placed.has(field)) out.set(field, value);
  }
  return out;
}

function applySub(value: BValue | undefined, diff: BDoc): BValue {
  if (isArrayDiff(diff)) return Array.isArray(value) ? applyArrayDiff(value, diff) : null;
  return value instanceof Map ? applyDocDiff(value, diff) : null;
}

type ArrayMod = { index: number; update: BValue } | { index: number; sub: BDoc };

function applyArrayDiff(pre: BValue[], diff: BDoc): BValue[] {
  let resize: number | undefined;
  const mods: ArrayMod[] = [];
  for (const [key, value] of diff) {
    const match = /^([us])(\d+)$/.exec(key);
    if (key === 'a') continue;
    if (key === 'l') resize = toNumber(value);
    else if (match?.[1] === 'u') mods.push({ index: Number(match[2]), update: value });
    else if (match?.[1] === 's') mods.push({ index: Number(match[2]), sub: asDoc(value, key) });
    else throw new ServerError(4770503, `Unrecognized array diff field: ${key}`);
  }
  mods.sort((a, b) => a.index - b.index);
  mods.forEach((mod, i) => {
    if (i > 0 && mods[i - 1]!.index === mod.index) {
      throw new ServerError(4728000, `duplicate array index in diff: ${mod.index}`);
    }
  });
  const valueFor = (mod: ArrayMod, old: BValue | undefined): BValue => {
    if ('update' in mod) return mod.update;
    // The pre-image is shorter than the diff expects: a later entry rewrites this slot.
    return old === undefined ? null : applySub(old, mod.sub);
  };
  const out: BValue[] = [];
  let m = 0;
  let index = 0;
  for (; index < pre.length && (resize === undefined || index < resize); index++) {
    if (mods[m]?.index === index) out.push(valueFor(mods[m++]!, pre[index]));
    else out.push(pre[index]);
  }
  // Past the pre-image: entries from the diff, null padding elsewhere.
  for (; (resize !== undefined && index < resize) || m < mods.length; index++) {
    if (mods[m]?.index === index) out.push(valueFor(mods[m++]!, undefined));
    else out.push(null);
  }
  return out;
}

/** Applies the `diff` field of a `$v: 2` entry to `pre`, returning a new document. */
export function applyDiffV2(pre: BDoc, diff: BDoc): BDoc {
  return applyDocDiff(pre, diff);
}
