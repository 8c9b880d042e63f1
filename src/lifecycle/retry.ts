/**
 * `withRetry()`: retry a transient failure with bounded exponential backoff, on top of the
 * driver's own single retry. p-retry runs the attempt loop (abort checks, attempt numbers);
 * the wait happens in its `onFailedAttempt` hook (the pattern its documentation shows), so the
 * exact `delayMs` is known when the `retry` event is emitted and the last wait is cut to the
 * time budget.
 */
import pRetry from 'p-retry';

import { InvalidConfigError, RetriesExhaustedError } from '../errors.js';
import { type RetryAttempt } from '../events.js';
import { redactError, redactText } from '../logger.js';
import { type OptionReader } from '../options/option-reader.js';
import { classifyError, type ErrorClassification } from './classify-error.js';

/**
 * Options for {@link withRetry}.
 * @public
 */
export interface RetryOptions {
  /**
   * Stop retrying once this much time has passed since the first attempt began. `Infinity`
   * retries until `signal` aborts.
   * @defaultValue 120_000
   */
  maxRetryTimeMs?: number;
  /**
   * The wait before the first retry; each further wait doubles, up to `maxDelayMs`.
   * @defaultValue 500
   */
  minDelayMs?: number;
  /**
   * The longest wait between two attempts.
   * @defaultValue 30_000
   */
  maxDelayMs?: number;
  /**
   * Spread each wait uniformly over [delay/2, delay], so lanes that failed together do not
   * retry in lockstep. Turn off for exact delays in tests.
   * @defaultValue true
   */
  jitter?: boolean;
  /**
   * What is attempted, for events and error messages.
   * @defaultValue `'operation'`
   */
  operation?: string;
  /** Aborting stops at once: the pending wait or attempt rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Called before each wait; a throwing callback is ignored (it must not change the outcome). */
  onRetry?: (attempt: RetryAttempt) => void;
  /**
   * Decides what is transient.
   * @defaultValue {@link classifyError} with default options
   */
  classify?: (error: unknown) => ErrorClassification;
}

/**
 * The defaults {@link withRetry} applies to omitted options.
 * @public
 */
export const retryDefaults = Object.freeze({
  maxRetryTimeMs: 120_000,
  minDelayMs: 500,
  maxDelayMs: 30_000,
  jitter: true,
  operation: 'operation'
});

/**
 * The backoff options a stage takes from its host (`retry: {…}`): {@link RetryOptions} without
 * what the stage supplies itself.
 * @public
 */
export type StageRetryOptions = Omit<RetryOptions, 'operation' | 'signal' | 'onRetry'>;

/**
 * Reads and checks a stage's `retry` options; the result holds only the keys given.
 * @param classify - Whether a custom `classify` function is accepted.
 * @throws {@link InvalidConfigError} naming the bad or unknown field (`retry.minDelayMs`)
 * @internal
 */
export function readRetryOptions(reader: OptionReader, classify = true): StageRetryOptions {
  const out: { -readonly [K in keyof StageRetryOptions]: StageRetryOptions[K] } = {};
  const maxRetryTimeMs = reader.optionalNumber('maxRetryTimeMs', { infinity: true });
  if (maxRetryTimeMs !== undefined) out.maxRetryTimeMs = maxRetryTimeMs;
  const minDelayMs = reader.optionalNumber('minDelayMs');
  if (minDelayMs !== undefined) out.minDelayMs = minDelayMs;
  const maxDelayMs = reader.optionalNumber('maxDelayMs', { infinity: true });
  if (maxDelayMs !== undefined) out.maxDelayMs = maxDelayMs;
  if (reader.has('jitter')) out.jitter = reader.boolean('jitter', retryDefaults.jitter);
  if (classify && reader.has('classify')) {
    out.classify = reader.custom('classify', (value, field) => {
      if (typeof value !== 'function') {
        throw new InvalidConfigError(field, 'expected a function (error) => ErrorClassification');
      }
      return value as NonNullable<RetryOptions['classify']>;
    });
  }
  reader.done();
  return Object.freeze(out);
}

