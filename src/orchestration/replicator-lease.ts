/**
 * The Replicator's lease on its checkpoint name (lease/lease-keeper.ts), taken from its
 * checkpoint store; a store without leases runs without one, with a warning.
 */
import { type CheckpointStore } from '../checkpoint/checkpoint-store.js';
import { type LeaseLostError } from '../errors.js';
import { holderInfo, isLeasingStore, type LeaseRecord, newLeaseOwner } from '../lease/lease.js';
import { LeaseKeeper } from '../lease/lease-keeper.js';
import { type Logger } from '../logger.js';
import { type LeaseEvent } from '../replicator-events.js';
import { type ResolvedReplicatorOptions } from '../replicator-options.js';

/**
 * What {@link holdLease} needs.
 * @internal
 */
export interface ReplicatorLeaseContext {
  readonly options: Pick<ResolvedReplicatorOptions, 'checkpoint' | 'lease' | 'standby'>;
  readonly store: CheckpointStore;
  readonly logger: Logger;
  /** Ends a standby wait. */
  readonly signal: AbortSignal;
  /** A standby wait begins (true) or ends (false). */
  readonly onStandby: (waiting: boolean) => void;
  readonly onEvent: (event: LeaseEvent) => void;
  /** The lease is lost: the replicator must fail. */
  readonly onLost: (error: LeaseLostError) => void;
}

/**
 * Takes the checkpoint's lease (waiting for it in standby when asked to).
 * @returns the keeper, or undefined when the store keeps no leases
 * @throws {@link LeaseHeldError} when another replicator holds it and standby is off
 * @internal
 */
export async function holdLease(context: ReplicatorLeaseContext): Promise<LeaseKeeper | undefined> {
  const { options, store, logger } = context;
  const name = options.checkpoint.name;
  if (!isLeasingStore(store)) {
    logger.warn(
      `The checkpoint store keeps no leases: nothing stops another replicator from using checkpoint "${name}" at the same time`
    );
    return undefined;
  }
  const event = (action: LeaseEvent['action'], record: LeaseRecord | undefined) =>
    context.onEvent({ action, name, holder: record && holderInfo(record) });
  let waited = false;
  const keeper = await LeaseKeeper.acquire({
    store,
    name,
    ttlMs: options.lease.ttlMs,
    owner: newLeaseOwner(),
    standby: options.standby,
    logger,
    signal: context.signal,
    onStandby: holder => {
      waited = true;
      context.onStandby(true);
      event('standby', holder);
    },
    onLost: error => {
      context.onEvent({ action: 'lost', name, holder: error.holder });
      context.onLost(error);
    }
  });
  if (waited) context.onStandby(false);
  event('acquired', keeper.record);
  return keeper;
}

/**
 * Gives the lease up on stop (not after it was lost), and says so.
 * @internal
 */
export async function releaseLease(
  keeper: LeaseKeeper | undefined,
  onEvent: (event: LeaseEvent) => void,
  name: string
): Promise<void> {
  if (keeper === undefined || !keeper.holds) return;
  const holder = holderInfo(keeper.record);
  await keeper.release();
  onEvent({ action: 'released', name, holder });
}
