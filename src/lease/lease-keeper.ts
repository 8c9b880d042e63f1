/**
 * LeaseKeeper: holds a Replicator's lease on its checkpoint name.
 *
 * ```
 * acquire ──held by another──► standby? wait until it expires or is released, try again
 *    │                         else LeaseHeldError naming the holder
 *    ▼
 * held: renewed every ttl/3 ──renewal refused (taken over)──► lost
 *       deadline = start of the last successful renewal + ttl − ttl/5 ──passed──► lost
 * ```
 *
 * The deadline is measured on this process's monotonic clock from the moment the renewal was
 * sent, so it falls before the store's expiry (the store starts counting later) by a margin that
 * covers a write in flight. `assertHeld()` compares the clock itself rather than trusting a
 * timer: after the process was paused (SIGSTOP, a VM freeze), I/O callbacks can run before the
 * timers do, and the first write they attempt must already see that the lease is gone.
 */
import { setTimeout as delay } from 'node:timers/promises';

import { LeaseHeldError, LeaseLostError } from '../errors.js';
import { type Logger } from '../logger.js';
import {
  holderInfo,
  type LeaseOwner,
  type LeaseRecord,
  type LeaseToken,
  type LeasingCheckpointStore
} from './lease.js';

/**
 * What {@link LeaseKeeper} needs.
 * @internal
 */
export interface LeaseKeeperOptions {
  readonly store: LeasingCheckpointStore;
  /** The checkpoint name. */
  readonly name: string;
  readonly ttlMs: number;
  readonly owner: LeaseOwner;
  /** Wait for a held lease instead of failing. */
  readonly standby: boolean;
  readonly logger: Logger;
  /** Aborting ends a standby wait. */
  readonly signal: AbortSignal;
  /** The lease is held by someone else: this replicator waits (standby). */
  readonly onStandby?: (holder: LeaseRecord) => void;
  /** The lease is lost: stop writing at once. Called once. */
  readonly onLost: (error: LeaseLostError) => void;
  /** Monotonic milliseconds. @defaultValue `performance.now` */
  readonly clock?: () => number;
}

