/**
 * The copier's typed errors: driver failures wrapped with what was being done, and the refusal
 * to use an existing target. Messages never quote a server's error text: a failed unique index
 * build, for one, quotes the duplicate key, which is document content. The driver error stays
 * available as `cause`, with credentials scrubbed.
 */
import { type ReplicationError, TargetExistsError } from '../errors.js';
import { serverCode, sideError } from '../lifecycle/side-errors.js';
import { type TargetPlan } from './target-plan.js';

/** Hints for server errors with a clear remedy, by code. */
const TARGET_HINTS: ReadonlyMap<number, string> = new Map([
  [
    85,
    'The target already has an index with this name or key but other options. Drop that index on the target, or set onExistingTarget to "drop"'
  ],
  [
    86,
    'The target already has an index with this name on another key. Drop that index on the target, or set onExistingTarget to "drop"'
  ],
  [
    11000,
    'The target holds documents that break a unique index of the source. Remove them, or set onExistingTarget to "drop"'
  ],
  [
    48,
    'The namespace appeared on the target while the copy ran; make sure nothing else writes to the target, then retry'
  ]
]);

/**
 * `error` from reading the source catalog as a {@link SourceReadError}; typed errors pass
 * through.
 * @internal
 */
export function sourceReadFailed(
  action: string,
  error: unknown,
  namespace?: string
): ReplicationError {
  return sideError('source', error, { action, namespace });
}

/**
 * `error` from reading or changing the target catalog as a {@link TargetWriteError}; typed
 * errors pass through.
 * @internal
 */
export function targetWriteFailed(
  action: string,
  error: unknown,
  namespace?: string
): ReplicationError {
  const code = serverCode(error);
  const hint = code === undefined ? undefined : TARGET_HINTS.get(code);
  return sideError('target', error, { action, namespace, hint });
}

/**
 * The {@link TargetExistsError} for a refused target namespace.
 *
 * @param plan - The refusal.
 * @param namespace - The target namespace.
 * @param types - What the target holds there and what the copy would create (`collection`,
 * `timeseries`, `view`).
 * @param others - How many other namespaces were refused too (checked together).
 * @internal
 */
export function targetExists(
  plan: Extract<TargetPlan, { action: 'refuse' }>,
  namespace: string,
  types: { readonly existing: string; readonly expected: string },
  others = 0
): TargetExistsError {
  const more =
    others > 0 ? ` (and ${others} other target namespace${others === 1 ? '' : 's'})` : '';
  if (plan.reason === 'notEmpty') {
    return new TargetExistsError(
      `Target ${types.existing} ${namespace} already holds documents${more}`,
      'notEmpty',
      {
        namespace,
        hint: 'Set onExistingTarget to "drop" to replace existing collections or to "append" to copy into them, or empty them first'
      }
    );
  }
  const what = plan.differences.includes('type')
    ? `is a ${types.existing} where the source has a ${types.expected}`
    : `exists with other ${plan.differences.join(', ')} than the source`;
  return new TargetExistsError(
    `Target ${types.existing} ${namespace} ${what}${more}`,
    'incompatible',
    {
      namespace,
      hint: 'Set onExistingTarget to "drop" to replace it, or drop it on the target first'
    }
  );
}
