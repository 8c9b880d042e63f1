/**
 * Pipeline-style updates (`update: [{$set: …}, …]`): only the document-shaping stages mongod allows
 * in an update run; the input document is never mutated.
 */
import { type BDoc, type BValue, cloneValue } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import { runPipeline, stageEntry } from './pipeline.js';

const UPDATE_STAGES = new Set([
  '$addFields',
  '$set',
  '$project',
  '$unset',
  '$replaceRoot',
  '$replaceWith'
]);

export function applyUpdatePipeline(
  doc: BDoc,
  pipeline: BDoc[],
  vars?: Map<string, BValue>,
  now?: Date
): BDoc {
  for (const stage of pipeline) {
    const [name] = stageEntry(stage);
    if (!UPDATE_STAGES.has(name)) {
      throw new ServerError(72, `${name} is not allowed to be used within an update`);
    }
  }
  const [out] = runPipeline([doc], pipeline, {
    dbName: '',
    resolveCollection: () => {
      throw new ServerError(72, '$lookup is not allowed to be used within an update');
    },
    ...(vars ? { vars } : {}),
    ...(now ? { now } : {})
  });
  return cloneValue(out!);
}
