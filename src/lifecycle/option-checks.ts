/**
 * Checks shared by the stages' option resolvers, so that every stage rejects the same mistakes
 * with the same words.
 */
import { InvalidConfigError } from '../errors.js';

/**
 * True for a `MongoClient`, duck-typed: a host may load a second copy of the driver, where
 * `instanceof` would fail.
 * @internal
 */
export function isClientLike(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { db?: unknown }).db === 'function'
  );
}

/**
 * Throws unless `client` is a `MongoClient` (see {@link isClientLike}).
 * @throws {@link InvalidConfigError} naming `field`
 * @internal
 */
export function checkClient(field: string, client: unknown): void {
  if (!isClientLike(client))
    throw new InvalidConfigError(field, 'expected a connected MongoClient');
}

/**
 * Throws for the first key of `value` that is not in `known` (a typo would otherwise be ignored
 * silently); `prefix` names the nested object (`retry.`).
 * @throws {@link InvalidConfigError} naming the key
 * @internal
 */
export function rejectUnknownKeys(value: object, known: ReadonlySet<string>, prefix = ''): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key)) throw new InvalidConfigError(`${prefix}${key}`, 'unknown option');
  }
}

/**
 * Throws unless the options argument is an object holding only `known` keys.
 * @throws {@link InvalidConfigError} naming `options` or the unknown key
 * @internal
 */
export function checkOptionsObject(options: unknown, known: ReadonlySet<string>): void {
  if (options === null || typeof options !== 'object') {
    throw new InvalidConfigError('options', 'expected an object');
  }
  rejectUnknownKeys(options, known);
}
