/**
 * One collection's data: documents in natural order keyed by `_id`, its indexes with uniqueness
 * enforced, and capped-collection eviction. Oplog entries are the caller's job (write-path.ts).
 */
import { type Binary, Int32 } from 'bson';

import { bsonSize } from '../bson/codec.js';
import { getPath } from '../bson/paths.js';
import {
  type BDoc,
  type BValue,
  compareValuesBinary,
  isDoc,
  isNumber,
  keyOf,
  keyUnder,
  toNumber,
  withCollation
} from '../bson/values.js';
import { type Collator, collatorFor } from '../engine/collation/collator.js';
import { compileFilter, type Matcher } from '../engine/query/matcher.js';
import { ServerError } from '../engine/server-error.js';
import { idIndexSpec } from './index-spec.js';
import { renderValue } from './render.js';

/** An index with what uniqueness enforcement needs. */
export interface IndexState {
  readonly name: string;
  /** Normalised spec as `listIndexes` returns it. */
  spec: BDoc;
  readonly keyPaths: readonly string[];
  readonly unique: boolean;
  readonly sparse: boolean;
  readonly partial: Matcher | undefined;
  /** The index's collation: its keys (and partial filter) compare strings under it. */
  readonly collation: Collator | undefined;
  /** For unique indexes: index key → `_id` key of the document holding it. */
  readonly entries: Map<string, string> | undefined;
  /**
   * For `prepareUnique` (6.0+) indexes that are not unique yet: index key → `_id` keys of the
   * documents holding it. Existing duplicates stay; a write adding a key others hold fails.
   */
  readonly owners: Map<string, Set<string>> | undefined;
}

/** One index entry of a document: its key as a lookup string and the key's values. */
export interface IndexEntry {
  readonly key: string;
  readonly values: BValue[];
}

/** One document's place in `_id` order: its `_id` and the key of its record. */
export interface IdOrderEntry {
  readonly id: BValue;
  readonly key: string;
}

/** Collection kinds as `listCollections` reports them. */
export type CollectionType = 'collection' | 'view' | 'timeseries';

export class Collection {
  readonly records = new Map<string, BDoc>();
  readonly indexes: IndexState[] = [];
  #bytes = 0;
  /** Built on the first `_id`-range read, dropped by inserts and removes (a replace keeps `_id`). */
  #idOrder: IdOrderEntry[] | undefined;
  /**
   * Set on a transaction's private copy: called with a document's `_id` key before it is written,
   * so the transaction can detect write conflicts and knows what to publish at commit.
   */
  onWrite: ((idKey: string) => void) | undefined;

