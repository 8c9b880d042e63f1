/**
 * The checks of the sharding options against what the deployments are, made once they are
 * identified and before anything is written.
 */
import { InvalidConfigError } from '../errors.js';

/**
 * Refuses a `shardWorker` setting the source cannot honour, before anything is written.
 * @internal
 */
export function requireShardedSource(sourceSharded: boolean): void {
  if (!sourceSharded) {
    throw new InvalidConfigError(
      'shardWorker',
      'the source is not a sharded cluster (a mongos). Nothing was written. Remove shardWorker to replicate a replica set'
    );
  }
}

/**
 * Refuses `targetSharding: 'source'` unless both sides are sharded clusters, before anything is
 * written.
 * @internal
 */
export function requireShardedSides(sourceSharded: boolean, targetSharded: boolean): void {
  const side = !sourceSharded ? 'source' : !targetSharded ? 'target' : undefined;
  if (side !== undefined) {
    throw new InvalidConfigError(
      'targetSharding',
      `'source' replays the source's sharding on the target, but the ${side} is not a sharded cluster (a mongos). Nothing was written. Use targetSharding 'none'`
    );
  }
}
