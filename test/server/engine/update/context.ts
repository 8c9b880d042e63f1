/** What an update needs besides the document and the update spec. */
import type { Timestamp } from 'bson';

import type { BDoc, BValue } from '../../bson/values.js';

export interface UpdateContext {
  /** The command's `arrayFilters`, for `$[ident]` paths. */
  arrayFilters?: BDoc[] | undefined;
  /** The array index the query matched (mongod's matchedField), for the positional `$`. */
  matchPosition?: number | undefined;
  /** True when the update builds an upsert's new document ($setOnInsert applies). */
  isUpsertInsert?: boolean | undefined;
  /** The wall clock for $currentDate {$type: 'date'} (and `$$NOW` in pipelines). */
  now: Date;
  /** $currentDate {$type: 'timestamp'}; defaults to `now` in seconds with increment 1. */
  timestamp?: Timestamp | undefined;
  /** `let` constants for pipeline-style updates. */
  vars?: Map<string, BValue> | undefined;
}
