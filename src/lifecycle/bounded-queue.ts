/**
 * BoundedQueue: the channel between two stages, bounded by item count and by bytes.
 *
 * Waiters on each side form a FIFO, so several producers (and several consumers) can share one
 * queue without starving each other. Items are handed over directly: when space frees up, the
 * first waiting producer's item is enqueued by the consumer's `shift()` itself, so a newly
 * arriving small item can never overtake a waiting large one (order across producers is the
 * order in which they called `push`). Likewise a waiting consumer receives the pushed item
 * directly.
 */

/** A producer parked until its item fits. */
interface ProducerWaiter<T> {
  readonly item: T;
  readonly bytes: number;
  settle(accepted: boolean): void;
}

/** A consumer parked until an item arrives or the queue closes. */
interface ConsumerWaiter<T> {
  settle(item: T | undefined): void;
}

/**
 * A FIFO between two stages, bounded by item count and by bytes. `push` waits while the queue
 * is full, so a slow consumer slows the producer instead of filling memory.
 *
 * @remarks
 * An item larger than `maxBytes` is let into an empty queue, so one 16 MiB document cannot
 * deadlock the pipeline. After `close()`, `push` resolves `false` (stop producing) and
 * consumers drain what is left, then get `undefined`; so `T` should not include `undefined`.
 * Every wait takes an `AbortSignal` and rejects with its reason.
 * @public
 */
export class BoundedQueue<T> {
  readonly #items: { item: T; bytes: number }[] = [];
  #head = 0;
  #bytes = 0;
  #closed = false;
  readonly #producers: ProducerWaiter<T>[] = [];
  readonly #consumers: ConsumerWaiter<T>[] = [];
  /** Woken when an item is queued or the queue closes; they take nothing. */
  readonly #watchers: (() => void)[] = [];

  /**
   * @param maxItems - Most items held at once; a positive integer.
   * @param maxBytes - Most bytes held at once (as reported by `push`); positive, may be Infinity.
   * @throws RangeError on a bound that is not positive.
   */
  constructor(
    /** Most items held at once. */
    readonly maxItems: number,
    /** Most bytes held at once (as reported by `push`). */
    readonly maxBytes: number
  ) {
    if (!Number.isInteger(maxItems) || maxItems < 1) {
      throw new RangeError(`maxItems must be a positive integer, got ${maxItems}`);
    }
    if (!(maxBytes > 0)) throw new RangeError(`maxBytes must be positive, got ${maxBytes}`);
  }

  /** Items held now. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Producers waiting for space. */
  get waitingProducers(): number {
    return this.#producers.length;
  }

  /**
   * Queues `item` (or hands it to a waiting consumer) at once if it fits and no earlier push is
   * waiting; returns false, having done nothing, otherwise or when the queue is closed. A
   * producer with many items queues them this way, without awaiting each (a waiting consumer
   * then finds the rest queued), and falls back to {@link BoundedQueue.push} on false.
   */
  tryPush(item: T, bytes: number): boolean {
    if (!(bytes >= 0)) throw new RangeError(`bytes must be ≥ 0, got ${bytes}`);
    if (this.#closed || this.#producers.length > 0 || !this.#fits(bytes)) return false;
    this.#enqueue(item, bytes);
    return true;
  }

  /**
   * Resolves `true` once `item` is queued (or handed to a waiting consumer), or `false` if the
   * queue is closed. Rejects with `signal.reason` if `signal` aborts first, leaving the queue as
   * if this push never happened.
   */
  push(item: T, bytes: number, signal?: AbortSignal): Promise<boolean> {
    if (!(bytes >= 0)) return Promise.reject(new RangeError(`bytes must be ≥ 0, got ${bytes}`));
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    if (this.#closed) return Promise.resolve(false);
    if (this.tryPush(item, bytes)) return Promise.resolve(true);
    return new Promise<boolean>((resolve, reject) => {
      const onAbort = () => {
        remove(this.#producers, waiter);
        reject(signal?.reason as unknown);
        // The aborted waiter may have blocked smaller items behind it.
        this.#admitProducers();
      };
      const waiter: ProducerWaiter<T> = {
        item,
        bytes,
        settle: accepted => {
          signal?.removeEventListener('abort', onAbort);
          resolve(accepted);
        }
      };
      this.#producers.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The next item, or `undefined` once the queue is closed and empty. Rejects with
   * `signal.reason` if `signal` aborts first (no item is lost).
   */
  shift(signal?: AbortSignal): Promise<T | undefined> {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    if (this.size > 0) return Promise.resolve(this.#dequeue());
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      const onAbort = () => {
        remove(this.#consumers, waiter);
        reject(signal?.reason as unknown);
      };
      const waiter: ConsumerWaiter<T> = {
        settle: item => {
          signal?.removeEventListener('abort', onAbort);
          resolve(item);
        }
      };
      this.#consumers.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Resolves once an item is queued or the queue is closed, without taking anything: for a
   * consumer that takes items with {@link BoundedQueue.tryShift} from several queues and must
   * look at all of them in one synchronous pass. Rejects with `signal.reason` if it aborts first.
   */
  whenNotEmpty(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as unknown);
    if (this.size > 0 || this.#closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        remove(this.#watchers, wake);
        reject(signal?.reason as unknown);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#watchers.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * The next item if one is queued, without waiting; `undefined` otherwise. Lets a consumer
   * gather a batch of what is already there.
   */
  tryShift(): T | undefined {
    return this.size > 0 ? this.#dequeue() : undefined;
  }

  /**
   * No more pushes: waiting producers resolve `false`, consumers drain what is left, then get
   * `undefined`. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const producer of this.#producers.splice(0)) producer.settle(false);
    if (this.size === 0)
      for (const consumer of this.#consumers.splice(0)) consumer.settle(undefined);
    for (const wake of this.#watchers.splice(0)) wake();
  }

  /** Yields items until the queue is closed and empty. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, void> {
    for (let item = await this.shift(); item !== undefined; item = await this.shift()) yield item;
  }

  #fits(bytes: number): boolean {
    // An empty queue takes anything, or an oversized item would wait forever.
    if (this.size === 0) return true;
    return this.size < this.maxItems && this.#bytes + bytes <= this.maxBytes;
  }

  #enqueue(item: T, bytes: number): void {
    const consumer = this.#consumers.shift();
    if (consumer !== undefined) {
      // Only possible while the queue is empty: hand the item straight over.
      consumer.settle(item);
      return;
    }
    this.#items.push({ item, bytes });
    this.#bytes += bytes;
    for (const wake of this.#watchers.splice(0)) wake();
  }

  #dequeue(): T {
    const entry = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as never; // let the item be collected
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head); // compact occasionally: O(1) amortised
      this.#head = 0;
    }
    this.#bytes -= entry.bytes;
    this.#admitProducers();
    return entry.item;
  }

  /** Moves waiting producers' items in, in FIFO order, while the head of the line fits. */
  #admitProducers(): void {
    while (this.#producers.length > 0 && this.#fits(this.#producers[0]!.bytes)) {
      const producer = this.#producers.shift()!;
      this.#enqueue(producer.item, producer.bytes);
      producer.settle(true);
    }
  }
}

function remove<W>(list: W[], waiter: W): void {
  const index = list.indexOf(waiter);
  if (index >= 0) list.splice(index, 1);
}
