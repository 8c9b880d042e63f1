/**
 * Leases: one owner per checkpoint name. A lease is kept in the checkpoint's store, beside the
 * checkpoint, so that a save can be refused atomically when its writer no longer holds it (the
 * fencing token). The {@link LeaseKeeper} takes, renews and releases it for a Replicator.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

import { type CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { type LeaseHolderInfo } from '../errors.js';

/**
 * Who asks for, or holds, a lease: one replicator instance.
 * @public
 */
export interface LeaseOwner {
  /** Unique to one replicator instance (a random UUID): two replicators never share it. */
  readonly id: string;
  /** The host name it runs on. */
  readonly host: string;
  /** Its process id. */
  readonly pid: number;
}

/**
 * A lease as its store holds it.
 * @public
 */
export interface LeaseRecord {
  /** The fencing token: greater for every new holder. */
  readonly token: number;
  /** The holder. */
  readonly owner: LeaseOwner;
  /** When the holder took it (the store's clock). */
  readonly since: Date;
  /** When it expires unless renewed (the store's clock). */
  readonly expiresAt: Date;
  /** When the holder gave it up (a clean stop); absent while held or after a crash. */
  readonly releasedAt?: Date | undefined;
  /** The store's clock when this record was read or written: compare `expiresAt` with it. */
  readonly now: Date;
}

/**
 * The lease a save is made under: the store refuses the save unless it is still the current one.
 * @public
 */
export interface LeaseToken {
  /** The holder's {@link LeaseOwner.id}. */
  readonly ownerId: string;
  /** The lease's fencing token. */
  readonly token: number;
}

/**
 * A {@link CheckpointStore} that also keeps one lease per checkpoint name. The stores of this
 * package all do; a custom store without these methods runs without leases (nothing then stops
 * two replicators from using one checkpoint name).
 *
 * @remarks
 * Every method must be atomic with respect to the others and to `save(checkpoint, {lease})` of
 * the same name: a save made under a token that is no longer current must not take effect.
 * @public
 */
export interface LeasingCheckpointStore extends CheckpointStore {
  /**
   * Takes the lease of `name` for `owner` for `ttlMs` if nobody holds it (never held, released,
   * or expired by the store's clock), with a token greater than any before.
   * @returns the lease as it is now: `owner`'s when taken, else the current holder's
   */
  acquireLease(name: string, owner: LeaseOwner, ttlMs: number): Promise<LeaseRecord>;
  /**
   * Extends `lease` by `ttlMs` from now (the store's clock).
   * @returns the renewed lease, or undefined when it is no longer `lease` (taken over, released)
   */
  renewLease(name: string, lease: LeaseToken, ttlMs: number): Promise<LeaseRecord | undefined>;
  /** Gives `lease` up (expired now, token kept); nothing happens when it is no longer current. */
  releaseLease(name: string, lease: LeaseToken): Promise<void>;
  /** The lease of `name`, held or not; undefined when there never was one. */
  readLease(name: string): Promise<LeaseRecord | undefined>;
}

/**
 * True when `store` keeps leases.
 * @internal
 */
export function isLeasingStore(store: CheckpointStore): store is LeasingCheckpointStore {
  const candidate = store as Partial<LeasingCheckpointStore>;
  return (
    typeof candidate.acquireLease === 'function' &&
    typeof candidate.renewLease === 'function' &&
    typeof candidate.releaseLease === 'function' &&
    typeof candidate.readLease === 'function'
  );
}

/**
 * A new owner identity for this process.
 * @internal
 */
export function newLeaseOwner(): LeaseOwner {
  return { id: randomUUID(), host: hostname(), pid: process.pid };
}

/**
 * True when `record` is held right now by the store's clock.
 * @internal
 */
export function isLive(record: LeaseRecord): boolean {
  return record.releasedAt === undefined && record.expiresAt.getTime() > record.now.getTime();
}

/**
 * What errors, events and the status say about a holder.
 * @internal
 */
export function holderInfo(record: LeaseRecord): LeaseHolderInfo {
  return {
    host: record.owner.host,
    pid: record.owner.pid,
    since: record.since,
    expiresAt: record.expiresAt,
    token: record.token
  };
}
