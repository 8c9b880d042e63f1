/** `aggregate` with `$changeStream` as its first stage (collection, database or cluster streams). */
import { type BDoc } from '../bson/values.js';
import { notImplemented } from '../engine/server-error.js';
import { type CommandContext, type ReplyBody } from './context.js';

/** Opens a change-stream cursor and returns the aggregate reply. */
export function openChangeStream(
  _ctx: CommandContext,
  _pipeline: BDoc[],
  _batchSize: number | undefined
): ReplyBody {
  throw notImplemented('$changeStream');
}
