import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MongoNetworkError, MongoServerError } from 'mongodb';

import { RetriesExhaustedError } from '../../../src/errors.js';
import { type RetryAttempt } from '../../../src/events.js';
import { withRetry } from '../../../src/lifecycle/retry.js';
import { withTimeout } from '../../support/timeout-signal.js';

const tiny = { minDelayMs: 1, maxDelayMs: 8, jitter: false } as const;

describe('withRetry', () => {
  it('retries transient failures with exponential backoff, reporting each retry', async () => {
    const retries: RetryAttempt[] = [];
    let calls = 0;
    const result = await withRetry(
      async attempt => {
        calls += 1;
        assert.equal(attempt, calls);
        if (attempt < 6) throw new MongoNetworkError(`flaky ${attempt}`);
        return 'ok';
      },
      { ...tiny, operation: 'getMore', onRetry: r => retries.push(r) }
    );
    assert.equal(result, 'ok');
    assert.deepEqual(
      retries.map(r => [r.attempt, r.delayMs]),
      [
        [1, 1],
        [2, 2],
        [3, 4],
        [4, 8],
        [5, 8]
      ]
    );
    assert.equal(retries[0]!.operation, 'getMore');
    assert.match(retries[0]!.error.message, /flaky 1/);
    assert.match(retries[0]!.hint, /reached/);
    assert.ok(retries.every((r, i) => i === 0 || r.elapsedMs >= retries[i - 1]!.elapsedMs));
  });

  it('jitter keeps each delay within [delay/2, delay]', async () => {
    const delays: number[] = [];
    await withRetry(
      async attempt => {
        if (attempt < 4) throw new MongoNetworkError('x');
      },
      { minDelayMs: 4, maxDelayMs: 16, onRetry: r => delays.push(r.delayMs) }
    );
    [4, 8, 16].forEach((full, i) => {
      assert.ok(delays[i]! >= full / 2 && delays[i]! <= full, `${delays[i]} for ${full}`);
    });
  });

  it('throws a fatal error at once, unchanged', async () => {
    const fatal = new MongoServerError({ ok: 0, code: 11000, errmsg: 'duplicate key' });
    let calls = 0;
    const retries: RetryAttempt[] = [];
    await assert.rejects(
      withRetry(
        async () => {
          calls += 1;
          throw fatal;
        },
        { ...tiny, onRetry: r => retries.push(r) }
      ),
      error => error === fatal
    );
    assert.equal(calls, 1);
    assert.equal(retries.length, 0);
    // Even a non-Error value and a TypeError come back as they were thrown.
    await assert.rejects(
      withRetry(() => Promise.reject('plain string'), tiny),
      e => e === 'plain string'
    );
    await assert.rejects(
      withRetry(() => Promise.reject(new TypeError('bug')), tiny),
      TypeError
    );
  });

  it('throws RetriesExhaustedError with attempts, elapsedMs and the last error as cause', async () => {
    let last: Error | undefined;
    const error = await withTimeout(
      withRetry(
        async attempt => {
          last = new MongoNetworkError(`down ${attempt}`);
          throw last;
        },
        { ...tiny, maxRetryTimeMs: 30, operation: 'insertMany shop.orders' }
      ).catch((e: unknown) => e),
      5000,
      'exhaustion'
    );
    assert.ok(error instanceof RetriesExhaustedError);
    assert.ok(error.attempts >= 2);
    assert.ok(error.elapsedMs >= 30);
    assert.equal(error.cause, last);
    assert.match(error.message, /^insertMany shop.orders failed \d+ times over \d+ ms/);
    assert.equal(error.retryable, false);
  });

  it('a custom classify can make anything retryable', async () => {
    const result = await withRetry(
      async attempt => {
        if (attempt === 1) throw new TypeError('odd but transient here');
        return attempt;
      },
      { ...tiny, classify: () => ({ retryable: true, hint: 'test' }) }
    );
    assert.equal(result, 2);
  });

  it('an abort during the wait rejects with the reason', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const pending = withRetry(() => Promise.reject(new MongoNetworkError('down')), {
      minDelayMs: 60_000,
      jitter: false,
      signal: controller.signal,
      onRetry: () => controller.abort(reason)
    });
    await assert.rejects(withTimeout(pending, 1000, 'abort'), reason);
  });

  it('a throwing onRetry does not change the outcome', async () => {
    const result = await withRetry(
      async attempt => {
        if (attempt === 1) throw new MongoNetworkError('x');
        return 'ok';
      },
      {
        ...tiny,
        onRetry: () => {
          throw new Error('listener bug');
        }
      }
    );
    assert.equal(result, 'ok');
  });

  it('scrubs credentials from reported and thrown errors', async () => {
    const seen: string[] = [];
    const error = await withRetry(
      () => Promise.reject(new MongoNetworkError('connect mongodb://bob:hunter2@db1:27017 failed')),
      { ...tiny, maxRetryTimeMs: 5, onRetry: r => seen.push(r.error.message) }
    ).catch((e: unknown) => e);
    assert.ok(error instanceof RetriesExhaustedError);
    assert.doesNotMatch(String((error.cause as Error).message), /hunter2/);
    assert.ok(seen.every(m => !m.includes('hunter2')));
  });

  it('validates its options', async () => {
    await assert.rejects(
      withRetry(async () => 1, { minDelayMs: -1 }),
      RangeError
    );
  });
});
