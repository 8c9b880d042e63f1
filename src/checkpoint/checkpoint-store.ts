/** The port every checkpoint store implements (DESIGN §4). */
import { type LeaseToken } from '../lease/lease.js';
import { type Checkpoint } from './checkpoint.js';

/**
 * Options of {@link CheckpointStore.save}.
 * @public
 */
export interface CheckpointSaveOptions {
  /**
   * The lease the save is made under (a {@link LeasingCheckpointStore}): the save must not take
   * effect unless it is still the current lease of the name, and then fails with
   * {@link LeaseLostError}. Stores without leases ignore it.
   */
  readonly lease?: LeaseToken | undefined;
}

/**
 * Where checkpoints live. Implementations: {@link MongoCheckpointStore} (in the target, the
 * default), {@link FileCheckpointStore} and {@link MemoryCheckpointStore}; all three also keep
 * leases ({@link LeasingCheckpointStore}).
 *
 * @remarks
 * `save` must be durable when it resolves: the replicator only calls it after the batch the
 * checkpoint names has been applied on the target, and relies on it when restarting.
 * @public
 */
export interface CheckpointStore {
  /** The checkpoint stored under `name`, or undefined when there is none. */
  load(name: string): Promise<Checkpoint | undefined>;
  /**
   * Stores `checkpoint` under its name, replacing the previous one. Saves of one name that
   * overlap must take effect in call order (the stores of this package queue them).
   * @throws {@link LeaseLostError} when `options.lease` is no longer the current lease
   */
  save(checkpoint: Checkpoint, options?: CheckpointSaveOptions): Promise<void>;
  /**
   * Removes the checkpoint stored under `name` (no error if there is none). Its lease, if any,
   * stays: a replicator holding it keeps it.
   */
  delete(name: string): Promise<void>;
}
