/**
 * The unique indexes a full copy built relaxed (see catalog/unique-indexes.ts): recorded for the
 * catch-up to enforce once it reaches the end of the copy (mode `all`), or enforced at once when
 * the copy is all there is (mode `full`).
 */
import { type MongoClient } from 'mongodb';

import {
  type UniqueConflictPolicy,
  type UniqueIndexEvent,
  withRelaxed
} from '../apply/unique-guard.js';
import {
  UniqueIndexDuplicatesError,
  UniqueIndexes,
  type UniqueIndexRef
} from '../catalog/unique-indexes.js';
import { type CheckpointKeeper } from './checkpoint-keeper.js';

/**
 * Mode all, after the copy: records the relaxed indexes in the checkpoint (the catch-up enforces
 * them once it reaches `copyEndTs`) and reports them.
 * @internal
 */
export async function recordCopiedUniqueIndexes(
  relaxed: readonly UniqueIndexRef[],
  keeper: CheckpointKeeper,
  emit: (event: UniqueIndexEvent) => void
): Promise<void> {
  keeper.uniqueIndexes = withRelaxed(keeper.uniqueIndexes, relaxed);
  await keeper.save();
  for (const ref of relaxed) {
    emit({ action: 'relaxed', namespace: ref.namespace, index: ref.name, reason: 'copy' });
  }
}

/**
 * Mode full, after the copy: makes every relaxed index unique again. One the target holds
 * duplicate keys for (the source changed during the copy, or the target was not empty) fails the
 * run, or under the `ignore` policy stays non-unique, recorded in the checkpoint's state (saved
 * with the copy's end).
 * @throws {@link TargetWriteError} naming an index that has duplicate keys on the target
 * @internal
 */
export async function enforceCopiedUniqueIndexes(
  target: MongoClient,
  relaxed: readonly UniqueIndexRef[],
  keeper: CheckpointKeeper,
  {
    policy,
    emit,
    beforeWrite
  }: {
    policy: UniqueConflictPolicy;
    emit: (event: UniqueIndexEvent) => void;
    beforeWrite: () => void;
  }
): Promise<void> {
  const indexes = new UniqueIndexes(target, beforeWrite);
  const leftRelaxed: UniqueIndexRef[] = [];
  for (const ref of relaxed) {
    const event = { namespace: ref.namespace, index: ref.name };
    try {
      if (await indexes.enforce(ref.namespace, ref.name)) {
        emit({ ...event, action: 'enforced', reason: 'consistent' });
      }
    } catch (error) {
      if (!(error instanceof UniqueIndexDuplicatesError) || policy === 'fail') throw error;
      leftRelaxed.push(ref);
      emit({ ...event, action: 'leftRelaxed', reason: 'duplicates' });
    }
  }
  keeper.uniqueIndexes = withRelaxed(keeper.uniqueIndexes, leftRelaxed);
}
