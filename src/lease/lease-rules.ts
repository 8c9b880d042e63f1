/**
 * The rules of a lease, as pure functions over its stored state: the memory and file stores
 * apply them under their own mutual exclusion (MongoDB applies the same rules in single-document
 * updates, checkpoint/mongo-lease.ts).
 */
import { type LeaseOwner, type LeaseRecord, type LeaseToken } from './lease.js';

/**
 * A lease as the memory and file stores keep it.
 * @internal
 */
export interface StoredLease {
  readonly token: number;
  readonly owner: LeaseOwner;
  readonly since: Date;
  readonly expiresAt: Date;
  readonly releasedAt?: Date | undefined;
}

/**
 * `stored` as a {@link LeaseRecord} read at `now`.
 * @internal
 */
export function leaseRecord(stored: StoredLease, now: number): LeaseRecord {
  return { ...stored, now: new Date(now) };
}

/**
 * True when `stored` is the lease `lease` names.
 * @internal
 */
export function isCurrent(stored: StoredLease | undefined, lease: LeaseToken): boolean {
  return (
    stored !== undefined &&
    stored.releasedAt === undefined &&
    stored.owner.id === lease.ownerId &&
    stored.token === lease.token
  );
}

/**
 * Acquiring: the new state (undefined: unchanged) and the lease as it is afterwards.
 * @internal
 */
export function acquire(
  stored: StoredLease | undefined,
  owner: LeaseOwner,
  ttlMs: number,
  now: number
): { next: StoredLease | undefined; record: LeaseRecord } {
  const free =
    stored === undefined || stored.releasedAt !== undefined || stored.expiresAt.getTime() <= now;
  if (!free) return { next: undefined, record: leaseRecord(stored, now) };
  const next: StoredLease = {
    token: (stored?.token ?? 0) + 1,
    owner,
    since: new Date(now),
    expiresAt: new Date(now + ttlMs)
  };
  return { next, record: leaseRecord(next, now) };
}

/**
 * Renewing `lease`: the new state, or undefined when it is no longer current.
 * @internal
 */
export function renew(
  stored: StoredLease | undefined,
  lease: LeaseToken,
  ttlMs: number,
  now: number
): StoredLease | undefined {
  if (!isCurrent(stored, lease)) return undefined;
  return { ...stored!, expiresAt: new Date(now + ttlMs) };
}

/**
 * Releasing `lease`: the new state, or undefined when it is no longer current.
 * @internal
 */
export function release(
  stored: StoredLease | undefined,
  lease: LeaseToken,
  now: number
): StoredLease | undefined {
  if (!isCurrent(stored, lease)) return undefined;
  return { ...stored!, expiresAt: new Date(now), releasedAt: new Date(now) };
}
