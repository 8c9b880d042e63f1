/** A logger for tests that keeps the warnings it was given. */
import { type Logger } from '../../src/logger.js';

/** A logger that keeps every warning (message and fields) and drops the rest. */
export function recordingLogger(): Logger & {
  readonly warnings: { message: string; fields: Record<string, unknown> | undefined }[];
} {
  const warnings: { message: string; fields: Record<string, unknown> | undefined }[] = [];
  return {
    warnings,
    debug() {},
    info() {},
    warn(message, fields) {
      warnings.push({ message, fields });
    },
    error() {}
  };
}
