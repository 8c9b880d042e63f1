/**
 * The `rateLimit` option: how much the replicator may write to the target per second, and its
 * validation (the constructor's and `setRateLimit()`'s, with the same messages).
 */
import { type OptionReader, readOptions } from '../options/option-reader.js';

/**
 * A cap on what is written to the target, the full copy's inserts and the applier's writes
 * together. Each field left out is unlimited.
 * @public
 */
export interface RateLimit {
  /**
   * Documents written (inserted, updated, replaced or deleted) plus DDL commands run, per second.
   * @defaultValue unlimited
   */
  opsPerSecond?: number;
  /**
   * BSON bytes written per second: copied documents, and the size of the source's oplog entries
   * applied.
   * @defaultValue unlimited
   */
  bytesPerSecond?: number;
}

/**
 * Reads a {@link RateLimit}: each field a finite number above 0 (refused by its path otherwise).
 * @throws {@link InvalidConfigError} naming the field (`rateLimit.opsPerSecond`)
 * @internal
 */
export function readRateLimit(value: unknown, path = 'rateLimit'): Readonly<RateLimit> {
  return readOptions(
    value,
    reader => {
      const opsPerSecond = positive(reader, 'opsPerSecond');
      const bytesPerSecond = positive(reader, 'bytesPerSecond');
      return Object.freeze({
        ...(opsPerSecond === undefined ? {} : { opsPerSecond }),
        ...(bytesPerSecond === undefined ? {} : { bytesPerSecond })
      });
    },
    path
  );
}

function positive(reader: OptionReader, key: keyof RateLimit): number | undefined {
  const value = reader.optionalNumber(key);
  if (value === 0) reader.fail(key, 'expected a number > 0 (leave it out for no limit), got 0');
  return value;
}
