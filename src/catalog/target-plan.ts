/**
 * What to do with one target namespace before copying into it, from what exists there and the
 * `onExistingTarget` policy:
 *
 * | target                                  | `'fail'` | `'drop'`        | `'append'` |
 * |-----------------------------------------|----------|-----------------|------------|
 * | missing                                 | create   | create          | create     |
 * | same kind and options, empty (or view)  | keep     | keep            | keep       |
 * | same kind and options, holds documents  | refuse   | drop and create | keep       |
 * | other kind or options                   | refuse   | drop and create | refuse     |
 *
 * Appending into a collection created differently (capped where the source is not, another
 * collation or validator, a view) would not give a copy of the source, so `'append'` refuses it
 * too; only `'drop'` is allowed to replace what is there.
 */
import { type Document } from 'mongodb';

import { optionDifferences } from './collection-options.js';

/**
 * When a namespace the copy writes already exists on the target: `'fail'` refuses a non-empty
 * collection before anything is written, `'drop'` drops and recreates it, `'append'` copies into
 * it as it is.
 * @public
 */
export type OnExistingTarget = 'fail' | 'drop' | 'append';

/**
 * What exists at a target namespace.
 * @internal
 */
export interface ExistingTarget {
  /** `collection`, `timeseries` or `view`, as the target's `listCollections` reports it. */
  readonly type: string;
  /** Its `listCollections` options. */
  readonly options: Readonly<Document>;
  /** False when it holds at least one document (views count as empty). */
  readonly empty: boolean;
}

/**
 * The decision for one target namespace.
 * @internal
 */
export type TargetPlan =
  | {
      readonly action: 'create' | 'keep' | 'dropAndCreate';
      readonly differences: readonly string[];
    }
  | {
      readonly action: 'refuse';
      readonly reason: 'notEmpty' | 'incompatible';
      readonly differences: readonly string[];
    };

/**
 * Decides, without I/O, what to do with a target namespace (see the table in this file).
 *
 * @param policy - The `onExistingTarget` policy.
 * @param expected - The type and options the copy would create.
 * @param existing - What the target holds there, or `undefined` when nothing.
 * @internal
 */
export function planTarget(
  policy: OnExistingTarget,
  expected: { readonly type: string; readonly options: Readonly<Document> },
  existing: ExistingTarget | undefined
): TargetPlan {
  if (existing === undefined) return { action: 'create', differences: [] };
  const differences = optionDifferences(expected, existing);
  if (differences.length > 0) {
    return policy === 'drop'
      ? { action: 'dropAndCreate', differences }
      : { action: 'refuse', reason: 'incompatible', differences };
  }
  if (existing.empty || policy === 'append') return { action: 'keep', differences };
  return policy === 'drop'
    ? { action: 'dropAndCreate', differences }
    : { action: 'refuse', reason: 'notEmpty', differences };
}