  constructor(
    public db: string,
    public name: string,
    public readonly uuid: Binary,
    /** Creation options as `listCollections` returns them. */
    public options: BDoc,
    public readonly type: CollectionType = 'collection'
  ) {
    if (!options.has('clusteredIndex')) this.addIndex(idIndexSpec(options.get('collation')));
    else this.addIndex(clusteredIdSpec(options.get('clusteredIndex')));
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  get count(): number {
    return this.records.size;
  }

  get dataBytes(): number {
    return this.#bytes;
  }

  get capped(): boolean {
    return this.options.get('capped') === true;
  }

  /** A private copy for a transaction: same UUID, options and indexes, copied documents. */
  copyForTransaction(): Collection {
    const copy = new Collection(this.db, this.name, this.uuid, this.options, this.type);
    copy.indexes.length = 0;
    for (const index of this.indexes) {
      copy.indexes.push({
        ...index,
        entries: index.entries ? new Map(index.entries) : undefined,
        owners: index.owners
          ? new Map([...index.owners].map(([key, ids]) => [key, new Set(ids)]))
          : undefined
      });
    }
    for (const [key, doc] of this.records) copy.records.set(key, doc);
    copy.#bytes = this.#bytes;
    return copy;
  }

  /** The stored document with this `_id`, if any. */
  get(id: BValue): BDoc | undefined {
    return this.records.get(keyOf(id));
  }

  /** All documents in natural order (a snapshot, safe to iterate while writing). */
  snapshot(): BDoc[] {
    return [...this.records.values()];
  }

  /**
   * Every document's `_id` in ascending BSON order, the order of the `_id` index. Cached, so
   * reading `_id` ranges of a large collection sorts it once per change, not once per read.
   */
  idOrder(): readonly IdOrderEntry[] {
    if (!this.#idOrder) {
      const entries: IdOrderEntry[] = [];
      for (const [key, doc] of this.records) entries.push({ id: doc.get('_id'), key });
      entries.sort((a, b) => compareValuesBinary(a.id, b.id));
      this.#idOrder = entries;
    }
    return this.#idOrder;
  }

  /** Adds an index, checking existing documents against a unique constraint first. */
  addIndex(spec: BDoc): IndexState {
    const index = this.#buildIndex(spec);
    this.indexes.push(index);
    return index;
  }

  /**
   * Replaces an index's spec in place (collMod: `prepareUnique`, `unique`, `forceNonUnique`),
   * rebuilding what enforcement needs; throws, changing nothing, if a unique spec does not hold.
   */
  respecIndex(name: string, spec: BDoc): IndexState {
    const at = this.indexes.findIndex(index => index.name === name);
    const index = this.#buildIndex(spec);
    this.indexes[at] = index;
    return index;
  }

  #buildIndex(spec: BDoc): IndexState {
    const key = spec.get('key') as BDoc;
    const collationSpec = spec.get('collation');
    const collation = isDoc(collationSpec) ? collatorFor(collationSpec) : undefined;
    // The records map, keyed by _id, already enforces a binary _id index; a collated one (the
    // collection's default collation) also needs keys compared under its collation.
    const isId = spec.get('name') === '_id_';
    const unique = isId ? collation !== undefined : spec.get('unique') === true;
    const prepared = !unique && !isId && spec.get('prepareUnique') === true;
    const partialSpec = spec.get('partialFilterExpression');
    const index: IndexState = {
      name: spec.get('name') as string,
      spec,
      keyPaths: [...key.keys()],
      unique,
      sparse: spec.get('sparse') === true,
      partial: isDoc(partialSpec)
        ? withCollation(collation, () => compileFilter(partialSpec))
        : undefined,
      collation,
      entries: unique ? new Map() : undefined,
      owners: prepared ? new Map() : undefined
    };
    if (index.entries) {
      for (const [idKey, doc] of this.records) {
        for (const indexKey of this.#keysFor(index, doc)) {
          if (index.entries.has(indexKey) && index.entries.get(indexKey) !== idKey) {
            throw this.#duplicate(index, doc);
          }
          index.entries.set(indexKey, idKey);
        }
      }
    }
    if (index.owners) {
      for (const [idKey, doc] of this.records) {
        for (const indexKey of this.#keysFor(index, doc)) addOwner(index.owners, indexKey, idKey);
      }
    }
    return index;
  }

  dropIndex(name: string): void {
    const at = this.indexes.findIndex(index => index.name === name);
    if (at >= 0) this.indexes.splice(at, 1);
  }

  findIndex(name: string): IndexState | undefined {
    return this.indexes.find(index => index.name === name);
  }

  /** Inserts a document (its `_id` already first); throws a duplicate-key ServerError. */
  insert(doc: BDoc): void {
    const idKey = keyOf(doc.get('_id'));
    this.onWrite?.(idKey);
    if (this.records.has(idKey))
      throw this.#duplicate(this.findIndex('_id_') ?? this.indexes[0]!, doc);
    const pending = this.#checkUnique(doc, idKey, undefined);
    this.records.set(idKey, doc);
    this.#idOrder = undefined;
    this.#bytes += bsonSize(doc);
    this.#commitKeys(pending, idKey);
  }

  /** Replaces a stored document in place (same `_id`, same natural position). */
  replace(before: BDoc, after: BDoc): void {
    const idKey = keyOf(before.get('_id'));
    this.onWrite?.(idKey);
    const previous = this.#ownedKeys(before);
    this.#removeKeys(before, idKey);
    let pending: Map<IndexState, string[]>;
    try {
      pending = this.#checkUnique(after, idKey, previous);
    } catch (error) {
      this.#addKeys(before, idKey);
      throw error;
    }
    this.records.set(idKey, after);
    this.#bytes += bsonSize(after) - bsonSize(before);
    this.#commitKeys(pending, idKey);
  }

  /**
   * Applies a transaction's changes at once, as mongod commits them: every changed document's
   * index keys are released before any new one is claimed, so documents that swapped unique
   * values inside the transaction do not collide with each other's old values. `[before,
   * after]` per document: a replacement (in place), an insert (`before` undefined) or a delete.
   */
  applyChanges(changes: readonly (readonly [BDoc | undefined, BDoc | undefined])[]): void {
    for (const [before] of changes) {
      if (before) this.#removeKeys(before, keyOf(before.get('_id')));
    }
    let pending: (Map<IndexState, string[]> | undefined)[];
    try {
      pending = changes.map(([, after]) =>
        after ? this.#checkUnique(after, keyOf(after.get('_id')), undefined) : undefined
      );
    } catch (error) {
      for (const [before] of changes) {
        if (before) this.#addKeys(before, keyOf(before.get('_id')));
      }
      throw error;
    }
    changes.forEach(([before, after], i) => {
      if (before && !after) return this.remove(before);
      if (!after) return;
      const idKey = keyOf(after.get('_id'));
      this.onWrite?.(idKey);
      if (!before) this.#idOrder = undefined;
      this.records.set(idKey, after);
      this.#bytes += bsonSize(after) - (before ? bsonSize(before) : 0);
      this.#commitKeys(pending[i]!, idKey);
    });
  }

  /** Removes a stored document. */
  remove(doc: BDoc): void {
    const idKey = keyOf(doc.get('_id'));
    if (!this.records.has(idKey)) return;
    this.onWrite?.(idKey);
    this.records.delete(idKey);
    this.#idOrder = undefined;
    this.#removeKeys(doc, idKey);
    this.#bytes -= bsonSize(doc);
  }

  /**
   * For capped collections: the oldest documents to evict after an insert so that `size` and
   * `max` hold again (mongod does not log these deletes; secondaries evict by themselves).
   */
  evictCapped(): void {
    if (!this.capped) return;
    const size = toNumber(this.options.get('size') ?? null);
    const maxValue = this.options.get('max');
    const max = isNumber(maxValue) ? toNumber(maxValue) : Infinity;
    for (const doc of this.records.values()) {
      if (this.records.size <= 1) break;
      if (this.#bytes <= size && this.records.size <= max) break;
      this.remove(doc);
    }
  }

  /**
   * The keys `doc` would add to each enforcing index, throwing a duplicate key error when another
   * document holds one. `previous`: the keys of `prepareUnique` indexes the document held before
   * this update, which it may keep even where others share them.
   */
  #checkUnique(
    doc: BDoc,
    idKey: string,
    previous: Map<IndexState, Set<string>> | undefined
  ): Map<IndexState, string[]> {
    const pending = new Map<IndexState, string[]>();
    for (const index of this.indexes) {
      if (index.entries) {
        const keys = this.#keysFor(index, doc);
        for (const key of keys) {
          const owner = index.entries.get(key);
          if (owner !== undefined && owner !== idKey) throw this.#duplicate(index, doc);
        }
        pending.set(index, keys);
      } else if (index.owners) {
        const keys = this.#keysFor(index, doc);
        const held = previous?.get(index);
        for (const key of keys) {
          if (held?.has(key)) continue;
          const others = index.owners.get(key);
          if (others && [...others].some(owner => owner !== idKey)) {
            throw this.#duplicate(index, doc);
          }
        }
        pending.set(index, keys);
      }
    }
    return pending;
  }

  #commitKeys(pending: Map<IndexState, string[]>, idKey: string): void {
    for (const [index, keys] of pending) {
      for (const key of keys) {
        if (index.entries) index.entries.set(key, idKey);
        else if (index.owners) addOwner(index.owners, key, idKey);
      }
    }
  }

