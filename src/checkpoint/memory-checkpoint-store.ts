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
import { type Checkpoint, type CopiedCollection } from './checkpoint.js';
import { type CheckpointSaveOptions } from './checkpoint-store.js';
import { type CopyStateSaveOptions, type CopyStateStore } from './copy-state-store.js';

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
export class MemoryCheckpointStore implements LeasingCheckpointStore, CopyStateStore {
  readonly #checkpoints = new Map<string, Checkpoint>();
  readonly #copies = new Map<string, Map<string, CopiedCollection>>();
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
    this.#checkLease(checkpoint.name, options);
    this.#checkpoints.set(checkpoint.name, checkpoint);
  }

  /** {@inheritDoc CopyStateStore.saveCopyState} */
  async saveCopyState(
    name: string,
    collections: readonly CopiedCollection[],
    options: CopyStateSaveOptions = {}
  ): Promise<void> {
    this.#checkLease(name, options);
    let stored = this.#copies.get(name);
    if (stored === undefined || options.replace === true) {
      stored = new Map();
      this.#copies.set(name, stored);
    }
    for (const collection of collections) {
      stored.set(collection.sourceNs, { ...collection, ranges: [...collection.ranges] });
    }
  }

  /** {@inheritDoc CopyStateStore.loadCopyState} */
  async loadCopyState(name: string): Promise<CopiedCollection[]> {
    return [...(this.#copies.get(name)?.values() ?? [])];
  }

  /** {@inheritDoc CheckpointStore.delete} */
  async delete(name: string): Promise<void> {
    this.#checkpoints.delete(name);
    this.#copies.delete(name);
  }

  #checkLease(name: string, options: CheckpointSaveOptions): void {
    const { lease } = options;
    if (lease !== undefined && !isCurrent(this.#leases.get(name), lease)) {
      throw new LeaseLostError(`Checkpoint "${name}" was not saved: its lease was taken over`);
    }
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
