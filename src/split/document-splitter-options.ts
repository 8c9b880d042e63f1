/**
 * Options and events of the {@link DocumentSplitter}: what hosts fill in, the frozen defaults, and
 * the validation that runs in the constructor (before any I/O).
 */
import { type MongoClient } from 'mongodb';

import { type Logger, silentLogger } from '../logger.js';
import { type OptionReader, readOptions } from '../options/option-reader.js';
import { type IdRange } from './id-range.js';

/**
 * Options for {@link DocumentSplitter}. Only `source` is required.
 * @public
 */
export interface DocumentSplitterOptions {
  /** The source deployment, connected by the host. */
  source: MongoClient;
  /**
   * The most ranges one collection is cut into (the most parallel readers it can get).
   * @defaultValue 16
   */
  maxRangesPerCollection?: number;
  /**
   * Each range should hold at least this many documents: a collection with fewer than twice as
   * many is one range, so small collections are not cut into overhead.
   * @defaultValue 10_000
   */
  minDocumentsPerRange?: number;
  /**
   * `_id`s sampled per wanted range (oversampling): more samples give more even ranges.
   * `maxRangesPerCollection` × `samplesPerRange` may be at most 100 000.
   * @defaultValue 10
   */
  samplesPerRange?: number;
  /**
   * Where the splitter logs (why a collection stays one range, how it was cut).
   * @defaultValue a logger that drops everything
   */
  logger?: Logger;
}

/**
 * The defaults {@link DocumentSplitter} applies to omitted options.
 * @public
 */
export const documentSplitterDefaults = Object.freeze({
  maxRangesPerCollection: 16,
  minDocumentsPerRange: 10_000,
  samplesPerRange: 10
});

/**
 * {@link DocumentSplitterOptions} with every default applied and every value checked.
 * @public
 */
export interface ResolvedDocumentSplitterOptions {
  /** See {@link DocumentSplitterOptions.source}. */
  readonly source: MongoClient;
  /** See {@link DocumentSplitterOptions.maxRangesPerCollection}. */
  readonly maxRangesPerCollection: number;
  /** See {@link DocumentSplitterOptions.minDocumentsPerRange}. */
  readonly minDocumentsPerRange: number;
  /** See {@link DocumentSplitterOptions.samplesPerRange}. */
  readonly samplesPerRange: number;
  /** See {@link DocumentSplitterOptions.logger}. */
  readonly logger: Logger;
}

/**
 * Payload of the `split` event.
 * @public
 */
export interface SplitEvent {
  /** The collection, `db.coll`. */
  readonly namespace: string;
  /** Its ranges, in `_id` order. */
  readonly ranges: readonly IdRange[];
}

/**
 * Events of {@link DocumentSplitter}.
 * @public
 */
export interface DocumentSplitterEvents {
  /** A collection was cut into ranges (also when it stays one range). */
  split: (event: SplitEvent) => void;
}

/**
 * The samples one `$sample` may ask for. Far above any useful setting; it keeps the sample (and
 * its sort) a small fraction of a large collection, so `$sample` stays a random-cursor read.
 */
const MAX_SAMPLES = 100_000;

/**
 * Reads the splitter's tunable options: what the Replicator's `full.splitter` slice holds.
 * @throws {@link InvalidConfigError} naming the field
 * @internal
 */
export function readSplitterSettings(
  reader: OptionReader
): Omit<ResolvedDocumentSplitterOptions, 'source' | 'logger'> {
  const d = documentSplitterDefaults;
  const maxRangesPerCollection = reader.integer('maxRangesPerCollection', d.maxRangesPerCollection);
  const samplesPerRange = reader.integer('samplesPerRange', d.samplesPerRange);
  if (maxRangesPerCollection * samplesPerRange > MAX_SAMPLES) {
    reader.fail(
      'samplesPerRange',
      `maxRangesPerCollection × samplesPerRange must be at most ${MAX_SAMPLES}, got ${maxRangesPerCollection * samplesPerRange}`
    );
  }
  return {
    maxRangesPerCollection,
    minDocumentsPerRange: reader.integer('minDocumentsPerRange', d.minDocumentsPerRange),
    samplesPerRange
  };
}

/**
 * Applies the defaults and validates every option.
 * @throws {@link InvalidConfigError} naming the first invalid option.
 * @internal
 */
export function resolveDocumentSplitterOptions(
  options: DocumentSplitterOptions
): Readonly<ResolvedDocumentSplitterOptions> {
  return readOptions(options, reader =>
    Object.freeze({
      source: reader.client('source'),
      logger: reader.logger() ?? silentLogger,
      ...readSplitterSettings(reader)
    })
  );
}
