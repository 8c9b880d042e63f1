/** What a command handler receives, and the helpers it uses to read arguments as mongod's IDL does. */
import { Int32, Long } from 'bson';

import {
  type BDoc,
  type BValue,
  isDoc,
  isNumber,
  toNumber,
  typeAlias,
  valuesEqualBinary
} from '../bson/values.js';
import { parseCollation } from '../engine/collation/collation-spec.js';
import { type Collator, collatorFor } from '../engine/collation/collator.js';
import { ServerError } from '../engine/server-error.js';
import { isGenericArgument } from '../mongod/ddl.js';
import { type Mongod } from '../mongod/mongod.js';
import { type SessionGate } from './session-gate.js';

/** Per-connection facts commands may need. */
export interface ConnectionInfo {
  readonly id: number;
  appName: string | undefined;
  /** Set while this connection streams awaitable hello replies (monitoring). */
  readonly closed: AbortSignal;
}

export interface CommandContext {
  readonly mongod: Mongod;
  readonly db: string;
  readonly name: string;
  readonly cmd: BDoc;
  readonly connection: ConnectionInfo;
  /** The command's session, transaction and retryable-write state. */
  readonly gate: SessionGate;
}

/** A reply body before the envelope (`ok`, `$clusterTime`, `operationTime`) is added. */
export type ReplyBody = Map<string, unknown> | Record<string, unknown>;

export type CommandHandler = (ctx: CommandContext) => ReplyBody | Promise<ReplyBody>;

/** Rejects fields a command does not know, as mongod's IDL parser does (40415). */
export function checkFields(ctx: CommandContext, allowed: readonly string[]): void {
  for (const field of ctx.cmd.keys()) {
    if (field === ctx.name || isGenericArgument(field) || allowed.includes(field)) continue;
    throw new ServerError(40415, `BSON field '${ctx.name}.${field}' is an unknown field.`);
  }
}

function wrongType(
  ctx: CommandContext,
  field: string,
  value: BValue,
  expected: string
): ServerError {
  return new ServerError(
    14,
    `BSON field '${ctx.name}.${field}' is the wrong type '${typeAlias(value)}', expected type '${expected}'`
  );
}

/** The command's first value as a collection name (`{find: 'coll'}`). */
export function collectionName(ctx: CommandContext): string {
  const value = ctx.cmd.get(ctx.name);
  if (typeof value !== 'string') {
    throw new ServerError(73, `collection name has invalid type ${typeAlias(value)}`);
  }
  if (value.length === 0) throw new ServerError(73, `Invalid namespace specified '${ctx.db}.'`);
  return value;
}

export function optionalDoc(ctx: CommandContext, field: string): BDoc | undefined {
  const value = ctx.cmd.get(field);
  if (value === undefined || value === null) return undefined;
  if (!isDoc(value)) throw wrongType(ctx, field, value, 'object');
  return value;
}

export function optionalNumber(ctx: CommandContext, field: string): number | undefined {
  const value = ctx.cmd.get(field);
  if (value === undefined || value === null) return undefined;
  if (!isNumber(value)) throw wrongType(ctx, field, value, 'long');
  return toNumber(value);
}

export function optionalBool(ctx: CommandContext, field: string): boolean | undefined {
  const value = ctx.cmd.get(field);
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value;
  if (isNumber(value)) return toNumber(value) !== 0;
  throw wrongType(ctx, field, value, 'bool');
}

export function optionalString(ctx: CommandContext, field: string): string | undefined {
  const value = ctx.cmd.get(field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw wrongType(ctx, field, value, 'string');
  return value;
}

export function requiredArray(ctx: CommandContext, field: string): BValue[] {
  const value = ctx.cmd.get(field);
  if (value === undefined) {
    throw new ServerError(
      40414,
      `BSON field '${ctx.name}.${field}' is missing but a required field`,
      { codeName: 'Location40414' }
    );
  }
  if (!Array.isArray(value)) throw wrongType(ctx, field, value, 'array');
  return value;
}

/**
 * The collation a read or write on `db.coll` runs with: its own `collation` (validated as mongod
 * does; `{locale: 'simple'}` is binary comparison), else the collection's or view's default. A
 * view's queries cannot use another collation than the view's (167).
 */
export function effectiveCollation(
  mongod: Mongod,
  db: string,
  coll: string | undefined,
  raw: BValue
): Collator | undefined {
  const target = coll === undefined ? undefined : mongod.lookupCollection(db, coll);
  const defaultSpec = target?.options.get('collation');
  if (raw === undefined || raw === null) {
    return isDoc(defaultSpec) ? collatorFor(defaultSpec) : undefined;
  }
  const spec = parseCollation(raw);
  if (target?.type === 'view' && !valuesEqualBinary(spec ?? null, defaultSpec ?? null)) {
    throw new ServerError(167, "Cannot override a view's default collation");
  }
  return spec ? collatorFor(spec) : undefined;
}

/** int32 when it fits, as mongod types counters. */
export function int(n: number): Int32 | Long {
  return n <= 0x7fffffff ? new Int32(n) : Long.fromNumber(n);
}