  /** The keys a document holds in each `prepareUnique` index (before an update changes it). */
  #ownedKeys(doc: BDoc): Map<IndexState, Set<string>> | undefined {
    let held: Map<IndexState, Set<string>> | undefined;
    for (const index of this.indexes) {
      if (!index.owners) continue;
      held ??= new Map();
      held.set(index, new Set(this.#keysFor(index, doc)));
    }
    return held;
  }

  #removeKeys(doc: BDoc, idKey: string): void {
    for (const index of this.indexes) {
      if (index.entries) {
        for (const key of this.#keysFor(index, doc)) {
          if (index.entries.get(key) === idKey) index.entries.delete(key);
        }
      } else if (index.owners) {
        for (const key of this.#keysFor(index, doc)) {
          const owners = index.owners.get(key);
          owners?.delete(idKey);
          if (owners?.size === 0) index.owners.delete(key);
        }
      }
    }
  }

  #addKeys(doc: BDoc, idKey: string): void {
    for (const index of this.indexes) {
      if (index.entries) {
        for (const key of this.#keysFor(index, doc)) index.entries.set(key, idKey);
      } else if (index.owners) {
        for (const key of this.#keysFor(index, doc)) addOwner(index.owners, key, idKey);
      }
    }
  }

  /**
   * A document's entries in an index: one per key (several for multikey documents), none when
   * the index is sparse or partial and leaves the document out. Keys of strings are compared
   * under the index's collation.
   */
  indexEntries(index: IndexState, doc: BDoc): IndexEntry[] {
    const partial = index.partial;
    if (partial && !withCollation(index.collation, () => partial.matches(doc))) return [];
    const perField = index.keyPaths.map(path => indexValues(doc, path));
    if (index.sparse && perField.every(values => values.missing)) return [];
    let entries: IndexEntry[] = [{ key: '', values: [] }];
    for (const { values } of perField) {
      const next: IndexEntry[] = [];
      for (const prefix of entries) {
        for (const value of values) {
          next.push({
            key: prefix.key + keyUnder(value, index.collation) + '|',
            values: [...prefix.values, value]
          });
        }
      }
      entries = next;
    }
    const seen = new Set<string>();
    return entries.filter(entry => !seen.has(entry.key) && seen.add(entry.key));
  }

  /** Index keys of a document (several for multikey), none if sparse/partial excludes it. */
  #keysFor(index: IndexState, doc: BDoc): string[] {
    const partial = index.partial;
    if (partial && !withCollation(index.collation, () => partial.matches(doc))) return [];
    const perField = index.keyPaths.map(path => indexValues(doc, path));
    if (index.sparse && perField.every(values => values.missing)) return [];
    let keys = [''];
    for (const { values } of perField) {
      const next: string[] = [];
      for (const prefix of keys) {
        for (const value of values) next.push(prefix + keyUnder(value, index.collation) + '|');
      }
      keys = next;
    }
    return [...new Set(keys)];
  }

