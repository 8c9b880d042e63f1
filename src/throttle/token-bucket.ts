/**
 * TokenBucket: the arithmetic of a rate limit, pure. Tokens flow in at `perSecond` up to a
 * capacity of `burstMs` worth of them; taking more than are there leaves a debt that later takers
 * wait out, so a take larger than the capacity still passes (alone) and the long-run rate stays
 * exact. Time is passed in by the caller (milliseconds on any monotonic clock), so tests drive it
 * without waiting.
 */

/**
 * How much of a limit may pass at once after an idle spell: a tenth of a second's worth. Small
 * enough that a rate measured over a few seconds stays within a few percent of the limit, large
 * enough that writes of a useful size pass whole.
 * @internal
 */
export const BURST_MS = 100;

/** Shortfalls below this many tokens are rounding, not a reason to wait. */
const EPSILON = 1e-9;

/**
 * A token bucket (see the file header).
 * @internal
 */
export class TokenBucket {
  #perMs: number;
  #capacity: number;
  #tokens: number;
  #at: number;

  /**
   * A full bucket.
   * @param perSecond - The rate, in tokens per second (above 0).
   * @param now - The current time, in milliseconds.
   */
  constructor(perSecond: number, now: number) {
    this.#perMs = perSecond / 1000;
    this.#capacity = TokenBucket.capacityOf(perSecond);
    this.#tokens = this.#capacity;
    this.#at = now;
  }

  /** The capacity a bucket of `perSecond` has: {@link BURST_MS} worth, at least one token. */
  static capacityOf(perSecond: number): number {
    return Math.max(1, (perSecond * BURST_MS) / 1000);
  }

  /** The most tokens the bucket holds. */
  get capacity(): number {
    return this.#capacity;
  }

  /** Tokens available at `now`; negative while a debt is being paid off. */
  available(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /**
   * Milliseconds from `now` until `amount` tokens can be taken (0: at once). An amount above the
   * capacity waits for a full bucket and then leaves a debt.
   */
  delay(amount: number, now: number): number {
    this.#refill(now);
    const needed = Math.min(amount, this.#capacity) - this.#tokens;
    return needed <= EPSILON ? 0 : needed / this.#perMs;
  }

  /** Takes `amount` tokens at `now` (possibly going into debt). */
  take(amount: number, now: number): void {
    this.#refill(now);
    this.#tokens -= amount;
  }

  /** Changes the rate from `now` on; tokens above the new capacity are dropped, debts kept. */
  setRate(perSecond: number, now: number): void {
    this.#refill(now);
    this.#perMs = perSecond / 1000;
    this.#capacity = TokenBucket.capacityOf(perSecond);
    this.#tokens = Math.min(this.#tokens, this.#capacity);
  }

  #refill(now: number): void {
    // A clock that steps back (it should not) adds nothing rather than removing tokens.
    const elapsed = Math.max(0, now - this.#at);
    this.#at = Math.max(this.#at, now);
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#perMs);
  }
}
