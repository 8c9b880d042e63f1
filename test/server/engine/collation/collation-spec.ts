/**
 * Collation specs as mongod parses, validates and stores them (CollatorFactoryICU::makeFromBSON,
 * src/mongo/db/query/collation/collator_factory_icu.cpp): the locale must be one ICU accepts
 * without canonicalizing it, each option has a type and a range, unknown fields fail, and the
 * stored form lists every option (the locale's defaults filled in) with `version: '57.1'`, the
 * ICU version of mongod 3.4 to 8.0. `{locale: 'simple'}` is binary comparison (no collation).
 */
import { Int32 } from 'bson';

import { type BDoc, type BValue, isDoc, isNumber, toNumber, typeAlias } from '../../bson/values.js';
import { renderValue } from '../../mongod/render.js';
import { ServerError } from '../server-error.js';
import { localeDefaults, suggestedLocale, supportsLocale } from './locales.js';

const ICU_VERSION = '57.1';

/** The options of a stored spec, in mongod's order (CollationSpec::toBSON). */
const OPTION_ORDER = [
  'caseLevel',
  'caseFirst',
  'strength',
  'numericOrdering',
  'alternate',
  'maxVariable',
  'normalization',
  'backwards'
] as const;

function wrongType(field: string, expected: string, value: BValue): ServerError {
  return new ServerError(
    14,
    `"${field}" had the wrong type. Expected ${expected}, found ${typeAlias(value)}`
  );
}

function boolField(spec: BDoc, field: string): boolean | undefined {
  const value = spec.get(field);
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw wrongType(field, 'bool', value);
  return value;
}

function stringField(spec: BDoc, field: string): string | undefined {
  const value = spec.get(field);
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw wrongType(field, 'string', value);
  return value;
}

function oneOf(field: string, value: string | undefined, allowed: string[]): string | undefined {
  if (value === undefined || allowed.includes(value)) return value;
  const quoted = allowed.map(a => `'${a}'`);
  const list =
    quoted.length === 2
      ? quoted.join(' or ')
      : `${quoted.slice(0, -1).join(', ')}, or ${quoted.at(-1)}`;
  throw new ServerError(9, `Field '${field}' must be ${list}. Got: ${value}`);
}

function strengthField(spec: BDoc): number | undefined {
  const value = spec.get('strength');
  if (value === undefined) return undefined;
  if (!isNumber(value)) {
    throw new ServerError(
      14,
      `Expected field "strength" to have numeric type, but found ${typeAlias(value)}`
    );
  }
  const n = toNumber(value);
  if (!Number.isInteger(n)) {
    throw new ServerError(
      2,
      `Expected field "strength" to have a value exactly representable as a 64-bit integer, but found strength: ${renderValue(value)}`
    );
  }
  if (n < 1 || n > 5) {
    throw new ServerError(9, `Field 'strength' must be an integer 1 through 5. Got: ${n}`);
  }
  return n;
}

function checkLocale(spec: BDoc): string {
  const value = spec.get('locale');
  if (value === undefined) throw new ServerError(4, 'Missing expected field "locale"');
  if (typeof value !== 'string') throw wrongType('locale', 'string', value);
  if (value.includes('\0')) {
    throw new ServerError(
      2,
      `Field 'locale' cannot contain null byte. Collation spec: ${renderValue(spec)}`
    );
  }
  return value;
}

/**
 * Validates a collation spec and returns its stored form, or undefined for the simple collation.
 * Throws mongod's errors for an invalid one.
 */
export function parseCollation(raw: BValue): BDoc | undefined {
  if (!isDoc(raw)) {
    throw new ServerError(
      14,
      `BSON field 'collation' is the wrong type '${typeAlias(raw)}', expected type 'object'`
    );
  }
  const locale = checkLocale(raw);
  if (locale === 'simple') {
    if (raw.size > 1) {
      throw new ServerError(
        9,
        `If locale=simple, no other fields should be present in: ${renderValue(raw)}`
      );
    }
    return undefined;
  }
  if (locale === '') {
    throw new ServerError(2, `Field 'locale' cannot be the empty string in: ${renderValue(raw)}`);
  }
  if (!supportsLocale(locale)) {
    const suggestion = suggestedLocale(locale);
    throw new ServerError(
      2,
      `Field 'locale' is invalid in: ${renderValue(raw)}${suggestion ? `. Did you mean '${suggestion}'?` : ''}`
    );
  }
  const defaults = localeDefaults(locale);
  const given = {
    caseLevel: boolField(raw, 'caseLevel'),
    caseFirst: oneOf('caseFirst', stringField(raw, 'caseFirst'), ['upper', 'lower', 'off']),
    strength: strengthField(raw),
    numericOrdering: boolField(raw, 'numericOrdering'),
    alternate: oneOf('alternate', stringField(raw, 'alternate'), ['non-ignorable', 'shifted']),
    maxVariable: oneOf('maxVariable', stringField(raw, 'maxVariable'), ['punct', 'space']),
    normalization: boolField(raw, 'normalization'),
    backwards: boolField(raw, 'backwards')
  };
  const version = stringField(raw, 'version');
  if (version !== undefined && version !== ICU_VERSION) {
    throw new ServerError(
      161,
      `Requested collation version ${version} but the only available collator version was ${ICU_VERSION}. Requested collation spec: ${renderValue(raw)}`
    );
  }
  const known = new Set<string>(['locale', 'version', ...OPTION_ORDER]);
  if ([...raw.keys()].some(key => !known.has(key))) {
    throw new ServerError(
      9,
      `Collation spec contains unknown field. Collation spec: ${renderValue(raw)}`
    );
  }
  const stored: BDoc = new Map<string, BValue>([['locale', locale]]);
  for (const option of OPTION_ORDER) {
    const value = given[option] ?? defaults[option];
    stored.set(option, option === 'strength' ? new Int32(value as number) : (value as BValue));
  }
  stored.set('version', ICU_VERSION);
  checkCombination(stored);
  return stored;
}

/** validateCollationSpec: option combinations ICU would ignore are refused. */
function checkCombination(spec: BDoc): void {
  const strength = toNumber(spec.get('strength'));
  if (spec.get('backwards') === true && strength === 1) {
    throw new ServerError(
      2,
      `'backwards' is invalid with 'strength' of 1 in: ${renderValue(spec)}`
    );
  }
  if (spec.get('caseFirst') !== 'off' && spec.get('caseLevel') !== true && strength <= 2) {
    throw new ServerError(
      2,
      `'caseFirst' is invalid unless 'caseLevel' is on or 'strength' is greater than 2 in: ${renderValue(spec)}`
    );
  }
}
