import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Int32 } from 'bson';

import { type BDoc, compareValues, equalityKey, keyOf, withCollation } from '../../bson/values.js';
import { parseCollation } from '../../engine/collation/collation-spec.js';
import { collatorFor } from '../../engine/collation/collator.js';

const spec = (fields: Record<string, unknown>): BDoc => new Map(Object.entries(fields)) as BDoc;

describe('collation specs', () => {
  it("stores every option with the locale's ICU defaults, in mongod's order", () => {
    const stored = parseCollation(spec({ locale: 'en', strength: new Int32(2) }))!;
    assert.deepEqual(
      [...stored.keys()],
      [
        'locale',
        'caseLevel',
        'caseFirst',
        'strength',
        'numericOrdering',
        'alternate',
        'maxVariable',
        'normalization',
        'backwards',
        'version'
      ]
    );
    assert.equal(stored.get('version'), '57.1');
    assert.equal(parseCollation(spec({ locale: 'da' }))!.get('caseFirst'), 'upper');
    assert.equal(parseCollation(spec({ locale: 'th' }))!.get('alternate'), 'shifted');
    assert.equal(parseCollation(spec({ locale: 'fr_CA' }))!.get('backwards'), true);
    assert.equal(parseCollation(spec({ locale: 'simple' })), undefined);
  });

  it('accepts documented variants and suggests what ICU would use', () => {
    assert.ok(parseCollation(spec({ locale: 'de@collation=phonebook' })));
    assert.throws(
      () => parseCollation(spec({ locale: 'fr_FR' })),
      /Field 'locale' is invalid in: \{ locale: "fr_FR" \}\. Did you mean 'fr'\?$/
    );
    assert.throws(() => parseCollation(spec({ locale: 'en@collation=phonebook' })), /invalid/);
  });
});

describe('collators', () => {
  const folded = collatorFor(parseCollation(spec({ locale: 'en', strength: new Int32(1) }))!);

  it('gives strings equal under the collation one equality key', () => {
    withCollation(folded, () => {
      assert.equal(equalityKey('Résumé'), equalityKey('resume'));
      assert.notEqual(equalityKey('resume'), equalityKey('resumes'));
      assert.equal(equalityKey(new Map([['a', 'X']])), equalityKey(new Map([['a', 'x']])));
      assert.equal(compareValues('B', 'a') > 0, true);
    });
  });

  it('leaves keyOf and comparisons binary outside withCollation', () => {
    withCollation(folded, () => assert.notEqual(keyOf('A'), keyOf('a')));
    assert.notEqual(equalityKey('A'), equalityKey('a'));
    assert.equal(compareValues('B', 'a') < 0, true, 'binary: uppercase sorts first');
  });

  it('orders identical-strength ties by code point', () => {
    const identical = collatorFor(parseCollation(spec({ locale: 'en', strength: new Int32(5) }))!);
    assert.notEqual(identical.compare('a', 'a\u200b'), 0);
    assert.equal(
      identical.compare('e\u0301', '\u00e9'),
      0,
      'canonically equivalent strings are equal'
    );
  });
});
