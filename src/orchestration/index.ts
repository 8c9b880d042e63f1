/** The modules the Replicator sequences (one job each); re-exported for it, nothing else. */
export { CheckpointKeeper } from './checkpoint-keeper.js';
export { CopyPhase } from './copy-phase.js';
export { DeploymentClients } from './deployment-clients.js';
export { identifyDeployments, replicatorFilter } from './deployment-identity.js';
export { type FenceOptions, type FenceResult, runFence } from './fence.js';
export {
  IncrementalPipeline,
  type PipelineEmit,
  type PipelineEvents
} from './incremental-pipeline.js';
export { assembleReplicator, type AssemblyEmit } from './replicator-assembly.js';
export { checkpointStoreOf, replicatorKeeper } from './replicator-checkpoint.js';
export { releaseLease } from './replicator-lease.js';
export { newestSourceOptime, replayUntil } from './source-position.js';
