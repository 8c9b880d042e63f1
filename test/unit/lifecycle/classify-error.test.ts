import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoServerSelectionError
} from 'mongodb';

import { InvalidConfigError, SourceReadError } from '../../../src/errors.js';
import { classifyError } from '../../../src/lifecycle/classify-error.js';

function serverError(code: number, labels: string[] = []): MongoServerError {
  return new MongoServerError({ ok: 0, code, errmsg: `code ${code}`, errorLabels: labels });
}

describe('classifyError', () => {
  const retryableCodes = [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436];
  for (const code of retryableCodes) {
    it(`server code ${code} is retryable`, () => {
      const verdict = classifyError(serverError(code));
      assert.equal(verdict.retryable, true);
      assert.ok(verdict.hint.length > 0);
    });
  }

  it('network and server-selection errors are retryable', () => {
    assert.equal(classifyError(new MongoNetworkError('socket closed')).retryable, true);
    assert.equal(classifyError(new MongoNetworkTimeoutError('timed out')).retryable, true);
    const selection = new MongoServerSelectionError('no primary', {
      type: 'ReplicaSetNoPrimary'
    } as unknown as ConstructorParameters<typeof MongoServerSelectionError>[1]);
    assert.equal(classifyError(selection).retryable, true);
  });

  it('the RetryableWriteError and ResumableChangeStreamError labels are retryable', () => {
    assert.equal(classifyError(serverError(2, ['RetryableWriteError'])).retryable, true);
    assert.equal(classifyError(serverError(2, ['ResumableChangeStreamError'])).retryable, true);
    // Another copy of the driver: no instanceof, but the same shape.
    const foreign = Object.assign(new Error('x'), { errorLabels: ['RetryableWriteError'] });
    assert.equal(classifyError(foreign).retryable, true);
  });

  it('CappedPositionLost is retryable only for the fetcher', () => {
    assert.equal(classifyError(serverError(136)).retryable, false);
    assert.match(classifyError(serverError(136)).hint, /CappedPositionLost/);
    assert.equal(classifyError(serverError(136), { fetcher: true }).retryable, true);
  });

  it('everything else is fatal, with a hint', () => {
    for (const error of [
      serverError(11000),
      serverError(2),
      new TypeError('bad'),
      'a string',
      null,
      undefined
    ]) {
      assert.equal(classifyError(error).retryable, false, String(error));
    }
    assert.match(classifyError(serverError(13)).hint, /roles/);
    assert.match(classifyError(serverError(286)).hint, /full sync/);
  });

  it('a ReplicationError keeps its own flag', () => {
    assert.equal(classifyError(new SourceReadError('x', true)).retryable, true);
    assert.equal(classifyError(new InvalidConfigError('f', 'x')).retryable, false);
  });

  it('reads a write-concern error code', () => {
    const wce = Object.assign(new Error('wc'), { writeConcernError: { code: 91 } });
    assert.equal(classifyError(wce).retryable, true);
  });
});
