/**
 * mongo-replicate: replicate a MongoDB deployment into another one, a full copy followed by
 * continuous oplog or change-stream sync.
 *
 * @packageDocumentation
 */
export {
  InvalidConfigError,
  ReplicationError,
  ReplicationErrorCode,
  type ReplicationErrorOptions
} from './errors.js';
