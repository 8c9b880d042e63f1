/** The storage checks mongod runs on an updated document (storage_validation.cpp). */
import { type BDoc, compareValuesBinary, typeAlias } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import { elementString } from './format.js';

/**
 * Top-level `$`-prefixed names are refused unless a pipeline produced them; `_id` may not be an
 * array, a regex or undefined.
 */
export function validateForStorage(doc: BDoc, allowTopLevelDollar: boolean): void {
  if (!allowTopLevelDollar) {
    for (const key of doc.keys()) {
      if (key.startsWith('$')) {
        throw new ServerError(
          52,
          `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an ` +
            "update's replacement document. Consider using an aggregation pipeline with $replaceWith.",
          { codeName: 'DollarPrefixedFieldName' }
        );
      }
    }
  }
  if (!doc.has('_id')) return;
  const type = typeAlias(doc.get('_id'));
  if (type === 'array' || type === 'regex' || type === 'undefined') {
    throw new ServerError(53, `The '_id' value cannot be of type ${type}`, {
      codeName: 'InvalidIdField'
    });
  }
}

/** ObjectReplaceExecutor's immutable `_id` check for replacements and pipeline results. */
export function checkIdUnchanged(pre: BDoc, post: BDoc): void {
  if (!pre.has('_id')) return;
  if (!post.has('_id')) {
    throw new ServerError(
      66,
      "After applying the update, the (immutable) field '_id' was found to have been removed."
    );
  }
  // Binary: a collation that finds 'a' equal to 'A' does not make the change allowed.
  if (compareValuesBinary(pre.get('_id'), post.get('_id')) !== 0) {
    throw new ServerError(
      66,
      "After applying the update, the (immutable) field '_id' was found to have been altered to " +
        elementString('_id', post.get('_id'))
    );
  }
}

/** A copy of `doc` with `_id` moved to the front (mongod always stores `_id` first). */
export function idFirst(doc: BDoc): BDoc {
  if (!doc.has('_id') || doc.keys().next().value === '_id') return doc;
  const out: BDoc = new Map([['_id', doc.get('_id')]]);
  for (const [k, v] of doc) if (k !== '_id') out.set(k, v);
  return out;
}
