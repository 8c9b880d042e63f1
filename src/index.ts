/**
 * mongo-replicate: replicate a MongoDB deployment into another one, a full copy followed by
 * continuous oplog or change-stream sync.
 *
 * @packageDocumentation
 */
export {
  type AppliedBatchEvent,
  type ApplierConflictEvent,
  type ApplyCounts,
  type ConflictAction,
  type ConflictPolicy,
  HashedApplierPool,
  hashedApplierPoolDefaults,
  type HashedApplierPoolEvents,
  type HashedApplierPoolOptions,
  type ResolvedHashedApplierPoolOptions
} from './apply/hashed-applier-pool.js';
export {
  type UniqueConflictPolicy,
  type UniqueGuardState,
  type UniqueIndexEvent
} from './apply/unique-guard.js';
export {
  ReplBatcher,
  replBatcherDefaults,
  type ReplBatcherEvents,
  type ReplBatcherOptions,
  type ReplBatchEvent,
  type ReplBatchReason,
  type ResolvedReplBatcherOptions,
  type TransactionMode
} from './batch/repl-batcher.js';
export {
  CatalogCopier,
  catalogCopierDefaults,
  type CatalogCopierEvents,
  type CatalogCopierOptions,
  type CatalogCreatedEvent,
  type CatalogDroppedEvent,
  type CatalogEntry,
  type OnExistingTarget,
  type PrepareCollectionsOptions,
  type ResolvedCatalogCopierOptions,
  type SourceCatalog,
  type SourceCollection,
  type SourceView
} from './catalog/index.js';
export { type UniqueIndexRef } from './catalog/unique-indexes.js';
export {
  type Checkpoint,
  type CopiedCollection,
  type ReplicationPhase,
  type StoredRange
} from './checkpoint/checkpoint.js';
export { type CheckpointSaveOptions, type CheckpointStore } from './checkpoint/checkpoint-store.js';
export {
  type CopyStateSaveOptions,
  type CopyStateStore,
  isCopyStateStore,
  loadCheckpoint
} from './checkpoint/copy-state-store.js';
export { FileCheckpointStore } from './checkpoint/file-checkpoint-store.js';
export {
  MemoryCheckpointStore,
  type MemoryCheckpointStoreOptions
} from './checkpoint/memory-checkpoint-store.js';
export {
  MongoCheckpointStore,
  mongoCheckpointStoreDefaults,
  type MongoCheckpointStoreOptions
} from './checkpoint/mongo-checkpoint-store.js';
export {
  ApplyConflictError,
  CheckpointError,
  InvalidConfigError,
  InvalidStateError,
  LeaseHeldError,
  type LeaseHolderInfo,
  LeaseLostError,
  OplogStartMissingError,
  ReplicationError,
  ReplicationErrorCode,
  type ReplicationErrorOptions,
  RetriesExhaustedError,
  SourceReadError,
  SpoolError,
  TargetExistsError,
  TargetWriteError,
  UnsupportedOplogEntryError
} from './errors.js';
export {
  type HeldBack,
  type LagEvent,
  type ProgressEvent,
  type RetryAttempt,
  type RetryEvent,
  StageState,
  type StateChangeEvent
} from './events.js';
export {
  ChangeStreamFetcher,
  type ChangeStreamFetcherEvents,
  type ChangeStreamFetcherOptions,
  type ResolvedChangeStreamFetcherOptions,
  type SkippedChangeEvent
} from './fetch/change-stream-fetcher.js';
export {
  type OplogBatchEvent,
  OplogFetcher,
  oplogFetcherDefaults,
  type OplogFetcherEvents,
  type OplogFetcherOptions,
  type OplogFetcherRetryOptions,
  type OplogFetchLagEvent,
  type ResolvedOplogFetcherOptions
} from './fetch/oplog-fetcher.js';
export {
  ShardedOplogFetcher,
  type ShardedOplogFetcherOptions
} from './fetch/sharded-oplog-fetcher.js';
export { shardConnectionString, type SourceShard } from './fetch/source-shards.js';
export { TailingFetcher } from './fetch/tailing-fetcher.js';
export {
  CollectionExecutor,
  collectionExecutorDefaults,
  type CollectionExecutorEvents,
  type CollectionExecutorOptions,
  type CopyProgressEvent,
  type CopyTask,
  type CopyTotals,
  type DuplicatePolicy,
  type RangeCopiedEvent
} from './full/collection-executor.js';
export { type ResolvedCollectionExecutorOptions } from './full/collection-executor-options.js';
export { type IndexTiming } from './full/full-copy.js';
export {
  type LeaseOwner,
  type LeaseRecord,
  type LeaseToken,
  type LeasingCheckpointStore
} from './lease/lease.js';
export { BoundedQueue } from './lifecycle/bounded-queue.js';
export {
  classifyError,
  type ClassifyErrorOptions,
  type ErrorClassification
} from './lifecycle/classify-error.js';
export {
  retryDefaults,
  type RetryOptions,
  type StageRetryOptions,
  withRetry
} from './lifecycle/retry.js';
export {
  Stage,
  type StageEvents,
  type StageOptions,
  type WaitForOptions
} from './lifecycle/stage.js';
export {
  type Logger,
  redactConnectionString,
  redactError,
  redactingLogger,
  redactText,
  silentLogger
} from './logger.js';
export {
  formatNamespace,
  isValidNamespace,
  type Namespace,
  namespaceLimits,
  parseNamespace
} from './namespace/namespace.js';
export {
  NamespaceFilter,
  type NamespaceFilterContext,
  namespaceFilterDefaults,
  type NamespaceFilterOptions,
  REPLICATOR_DATABASE
} from './namespace/namespace-filter.js';
export { type SkippableOperation } from './namespace/operation-filter.js';
export {
  ReplicatorMonitor,
  replicatorMonitorDefaults,
  type ReplicatorMonitorOptions
} from './observability/replicator-monitor.js';
export {
  type AppliedStatus,
  type CheckpointStatus,
  type CopyStatus,
  type DirectionMapping,
  type LeaseStatus,
  type NamespaceCopyStatus,
  type OptimeStatus,
  type RateLimitStatus,
  type RecentError,
  type ReplicatorStatus
} from './observability/replicator-status.js';
export {
  startStatusServer,
  type StatusServer,
  type StatusServerOptions
} from './observability/status-server.js';
export { changeEventToOps, type ConvertedEvent } from './oplog/change-events.js';
export { insertAsReplacement, toWriteModel } from './oplog/crud-ops.js';
export {
  DDL_COMMAND_NAMES,
  type DdlCommandName,
  type NamespaceMapper,
  type TargetCommand,
  toTargetCommand
} from './oplog/ddl-ops.js';
export {
  type CommandEntry,
  compareOptimes,
  type DeleteEntry,
  formatOptime,
  type InsertEntry,
  type NoopEntry,
  type OplogEntry,
  type OplogEntryBase,
  type OplogNumber,
  type OplogOp,
  optimeOf,
  parseOplogEntry,
  type RawOplogEntry,
  type UpdateEntry,
  type UpdateKind
} from './oplog/oplog-entry.js';
export {
  isPartialTransaction,
  isTransactionCommit,
  TransactionAssembler,
  unwrapApplyOps
} from './oplog/transactions.js';
export { updateDescriptionToDiff } from './oplog/update-description.js';
export { diffToUpdate, updateOf, type UpdateSource, v1ToUpdate } from './oplog/update-diff.js';
export { type FenceOptions, type FenceResult } from './orchestration/fence.js';
export {
  type ApplyBatch,
  type ApplyBatchBase,
  type CrudBatch,
  type CrudOp,
  type DdlBatch,
  type FetchedEntry,
  type ProgressBatch,
  type SkippedOperations,
  type TxnBatch
} from './pipeline/pipeline-items.js';
export { Replicator } from './replicator.js';
export {
  type CheckpointEvent,
  type LeaseEvent,
  type PhaseEvent,
  type ReplicatorEvents
} from './replicator-events.js';
export {
  type FetchMethod,
  type ReplicatorCheckpointOptions,
  replicatorDefaults,
  type ReplicatorFullOptions,
  type ReplicatorLeaseOptions,
  type ReplicatorOptions,
  type ResolvedReplicatorOptions,
  type ShardWorkerSettings
} from './replicator-options.js';
export {
  DocumentSplitter,
  documentSplitterDefaults,
  type DocumentSplitterEvents,
  type DocumentSplitterOptions,
  type IdRange,
  rangeFindOptions,
  type ResolvedDocumentSplitterOptions,
  type SplitEvent
} from './split/document-splitter.js';
export {
  OplogSpool,
  oplogSpoolDefaults,
  type OplogSpoolOptions,
  type SpooledEntry,
  type SpoolReadOptions
} from './spool/oplog-spool.js';
export { type RateLimit } from './throttle/rate-limit.js';
export {
  type RateLimitStats,
  type ThrottleClock,
  WriteThrottle
} from './throttle/write-throttle.js';
export {
  caughtUpWith,
  type DocumentMismatchEvent,
  type IndexesComparison,
  type MismatchKind,
  type NamespaceReport,
  type OptionsComparison,
  type RecheckOptions,
  type VerificationReport,
  Verifier,
  verifierDefaults,
  type VerifierEvents,
  type VerifierOptions,
  type VerifyProgressEvent
} from './verify/index.js';
