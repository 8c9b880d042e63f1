import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MongoClient, Timestamp } from 'mongodb';

import { InvalidConfigError } from '../../../src/errors.js';
import { OplogFetcher } from '../../../src/fetch/oplog-fetcher.js';
import {
  oplogFetcherDefaults,
  type OplogFetcherOptions,
  resolveOplogFetcherOptions
} from '../../../src/fetch/oplog-fetcher-options.js';
import { retryDefaults } from '../../../src/lifecycle/retry.js';

// Constructing a MongoClient does no I/O; it is never connected here.
const source = new MongoClient('mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1');
const start = new Timestamp({ t: 1_700_000_000, i: 3 });

function rejects(options: Record<string, unknown>, field: string, message?: RegExp): void {
  assert.throws(
    () => resolveOplogFetcherOptions({ source, start, ...options } as OplogFetcherOptions),
    (error: unknown) => {
      assert.ok(error instanceof InvalidConfigError, String(error));
      assert.equal(error.field, field);
      assert.equal(error.code, 'MR_INVALID_CONFIG');
      if (message) assert.match(error.message, message);
      return true;
    }
  );
}

describe('OplogFetcher options', () => {
  it('applies the documented defaults', () => {
    const resolved = resolveOplogFetcherOptions({ source, start: 'latest' });
    assert.equal(resolved.start, 'latest');
    assert.equal(resolved.source, source);
    assert.equal(resolved.batchSize, 1000);
    assert.equal(resolved.maxAwaitTimeMS, 1000);
    assert.equal(resolved.bufferMaxEntries, 10_000);
    assert.equal(resolved.bufferMaxBytes, 64 * 1024 * 1024);
    assert.equal(resolved.lagIntervalMs, 1000);
    assert.deepEqual(resolved.retry, {
      maxRetryTimeMs: retryDefaults.maxRetryTimeMs,
      minDelayMs: retryDefaults.minDelayMs,
      maxDelayMs: retryDefaults.maxDelayMs,
      jitter: retryDefaults.jitter
    });
    assert.ok(Object.isFrozen(oplogFetcherDefaults));
    assert.ok(Object.isFrozen(resolved));
  });

  it('keeps given values, and copies the start Timestamp', () => {
    const resolved = resolveOplogFetcherOptions({
      source,
      start,
      batchSize: 5,
      maxAwaitTimeMS: 50,
      bufferMaxEntries: 2,
      bufferMaxBytes: Number.POSITIVE_INFINITY,
      lagIntervalMs: 10,
      retry: { minDelayMs: 1, jitter: false, maxRetryTimeMs: Number.POSITIVE_INFINITY }
    });
    assert.ok(resolved.start !== 'latest' && resolved.start.equals(start));
    assert.equal(resolved.batchSize, 5);
    assert.equal(resolved.maxAwaitTimeMS, 50);
    assert.equal(resolved.bufferMaxEntries, 2);
    assert.equal(resolved.bufferMaxBytes, Number.POSITIVE_INFINITY);
    assert.equal(resolved.lagIntervalMs, 10);
    assert.deepEqual(resolved.retry, {
      maxRetryTimeMs: Number.POSITIVE_INFINITY,
      minDelayMs: 1,
      maxDelayMs: retryDefaults.maxDelayMs,
      jitter: false
    });
  });

  it('accepts a Timestamp-like value from another copy of bson', () => {
    const foreign = { _bsontype: 'Timestamp', t: 7, i: 9 };
    const resolved = resolveOplogFetcherOptions({
      source,
      start: foreign as unknown as Timestamp
    });
    assert.ok(resolved.start instanceof Timestamp);
    assert.ok(resolved.start.equals(new Timestamp({ t: 7, i: 9 })));
  });

  it('rejects a missing or wrong source', () => {
    rejects({ source: undefined }, 'source');
    rejects({ source: 'mongodb://alice:s3cret@h1/' }, 'source');
  });

  it('rejects a wrong start, without echoing credentials', () => {
    rejects({ start: undefined }, 'start');
    rejects({ start: 42 }, 'start', /got 42/);
    rejects({ start: 'earliest' }, 'start', /"earliest"/);
    assert.throws(
      () =>
        resolveOplogFetcherOptions({
          source,
          start: 'mongodb://alice:s3cret@h1/' as unknown as 'latest'
        }),
      (error: Error) => !error.message.includes('s3cret')
    );
  });

  for (const field of ['batchSize', 'maxAwaitTimeMS', 'bufferMaxEntries']) {
    it(`rejects a ${field} that is not a positive integer`, () => {
      for (const value of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10', null]) {
        rejects({ [field]: value }, field, /expected an integer ≥ 1/);
      }
    });
  }

  it('rejects a bufferMaxBytes that is not a positive integer or Infinity', () => {
    for (const value of [0, -5, 0.5, Number.NaN, '1']) {
      rejects({ bufferMaxBytes: value }, 'bufferMaxBytes', /integer ≥ 1 or Infinity/);
    }
  });

  it('rejects a lagIntervalMs below 10 ms (it would hammer the source)', () => {
    rejects({ lagIntervalMs: 9 }, 'lagIntervalMs', /≥ 10/);
  });

  it('rejects bad retry options and unknown keys', () => {
    rejects({ retry: 'fast' }, 'retry');
    rejects({ retry: { minDelayMs: -1 } }, 'retry.minDelayMs');
    rejects({ retry: { minDelayMs: Number.POSITIVE_INFINITY } }, 'retry.minDelayMs');
    rejects({ retry: { maxDelayMs: Number.NaN } }, 'retry.maxDelayMs');
    rejects({ retry: { maxRetryTimeMs: -1 } }, 'retry.maxRetryTimeMs');
    rejects({ retry: { jitter: 'yes' } }, 'retry.jitter');
    rejects({ retry: { retries: 3 } }, 'retry.retries', /unknown option/);
    rejects({ batchsize: 10 }, 'batchsize', /unknown option/);
  });

  it('validates in the constructor, before any I/O', () => {
    assert.throws(
      () => new OplogFetcher({ source, start, batchSize: 0 }),
      (error: unknown) => error instanceof InvalidConfigError && error.field === 'batchSize'
    );
    const fetcher = new OplogFetcher({ source, start, bufferMaxEntries: 3, bufferMaxBytes: 100 });
    assert.equal(fetcher.state, 'idle');
    assert.equal(fetcher.output.maxItems, 3);
    assert.equal(fetcher.output.maxBytes, 100);
    assert.equal(fetcher.lastFetched, undefined);
  });
});
