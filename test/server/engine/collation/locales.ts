/**
 * The collation locales mongod supports (docs: "Collation Locales and Default Parameters", the
 * same list for 4.4 to 8.0), their variants (`<locale>@collation=<variant>`), the defaults ICU
 * gives each, and how each maps onto the ICU that Node's `Intl.Collator` embeds.
 */

/** Supported locales and the variants each accepts. */
const LOCALES: Readonly<Record<string, readonly string[]>> = {
  af: [],
  sq: [],
  am: [],
  ar: ['compat'],
  hy: [],
  as: [],
  az: ['search'],
  be: [],
  bn: ['traditional'],
  bs: ['search'],
  bs_Cyrl: [],
  bg: [],
  my: [],
  ca: ['search'],
  chr: [],
  zh: ['big5han', 'gb2312han', 'unihan', 'zhuyin'],
  zh_Hant: [],
  hr: ['search'],
  cs: ['search'],
  da: ['search'],
  nl: [],
  dz: [],
  en: [],
  en_US: [],
  en_US_POSIX: [],
  eo: [],
  et: [],
  ee: [],
  fo: [],
  fil: [],
  fi: ['search', 'traditional'],
  fr: [],
  fr_CA: [],
  gl: ['search'],
  ka: [],
  de: ['search', 'eor', 'phonebook'],
  de_AT: ['phonebook'],
  el: [],
  gu: [],
  ha: [],
  haw: [],
  he: [],
  hi: [],
  hu: [],
  is: ['search'],
  ig: [],
  smn: ['search'],
  id: [],
  ga: [],
  it: [],
  ja: [],
  kl: ['search'],
  kn: ['traditional'],
  kk: [],
  km: [],
  kok: [],
  ko: ['search', 'searchjl', 'unihan'],
  ky: [],
  lo: [],
  lv: [],
  ln: ['phonetic'],
  lt: [],
  dsb: [],
  lb: [],
  mk: [],
  ms: [],
  ml: [],
  mt: [],
  mr: [],
  mn: [],
  ne: [],
  se: ['search'],
  nb: ['search'],
  nn: ['search'],
  or: [],
  om: [],
  ps: [],
  fa: [],
  fa_AF: [],
  pl: [],
  pt: [],
  pa: [],
  ro: [],
  ru: [],
  sr: [],
  sr_Latn: ['search'],
  si: ['dictionary'],
  sk: ['search'],
  sl: [],
  es: ['search', 'traditional'],
  sw: [],
  sv: ['search'],
  ta: [],
  te: [],
  th: [],
  bo: [],
  to: [],
  tr: ['search'],
  uk: [],
  hsb: [],
  ur: [],
  ug: [],
  vi: ['traditional'],
  wae: [],
  cy: [],
  yi: ['search'],
  yo: [],
  zu: []
};

/** ICU collation keywords (`-u-co-…`) for mongod's variant names. */
const VARIANT_KEYWORDS: Readonly<Record<string, string>> = {
  traditional: 'trad',
  phonebook: 'phonebk',
  dictionary: 'dict',
  gb2312han: 'gb2312'
};

function split(locale: string): { base: string; variant: string | undefined } {
  const at = locale.indexOf('@collation=');
  if (at < 0) return { base: locale, variant: undefined };
  return { base: locale.slice(0, at), variant: locale.slice(at + '@collation='.length) };
}

/** True for a locale mongod accepts as given (ICU would not canonicalize it). */
export function supportsLocale(locale: string): boolean {
  const { base, variant } = split(locale);
  const variants = Object.hasOwn(LOCALES, base) ? LOCALES[base] : undefined;
  return variants !== undefined && (variant === undefined || variants.includes(variant));
}

/**
 * The locale ICU would have used instead, which mongod suggests ("Did you mean 'en_US'?"): the
 * ICU spelling (`_` separators, lowercase language, uppercase region), then shorter and shorter
 * prefixes; none when it falls back to the root locale.
 */
export function suggestedLocale(locale: string): string | undefined {
  const parts = split(locale).base.split(/[-_]/);
  if (parts[0]) parts[0] = parts[0].toLowerCase();
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    parts[i] = part.length === 2 ? part.toUpperCase() : part[0]!.toUpperCase() + part.slice(1);
  }
  for (let n = parts.length; n > 0; n--) {
    const candidate = parts.slice(0, n).join('_');
    if (candidate !== locale && Object.hasOwn(LOCALES, candidate)) return candidate;
  }
  return undefined;
}

/** The BCP 47 tag of a supported locale for `Intl.Collator`, and its usage. */
export function intlLocale(locale: string): { tag: string; usage: 'sort' | 'search' } {
  const { base, variant } = split(locale);
  let tag = base === 'en_US_POSIX' ? 'en-US-u-va-posix' : base.replaceAll('_', '-');
  if (variant === 'search') return { tag, usage: 'search' };
  if (variant !== undefined) tag += `-u-co-${VARIANT_KEYWORDS[variant] ?? variant}`;
  return { tag, usage: 'sort' };
}

/** The option values a locale's ICU collator starts with (what mongod stores when omitted). */
export interface LocaleDefaults {
  readonly caseLevel: boolean;
  readonly caseFirst: string;
  readonly strength: number;
  readonly numericOrdering: boolean;
  readonly alternate: string;
  readonly maxVariable: string;
  readonly normalization: boolean;
  readonly backwards: boolean;
}

const defaultsCache = new Map<string, LocaleDefaults>();

/** The locale's ICU defaults: caseFirst (upper for da, mt), alternate (shifted for th), French
 * secondary ordering (fr_CA), read from Node's ICU where it exposes them. */
export function localeDefaults(locale: string): LocaleDefaults {
  let defaults = defaultsCache.get(locale);
  if (!defaults) {
    const { tag, usage } = intlLocale(locale);
    const resolved = new Intl.Collator(tag, { usage }).resolvedOptions();
    defaults = {
      caseLevel: false,
      caseFirst:
        resolved.caseFirst === 'upper' || resolved.caseFirst === 'lower'
          ? resolved.caseFirst
          : 'off',
      strength: 3,
      numericOrdering: false,
      alternate: resolved.ignorePunctuation ? 'shifted' : 'non-ignorable',
      maxVariable: 'punct',
      normalization: false,
      backwards: split(locale).base === 'fr_CA'
    };
    defaultsCache.set(locale, defaults);
  }
  return defaults;
}
