/**
 * A stable fingerprint of filter options, stored in the checkpoint: resuming a checkpoint with
 * another filter would silently skip the namespaces it adds (they were never copied) or keep
 * applying to ones it drops, so a change must be noticed, and the fingerprint tells.
 */
import { createHash } from 'node:crypto';

import { type NamespaceFilterOptions } from './namespace-filter.js';

function patternText(pattern: string | RegExp): string {
  return pattern instanceof RegExp ? `/${pattern.source}/${pattern.flags}` : pattern;
}

/**
 * The same text for options that select and rename the same way, whatever the order of their
 * lists and rules; a 16-hex-digit SHA-256 prefix.
 * @internal
 */
export function filterFingerprint(options: NamespaceFilterOptions | undefined): string {
  const canonical = {
    include: (options?.include ?? []).map(patternText).sort(),
    exclude: (options?.exclude ?? []).map(patternText).sort(),
    rename: Object.entries(options?.rename ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    includeSystem: options?.includeSystem ?? false
  };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}
