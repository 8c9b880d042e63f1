/** Reading a `hint`: `{$natural: ±1}` (a scan order, not an index), or an index by name or key. */
import { type BValue, isDoc, isNumber, toNumber } from '../bson/values.js';
import { type Collection, type IndexState } from './collection.js';

/** `$natural` direction of a sort or hint, if that is what it asks for. */
export function naturalDirection(spec: BValue): number | undefined {
  if (!isDoc(spec) || spec.size !== 1 || !spec.has('$natural')) return undefined;
  const value = spec.get('$natural');
  return isNumber(value) && toNumber(value) < 0 ? -1 : 1;
}

/** The index a hint names (by name, or by key pattern compared field by field), if any. */
export function hintedIndex(collection: Collection, hint: BValue): IndexState | undefined {
  if (typeof hint === 'string') return collection.findIndex(hint);
  if (!isDoc(hint)) return undefined;
  const wanted = compileKey(hint);
  return collection.indexes.find(index => compileKey(index.spec.get('key')) === wanted);
}

function compileKey(key: BValue): string {
  return isDoc(key)
    ? [...key].map(([k, v]) => `${k}:${isNumber(v) ? toNumber(v) : String(v)}`).join(',')
    : '';
}
