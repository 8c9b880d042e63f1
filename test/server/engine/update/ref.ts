/**
 * A handle on one existing element of the working document (the document root, a field of an
 * embedded document or an array slot), so modifiers can replace or remove it in place.
 */
import { type BDoc, type BValue } from '../../bson/values.js';

export interface Ref {
  /** The field name as mongod's mutable BSON names it: the key, or the index for array slots. */
  readonly name: string;
  /** Where the element lives: the root, a document field or an array slot. */
  readonly where: 'root' | 'doc' | 'array';
  get(): BValue;
  set(value: BValue): void;
  /** Removes a document field (never called on roots or array slots). */
  remove(): void;
}

export function rootRef(doc: BDoc): Ref {
  return {
    name: '',
    where: 'root',
    get: () => doc,
    set: () => {
      throw new Error('cannot replace the document root');
    },
    remove: () => {
      throw new Error('cannot remove the document root');
    }
  };
}

export function fieldRef(parent: BDoc, key: string): Ref {
  return {
    name: key,
    where: 'doc',
    get: () => parent.get(key),
    set: value => void parent.set(key, value),
    remove: () => void parent.delete(key)
  };
}

export function indexRef(parent: BValue[], index: number): Ref {
  return {
    name: String(index),
    where: 'array',
    get: () => parent[index],
    set: value => void (parent[index] = value),
    remove: () => {
      throw new Error('array slots are nulled, not removed');
    }
  };
}

/** mongod's `parseUnsignedBase10Integer`: digits only. */
export function parseIndex(part: string): number | undefined {
  return /^\d+$/.test(part) ? Number(part) : undefined;
}

/** The existing child `part` of `value`, following mongod's `applyChild` lookup rules. */
export function childRef(value: BValue, part: string): Ref | undefined {
  if (value instanceof Map) return value.has(part) ? fieldRef(value, part) : undefined;
  if (Array.isArray(value)) {
    const index = parseIndex(part);
    return index !== undefined && index < value.length ? indexRef(value, index) : undefined;
  }
  return undefined;
}
