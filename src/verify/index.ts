/**
 * The verifier's public surface, re-exported in one place so `src/index.ts` imports it from one
 * module.
 */
export { caughtUpWith } from './caught-up-with.js';
export {
  type DocumentMismatchEvent,
  type IndexesComparison,
  type MismatchKind,
  type NamespaceReport,
  type OptionsComparison,
  type VerificationReport,
  type VerifierEvents,
  type VerifyProgressEvent
} from './verification-report.js';
export { Verifier } from './verifier.js';
export { type RecheckOptions, verifierDefaults, type VerifierOptions } from './verifier-options.js';
