/** The modules the Replicator sequences (one job each); re-exported for it, nothing else. */
export { CheckpointKeeper } from './checkpoint-keeper.js';
export { enforceCopiedUniqueIndexes, recordCopiedUniqueIndexes } from './copied-unique-indexes.js';
export { startCopy } from './copy-run.js';
export { DeploymentClients } from './deployment-clients.js';
export { identifyDeployments, replicatorFilter } from './deployment-identity.js';
export { type FenceOptions, type FenceResult, runFence } from './fence.js';
export {
  IncrementalPipeline,
  type PipelineEmit,
  type PipelineEvents
} from './incremental-pipeline.js';
export { checkpointStoreOf, replicatorKeeper } from './replicator-checkpoint.js';
export { holdLease, releaseLease } from './replicator-lease.js';
export { newestSourceOptime } from './source-position.js';
