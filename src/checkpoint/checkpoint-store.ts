/** The port every checkpoint store implements (DESIGN §4). */
import { type Checkpoint } from './checkpoint.js';

/**
 * Where checkpoints live. Implementations: {@link MongoCheckpointStore} (in the target, the
 * default), {@link FileCheckpointStore} and {@link MemoryCheckpointStore}.
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
   */
  save(checkpoint: Checkpoint): Promise<void>;
  /** Removes the checkpoint stored under `name` (no error if there is none). */
  delete(name: string): Promise<void>;
}
