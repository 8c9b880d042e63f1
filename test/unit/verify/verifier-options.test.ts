import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MongoClient } from 'mongodb';

import { InvalidConfigError } from '../../../src/errors.js';
import { NamespaceFilter } from '../../../src/namespace/namespace-filter.js';
import { Verifier, verifierDefaults, type VerifierOptions } from '../../../src/verify/index.js';
import { resolveVerifierOptions } from '../../../src/verify/verifier-options.js';

// Never connected: the constructor does no I/O.
const source = new MongoClient('mongodb://localhost:1/');
const target = new MongoClient('mongodb://localhost:2/');

function rejects(options: Partial<VerifierOptions> & Record<string, unknown>, field: string) {
  assert.throws(
    () => new Verifier({ source, target, ...options } as VerifierOptions),
    (error: unknown) =>
      error instanceof InvalidConfigError && error.field === field && error.retryable === false,
    field
  );
}

describe('Verifier options', () => {
  it('applies the defaults', () => {
    const resolved = resolveVerifierOptions({ source, target });
    assert.equal(resolved.concurrency, verifierDefaults.concurrency);
    assert.equal(resolved.sampleLimit, verifierDefaults.sampleLimit);
    assert.equal(resolved.recheck, undefined);
    assert.equal(resolved.filter.map('shop.items'), 'shop.items');
    assert.equal(resolved.filter.map('admin.system.users'), null);
    const caughtUp = () => Promise.resolve();
    assert.equal(
      resolveVerifierOptions({ source, target, recheck: { caughtUp } }).recheck?.maxRechecks,
      verifierDefaults.maxRechecks
    );
  });

  it('takes a filter as options (keeping its rules) or as a NamespaceFilter', () => {
    const rename = { 'a.*': 'b.*' };
    const fromOptions = resolveVerifierOptions({ source, target, filter: { rename } });
    assert.equal(fromOptions.filter.map('a.x'), 'b.x');
    assert.deepEqual(fromOptions.renameRules, rename);
    const filter = new NamespaceFilter({ rename });
    assert.equal(resolveVerifierOptions({ source, target, filter }).filter, filter);
  });

  it('rejects invalid options before any I/O, naming the field', () => {
    rejects({ source: {} as MongoClient }, 'source');
    rejects({ target: undefined as unknown as MongoClient }, 'target');
    rejects({ concurrency: 0 }, 'concurrency');
    rejects({ concurrency: 1.5 }, 'concurrency');
    rejects({ sampleLimit: -1 }, 'sampleLimit');
    rejects({ recheck: {} as never }, 'recheck.caughtUp');
    rejects(
      { recheck: { caughtUp: () => Promise.resolve(), maxRechecks: 0 } },
      'recheck.maxRechecks'
    );
    rejects({ recheck: { caughtUp: () => Promise.resolve(), every: 1 } as never }, 'recheck.every');
    rejects({ splitter: { maxRangesPerCollection: 0 } }, 'splitter.maxRangesPerCollection');
    rejects({ splitter: { source } as never }, 'splitter.source');
    rejects({ filter: { include: ['bad name.*'] } }, 'filter.include[0]');
    rejects({ signal: 'stop' as never }, 'signal');
    rejects({ logger: {} as never }, 'logger');
    rejects({ concurency: 2 }, 'concurency');
  });
});
