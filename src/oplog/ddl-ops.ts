/**
 * DDL oplog entries (`op: 'c'`) as the commands that redo them on the target, with namespaces
 * renamed by the caller's mapper. The applier runs each one alone, after every earlier operation.
 */
import { type Document } from 'mongodb';

import {
  type CommandEntry,
  formatOptime,
  isDocument,
  malformed,
  type OplogEntry,
  parseOplogEntry
} from './oplog-entry.js';

/**
 * A command to run on the target: `db.runCommand(command)` on database `db`.
 * @public
 */
export interface TargetCommand {
  /** The database to run the command on (`admin` for `renameCollection`). */
  readonly db: string;
  /** The command document. */
  readonly command: Document;
}

/**
 * Maps a source namespace (`db.collection`) to its target namespace, or `null` if the filter
 * drops it. Database-wide commands pass `db.$cmd`.
 * @public
 */
export type NamespaceMapper = (ns: string) => string | null;

interface Ns {
  readonly db: string;
  readonly coll: string;
}

function split(ns: string): Ns {
  const dot = ns.indexOf('.');
  return { db: ns.slice(0, dot), coll: ns.slice(dot + 1) };
}

/** Index specs as the oplog logs them; `ns` (4.2 and older) names the source, so drop it. */
function indexSpec(spec: Document): Document {
  const { ns: _ns, ...rest } = spec;
  return rest;
}

/** Commands with nothing to replay: the index build's outcome is logged by commitIndexBuild. */
const NOTHING_TO_REPLAY: ReadonlySet<string> = new Set([
  'startIndexBuild',
  'abortIndexBuild',
  'dbCheck'
]);

const DROP_INDEXES_ALIASES: ReadonlySet<string> = new Set([
  'dropIndexes',
  'deleteIndexes',
  'deleteIndex',
  'dropIndex'
]);

/**
 * The DDL commands the applier replays, by the name `filter.skip` uses for each: the command the
 * target runs. Oplog spellings of the same command map to it: a two-phase index build
 * (`commitIndexBuild`) is a `createIndexes`, the old aliases of `dropIndexes` a `dropIndexes`.
 * @public
 */
export const DDL_COMMAND_NAMES = Object.freeze([
  'create',
  'drop',
  'renameCollection',
  'dropDatabase',
  'createIndexes',
  'dropIndexes',
  'collMod',
  'convertToCapped',
  'emptycapped'
] as const);

/**
 * One of {@link DDL_COMMAND_NAMES}.
 * @public
 */
export type DdlCommandName = (typeof DDL_COMMAND_NAMES)[number];

/**
 * The {@link DdlCommandName} of an oplog command entry's command: a two-phase index build
 * (`commitIndexBuild`) is a `createIndexes`, the old aliases of `dropIndexes` are `dropIndexes`.
 * `undefined` for anything else (transactions, commands with nothing to replay, unknown ones).
 * @internal
 */
export function ddlCommandName(command: string): DdlCommandName | undefined {
  if (command === 'commitIndexBuild') return 'createIndexes';
  if (DROP_INDEXES_ALIASES.has(command)) return 'dropIndexes';
  return (DDL_COMMAND_NAMES as readonly string[]).includes(command)
    ? (command as DdlCommandName)
    : undefined;
}

/**
 * Translates a DDL entry into the command that redoes it on the target, or `null` if there is
 * nothing to run (the namespace is filtered out, or the entry carries nothing to replay).
 *
 * @remarks
 * - `create` keeps its options and `idIndex` (which the `create` command accepts; its `ns` is
 *   dropped). A view's `viewOn` is renamed; it must stay in the view's target database. If the
 *   mapper drops the view's source, the name is kept (the view then reads nothing). Pipelines
 *   are not rewritten (a `$lookup` keeps its source collection name).
 * - `renameCollection` runs on `admin`, both names renamed; the oplog's `dropTarget` (the
 *   dropped collection's UUID) becomes `true`. Renaming out of the filter becomes a `drop` of the
 *   source; renaming into the filter from outside cannot be replayed (the target lacks the data)
 *   and throws.
 * - `createIndexes` (one index per entry) and `commitIndexBuild` become `createIndexes`;
 *   `startIndexBuild`, `abortIndexBuild` and `dbCheck` return `null`.
 * - `drop`, `dropIndexes` (and its old aliases), `collMod`, `convertToCapped`, `emptycapped` and
 *   `dropDatabase` are renamed. For `dropDatabase` the mapper gets `db.$cmd`.
 * - `shardCollection` (the record of a source's sharding, see `shardCollectionEntry`) runs on
 *   `admin`, its namespace renamed.
 * - `applyOps`, `commitTransaction` and `abortTransaction` belong to {@link TransactionAssembler}.
 *
 * @param entry - a command entry
 * @param mapNs - the namespace mapper of the filter
 * @throws {@link UnsupportedOplogEntryError} for an unknown or malformed command
 * @public
 */
