/**
 * Stage: the lifecycle every pipeline stage shares.
 *
 * ```
 * idle ──start()──► starting ──open() ok──► running ──stop()──► stopping ──drained──► stopped
 *   │                  │                     │ ▲  │  └──run() returned / forced abort──► stopped
 *   └──stop()──► stopped                     ▼ │  │
 *                      │              paused ──┴──┼──stop()──► stopping (a subclass that pauses
 *                      │                          │            decides what draining means)
 *                      └──open() threw──► failed ◄──run() or drain() threw
 * ```
 *
 * `running ⇄ paused` is a subclass's own business ({@link Stage.setPaused}): the base class only
 * records it and treats a paused stage as running for `stop()` and failures.
 *
 * A stop requested while `starting` aborts `open()` and ends in `stopped` without running. A
 * forced stop (the `signal` option aborts) ends the main loop at its next safe point without
 * draining; that is safe because checkpoints only ever name fully applied batches.
 */
import { inspect } from 'node:util';

import { EventEmitter } from 'eventemitter3';

import { InvalidStateError, type ReplicationError } from '../errors.js';
import { type RetryEvent, type StageState, type StateChangeEvent } from '../events.js';
import { type Logger, redactError, silentLogger } from '../logger.js';
import { emitSafely } from './emit-safely.js';
import { type RetryOptions, withRetry } from './retry.js';

/**
 * Events every stage emits.
 * @public
 */
export interface StageEvents {
  /** The stage moved from one lifecycle state to another. */
  state: (event: StateChangeEvent) => void;
  /** A transient failure; the stage tries again after `delayMs`. */
  retry: (event: RetryEvent) => void;
  /** A fatal error. The stage is now `failed`; `done` rejects with the same error. */
  error: (error: ReplicationError) => void;
}

/**
 * Options every stage accepts.
 * @public
 */
export interface StageOptions {
  /** Aborting stops the stage at the next safe point without draining (a forced stop). */
  signal?: AbortSignal;
  /**
   * Where the stage logs.
   * @defaultValue a logger that drops everything
   */
  logger?: Logger;
}

/**
 * Options of {@link Stage.waitFor}.
 * @public
 */
export interface WaitForOptions<Args extends unknown[]> {
  /** Rejects the wait with `signal.reason` when it aborts (use it as a deadline). */
  signal?: AbortSignal;
  /** Only an event whose arguments pass this resolves the wait. */
  filter?: (...args: Args) => boolean;
}

/**
 * Lifecycle shared by every pipeline stage: `start()`, graceful `stop()`, forced stop via
 * `AbortSignal`, and a `done` promise so a fatal error is never lost when nobody listens.
 *
 * @remarks
 * Subclasses implement `open`, `run`, `drain` and `toReplicationError`. `run` ends a clean stop
 * by returning, or by rejecting with the abort signal's reason (or any `AbortError`) once the
 * signal has aborted; every other rejection fails the stage.
 *
 * @example
 * ```ts
 * class Ticker extends Stage<TickerEvents> {
 *   constructor(options: StageOptions) { super('ticker', options); }
 *   protected async open() {}
 *   protected async run(signal: AbortSignal) { while (!signal.aborted) await tick(signal); }
 *   protected async drain() {}
 *   protected toReplicationError(error: unknown) { return new SourceReadError(String(error), false); }
 * }
 * ```
 * @public
 */
export abstract class Stage<Events extends StageEvents> extends EventEmitter<Events> {
  /** Where the stage logs. */
  protected readonly logger: Logger;
  #state: StageState = 'idle';
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #stopRequested = false;
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;
  #settle!: { resolve: () => void; reject: (error: ReplicationError) => void };
  readonly #unlinkSignal: () => void;

