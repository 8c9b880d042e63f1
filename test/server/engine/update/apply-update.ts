/**
 * Applies an update (modifier document, replacement document or pipeline) to a document the way
 * mongod's UpdateDriver does, returning a new document; the input is never mutated.
 */
import { type BDoc, cloneValue } from '../../bson/values.js';
import { applyUpdatePipeline } from '../aggregate/apply-update-pipeline.js';
import { ServerError } from '../server-error.js';
import { applyTree } from './apply-tree.js';
import { parseArrayFilters } from './array-filters.js';
import type { UpdateContext } from './context.js';
import { parseUpdateTree } from './tree.js';
import { checkIdUnchanged, idFirst, validateForStorage } from './validate.js';

export type { UpdateContext } from './context.js';
export { buildUpsertDocument } from './upsert.js';

/** True for a modifier-style update: mongod looks at the first field name only. */
export function isModifierUpdate(update: BDoc): boolean {
  const first = update.keys().next().value;
  return first !== undefined && first.startsWith('$');
}

export function applyUpdate(doc: BDoc, update: BDoc | BDoc[], ctx: UpdateContext): BDoc {
  if (Array.isArray(update)) return applyPipeline(doc, update, ctx);
  if (isModifierUpdate(update)) return applyModifiers(doc, update, ctx);
  return applyReplacement(doc, update);
}

/** A modifier update ({$set: ...}); fields missing from `doc` are created as mongod orders them. */
export function applyModifiers(doc: BDoc, update: BDoc, ctx: UpdateContext): BDoc {
  const filters = parseArrayFilters(ctx.arrayFilters);
  const tree = parseUpdateTree(update, new Set(filters.keys()));
  const out = cloneValue(doc);
  applyTree(tree, out, { root: out, ctx }, filters);
  validateForStorage(out, false);
  return out;
}

/** A replacement document: keeps the pre-image's `_id` (first) unless it supplies an equal one. */
export function applyReplacement(doc: BDoc, replacement: BDoc): BDoc {
  validateForStorage(replacement, false);
  const out: BDoc = new Map();
  if (replacement.has('_id')) out.set('_id', cloneValue(replacement.get('_id')));
  else if (doc.has('_id')) out.set('_id', doc.get('_id'));
  for (const [k, v] of replacement) if (k !== '_id') out.set(k, cloneValue(v));
  checkIdUnchanged(doc, out);
  return out;
}

/** A pipeline-style update; the result must keep the pre-image's `_id`. */
export function applyPipeline(doc: BDoc, pipeline: BDoc[], ctx: UpdateContext): BDoc {
  if (ctx.arrayFilters && ctx.arrayFilters.length > 0) {
    // sic: mongod's message has this typo.
    throw new ServerError(9, 'arrayFilters may not be specified for pipeline-syle updates');
  }
  let result = applyUpdatePipeline(cloneValue(doc), pipeline, ctx.vars, ctx.now);
  // A pipeline that drops `_id` keeps the original one: mongod applies the result as a
  // replacement that does not contain `_id` (pipeline_executor.cpp).
  if (!result.has('_id') && doc.has('_id')) result = new Map([['_id', doc.get('_id')], ...result]);
  checkIdUnchanged(doc, result);
  const out = idFirst(result);
  validateForStorage(out, true);
  return out;
}