export function toTargetCommand(entry: CommandEntry, mapNs: NamespaceMapper): TargetCommand | null {
  const sourceDb = split(entry.ns).db;
  const o = entry.o;
  const name = entry.command;

  const collectionName = (): string => {
    const coll = o[name] as unknown;
    if (typeof coll !== 'string' || coll.length === 0) {
      throw malformed(`"${name}" does not name a collection`, entry.raw);
    }
    return coll;
  };
  const mapped = (coll: string): Ns | null => {
    const target = mapNs(`${sourceDb}.${coll}`);
    return target === null ? null : split(target);
  };
  /** The same command on the renamed collection. */
  const renamed = (build: (target: Ns) => Document): TargetCommand | null => {
    const target = mapped(collectionName());
    return target === null ? null : { db: target.db, command: build(target) };
  };
  const withoutName = (): Document => {
    const { [name]: _name, ...rest } = o;
    return rest;
  };

  if (NOTHING_TO_REPLAY.has(name)) return null;
  if (DROP_INDEXES_ALIASES.has(name)) {
    return renamed(t => ({ dropIndexes: t.coll, ...withoutName() }));
  }
  switch (name) {
    case 'create':
    case 'collMod':
      return renamed(t => {
        const command: Document = { [name]: t.coll, ...withoutName() };
        if (isDocument(command.idIndex)) command.idIndex = indexSpec(command.idIndex);
        if (command.viewOn !== undefined)
          command.viewOn = viewSource(entry, command.viewOn, t, mapNs);
        return command;
      });
    case 'drop':
    case 'convertToCapped':
    case 'emptycapped':
      return renamed(t => ({ [name]: t.coll, ...withoutName() }));
    case 'createIndexes':
      return renamed(t => ({ createIndexes: t.coll, indexes: [indexSpec(withoutName())] }));
    case 'commitIndexBuild':
      return renamed(t => {
        const indexes: unknown = o.indexes;
        if (!Array.isArray(indexes) || !indexes.every(isDocument)) {
          throw malformed('commitIndexBuild has no "indexes" array of documents', entry.raw);
        }
        return { createIndexes: t.coll, indexes: indexes.map(indexSpec) };
      });
    case 'dropDatabase': {
      const target = mapNs(`${sourceDb}.$cmd`);
      return target === null ? null : { db: split(target).db, command: { dropDatabase: 1 } };
    }
    case 'renameCollection':
      return renameCommand(entry, mapNs);
    case 'shardCollection': {
      // Built by shardCollectionEntry(): `o.shardCollection` is the whole namespace.
      const ns: unknown = o.shardCollection;
      if (typeof ns !== 'string' || !isDocument(o.key)) {
        throw malformed('"shardCollection" needs a namespace and a "key"', entry.raw);
      }
      const target = mapNs(ns);
      if (target === null) return null;
      return {
        db: 'admin',
        command: {
          shardCollection: target,
          key: o.key,
          ...(o.unique === true ? { unique: true } : {}),
          // Required when the collection has a default collation; accepted when it has none.
          collation: { locale: 'simple' }
        }
      };
    }
    case 'applyOps':
    case 'commitTransaction':
    case 'abortTransaction':
      throw malformed(
        `"${name}" is not DDL`,
        entry.raw,
        'Pass applyOps and transaction entries through TransactionAssembler before toTargetCommand'
      );
    default:
      throw malformed(
        `unknown command "${name}"`,
        entry.raw,
        'mongo-replicate does not know how to replay this command, so replication stops rather than skip it; report the entry (without its data)'
      );
  }
}

function viewSource(
  entry: CommandEntry,
  viewOn: unknown,
  view: Ns,
  mapNs: NamespaceMapper
): string {
  if (typeof viewOn !== 'string') throw malformed('"viewOn" is not a string', entry.raw);
  const mapped = mapNs(`${split(entry.ns).db}.${viewOn}`);
  if (mapped === null) return viewOn;
  const source = split(mapped);
  if (source.db !== view.db) {
    throw malformed(
      `the view ${view.db}.${view.coll} would read ${mapped}, in another database`,
      entry.raw,
      'A view and the collection it reads must stay in one database; adjust the rename rules'
    );
  }
  return source.coll;
}

function renameCommand(entry: CommandEntry, mapNs: NamespaceMapper): TargetCommand | null {
  const { renameCollection: from, to, dropTarget, stayTemp } = entry.o;
  if (typeof from !== 'string' || typeof to !== 'string' || !from.includes('.')) {
    throw malformed('renameCollection needs "renameCollection" and "to" namespaces', entry.raw);
  }
  if (!to.includes('.')) throw malformed('renameCollection "to" is not a namespace', entry.raw);
  const source = mapNs(from);
  const target = mapNs(to);
  if (source === null && target === null) return null;
  if (target === null) {
    // The collection leaves the replicated set: on the target it simply goes away.
    const { db, coll } = split(source!);
    return { db, command: { drop: coll } };
  }
  if (source === null) {
    throw malformed(
      `renameCollection brings ${from}, which the filter excludes, into ${to}, which it includes`,
      entry.raw,
      `The target does not have that collection's data. Run a full sync of ${to} (mode "all") from an optime after ${formatOptime(entry.ts)}, or include ${from} in the filter`
    );
  }
  const command: Document = {
    renameCollection: source,
    to: target,
    // The oplog logs the dropped collection's UUID (or false); the command wants a boolean.
    dropTarget: dropTarget !== undefined && dropTarget !== false
  };
  if (stayTemp === true) command.stayTemp = true;
  return { db: 'admin', command };
}

/**
 * The `shardCollection` command a source's sharding left in its stream: the no-op entry the
 * primary shard logs (`o2: {shardCollection, shardKey, unique}`, MongoDB 6.0+; change events of
 * type `shardCollection` are turned into the same entry), as a command entry at the same optime;
 * `undefined` for any other entry.
 * @internal
 */
export function shardCollectionEntry(entry: OplogEntry): CommandEntry | undefined {
  if (entry.op !== 'n') return undefined;
  const o2: unknown = entry.raw.o2;
  if (!isDocument(o2) || typeof o2.shardCollection !== 'string' || !isDocument(o2.shardKey)) {
    return undefined;
  }
  const ns = o2.shardCollection;
  const raw: Document = {
    ts: entry.ts,
    op: 'c',
    ns: `${ns.slice(0, ns.indexOf('.'))}.$cmd`,
    o: { shardCollection: ns, key: o2.shardKey, ...(o2.unique === true ? { unique: true } : {}) }
  };
  return parseOplogEntry(raw) as CommandEntry;
}
