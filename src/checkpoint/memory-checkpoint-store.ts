/** A checkpoint store in memory: for tests and for hosts that persist positions themselves. */
import { type Checkpoint } from './checkpoint.js';
import { type CheckpointStore } from './checkpoint-store.js';

/**
 * Keeps checkpoints in this process only; they are lost when it exits.
 * @public
 */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly #checkpoints = new Map<string, Checkpoint>();

  /** {@inheritDoc CheckpointStore.load} */
  async load(name: string): Promise<Checkpoint | undefined> {
    return this.#checkpoints.get(name);
  }

  /** {@inheritDoc CheckpointStore.save} */
  async save(checkpoint: Checkpoint): Promise<void> {
    this.#checkpoints.set(checkpoint.name, checkpoint);
  }

  /** {@inheritDoc CheckpointStore.delete} */
  async delete(name: string): Promise<void> {
    this.#checkpoints.delete(name);
  }
}
