/** Update oplog entry formats: `$v: 2` deltas (5.0+) and `$v: 1` modifier entries (4.4). */
export { applyDiffV2 } from './diff-v2-apply.js';
export { computeDiffV2 } from './diff-v2-compute.js';
export { computeUpdateV1 } from './update-v1.js';
