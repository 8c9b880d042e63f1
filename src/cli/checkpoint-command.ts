/**
 * `mongo-replicate checkpoint show | reset`: reads or deletes a checkpoint where `run` keeps it
 * (in the target, or in `--checkpoint-dir`). `reset` also removes the checkpoint's spool.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import { MongoClient } from 'mongodb';

import { checkpointToJson } from '../checkpoint/checkpoint.js';
import { type CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { loadCheckpoint } from '../checkpoint/copy-state-store.js';
import { MongoCheckpointStore } from '../checkpoint/mongo-checkpoint-store.js';
import { isLeasingStore, isLive, newLeaseOwner } from '../lease/lease.js';
import { type Logger } from '../logger.js';
import { checkCheckpointName, replicatorDefaults } from '../replicator-options.js';
import { type ConfigFlags, resolveCliConfig } from './config.js';
import { ExitCode } from './exit-codes.js';

async function withStore<T>(
  flags: ConfigFlags,
  fn: (store: CheckpointStore, name: string, spoolDir: string) => Promise<T>
): Promise<T> {
  // The source is never needed to read a checkpoint, nor the target when it lives in files.
  const unused = 'mongodb://unused';
  const { options, checkpointStore } = await resolveCliConfig({
    ...flags,
    source: flags.source ?? unused,
    ...(flags.checkpointDir !== undefined ? { target: flags.target ?? unused } : {})
  });
  const name = options.checkpoint?.name ?? replicatorDefaults.checkpointName;
  checkCheckpointName(name);
  const spoolDir = options.full?.spoolDir ?? replicatorDefaults.spoolDir;
  if (checkpointStore) return fn(checkpointStore, name, spoolDir);
  const client = new MongoClient(String(options.target), { serverSelectionTimeoutMS: 15_000 });
  try {
    await client.connect();
    return await fn(new MongoCheckpointStore(client), name, spoolDir);
  } finally {
    await client.close();
  }
}

/**
 * Prints the checkpoint as canonical Extended JSON on stdout.
 * @internal
 */
export function checkpointShowCommand(flags: ConfigFlags, logger: Logger): Promise<number> {
  return withStore(flags, async (store, name) => {
    const checkpoint = await loadCheckpoint(store, name);
    if (checkpoint === undefined) {
      logger.error(`No checkpoint named "${name}"`);
      return ExitCode.notFound;
    }
    process.stdout.write(`${checkpointToJson(checkpoint)}\n`);
    return ExitCode.ok;
  });
}

/** How long `reset` holds the lease while it deletes. */
const RESET_LEASE_MS = 60_000;

/**
 * Why the lease forbids a reset now, or undefined when it does not: a live lease always does (a
 * replicator runs and would keep writing its position and spool); one that expired without being
 * released unless forced (its replicator crashed, or was cut off from the store and may come
 * back).
 */
async function leaseRefusal(
  store: CheckpointStore,
  name: string,
  force: boolean
): Promise<string | undefined> {
  if (!isLeasingStore(store)) return undefined;
  const lease = await store.readLease(name);
  if (lease === undefined || lease.releasedAt !== undefined) return undefined;
  const holder = `process ${lease.owner.pid} on ${lease.owner.host}`;
  if (isLive(lease)) {
    return `Checkpoint "${name}" is in use by ${holder} (its lease expires ${lease.expiresAt.toISOString()} unless renewed). Stop that replicator first`;
  }
  if (force) return undefined;
  return `The lease of checkpoint "${name}" held by ${holder} expired at ${lease.expiresAt.toISOString()} without being released: that replicator crashed or lost the store. Make sure it no longer runs, then reset with --force`;
}

/**
 * Deletes the checkpoint and its spool: the next `run` with that name starts over. Refused while
 * a replicator holds the checkpoint's lease, and, unless `force`, while a lease that was not
 * released remains.
 * @internal
 */
export function checkpointResetCommand(
  flags: ConfigFlags,
  logger: Logger,
  force = false
): Promise<number> {
  return withStore(flags, async (store, name, spoolDir) => {
    const checkpoint = await store.load(name);
    if (checkpoint === undefined) {
      logger.error(`No checkpoint named "${name}"`);
      return ExitCode.notFound;
    }
    const refusal = await leaseRefusal(store, name, force);
    if (refusal !== undefined) {
      logger.error(refusal);
      return ExitCode.leaseHeld;
    }
    // Held while deleting, so no replicator starts on the checkpoint halfway through.
    const me = newLeaseOwner();
    const lease = isLeasingStore(store)
      ? await store.acquireLease(name, me, RESET_LEASE_MS)
      : undefined;
    const token = lease && { ownerId: lease.owner.id, token: lease.token };
    if (lease !== undefined && lease.owner.id !== me.id) {
      logger.error(
        `Checkpoint "${name}" was just taken by process ${lease.owner.pid} on ${lease.owner.host}`
      );
      return ExitCode.leaseHeld;
    }
    try {
      await store.delete(name);
      await rm(join(spoolDir, name), { recursive: true, force: true });
    } finally {
      if (token && isLeasingStore(store)) await store.releaseLease(name, token);
    }
    logger.info(`Checkpoint "${name}" deleted; the next run with this name starts over`);
    return ExitCode.ok;
  });
}
