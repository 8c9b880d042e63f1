/**
 * Options of the {@link ChangeStreamFetcher}: the oplog fetcher's, plus the resume token to
 * start after.
 */
import { type Document } from 'mongodb';

import { readOptions } from '../options/option-reader.js';
import {
  type OplogFetcherOptions,
  readFetcherSettings,
  readStart,
  type ResolvedOplogFetcherOptions
} from './oplog-fetcher-options.js';

/**
 * Options of the {@link ChangeStreamFetcher}.
 *
 * @remarks
 * The same as {@link OplogFetcherOptions} (and the same defaults), plus `resumeToken`.
 * `start` keeps checkpoint semantics: the optime of the last change already applied; the stream
 * starts right after it (`startAtOperationTime`) unless a `resumeToken` is given.
 * @public
 */
export interface ChangeStreamFetcherOptions extends Omit<
  OplogFetcherOptions,
  'startKind' | 'fromMigrate'
> {
  /**
   * The resume token of the last change already applied (what a checkpoint stores): the stream
   * starts after it (`startAfter`) and `start` only names its optime.
   */
  resumeToken?: Document | undefined;
}

/**
 * {@link ChangeStreamFetcherOptions} with every default applied and every value checked.
 * @public
 */
export interface ResolvedChangeStreamFetcherOptions extends ResolvedOplogFetcherOptions {
  /** See {@link ChangeStreamFetcherOptions.resumeToken}. */
  readonly resumeToken: Document | undefined;
}

/**
 * Applies the defaults and validates every option. No I/O.
 * @throws {@link InvalidConfigError} naming the first invalid field
 * @internal
 */
export function resolveChangeStreamFetcherOptions(
  options: ChangeStreamFetcherOptions
): ResolvedChangeStreamFetcherOptions {
  return readOptions(options, reader => {
    reader.signal();
    reader.logger();
    return Object.freeze({
      source: reader.client('source'),
      start: readStart(reader),
      // A stream starts at a cluster time, never at an entry it must find first.
      startKind: 'time' as const,
      // Change streams never show migrations.
      fromMigrate: 'skip' as const,
      ...readFetcherSettings(reader),
      resumeToken: reader.optionalDocument<Document>(
        'resumeToken',
        'a resume token document ({_data: …})'
      )
    });
  });
}
