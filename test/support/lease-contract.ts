/**
 * What every leasing checkpoint store must do, run against each store (memory and file in unit
 * tests, MongoDB through the driver in integration tests).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Timestamp } from 'mongodb';

import { type Checkpoint } from '../../src/checkpoint/checkpoint.js';
import { LeaseLostError } from '../../src/errors.js';
import {
  isLive,
  type LeaseOwner,
  type LeaseRecord,
  type LeasingCheckpointStore
} from '../../src/lease/lease.js';
import { timeoutSignal, waitUntil } from './timeout-signal.js';

const owner = (n: number): LeaseOwner => ({ id: `owner-${n}`, host: `host-${n}`, pid: 1000 + n });
const tokenOf = (record: LeaseRecord) => ({ ownerId: record.owner.id, token: record.token });

function checkpoint(name: string, t: number): Checkpoint {
  return {
    name,
    version: 1,
    mode: 'incr',
    phase: 'incr',
    lastApplied: new Timestamp({ t, i: 1 }),
    updatedAt: new Date(t * 1000)
  };
}

/** Runs the lease contract; `make` returns a fresh store and a unique checkpoint name. */
export function leaseContract(
  label: string,
  make: () => Promise<{ store: LeasingCheckpointStore; name: string }>
): void {
  /** Short leases, waited out by polling the store (its clock decides). */
  const TTL = 300;
  const expire = async (store: LeasingCheckpointStore, name: string) =>
    waitUntil(
      async () => {
        const record = await store.readLease(name);
        return record !== undefined && !isLive(record);
      },
      timeoutSignal(5000, 'the lease to expire')
    );

  describe(`${label}: leases`, () => {
    it('gives a free lease to the first owner and names it to the next ones', async () => {
      const { store, name } = await make();
      assert.equal(await store.readLease(name), undefined);
      const first = await store.acquireLease(name, owner(1), 60_000);
      assert.equal(first.owner.id, 'owner-1');
      assert.equal(first.token, 1);
      assert.ok(isLive(first));
      const second = await store.acquireLease(name, owner(2), 60_000);
      assert.equal(second.owner.id, 'owner-1', 'still held by the first');
      assert.equal(second.owner.host, 'host-1');
      assert.equal(second.token, 1);
      assert.equal(await store.load(name), undefined, 'a lease alone is no checkpoint');
    });

    it('lets exactly one of several owners racing for a free lease take it', async () => {
      const { store, name } = await make();
      const records = await Promise.all(
        [1, 2, 3, 4, 5].map(n => store.acquireLease(name, owner(n), 60_000))
      );
      const winners = new Set(records.map(record => record.owner.id));
      assert.equal(winners.size, 1, 'every caller sees the same holder');
      assert.deepEqual(
        records.map(record => record.token),
        [1, 1, 1, 1, 1]
      );
    });

    it('renews only for its holder, and refuses the saves of anyone else', async () => {
      const { store, name } = await make();
      const held = await store.acquireLease(name, owner(1), 60_000);
      const renewed = await store.renewLease(name, tokenOf(held), 120_000);
      assert.ok(renewed && renewed.expiresAt.getTime() > held.expiresAt.getTime());
      assert.equal(
        await store.renewLease(name, { ownerId: 'owner-2', token: 1 }, 60_000),
        undefined
      );
      await store.save(checkpoint(name, 100), { lease: tokenOf(held) });
      await assert.rejects(
        store.save(checkpoint(name, 200), { lease: { ownerId: 'owner-2', token: 1 } }),
        LeaseLostError
      );
      assert.equal((await store.load(name))?.lastApplied?.t, 100);
      assert.equal((await store.readLease(name))?.owner.id, 'owner-1', 'a save keeps the lease');
    });

    it('passes an expired lease to a new owner with a greater token; the old one is fenced off', async () => {
      const { store, name } = await make();
      const old = await store.acquireLease(name, owner(1), TTL);
      await store.save(checkpoint(name, 100), { lease: tokenOf(old) });
      await expire(store, name);
      const next = await store.acquireLease(name, owner(2), 60_000);
      assert.equal(next.owner.id, 'owner-2');
      assert.equal(next.token, 2);
      assert.equal(await store.renewLease(name, tokenOf(old), 60_000), undefined);
      await assert.rejects(
        store.save(checkpoint(name, 300), { lease: tokenOf(old) }),
        LeaseLostError
      );
      await store.save(checkpoint(name, 200), { lease: tokenOf(next) });
      assert.equal((await store.load(name))?.lastApplied?.t, 200);
    });

    it('frees a released lease at once, and keeps a lease when the checkpoint is deleted', async () => {
      const { store, name } = await make();
      const held = await store.acquireLease(name, owner(1), 60_000);
      await store.save(checkpoint(name, 100), { lease: tokenOf(held) });
      await store.releaseLease(name, tokenOf(held));
      const released = await store.readLease(name);
      assert.ok(released?.releasedAt instanceof Date);
      assert.ok(!isLive(released));
      await assert.rejects(
        store.save(checkpoint(name, 150), { lease: tokenOf(held) }),
        LeaseLostError
      );
      const next = await store.acquireLease(name, owner(2), 60_000);
      assert.equal(next.owner.id, 'owner-2');
      assert.equal(next.token, 2);
      await store.delete(name);
      assert.equal(await store.load(name), undefined);
      assert.equal(
        (await store.readLease(name))?.owner.id,
        'owner-2',
        'the lease outlives a reset'
      );
      await store.save(checkpoint(name, 400), { lease: tokenOf(next) });
      assert.equal((await store.load(name))?.lastApplied?.t, 400);
    });
  });
}