/**
 * See the file header.
 * @internal
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #clock: () => number;
  #record: LeaseRecord;
  /** Monotonic time after which this process must not write. */
  #deadline: number;
  #lost: LeaseLostError | undefined;
  #renewTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(options: LeaseKeeperOptions, record: LeaseRecord, requestedAt: number) {
    this.#options = options;
    this.#clock = options.clock ?? (() => performance.now());
    this.#record = record;
    this.#deadline = requestedAt + options.ttlMs - margin(options.ttlMs);
    this.#schedule(requestedAt);
  }

  /**
   * Takes the lease, waiting for it in standby when that is asked for.
   * @throws {@link LeaseHeldError} naming the holder (not in standby)
   * @throws the signal's reason when aborted during a standby wait
   */
  static async acquire(options: LeaseKeeperOptions): Promise<LeaseKeeper> {
    const { store, name, ttlMs, owner, signal, logger } = options;
    const clock = options.clock ?? (() => performance.now());
    let announced: LeaseRecord | undefined;
    for (;;) {
      signal.throwIfAborted();
      const requestedAt = clock();
      const record = await store.acquireLease(name, owner, ttlMs);
      if (record.owner.id === owner.id) {
        logger.info(`Took the lease of checkpoint "${name}"`, { token: record.token });
        return new LeaseKeeper(options, record, requestedAt);
      }
      if (!options.standby) throw new LeaseHeldError(name, holderInfo(record));
      if (announced?.owner.id !== record.owner.id || announced.token !== record.token) {
        announced = record;
        logger.info(
          `Standing by: checkpoint "${name}" is held by process ${record.owner.pid} on ${record.owner.host}`,
          { token: record.token, expiresAt: record.expiresAt.toISOString() }
        );
        options.onStandby?.(record);
      }
      // Try again once the holder's lease would expire, and at least every ttl/3 in case it is
      // released earlier.
      const untilExpiry = record.expiresAt.getTime() - record.now.getTime();
      const wait = Math.min(Math.max(untilExpiry + 50, 50), ttlMs / 3);
      await delay(wait, undefined, { signal }).catch(() => signal.throwIfAborted());
    }
  }

  /** True until the lease is lost or released. */
  get holds(): boolean {
    return !this.#stopped && this.#lost === undefined;
  }

  /** The lease as last taken or renewed. */
  get record(): LeaseRecord {
    return this.#record;
  }

  /** What saves are made under. */
  get token(): LeaseToken {
    return { ownerId: this.#record.owner.id, token: this.#record.token };
  }

  /**
   * Throws unless the lease is held now: called right before every write to the target.
   * @throws {@link LeaseLostError}
   */
  assertHeld(): void {
    if (this.#lost) throw this.#lost;
    if (this.#clock() >= this.#deadline) {
      throw this.#lose(
        new LeaseLostError(
          `The lease of checkpoint "${this.#options.name}" was not renewed in time (the store was unreachable, or this process was paused)`
        )
      );
    }
  }

  /** Stops renewing, and gives the lease up in the store unless it was lost. Never throws. */
  async release(): Promise<void> {
    const wasStopped = this.#stopped;
    this.#stop();
    if (wasStopped || this.#lost) return;
    try {
      await this.#options.store.releaseLease(this.#options.name, this.token);
      this.#options.logger.info(`Released the lease of checkpoint "${this.#options.name}"`);
    } catch (error) {
      this.#options.logger.warn('Could not release the lease; it expires by itself', {
        error: error instanceof Error ? error.message : String(error)
      });
    }
  }

  /** Stops renewing without releasing (the lease expires by itself). */
  abandon(): void {
    this.#stop();
  }

  #stop(): void {
    this.#stopped = true;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#deadlineTimer);
  }

  /** Plans the next renewal and the deadline, from a renewal sent at `requestedAt`. */
  #schedule(requestedAt: number): void {
    if (this.#stopped) return;
    this.#armDeadline();
    this.#renewAfter(Math.max(0, requestedAt + this.#options.ttlMs / 3 - this.#clock()));
  }

  /** Reports the loss once the deadline passes, even when nothing writes meanwhile. */
  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    if (this.#stopped) return;
    // Timers keep their own coarser clock and may fire a little early: check, and wait again.
    // Unreferenced: a lease alone never keeps the process alive.
    this.#deadlineTimer = setTimeout(
      () => {
        if (this.#clock() < this.#deadline) return this.#armDeadline();
        try {
          this.assertHeld();
        } catch {
          // assertHeld reported it.
        }
      },
      Math.max(1, Math.ceil(this.#deadline - this.#clock()))
    ).unref();
  }

  #renewAfter(ms: number): void {
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(() => void this.#renew(), ms).unref();
  }

  async #renew(): Promise<void> {
    if (this.#stopped || this.#lost) return;
    const { store, name, ttlMs, logger } = this.#options;
    const requestedAt = this.#clock();
    let renewed: LeaseRecord | undefined;
    try {
      renewed = await store.renewLease(name, this.token, ttlMs);
    } catch (error) {
      // Transient (the store is unreachable): try again soon; the deadline stops the writes.
      logger.warn(`Could not renew the lease of checkpoint "${name}"; trying again`, {
        error: error instanceof Error ? error.message : String(error)
      });
      this.#renewAfter(ttlMs / 10);
      return;
    }
    if (this.#stopped || this.#lost) return;
    if (renewed === undefined) {
      const holder = await store.readLease(name).catch(() => undefined);
      this.#lose(
        new LeaseLostError(
          `The lease of checkpoint "${name}" was taken over`,
          holder && holder.owner.id !== this.#record.owner.id ? holderInfo(holder) : undefined
        )
      );
      return;
    }
    this.#record = renewed;
    this.#deadline = requestedAt + ttlMs - margin(ttlMs);
    this.#schedule(requestedAt);
  }

  #lose(error: LeaseLostError): LeaseLostError {
    if (this.#lost) return this.#lost;
    this.#lost = error;
    this.#stop();
    this.#options.logger.error(error.message);
    this.#options.onLost(error);
    return error;
  }
}

/** How long before the store's expiry this process stops writing: room for a write in flight. */
function margin(ttlMs: number): number {
  return ttlMs / 5;
}
