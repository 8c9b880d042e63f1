/**
 * Options of the {@link OplogSpool}, their defaults, and `resolveOplogSpoolOptions()`, which
 * checks them before any file is touched.
 */
import { InvalidConfigError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import { readOptions } from '../options/option-reader.js';
import { RECORD_HEADER_BYTES } from './spool-record.js';

/**
 * Options of {@link OplogSpool.open}.
 * @public
 */
export interface OplogSpoolOptions {
  /**
   * A new segment file starts when the next record would take the current one past this size
   * (a single larger record gets a segment of its own). Segments are the unit that
   * `discardThrough()` deletes.
   * @defaultValue 64 MiB
   */
  segmentBytes?: number;
  /**
   * How much of a segment a reader (and recovery) reads at a time: the memory one reader holds,
   * unless a single record is larger.
   * @defaultValue 1 MiB
   */
  readChunkBytes?: number;
  /**
   * Lock the directory against other processes (a `LOCK` file naming the holder). A Replicator
   * whose checkpoint lease already makes it the only owner of the job turns it off.
   * @defaultValue true
   */
  lock?: boolean;
  /**
   * Where the spool logs, such as the warning about a torn tail dropped on open.
   * @defaultValue {@link silentLogger}
   */
  logger?: Logger;
}

/**
 * The defaults {@link OplogSpool.open} applies to omitted options.
 * @public
 */
export const oplogSpoolDefaults = Object.freeze({
  segmentBytes: 64 * 1024 * 1024,
  readChunkBytes: 1024 * 1024
});

/**
 * {@link OplogSpoolOptions} with every default applied and every value checked.
 * @internal
 */
export interface ResolvedOplogSpoolOptions {
  readonly segmentBytes: number;
  readonly readChunkBytes: number;
  readonly lock: boolean;
  readonly logger: Logger;
}

/**
 * Applies the defaults and checks every value.
 * @throws {@link InvalidConfigError} naming the first invalid option
 * @internal
 */
export function resolveOplogSpoolOptions(
  directory: string,
  options: OplogSpoolOptions
): ResolvedOplogSpoolOptions {
  if (typeof directory !== 'string' || directory.length === 0) {
    throw new InvalidConfigError('spool.directory', 'must be a non-empty path');
  }
  return readOptions(
    options,
    reader => ({
      segmentBytes: reader.integer('segmentBytes', oplogSpoolDefaults.segmentBytes),
      readChunkBytes: reader.integer('readChunkBytes', oplogSpoolDefaults.readChunkBytes, {
        min: RECORD_HEADER_BYTES
      }),
      lock: reader.boolean('lock', true),
      logger: reader.logger() ?? silentLogger
    }),
    'spool'
  );
}
