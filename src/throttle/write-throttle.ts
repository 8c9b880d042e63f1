/**
 * WriteThrottle: the one gate every write to the target passes, shared by the full copy's writers
 * and the applier's lanes (and its DDL and transactions). It does two things:
 *
 * - **Rate limit**: a token bucket for ops and one for bytes ({@link TokenBucket}); a writer asks
 *   for its write's cost and waits until both buckets have it. Waiting writers are served in
 *   arrival order, so no lane starves. Writers cut their writes into pieces of at most
 *   {@link WriteThrottle.split}'s size (a tenth of a second's worth), so the rate holds smoothly
 *   instead of in bursts of whole batches. The limit can change at any time; waiting writers
 *   are re-timed at once.
 * - **Pause**: while paused, no write starts (writers wait at the gate, so the queues upstream
 *   fill and the fetcher stops by backpressure); {@link WriteThrottle.pause} resolves once the
 *   writes already under way have ended. A stage's abort signal ends a writer's wait, so a stop
 *   while paused never waits for `resume()`.
 *
 * ```
 *            acquire(ops, bytes)          granted (tokens taken)         fn() ended
 *   writer ───────────────────► waiting ───────────────────► writing ─────────────► done
 *                               │  ▲ paused, or the head of the queue lacks tokens
 *                               └──┘ (a timer re-checks when they will be there)
 * ```
 */
import { type HeldBack } from '../events.js';
import { type RateLimit, readRateLimit } from './rate-limit.js';
import { TokenBucket } from './token-bucket.js';

/**
 * The time source of a {@link WriteThrottle}: milliseconds on a monotonic clock, and timers.
 * Tests inject one to drive time by hand.
 * @public
 */
export interface ThrottleClock {
  /** The current time, in milliseconds. */
  now(): number;
  /** Calls `callback` after `ms` milliseconds; returns a cancel function. */
  setTimer(callback: () => void, ms: number): () => void;
}

/**
 * Whether the rate limit holds replication back, for status pages and `lag` events.
 * @public
 */
export interface RateLimitStats {
  /**
   * True while a writer waits for the rate limit, and for a second after: the target is
   * written to as fast as the limit allows, so any lag is the limit's doing.
   */
  readonly limiting: boolean;
  /** Milliseconds during which some writer waited for the rate limit, in total (not paused). */
  readonly heldBackMs: number;
}

const systemClock: ThrottleClock = {
  now: () => performance.now(),
  setTimer(callback, ms) {
    const timer = setTimeout(callback, ms);
    return () => clearTimeout(timer);
  }
};

/** How long after its last wait the limit still counts as holding replication back. */
const LIMITING_WINDOW_MS = 1000;

interface Waiter {
  readonly ops: number;
  readonly bytes: number;
  readonly resolve: () => void;
}

/**
 * The rate limit and pause gate of writes to the target (see the file header).
 *
 * @remarks
 * A {@link Replicator} builds one from its `rateLimit` option and shares it between its copy and
 * its applier; `replicator.setRateLimit()`, `pause()` and `resume()` act on it. A host wiring
 * the stages by hand passes one throttle as the `throttle` option of each
 * {@link CollectionExecutor} and {@link HashedApplierPool} it wants limited together.
 *
 * @example
 * ```ts
 * const throttle = new WriteThrottle({ opsPerSecond: 500 });
 * const pool = new HashedApplierPool({ input, target, throttle });
 * throttle.setLimit({ opsPerSecond: 2_000 }); // at night
 * await throttle.pause(); // no write is under way any more
 * throttle.resume();
 * ```
 * @public
 */
export class WriteThrottle {
  readonly #clock: ThrottleClock;
  #limit: Readonly<RateLimit>;
  #ops: TokenBucket | undefined;
  #bytes: TokenBucket | undefined;
  #paused = false;
  readonly #queue: Waiter[] = [];
  #cancelTimer: (() => void) | undefined;
  #inFlight = 0;
  #idle: (() => void)[] = [];
  #holdingSince: number | undefined;
  #lastHeldAt = Number.NEGATIVE_INFINITY;
  #heldBackMs = 0;

  /**
   * @param limit - The rate limit to start with; see {@link RateLimit}.
   * @param clock - The time source (tests only).
   * @throws {@link InvalidConfigError} for a limit that is not a number above 0
   */
  constructor(limit: RateLimit = {}, clock: ThrottleClock = systemClock) {
    this.#clock = clock;
    this.#limit = readRateLimit(limit);
    this.#applyLimit();
  }

  /** The rate limit in force. */
  get limit(): Readonly<RateLimit> {
    return this.#limit;
  }

