/**
 * String comparison under a stored collation spec, on the ICU that Node embeds (`Intl.Collator`)
 * where mongod links ICU 57.1: the orders agree for the cases the tests cover (case, accents,
 * numeric ordering, ignorable punctuation, French secondary ordering), but newer Unicode data can
 * order rarer characters differently. Options Intl cannot express are refused (238).
 */
import { type BDoc, type StringCollation, toNumber } from '../../bson/values.js';
import { renderValue } from '../../mongod/render.js';
import { notImplemented } from '../server-error.js';
import { intlLocale, localeDefaults } from './locales.js';

/** Compares by code point (ICU's identical level compares the NFD forms this way). */
function codePointOrder(a: string, b: string): number {
  const na = a.normalize('NFD');
  const nb = b.normalize('NFD');
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * Equality classes as stable keys: each string maps to the id of the first string seen equal to
 * it. Representatives are kept sorted, so a key costs a binary search of collator comparisons
 * (ICU's equality is an equivalence consistent with its order).
 */
class EqualityKeys {
  readonly #representatives: string[] = [];
  readonly #ids: number[] = [];

  constructor(private readonly compare: (a: string, b: string) => number) {}

  key(value: string): string {
    let lo = 0;
    let hi = this.#representatives.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = this.compare(this.#representatives[mid]!, value);
      if (c === 0) return String(this.#ids[mid]);
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    const id = this.#representatives.length;
    this.#representatives.splice(lo, 0, value);
    this.#ids.splice(lo, 0, id);
    return String(id);
  }
}

/** A collation a command, a collection or an index compares strings with. */
export interface Collator extends StringCollation {
  /** The stored spec (`listIndexes`, error messages). */
  readonly spec: BDoc;
}

function build(spec: BDoc): Collator {
  const locale = spec.get('locale') as string;
  const defaults = localeDefaults(locale);
  const strength = toNumber(spec.get('strength'));
  const caseLevel = spec.get('caseLevel') === true;
  const alternate = spec.get('alternate');
  if (spec.get('backwards') !== defaults.backwards) {
    throw notImplemented(`collation 'backwards' other than the locale's default`);
  }
  if (alternate === 'shifted' && spec.get('maxVariable') === 'space') {
    throw notImplemented("collation maxVariable 'space' with alternate 'shifted'");
  }
  if (alternate === 'shifted' && strength >= 4) {
    throw notImplemented("collation alternate 'shifted' at strength 4 or 5");
  }
  const caseFirst = spec.get('caseFirst');
  const { tag, usage } = intlLocale(locale);
  const intl = new Intl.Collator(tag, {
    usage,
    sensitivity:
      strength === 1
        ? caseLevel
          ? 'case'
          : 'base'
        : strength === 2 && !caseLevel
          ? 'accent'
          : 'variant',
    numeric: spec.get('numericOrdering') === true,
    caseFirst: caseFirst === 'upper' || caseFirst === 'lower' ? caseFirst : 'false',
    ignorePunctuation: alternate === 'shifted'
  });
  const compare =
    strength === 5
      ? (a: string, b: string) => intl.compare(a, b) || codePointOrder(a, b)
      : (a: string, b: string) => intl.compare(a, b);
  const keys = new EqualityKeys(compare);
  return { spec, compare, key: value => keys.key(value) };
}

const cache = new Map<string, Collator>();

/** The collator of a stored spec (see collation-spec.ts), shared by every user of that spec. */
export function collatorFor(spec: BDoc): Collator {
  const id = renderValue(spec);
  let collator = cache.get(id);
  if (!collator) {
    collator = build(spec);
    cache.set(id, collator);
  }
  return collator;
}