/**
 * Runs `fn` until it succeeds, retrying transient failures with exponential backoff.
 *
 * @remarks
 * A fatal failure (per `classify`) is rethrown at once, unchanged. Once `maxRetryTimeMs` has
 * passed, the next failure ends the loop with a {@link RetriesExhaustedError} carrying the
 * number of attempts, the time spent and the last error as `cause`. An abort rejects with
 * `signal.reason`. Credentials are scrubbed from errors before they reach `onRetry` or the
 * thrown error.
 *
 * @param fn - The operation; receives the attempt number, from 1.
 * @throws `RangeError` for negative or non-numeric delays.
 * @public
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {}
): Promise<T> {
  const maxRetryTimeMs = options.maxRetryTimeMs ?? retryDefaults.maxRetryTimeMs;
  const minDelayMs = options.minDelayMs ?? retryDefaults.minDelayMs;
  const maxDelayMs = options.maxDelayMs ?? retryDefaults.maxDelayMs;
  const jitter = options.jitter ?? retryDefaults.jitter;
  const operation = options.operation ?? retryDefaults.operation;
  const classify = options.classify ?? ((error: unknown) => classifyError(error));
  const { signal, onRetry } = options;
  checkDelay('maxRetryTimeMs', maxRetryTimeMs, true);
  checkDelay('minDelayMs', minDelayMs, false);
  checkDelay('maxDelayMs', maxDelayMs, true);

  const started = performance.now();
  // p-retry wraps non-Error throws in a TypeError; keep the original to rethrow it unchanged.
  let lastError: unknown;
  return pRetry(
    async attempt => {
      try {
        return await fn(attempt);
      } catch (error) {
        lastError = error;
        throw error;
      }
    },
    {
      retries: Number.POSITIVE_INFINITY,
      minTimeout: 0, // we wait in onFailedAttempt
      // Without this p-retry refuses to retry a TypeError; `classify` alone decides here.
      shouldConsumeRetry: () => false,
      ...(signal === undefined ? {} : { signal }),
      onFailedAttempt: async ({ attemptNumber }) => {
        // Aborting is not a failure of the operation, whatever error the abort caused in it.
        signal?.throwIfAborted();
        const error = lastError;
        const verdict = classify(error);
        if (!verdict.retryable) throw redactError(error);
        const elapsedMs = performance.now() - started;
        const remainingMs = maxRetryTimeMs - elapsedMs;
        if (remainingMs <= 0) {
          throw new RetriesExhaustedError(
            `${operation} failed ${attemptNumber} times over ${Math.round(elapsedMs)} ms`,
            attemptNumber,
            elapsedMs,
            {
              cause: redactError(error),
              hint: `${verdict.hint}. Gave up after maxRetryTimeMs (${maxRetryTimeMs} ms); check the server, then restart (the checkpoint makes it safe)`
            }
          );
        }
        const backoff = Math.min(minDelayMs * 2 ** (attemptNumber - 1), maxDelayMs);
        const spread = jitter ? backoff / 2 + (Math.random() * backoff) / 2 : backoff;
        const delayMs = Math.round(Math.min(spread, remainingMs));
        try {
          onRetry?.({
            operation,
            attempt: attemptNumber,
            delayMs,
            elapsedMs,
            error: toError(error),
            hint: verdict.hint
          });
        } catch {
          // A listener's failure must not turn a transient error into a fatal one.
        }
        await sleep(delayMs, signal);
      }
    }
  );
}

function checkDelay(name: string, value: number, allowInfinity: boolean): void {
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < 0 ||
    (!allowInfinity && !Number.isFinite(value))
  ) {
    throw new RangeError(
      `${name} must be a ${allowInfinity ? '' : 'finite '}number ≥ 0, got ${value}`
    );
  }
}

function toError(error: unknown): Error {
  if (error instanceof Error) return redactError(error);
  return new Error(redactText(String(error)));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as unknown);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as unknown);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
