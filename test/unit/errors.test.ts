import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Timestamp } from 'mongodb';

import { InvalidConfigError, ReplicationError, ReplicationErrorCode } from '../../src/index.js';

describe('ReplicationError', () => {
  it('carries code, namespace, optime, retryable and appends the hint to the message', () => {
    const optime = new Timestamp({ t: 1_700_000_000, i: 1 });
    const cause = new Error('socket closed');
    const error = new ReplicationError(
      ReplicationErrorCode.SourceRead,
      'Reading the oplog failed',
      true,
      {
        namespace: 'shop.orders',
        optime,
        hint: 'Check that the source is reachable',
        cause
      }
    );
    assert.equal(error.message, 'Reading the oplog failed. Check that the source is reachable');
    assert.equal(error.code, 'MR_SOURCE_READ');
    assert.equal(error.namespace, 'shop.orders');
    assert.equal(error.optime, optime);
    assert.equal(error.retryable, true);
    assert.equal(error.cause, cause);
    assert.equal(error.name, 'ReplicationError');
  });

  it('is recognised by ReplicationError.is even without instanceof', () => {
    const error = new InvalidConfigError('fetcher.batchSize', 'must be a positive integer, got -1');
    assert.ok(ReplicationError.is(error));
    assert.ok(!ReplicationError.is(new Error('plain')));
    assert.ok(!ReplicationError.is(null));
    assert.equal(error.name, 'InvalidConfigError');
    assert.equal(error.field, 'fetcher.batchSize');
    assert.equal(error.retryable, false);
    assert.equal(
      error.message,
      'Invalid option "fetcher.batchSize": must be a positive integer, got -1'
    );
  });

  it('exposes a frozen code table', () => {
    assert.ok(Object.isFrozen(ReplicationErrorCode));
    assert.equal(
      new Set(Object.values(ReplicationErrorCode)).size,
      Object.keys(ReplicationErrorCode).length
    );
  });
});
