/**
 * One run of the full copy for the Replicator: built from its options, resumed from and
 * recorded in its checkpoint, reporting through its events.
 */
import { type MongoClient } from 'mongodb';

import { type RetryEvent } from '../events.js';
import { type CopyProgressEvent } from '../full/collection-executor.js';
import { FullCopy } from '../full/full-copy.js';
import { type Logger } from '../logger.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import { type ResolvedReplicatorOptions } from '../replicator-options.js';
import { type WriteThrottle } from '../throttle/write-throttle.js';
import { type CheckpointKeeper } from './checkpoint-keeper.js';

/**
 * What {@link startCopy} needs.
 * @internal
 */
export interface CopyRunOptions {
  readonly clients: { readonly source: MongoClient; readonly target: MongoClient };
  readonly options: ResolvedReplicatorOptions;
  readonly filter: NamespaceFilter;
  readonly keeper: CheckpointKeeper;
  readonly logger: Logger;
  /** Ends the copy at its next safe point (a forced stop, or a failing fetcher in mode all). */
  readonly signal: AbortSignal;
  readonly onProgress: (event: CopyProgressEvent) => void;
  readonly onRetry: (event: RetryEvent) => void;
  /** Runs right before every write to the target (the lease check). */
  readonly beforeWrite: () => void;
  /** The rate limit and pause gate of the copy's writes (shared with the applier). */
  readonly throttle: WriteThrottle;
}

/**
 * The copy, resuming from the keeper's copy state and saving each change of it there.
 * @internal
 */
export function startCopy(run: CopyRunOptions): FullCopy {
  const { clients, options, keeper } = run;
  return new FullCopy({
    source: clients.source,
    target: clients.target,
    filter: run.filter,
    indexes: options.indexes,
    onExistingTarget: options.onExistingTarget,
    onDuplicate: options.onDuplicate,
    splitter: options.full.splitter ?? {},
    executor: options.full.executor ?? {},
    logger: run.logger,
    signal: run.signal,
    resume: keeper.copyState,
    savePlan: state => keeper.planCopy(state),
    rangeDone: (sourceNs, index) => keeper.copyRangeDone(sourceNs, index),
    flushState: () => keeper.flush(),
    onProgress: run.onProgress,
    onRetry: run.onRetry,
    beforeWrite: run.beforeWrite,
    throttle: run.throttle,
    targetSharding: options.targetSharding
  });
}
