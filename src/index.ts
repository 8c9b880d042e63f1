/**
 * mongo-replicate: replicate a MongoDB deployment into another one, a full copy followed by
 * continuous oplog or change-stream sync.
 *
 * @packageDocumentation
 */
export {
  ApplyConflictError,
  CheckpointError,
  InvalidConfigError,
  OplogStartMissingError,
  ReplicationError,
  ReplicationErrorCode,
  type ReplicationErrorOptions,
  RetriesExhaustedError,
  SourceReadError,
  TargetWriteError,
  UnsupportedOplogEntryError
} from './errors.js';
