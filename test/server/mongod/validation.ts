/**
 * Collection validators as mongod 7.0 applies them (collection_impl.cpp `checkValidation`,
 * `parseValidator`): the validator is parsed when `create` or `collMod` sets it ("Parsing of
 * collection validator failed :: caused by :: …"), and each insert and update is checked unless
 * `validationLevel` is `off`, `moderate` exempts an update of a document that already failed,
 * `validationAction: warn` lets the write through, and `bypassDocumentValidation` skips it all.
 * A failure is 121 DocumentValidationFailure; from 5.0 on it carries `errInfo` with mongod's
 * explanation (validation-error.ts), 4.4 sends the bare error.
 */
import { type BDoc, isDoc, withCollation } from '../bson/values.js';
import { collatorFor } from '../engine/collation/collator.js';
import { type MatchNode } from '../engine/query/match-tree.js';
import { compileFilter, type Matcher } from '../engine/query/matcher.js';
import { validationErrorInfo, validatorTree } from '../engine/query/validation-error.js';
import { ServerError } from '../engine/server-error.js';
import { type Collection } from './collection.js';

const LEVELS = ['off', 'strict', 'moderate'];
const ACTIONS = ['error', 'warn'];

/** Compiled validators, by the stored validator document (options are replaced, not mutated). */
const matchers = new WeakMap<BDoc, Matcher>();
const trees = new WeakMap<BDoc, MatchNode>();

function matcherFor(validator: BDoc): Matcher {
  let matcher = matchers.get(validator);
  if (!matcher) {
    matcher = compileFilter(validator);
    matchers.set(validator, matcher);
  }
  return matcher;
}

/**
 * Checks the validator options of a `create` or `collMod` (`command`) before they are stored:
 * the validator must parse, the level and action must be known values.
 */
export function checkValidatorOptions(command: string, options: BDoc): void {
  for (const [field, allowed] of [
    ['validationLevel', LEVELS],
    ['validationAction', ACTIONS]
  ] as const) {
    if (!options.has(field)) continue;
    const value = options.get(field);
    if (typeof value !== 'string') {
      throw new ServerError(
        14,
        `BSON field '${command}.${field}' is the wrong type, expected type 'string'`
      );
    }
    if (!allowed.includes(value)) {
      throw new ServerError(
        2,
        `Enumeration value '${value}' for field '${command}.${field}' is not a valid value.`
      );
    }
  }
  if (!options.has('validator')) return;
  const validator = options.get('validator');
  if (!isDoc(validator)) {
    throw new ServerError(
      14,
      `BSON field '${command}.validator' is the wrong type, expected type 'object'`
    );
  }
  try {
    matcherFor(validator);
  } catch (error) {
    if (!(error instanceof ServerError)) throw error;
    throw new ServerError(
      error.code,
      `Parsing of collection validator failed :: caused by :: ${error.message}`,
      { codeName: error.codeName }
    );
  }
}

/**
 * Validates a document about to be written to `collection` (`before`: the stored version it
 * replaces, for updates). Throws 121 when the write must fail; `detailed` adds `errInfo`.
 */
export function validateWrite(
  collection: Collection,
  doc: BDoc,
  before: BDoc | undefined,
  detailed: boolean
): void {
  const validator = collection.options.get('validator');
  if (!isDoc(validator) || validator.size === 0) return;
  const level = collection.options.get('validationLevel') ?? 'strict';
  if (level === 'off') return;
  // The validator compares strings under the collection's default collation, whatever the
  // write's own collation is.
  const defaultSpec = collection.options.get('collation');
  const collation = isDoc(defaultSpec) ? collatorFor(defaultSpec) : undefined;
  const passes = (candidate: BDoc) =>
    withCollation(collation, () => matcherFor(validator).matches(candidate));
  // 'moderate' exempts updates of documents that already fail validation.
  if (level === 'moderate' && before && !passes(before)) return;
  if (passes(doc)) return;
  if ((collection.options.get('validationAction') ?? 'error') === 'warn') return;
  if (!detailed) throw new ServerError(121, 'Document failed validation');
  const errInfo = withCollation(collation, () => {
    let tree = trees.get(validator);
    if (!tree) {
      tree = validatorTree(validator);
      trees.set(validator, tree);
    }
    return validationErrorInfo(tree, doc);
  });
  throw new ServerError(121, 'Document failed validation', { extra: { errInfo } });
}
