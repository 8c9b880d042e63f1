/**
 * `mongo-replicate checkpoint show | reset`: reads or deletes a checkpoint where `run` keeps it
 * (in the target, or in `--checkpoint-dir`). `reset` also removes the checkpoint's spool.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import { MongoClient } from 'mongodb';

import { checkpointToJson } from '../checkpoint/checkpoint.js';
import { type CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { MongoCheckpointStore } from '../checkpoint/mongo-checkpoint-store.js';
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
    const checkpoint = await store.load(name);
    if (checkpoint === undefined) {
      logger.error(`No checkpoint named "${name}"`);
      return ExitCode.notFound;
    }
    process.stdout.write(`${checkpointToJson(checkpoint)}\n`);
    return ExitCode.ok;
  });
}

/**
 * Deletes the checkpoint and its spool: the next `run` with that name starts over.
 * @internal
 */
export function checkpointResetCommand(flags: ConfigFlags, logger: Logger): Promise<number> {
  return withStore(flags, async (store, name, spoolDir) => {
    const checkpoint = await store.load(name);
    if (checkpoint === undefined) {
      logger.error(`No checkpoint named "${name}"`);
      return ExitCode.notFound;
    }
    await store.delete(name);
    await rm(join(spoolDir, name), { recursive: true, force: true });
    logger.info(`Checkpoint "${name}" deleted; the next run with this name starts over`);
    return ExitCode.ok;
  });
}
