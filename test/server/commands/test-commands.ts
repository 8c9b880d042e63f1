/** Test-only commands a mongod started with `enableTestCommands=1` has: fail points. */
import { Int32 } from 'bson';

import { ServerError } from '../engine/server-error.js';
import { type CommandHandler } from './context.js';

const configureFailPoint: CommandHandler = ctx => {
  if (ctx.db !== 'admin') {
    throw new ServerError(13, 'configureFailPoint may only be run against the admin database.');
  }
  const name = ctx.cmd.get('configureFailPoint');
  if (typeof name !== 'string')
    throw new ServerError(14, "BSON field 'configureFailPoint' must be a string");
  const count = ctx.mongod.failPoints.configure(name, ctx.cmd.get('mode'), ctx.cmd.get('data'));
  return { count: new Int32(count) };
};

export const testCommands: Record<string, CommandHandler> = { configureFailPoint };
