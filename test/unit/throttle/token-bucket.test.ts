/**
 * The token bucket's arithmetic, on a clock the test sets: nothing here waits.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BURST_MS, TokenBucket } from '../../../src/throttle/token-bucket.js';

describe('TokenBucket', () => {
  it('starts full with a tenth of a second of tokens, and refills at its rate', () => {
    const bucket = new TokenBucket(200, 0);
    assert.equal(BURST_MS, 100);
    assert.equal(bucket.capacity, 20);
    assert.equal(bucket.delay(20, 0), 0);
    bucket.take(20, 0);
    assert.equal(bucket.available(0), 0);
    // 200 per second: one token every 5 ms.
    assert.equal(bucket.delay(1, 0), 5);
    assert.equal(bucket.delay(1, 5), 0);
    assert.equal(bucket.available(50), 10);
    // Never more than the capacity, however long it idles.
    assert.equal(bucket.available(60_000), 20);
  });

  it('lets a take larger than the capacity pass alone, then makes later takers wait its debt', () => {
    const bucket = new TokenBucket(100, 0);
    assert.equal(bucket.capacity, 10);
    // 50 tokens: waits only for a full bucket (it is full), then owes 40.
    assert.equal(bucket.delay(50, 0), 0);
    bucket.take(50, 0);
    assert.equal(bucket.available(0), -40);
    // The next token comes once the debt is paid: 410 ms at 100 per second.
    assert.equal(bucket.delay(1, 0), 410);
    assert.equal(bucket.delay(1, 410), 0);
  });

  it('keeps the long-run rate exact whatever the size of the takes', () => {
    const bucket = new TokenBucket(250, 0);
    let now = 0;
    let taken = 0;
    const sizes = [1, 7, 30, 3, 120, 12];
    for (let i = 0; now < 10_000; i++) {
      const size = sizes[i % sizes.length]!;
      now += bucket.delay(size, now);
      bucket.take(size, now);
      taken += size;
    }
    // 10 s at 250 per second, plus the first full bucket, give or take the last take.
    assert.ok(Math.abs(taken - (2_500 + 25)) <= 120, `took ${taken}`);
  });

  it('changes its rate in place: surplus tokens dropped, a debt kept', () => {
    const bucket = new TokenBucket(1_000, 0);
    assert.equal(bucket.capacity, 100);
    bucket.setRate(100, 0);
    assert.equal(bucket.capacity, 10);
    assert.equal(bucket.available(0), 10);
    bucket.take(30, 0);
    bucket.setRate(1_000, 0);
    assert.equal(bucket.available(0), -20);
    assert.equal(bucket.delay(1, 0), 21);
  });

  it('holds at least one token, so very low rates still pass single writes', () => {
    const bucket = new TokenBucket(0.5, 0);
    assert.equal(bucket.capacity, 1);
    bucket.take(1, 0);
    assert.equal(bucket.delay(1, 0), 2_000);
  });

  it('adds nothing when the clock steps back', () => {
    const bucket = new TokenBucket(100, 1_000);
    bucket.take(10, 1_000);
    assert.equal(bucket.available(500), 0);
    assert.equal(bucket.available(1_100), 10);
  });
});
