/** The `let` argument of find, aggregate, update, delete and findAndModify (MongoDB 5.0+). */
import { type BValue } from '../bson/values.js';
import { parseLetVariables } from '../engine/aggregate/let-variables.js';
import { ServerError } from '../engine/server-error.js';
import { renderValue } from '../mongod/render.js';
import { type CommandContext } from './context.js';

/**
 * The command's `let` variables, or undefined without one. 4.4 has no `let`: its IDL commands
 * answer the unknown field, and find and aggregate (parsed by hand then: QueryRequest,
 * AggregationRequest) a FailedToParse naming it.
 */
export function commandLet(ctx: CommandContext): Map<string, BValue> | undefined {
  const spec = ctx.cmd.get('let');
  if (spec === undefined) return undefined;
  if (ctx.mongod.profile.maxWireVersion < 13) {
    if (ctx.name === 'find') {
      throw new ServerError(
        9,
        `Failed to parse: ${renderValue(ctx.cmd)}. Unrecognized field 'let'.`
      );
    }
    if (ctx.name === 'aggregate') throw new ServerError(9, "unrecognized field 'let'");
    throw new ServerError(40415, `BSON field '${ctx.name}.let' is an unknown field.`);
  }
  return parseLetVariables(spec, `${ctx.name}.let`);
}
