// CommonJS hosts on Node >= 20.19 load the ESM-only package with require() (STYLE.md 3.9).
const assert = require('node:assert/strict');
const { test } = require('node:test');
const path = require('node:path');

test('require() of the package entry point works from CommonJS', () => {
  const entry = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));
  assert.equal(typeof entry.ReplicationError, 'function');
  assert.equal(entry.ReplicationErrorCode.InvalidConfig, 'MR_INVALID_CONFIG');
  const error = new entry.InvalidConfigError('mode', 'must be one of full, incr, all');
  assert.equal(entry.ReplicationError.is(error), true);
  assert.equal(error.code, 'MR_INVALID_CONFIG');
});
