/** A checkpoint store in memory: for tests and for hosts that persist positions themselves. */
import { LeaseLostError } from '../errors.js';
import {
  type LeaseOwner,
  type LeaseRecord,
  type LeaseToken,
  type LeasingCheckpointStore
} from '../lease/lease.js';
import {
  acquire,
  isCurrent,
  leaseRecord,
  release,
  renew,
  type StoredLease
} from '../lease/lease-rules.js';
import { readOptions } from '../options/option-reader.js';
import { type Checkpoint } from './checkpoint.js';
import { type CheckpointSaveOptions } from './checkpoint-store.js';

/**
 * Options of {@link MemoryCheckpointStore}.
 * @public
 */
export interface MemoryCheckpointStoreOptions {
  /**
   * The clock leases expire by, in milliseconds since the Unix epoch (tests pass a fake one).
   * @defaultValue `Date.now`
   */
  clock?: () => number;
}

/**
 * Keeps checkpoints, and their leases, in this process only; they are lost when it exits. Two
 * replicators of one process sharing the store exclude each other like two processes sharing a
 * {@link MongoCheckpointStore}.
 * @public
 */
export class MemoryCheckpointStore implements LeasingCheckpointStore {
  readonly #checkpoints = new Map<string, Checkpoint>();
  readonly #leases = new Map<string, StoredLease>();
  readonly #clock: () => number;

  constructor(options: MemoryCheckpointStoreOptions = {}) {
    this.#clock = readOptions(options, reader => reader.func('clock', Date.now));
  }

  /** {@inheritDoc CheckpointStore.load} */
  async load(name: string): Promise<Checkpoint | undefined> {
    return this.#checkpoints.get(name);
  }

  /** {@inheritDoc CheckpointStore.save} */
  async save(checkpoint: Checkpoint, options: CheckpointSaveOptions = {}): Promise<void> {
    const { lease } = options;
    if (lease !== undefined && !isCurrent(this.#leases.get(checkpoint.name), lease)) {
      throw new LeaseLostError(
        `Checkpoint "${checkpoint.name}" was not saved: its lease was taken over`
      );
    }
    this.#checkpoints.set(checkpoint.name, checkpoint);
  }

  /** {@inheritDoc CheckpointStore.delete} */
  async delete(name: string): Promise<void> {
    this.#checkpoints.delete(name);
  }

  /** {@inheritDoc LeasingCheckpointStore.acquireLease} */
  async acquireLease(name: string, owner: LeaseOwner, ttlMs: number): Promise<LeaseRecord> {
    const { next, record } = acquire(this.#leases.get(name), owner, ttlMs, this.#clock());
    if (next) this.#leases.set(name, next);
    return record;
  }

  /** {@inheritDoc LeasingCheckpointStore.renewLease} */
  async renewLease(
    name: string,
    lease: LeaseToken,
    ttlMs: number
  ): Promise<LeaseRecord | undefined> {
    const now = this.#clock();
    const next = renew(this.#leases.get(name), lease, ttlMs, now);
    if (!next) return undefined;
    this.#leases.set(name, next);
    return leaseRecord(next, now);
  }

  /** {@inheritDoc LeasingCheckpointStore.releaseLease} */
  async releaseLease(name: string, lease: LeaseToken): Promise<void> {
    const next = release(this.#leases.get(name), lease, this.#clock());
    if (next) this.#leases.set(name, next);
  }

  /** {@inheritDoc LeasingCheckpointStore.readLease} */
  async readLease(name: string): Promise<LeaseRecord | undefined> {
    const stored = this.#leases.get(name);
    return stored && leaseRecord(stored, this.#clock());
  }
}
