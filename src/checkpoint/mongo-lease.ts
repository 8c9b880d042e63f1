/**
 * The lease of a MongoCheckpointStore: a `lease` field of the checkpoint's own document, so a
 * save made under a lease and the lease check are one atomic single-document update. Expiry is
 * judged by the server's clock (`$$NOW`), never by the hosts' clocks, which may disagree.
 *
 * ```
 * {_id: name, …checkpoint fields…, lease: {token, owner: {id, host, pid}, since, expiresAt,
 *                                          [releasedAt]}}
 * ```
 */
import { type Document } from 'mongodb';

import { type LeaseOwner, type LeaseRecord, type LeaseToken } from '../lease/lease.js';

/**
 * The filter of the document whose lease is `lease`.
 * @internal
 */
export function currentLeaseFilter(name: string, lease: LeaseToken): Document {
  return {
    _id: name,
    'lease.owner.id': lease.ownerId,
    'lease.token': lease.token,
    'lease.releasedAt': { $exists: false }
  };
}

/**
 * The filter of the document of `name` while nobody holds its lease (a document that does not
 * exist is upserted).
 * @internal
 */
export function freeLeaseFilter(name: string): Document {
  return {
    _id: name,
    $or: [
      { lease: { $exists: false } },
      { 'lease.releasedAt': { $exists: true } },
      { $expr: { $lte: ['$lease.expiresAt', '$$NOW'] } }
    ]
  };
}

/**
 * The update pipeline that gives the lease to `owner` for `ttlMs`, with the next token.
 * @internal
 */
export function takeLeaseUpdate(owner: LeaseOwner, ttlMs: number): Document[] {
  return [
    {
      // An object spec in $set would merge into the old lease (keeping its releasedAt); the
      // result of an expression replaces it.
      $set: {
        lease: {
          $mergeObjects: [
            {
              token: { $add: [{ $ifNull: ['$lease.token', 0] }, 1] },
              owner: { $literal: owner },
              since: '$$NOW',
              expiresAt: { $add: ['$$NOW', ttlMs] },
              now: '$$NOW'
            }
          ]
        }
      }
    }
  ];
}

/**
 * The update pipeline that extends the lease by `ttlMs` from now.
 * @internal
 */
export function renewLeaseUpdate(ttlMs: number): Document[] {
  return [
    {
      $set: {
        lease: {
          $mergeObjects: ['$lease', { expiresAt: { $add: ['$$NOW', ttlMs] }, now: '$$NOW' }]
        }
      }
    }
  ];
}

/**
 * The update pipeline that gives the lease up (expired now, token kept).
 * @internal
 */
export const RELEASE_LEASE_UPDATE: readonly Document[] = [
  { $set: { lease: { $mergeObjects: ['$lease', { expiresAt: '$$NOW', releasedAt: '$$NOW' }] } } }
];

/**
 * The update pipeline that replaces the checkpoint fields with `encoded`, keeping the lease.
 * @internal
 */
export function replaceCheckpointUpdate(encoded: Document): Document[] {
  // $literal: a checkpoint holds _id bounds of user documents, which may look like expressions.
  return [
    { $replaceWith: { $mergeObjects: [{ $literal: encoded }, { _id: '$_id', lease: '$lease' }] } }
  ];
}

/**
 * The update pipeline that removes the checkpoint fields, keeping the lease.
 * @internal
 */
export const REMOVE_CHECKPOINT_UPDATE: readonly Document[] = [
  { $replaceWith: { _id: '$_id', lease: '$lease' } }
];

/**
 * A stored `lease` field as a {@link LeaseRecord}; `now` is the server's clock when it was last
 * written, unless a fresher one is given.
 * @internal
 */
export function leaseFromDocument(value: unknown, now?: Date): LeaseRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const lease = value as Record<string, unknown>;
  const owner = lease.owner as Record<string, unknown> | undefined;
  const when = now ?? lease.now;
  if (
    typeof owner?.id !== 'string' ||
    typeof owner.host !== 'string' ||
    !(lease.since instanceof Date) ||
    !(lease.expiresAt instanceof Date) ||
    !(when instanceof Date)
  ) {
    return undefined;
  }
  return {
    token: Number(lease.token),
    owner: { id: owner.id, host: owner.host, pid: Number(owner.pid) },
    since: lease.since,
    expiresAt: lease.expiresAt,
    ...(lease.releasedAt instanceof Date ? { releasedAt: lease.releasedAt } : {}),
    now: when
  };
}
