/**
 * Collation specs as mongod stores them: every ICU option filled in with its default, and the
 * `simple` collation represented by no collation at all.
 */
import { Int32 } from 'bson';

import { type BDoc, type BValue, isDoc } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';

/** ICU's defaults, in the order mongod lists them. */
const DEFAULTS: readonly (readonly [string, BValue])[] = [
  ['caseLevel', false],
  ['caseFirst', 'off'],
  ['strength', new Int32(3)],
  ['numericOrdering', false],
  ['alternate', 'non-ignorable'],
  ['maxVariable', 'punct'],
  ['normalization', false],
  ['backwards', false]
];

/**
 * The stored form of a collation spec (of a collection, a view or an index): every option
 * filled in, `version: '57.1'` (the ICU version of mongod 3.4 to 8.0); `undefined` for
 * `{locale: 'simple'}`.
 */
export function expandCollation(raw: BValue): BDoc | undefined {
  if (!isDoc(raw))
    throw new ServerError(14, "BSON field 'collation' is the wrong type, expected type 'object'");
  const locale = raw.get('locale');
  if (typeof locale !== 'string')
    throw new ServerError(40414, "BSON field 'locale' is missing but a required field", {
      codeName: 'Location40414'
    });
  if (locale === 'simple') return undefined;
  const out: BDoc = new Map<string, BValue>([['locale', locale]]);
  for (const [key, value] of DEFAULTS) out.set(key, raw.has(key) ? raw.get(key) : value);
  out.set('version', '57.1');
  return out;
}
