/**
 * The full copy's state as the checkpoint keeper holds it: every collection's ranges, which of
 * them are done, and which collections changed since the last save. Recording a finished range
 * costs O(1) whatever the number of collections, and a save writes only the collections that
 * changed (see `checkpoint/copy-state-store.ts`).
 */
import { type CopiedCollection, type StoredRange } from '../checkpoint/checkpoint.js';

/**
 * What changed since the last save: the collections to write, and whether they replace the
 * whole stored state (a new plan, or a checkpoint that kept the copy inline).
 * @internal
 */
export interface CopyChanges {
  readonly collections: readonly CopiedCollection[];
  readonly replace: boolean;
}

/**
 * The copy's collections and ranges, with what is unsaved.
 * @internal
 */
export class CopyProgress {
  readonly #collections = new Map<string, CopiedCollection>();
  #dirty = new Set<string>();
  #replace = false;

  /** Takes `collections` as the whole state, all of it unsaved. */
  plan(collections: readonly CopiedCollection[]): void {
    this.#collections.clear();
    for (const collection of collections) this.#collections.set(collection.sourceNs, collection);
    this.#dirty = new Set(this.#collections.keys());
    this.#replace = true;
  }

  /** Takes `collections` as the state already stored. */
  restore(collections: readonly CopiedCollection[]): void {
    this.plan(collections);
    this.#dirty.clear();
    this.#replace = false;
  }

  /** Whether a copy state exists (planned or restored). */
  get planned(): boolean {
    return this.#collections.size > 0 || this.#replace;
  }

  /** How many collections the state holds. */
  get size(): number {
    return this.#collections.size;
  }

  /** The whole state, in plan order: O(collections), for a resume or a store without records. */
  get collections(): CopiedCollection[] {
    return [...this.#collections.values()];
  }

  /** Whether something is unsaved. */
  get dirty(): boolean {
    return this.#replace || this.#dirty.size > 0;
  }

  /** Range `index` of `sourceNs` is on the target. */
  markDone(sourceNs: string, index: number): void {
    const collection = this.#collections.get(sourceNs);
    const range = collection?.ranges[index];
    if (collection === undefined || range === undefined || range.done) return;
    const ranges: StoredRange[] = [...collection.ranges];
    ranges[index] = { ...range, done: true };
    this.#collections.set(sourceNs, { ...collection, ranges });
    this.#dirty.add(sourceNs);
  }

  /** What to write now; it counts as saved until {@link CopyProgress.unsaved} says otherwise. */
  takeChanges(): CopyChanges {
    const changes = {
      collections: [...this.#dirty].map(ns => this.#collections.get(ns)!),
      replace: this.#replace
    };
    this.#dirty = new Set();
    this.#replace = false;
    return changes;
  }

  /** A save of `changes` failed: they are unsaved again. */
  unsaved(changes: CopyChanges): void {
    for (const collection of changes.collections) this.#dirty.add(collection.sourceNs);
    this.#replace ||= changes.replace;
  }
}
