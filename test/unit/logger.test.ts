import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  type Logger,
  redactConnectionString,
  redactError,
  redactingLogger,
  redactText,
  silentLogger
} from '../../src/logger.js';

describe('redaction', () => {
  it('redactConnectionString hides user, password and secret options', () => {
    assert.equal(
      redactConnectionString('mongodb://alice:s3cret@h1,h2/db?replicaSet=rs0'),
      'mongodb://<credentials>@h1,h2/db?replicaSet=rs0'
    );
    assert.equal(
      redactConnectionString('mongodb+srv://alice:s3cret@cluster0.example.net/'),
      'mongodb+srv://<credentials>@cluster0.example.net/'
    );
    assert.doesNotMatch(
      redactConnectionString('mongodb://h1/?authMechanismProperties=AWS_SESSION_TOKEN:tok123'),
      /tok123/
    );
    assert.doesNotMatch(redactConnectionString('not a uri //u:p@h'), /u:p/);
  });

  it('redactText scrubs every URI inside free text and leaves the rest alone', () => {
    const text =
      'failed to reach "mongodb://alice:s3cret@h1:27017/?tls=true" and mongodb+srv://bob:pw@c.example.net, ' +
      'also mongodb://h3:27017 (no credentials); mail admin@example.com';
    const clean = redactText(text);
    assert.doesNotMatch(clean, /s3cret|alice|bob|:pw@/);
    assert.match(clean, /mongodb:\/\/h3:27017 \(no credentials\)/);
    assert.match(clean, /admin@example\.com/);
    assert.equal(redactText('nothing to see'), 'nothing to see');
  });

  it('redactError scrubs message, stack, string fields, cause and AggregateError members in place', () => {
    const cause = new Error('inner mongodb://u:innerpw@h');
    const error = Object.assign(new Error('outer mongodb://u:outerpw@h', { cause }), {
      uri: 'mongodb://u:fieldpw@h'
    });
    const aggregate = new AggregateError([error], 'several');
    assert.equal(redactError(aggregate), aggregate);
    for (const text of [
      error.message,
      error.stack ?? '',
      error.uri,
      cause.message,
      cause.stack ?? ''
    ]) {
      assert.doesNotMatch(text, /innerpw|outerpw|fieldpw/);
    }
    assert.equal(redactError('mongodb://u:p@h/'), 'mongodb://<credentials>@h/');
    assert.equal(redactError(42), 42);
    // Cycles are fine.
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    redactError(a);
  });

  it('redactingLogger scrubs messages and fields', () => {
    const lines: unknown[] = [];
    const sink: Logger = {
      debug: (m, f) => lines.push([m, f]),
      info: (m, f) => lines.push([m, f]),
      warn: (m, f) => lines.push([m, f]),
      error: (m, f) => lines.push([m, f])
    };
    const logger = redactingLogger(sink);
    logger.info('connecting to mongodb://u:pw1@h', {
      uri: 'mongodb://u:pw2@h',
      nested: { list: ['mongodb://u:pw3@h'] },
      error: new Error('mongodb://u:pw4@h'),
      count: 3
    });
    logger.warn('plain');
    const serialised = JSON.stringify(lines, (_k, v: unknown) =>
      v instanceof Error ? v.message : v
    );
    assert.doesNotMatch(serialised, /pw1|pw2|pw3|pw4/);
    assert.match(serialised, /"count":3/);
    silentLogger.error('dropped');
  });
});
