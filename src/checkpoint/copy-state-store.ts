/**
 * The full copy's state kept apart from the checkpoint: one record per collection, so a save
 * costs the same whatever the number of collections (a checkpoint rewritten whole on every
 * finished range grows with them, and at some 100 000 ranges would pass MongoDB's 16 MiB).
 */
import { CheckpointError } from '../errors.js';
import { type Checkpoint, type CopiedCollection } from './checkpoint.js';
import { type CheckpointSaveOptions, type CheckpointStore } from './checkpoint-store.js';

/**
 * Options of {@link CopyStateStore.saveCopyState}.
 * @public
 */
export interface CopyStateSaveOptions extends CheckpointSaveOptions {
  /**
   * The collections given are the whole state: every other collection stored under the name is
   * removed (a new copy's plan). Without it, each collection given replaces only its own record.
   */
  readonly replace?: boolean;
}

/**
 * A checkpoint store that keeps the full copy's state in one record per source collection,
 * beside the checkpoint: saving a finished range rewrites one small record, and the checkpoint
 * itself only counts the records (`copyCollections`). The stores of this package all do;
 * another {@link CheckpointStore} gets the copy's state inside the checkpoint.
 *
 * @remarks
 * `delete(name)` of the store removes the records too. A record names only ranges whose
 * documents are all on the target, so a stale record can at worst say a range is done that is.
 * @public
 */
export interface CopyStateStore extends CheckpointStore {
  /**
   * Stores the state of `collections` under checkpoint `name`, each replacing the record of the
   * same `sourceNs`, durably when it resolves. Overlapping calls take effect in call order.
   */
  saveCopyState(
    name: string,
    collections: readonly CopiedCollection[],
    options?: CopyStateSaveOptions
  ): Promise<void>;
  /** Every collection's state stored under `name` (in no particular order). */
  loadCopyState(name: string): Promise<CopiedCollection[]>;
}

/**
 * Whether `store` keeps the copy's state apart ({@link CopyStateStore}).
 * @public
 */
export function isCopyStateStore(store: CheckpointStore): store is CopyStateStore {
  const candidate = store as Partial<CopyStateStore>;
  return (
    typeof candidate.saveCopyState === 'function' && typeof candidate.loadCopyState === 'function'
  );
}

/**
 * Loads checkpoint `name` with its full copy's state, wherever the store keeps it.
 * @throws {@link CheckpointError} when the checkpoint counts more or fewer collection records
 * than the store holds (a damaged store: never resumed from with ranges missing)
 * @public
 */
export async function loadCheckpoint(
  store: CheckpointStore,
  name: string
): Promise<Checkpoint | undefined> {
  const checkpoint = await store.load(name);
  if (checkpoint?.copyCollections === undefined || !isCopyStateStore(store)) return checkpoint;
  const copy = await store.loadCopyState(name);
  if (copy.length !== checkpoint.copyCollections) {
    throw new CheckpointError(
      `Checkpoint "${name}" names a full copy of ${checkpoint.copyCollections} collections, but its store holds the state of ${copy.length}`,
      false,
      {
        hint: 'The copy state was changed or lost outside the replicator: delete the checkpoint (checkpoint reset) and copy again'
      }
    );
  }
  copy.sort((a, b) => (a.sourceNs < b.sourceNs ? -1 : a.sourceNs > b.sourceNs ? 1 : 0));
  return { ...checkpoint, copy };
}