  /** True between {@link WriteThrottle.pause} and {@link WriteThrottle.resume}. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Why writes are held back now: `'paused'`, `'rateLimit'` (a writer waited for the limit
   * within the last second), or `undefined`.
   */
  get heldBack(): HeldBack | undefined {
    if (this.#paused) return 'paused';
    return this.stats.limiting ? 'rateLimit' : undefined;
  }

  /** Whether the rate limit holds writes back now, and for how long it has in total. */
  get stats(): RateLimitStats {
    const now = this.#clock.now();
    const holding = this.#holdingSince !== undefined;
    return {
      limiting: holding || now - this.#lastHeldAt < LIMITING_WINDOW_MS,
      heldBackMs: this.#heldBackMs + (holding ? now - this.#holdingSince! : 0)
    };
  }

  /**
   * Replaces the rate limit (a field left out is unlimited); waiting writers are re-timed.
   * @throws {@link InvalidConfigError} naming `rateLimit.<field>` for a value that is not above 0
   */
  setLimit(limit: RateLimit): void {
    this.#limit = readRateLimit(limit);
    this.#applyLimit();
    this.#pump();
  }

  /**
   * Lets no new write start; resolves once the writes under way have ended (at once if none
   * is, or if {@link WriteThrottle.resume} comes first).
   */
  pause(): Promise<void> {
    this.#paused = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#hold(false);
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise(resolve => this.#idle.push(resolve));
  }

  /** Lets writes start again, in the order they arrived. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#settleIdle();
    this.#pump();
  }

  /**
   * Cuts `items` into consecutive pieces that each fit one grant of the limit (at least one item
   * each), so that writes follow the limit smoothly; one piece of all of them without a limit.
   * @param bytesOf - The BSON size of one item.
   */
  split<T>(items: readonly T[], bytesOf: (item: T) => number): (readonly T[])[] {
    const maxOps = this.#ops === undefined ? Infinity : Math.floor(this.#ops.capacity);
    const maxBytes = this.#bytes?.capacity ?? Infinity;
    if (items.length <= 1 || (maxOps >= items.length && maxBytes === Infinity)) return [items];
    const pieces: T[][] = [];
    let piece: T[] = [];
    let bytes = 0;
    for (const item of items) {
      const size = maxBytes === Infinity ? 0 : bytesOf(item);
      if (piece.length > 0 && (piece.length >= maxOps || bytes + size > maxBytes)) {
        pieces.push(piece);
        piece = [];
        bytes = 0;
      }
      piece.push(item);
      bytes += size;
    }
    pieces.push(piece);
    return pieces;
  }

  /**
   * Waits until a write of `ops` operations and `bytes` bytes may start: not paused, and the
   * limit has room for it (after every writer that asked earlier). Rejects with `signal.reason`
   * when `signal` aborts first.
   */
  acquire(ops: number, bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    if (!this.#paused && this.#queue.length === 0 && this.#ops === undefined && !this.#bytes) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.#queue.indexOf(waiter);
        if (index >= 0) this.#queue.splice(index, 1);
        reject(signal?.reason as unknown);
        // The head may have changed.
        this.#pump();
      };
      const waiter: Waiter = {
        ops,
        bytes,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
      if (this.#queue.length === 1) this.#pump();
    });
  }

  /**
   * {@link WriteThrottle.acquire}, then `fn()`, counted as a write under way until it settles
   * ({@link WriteThrottle.pause} waits for it).
   */
  async write<T>(
    ops: number,
    bytes: number,
    signal: AbortSignal | undefined,
    fn: () => Promise<T>
  ): Promise<T> {
    await this.acquire(ops, bytes, signal);
    this.#inFlight++;
    try {
      return await fn();
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#settleIdle();
    }
  }

  #applyLimit(): void {
    const now = this.#clock.now();
    this.#ops = bucket(this.#ops, this.#limit.opsPerSecond, now);
    this.#bytes = bucket(this.#bytes, this.#limit.bytesPerSecond, now);
  }

  /** Grants waiters in order while the buckets allow; otherwise sets a timer for the head. */
  #pump(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const now = this.#clock.now();
    while (!this.#paused && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const delay = Math.max(
        this.#ops?.delay(head.ops, now) ?? 0,
        this.#bytes?.delay(head.bytes, now) ?? 0
      );
      if (delay > 0) {
        this.#hold(true, now);
        this.#cancelTimer = this.#clock.setTimer(() => this.#pump(), Math.ceil(delay));
        return;
      }
      this.#ops?.take(head.ops, now);
      this.#bytes?.take(head.bytes, now);
      this.#queue.shift();
      head.resolve();
    }
    this.#hold(false, now);
  }

  /** Tracks the spells during which a writer waits for the limit (not for a pause). */
  #hold(holding: boolean, now = this.#clock.now()): void {
    if (holding) {
      this.#holdingSince ??= now;
      return;
    }
    if (this.#holdingSince === undefined) return;
    this.#heldBackMs += now - this.#holdingSince;
    this.#holdingSince = undefined;
    this.#lastHeldAt = now;
  }

  #settleIdle(): void {
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}

/** The bucket for `perSecond` (the existing one re-rated), or none without a limit. */
function bucket(
  existing: TokenBucket | undefined,
  perSecond: number | undefined,
  now: number
): TokenBucket | undefined {
  if (perSecond === undefined) return undefined;
  if (existing === undefined) return new TokenBucket(perSecond, now);
  existing.setRate(perSecond, now);
  return existing;
}