  /**
   * @param stageName - A short kebab-case name for events and logs, such as `oplog-fetcher`.
   * @param options - Lifecycle options.
   */
  protected constructor(
    /** A short kebab-case name for events and logs, such as `oplog-fetcher`. */
    protected readonly stageName: string,
    options: StageOptions = {}
  ) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.#done = new Promise<void>((resolve, reject) => (this.#settle = { resolve, reject }));
    // Callers that only await start()/stop() still see the failure there; avoid an unhandled
    // rejection for those that never look at `done`.
    this.#done.catch(() => {});
    const external = options.signal;
    const forward = () => this.#abort.abort(external?.reason);
    if (external?.aborted) forward();
    else external?.addEventListener('abort', forward, { once: true });
    // A host may reuse one signal for many stages; do not keep ended stages reachable from it.
    this.#unlinkSignal = () => external?.removeEventListener('abort', forward);
  }

  /**
   * What `JSON.stringify` shows of the stage: its name and state, never its options (clients
   * and connection strings may hold credentials).
   */
  toJSON(): Record<string, unknown> {
    return { stage: this.stageName, state: this.#state };
  }

  /** What `util.inspect` (and `console.log`) shows: {@link Stage.toJSON}. */
  [inspect.custom](): string {
    return `${this.constructor.name} ${inspect(this.toJSON())}`;
  }

  /** The current lifecycle state. */
  get state(): StageState {
    return this.#state;
  }

  /** Settles when the stage has ended: resolves after a stop, rejects with the fatal error. */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * Opens connections and cursors, then runs the main loop in the background. Rejects with the
   * stage's typed error if start-up fails (and `done` rejects with the same error). Resolves
   * without running if the stage is stopped or aborted while starting. Calling it again returns
   * the same promise.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  /**
   * Graceful stop: take no new input, let buffered work reach its destination, flush, close.
   * Idempotent: concurrent calls share one promise.
   *
   * @remarks
   * Rejects if the stage fails while stopping (its buffered work was not written); a failure
   * that happened before `stop()` was called was already reported by `start()` or `done`, so
   * `stop()` then resolves.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /**
   * Resolves with the arguments of the next `event` that passes `filter`.
   *
   * @remarks
   * Rejects with `signal.reason` when `signal` aborts, with the stage's error if it fails first,
   * and with an error if it stops first. Listeners for `event` run before that, so waiting for
   * `error` or for a `state` change to `stopped` works.
   */
  waitFor<K extends EventEmitter.EventNames<Events>>(
    event: K,
    options: WaitForOptions<EventEmitter.EventArgs<Events, K>> = {}
  ): Promise<EventEmitter.EventArgs<Events, K>> {
    const { signal, filter } = options;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as unknown);
      let settled = false;
      const finish = (action: () => void) => {
        if (settled) return;
        settled = true;
        this.off(event, listener);
        signal?.removeEventListener('abort', onAbort);
        action();
      };
      const listener = ((...args: EventEmitter.EventArgs<Events, K>) => {
        if (filter && !filter(...args)) return;
        finish(() => resolve(args));
      }) as EventEmitter.EventListener<Events, K>;
      const onAbort = () => finish(() => reject(signal?.reason as unknown));
      this.on(event, listener);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#done.then(
        () =>
          finish(() =>
            reject(new Error(`${this.stageName} stopped before emitting '${String(event)}'`))
          ),
        (error: unknown) => finish(() => reject(error))
      );
    });
  }

  /** `await using stage = …` stops the stage when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Connect, open cursors, validate. Throwing here rejects `start()` and `done`. */
  protected abstract open(signal: AbortSignal): Promise<void>;
  /** The main loop; returns (or rejects with the abort reason) when `signal` aborts or input ends. */
  protected abstract run(signal: AbortSignal): Promise<void>;
  /**
   * Stop taking input; resolve once buffered work is written. A forced stop arriving meanwhile
   * ends the wait (the base class races the returned promise with `signal`), so an
   * implementation only returns the promise of its work ending.
   */
  protected abstract drain(signal: AbortSignal): Promise<void>;
  /** Wraps anything thrown into the stage's typed error. */
  protected abstract toReplicationError(error: unknown): ReplicationError;

  /**
   * While `open()` runs: the stage waits for something outside itself (state `standby`), or no
   * longer does (back to `starting`). Ignored in any other state.
   */
  protected setStandby(waiting: boolean): void {
    if (waiting && this.#state === 'starting') this.#transition('standby');
    else if (!waiting && this.#state === 'standby') this.#transition('starting');
  }

  /**
   * Ends the stage with a fatal error: state `failed`, an `error` event, the main loop aborted,
   * `done` rejected. Ignored once the stage has ended.
   */
  protected fail(error: ReplicationError): void {
    if (this.#state === 'failed' || this.#state === 'stopped') return;
    redactError(error);
    this.#transition('failed');
    this.#baseEmit('error', error);
    this.#abort.abort(error);
    this.#end(() => this.#settle.reject(error));
  }

  /**
   * Throws unless the stage is `running` or `paused`: for methods that act on a running stage.
   * @throws {@link InvalidStateError} naming `call` and the state
   */
  protected requireRunning(call: string): void {
    if (this.#state === 'running' || this.#state === 'paused') return;
    throw new InvalidStateError(
      `${call} needs a running ${this.stageName} (it is ${this.#state})`,
      this.#state,
      {
        hint: 'Call it after start() has resolved and before stop()'
      }
    );
  }

  /**
   * Moves a running stage to `paused`, or a paused one back to `running`, emitting `state`.
   * What pausing means (which work it holds back) is the subclass's to do. Returns false, doing
   * nothing, when the stage is not in the state the move starts from.
   */
  protected setPaused(paused: boolean): boolean {
    if (this.#state !== (paused ? 'running' : 'paused')) return false;
    this.#transition(paused ? 'paused' : 'running');
    return true;
  }

  /**
   * Emits without letting a throwing host listener break the pipeline or starve the other
   * listeners: each listener runs in its own try/catch (plain `emit` would stop at the first
   * throw, so a buggy host listener could hide events from `waitFor` or the Replicator).
   *
   * @remarks
   * Listeners run in registration order with the stage as `this`; a `context` given to `on()`
   * is not honoured here.
   */
  protected safeEmit<K extends EventEmitter.EventNames<Events>>(
    event: K,
    ...args: EventEmitter.EventArgs<Events, K>
  ): void {
    emitSafely(this as unknown as EventEmitter, String(event), args, this.logger, {
      stage: this.stageName
    });
  }

  /**
   * {@link withRetry} wired to this stage: `retry` events, and the stage's abort signal (a stop
   * or a forced abort ends the waits).
   */
  protected retry<T>(
    operation: string,
    fn: (attempt: number) => Promise<T>,
    options: Omit<RetryOptions, 'operation' | 'signal' | 'onRetry'> = {}
  ): Promise<T> {
    return withRetry(fn, {
      ...options,
      operation,
      signal: this.#abort.signal,
      onRetry: attempt => {
        this.logger.warn(`${operation} failed; retrying in ${attempt.delayMs} ms`, {
          stage: this.stageName,
          attempt: attempt.attempt,
          error: attempt.error.message
        });
        this.#baseEmit('retry', { stage: this.stageName, ...attempt });
      }
    });
  }

  async #start(): Promise<void> {
    if (this.#state !== 'idle') return; // stopped before start()
    this.#transition('starting');
    const signal = this.#abort.signal;
    try {
      signal.throwIfAborted();
      await this.open(signal);
    } catch (error) {
      if (this.#isAbort(error)) return this.#finish();
      if (this.#stopRequested) {
        // A stop while opening interrupts what was under way (closed clients, aborted waits):
        // whatever that made fail is the stop itself, not a failure to report.
        this.logger.debug('Stopped while starting', { stage: this.stageName, error });
        return this.#finish();
      }
      const failure = this.toReplicationError(error);
      this.fail(failure);
      throw failure;
    }
    // stop() or a forced abort arrived while opening: nothing ran, so nothing to drain.
    if (this.#stopRequested || signal.aborted) return this.#finish();
    this.#transition('running');
    this.run(signal).then(
      () => this.#finish(),
      (error: unknown) =>
        this.#isAbort(error) ? this.#finish() : this.fail(this.toReplicationError(error))
    );
  }

  async #stop(): Promise<void> {
    this.#stopRequested = true;
    switch (this.#state) {
      case 'idle':
        return this.#finish();
      case 'starting':
      case 'standby':
        this.#transition('stopping');
        this.#abort.abort(new Error(`${this.stageName} stopped`));
        await this.#starting?.catch(() => {});
        return this.#done;
      case 'running':
      case 'paused':
        break;
      default:
        return; // already ended
    }
    this.#transition('stopping');
    try {
      await untilAborted(this.drain(this.#abort.signal), this.#abort.signal);
    } catch (error) {
      if (!this.#isAbort(error)) this.fail(this.toReplicationError(error));
    }
    this.#abort.abort(new Error(`${this.stageName} stopped`));
    await this.#done;
  }

  /** A rejection that only reports our own abort: the reason itself, or a platform AbortError. */
  #isAbort(error: unknown): boolean {
    const signal = this.#abort.signal;
    if (!signal.aborted) return false;
    // Node's timers/promises, events.once and fetch reject with an AbortError wrapping the reason.
    return error === signal.reason || (error instanceof Error && error.name === 'AbortError');
  }

  #baseEmit<K extends keyof StageEvents>(
    event: K,
    ...args: EventEmitter.EventArgs<StageEvents, K>
  ): void {
    // `Events` is generic here, so TypeScript cannot resolve its keys; the constraint guarantees them.
    (this as unknown as Stage<StageEvents>).safeEmit(event, ...args);
  }

  #transition(to: StageState): void {
    const from = this.#state;
    this.#state = to;
    this.#baseEmit('state', { stage: this.stageName, from, to });
  }

  #finish(): void {
    if (this.#state === 'failed' || this.#state === 'stopped') return;
    this.#transition('stopped');
    this.#end(() => this.#settle.resolve());
  }

  #end(settle: () => void): void {
    this.#unlinkSignal();
    settle();
  }
}

/**
 * `work`, or a rejection with `signal.reason` as soon as `signal` aborts (whichever comes
 * first); the listener is removed either way.
 */
function untilAborted(work: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as unknown);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as unknown);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
