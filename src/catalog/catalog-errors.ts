/**
 * The copier's typed errors: driver failures wrapped with what was being done, and the refusal
 * to use an existing target. Messages never quote a server's error text: a failed unique index
 * build, for one, quotes the duplicate key, which is document content. The driver error stays
 * available as `cause`, with credentials scrubbed.
 */
import {
  ReplicationError,
  SourceReadError,
  TargetExistsError,
  TargetWriteError
} from '../errors.js';
import { classifyError } from '../lifecycle/classify-error.js';
import { redactError } from '../logger.js';
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

/** ` (server error 85 IndexOptionsConflict)`, ` (MongoNetworkError)` or nothing. */
function describeFailure(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const { code, codeName, name } = error as { code?: unknown; codeName?: unknown; name?: unknown };
  if (typeof code === 'number') {
    return ` (server error ${code}${typeof codeName === 'string' ? ` ${codeName}` : ''})`;
  }
  return typeof name === 'string' && name !== 'Error' ? ` (${name})` : '';
}

function serverCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

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
  if (ReplicationError.is(error)) return error;
  const { retryable, hint } = classifyError(error);
  return new SourceReadError(`${action} failed${describeFailure(error)}`, retryable, {
    ...(namespace === undefined ? {} : { namespace }),
    hint,
    cause: redactError(error)
  });
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
  if (ReplicationError.is(error)) return error;
  const classification = classifyError(error);
  const code = serverCode(error);
  const hint = (code === undefined ? undefined : TARGET_HINTS.get(code)) ?? classification.hint;
  return new TargetWriteError(
    `${action} failed${describeFailure(error)}`,
    classification.retryable,
    {
      ...(namespace === undefined ? {} : { namespace }),
      hint,
      cause: redactError(error)
    }
  );
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