  #duplicate(index: IndexState, doc: BDoc): ServerError {
    const keyPattern = index.spec.get('key') as BDoc;
    const keyValue: BDoc = new Map();
    for (const path of index.keyPaths) {
      const values = indexValues(doc, path).values;
      keyValue.set(path, values[0] ?? null);
    }
    // A collated index stores collation keys, which mongod hex-encodes in the message (here
    // the UTF-8 of the string itself stands in for ICU's sort key).
    const rendered = [...keyValue]
      .map(([k, v]) =>
        index.collation && typeof v === 'string'
          ? `${k}: "0x${Buffer.from(v).toString('hex')}"`
          : `${k}: ${renderValue(v)}`
      )
      .join(', ');
    const collation = index.collation ? ` collation: ${renderValue(index.collation.spec)}` : '';
    const extra: Record<string, unknown> = { keyPattern, keyValue };
    if (index.collation) extra.collation = index.collation.spec;
    return new ServerError(
      11000,
      `E11000 duplicate key error collection: ${this.ns} index: ${index.name}${collation} dup key: { ${rendered} }`,
      { extra }
    );
  }
}

/**
 * The values a document contributes to an index on `path` (array elements expand; an empty array
 * contributes `undefined`, a missing field `null`).
 */
export function indexValues(doc: BDoc, path: string): { values: BValue[]; missing: boolean } {
  const out: BValue[] = [];
  let missing = true;
  const walk = (value: BValue | undefined, parts: string[]): void => {
    if (parts.length === 0) {
      if (value === undefined) return;
      missing = false;
      if (Array.isArray(value)) {
        if (value.length === 0) out.push(undefined);
        else out.push(...value);
      } else {
        out.push(value);
      }
      return;
    }
    const [head, ...rest] = parts as [string, ...string[]];
    if (isDoc(value)) walk(value.get(head), rest);
    else if (Array.isArray(value)) {
      const direct = getPath(new Map([['x', value]]), ['x', head]);
      if (direct !== undefined && /^\d+$/.test(head)) walk(direct, rest);
      else for (const element of value) walk(element, parts);
    }
  };
  walk(doc, path.split('.'));
  if (out.length === 0) out.push(null);
  return { values: out, missing };
}

function clusteredIdSpec(clustered: BValue): BDoc {
  const spec: BDoc = new Map<string, BValue>([
    ['v', new Int32(2)],
    ['key', new Map([['_id', new Int32(1)]])],
    ['name', '_id_'],
    ['unique', true],
    ['clustered', true]
  ]);
  if (isDoc(clustered) && typeof clustered.get('name') === 'string') {
    spec.set('name', clustered.get('name') as string);
  }
  return spec;
}

function addOwner(owners: Map<string, Set<string>>, key: string, idKey: string): void {
  const ids = owners.get(key);
  if (ids) ids.add(idKey);
  else owners.set(key, new Set([idKey]));
}
