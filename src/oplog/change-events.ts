/**
 * Change stream events (a cluster-wide stream with `showExpandedEvents`, MongoDB 6.0+) turned
 * into the oplog operations they stand for, so that the same batcher and appliers replay them.
 * An operation has the shape of an oplog entry without `ts`, `wall` and `lsid`, which the fetcher
 * adds from the event.
 *
 * Updates become `$v: 2` diffs (see update-description.ts); replacements stay true replacements.
 * On MongoDB 6.0 an update's paths can be ambiguous (`a.3`: index 3 or field "3"; `x.y`: field
 * "x.y" or x → y) because 6.0 has no `disambiguatedPaths`. Guessing would write the wrong field,
 * so such an update becomes a replacement by the event's `fullDocument`, which the fetcher asks
 * 6.0 for (`updateLookup`). That post-image is read later than the update, but replaying it is
 * still safe: every later event re-applies on top of it idempotently, so the target converges. If
 * the document no longer exists, the update is skipped: the delete (or drop) that removed it
 * follows in the stream. Two cases stay out of reach on 6.0: a dotted field name that is already
 * gone from the post-image, and a post-image lost to a rename of the collection before the lookup;
 * read from 6.1+ to avoid both.
 */
import { type Binary, type Document } from 'mongodb';

import { isTimestamp } from '../bson/bson-values.js';
import { type UnsupportedOplogEntryError } from '../errors.js';
import { isDocument, malformed } from './oplog-entry.js';
import { hasAmbiguousPaths, updateDescriptionToDiff } from './update-description.js';
import { type UpdateSource } from './update-diff.js';

/**
 * What one change event turns into: oplog operations to apply (without `ts`, `wall` or `lsid`),
 * or nothing, with the reason to show the user.
 * @public
 */
export type ConvertedEvent =
  | { readonly kind: 'ops'; readonly ops: Document[] }
  | { readonly kind: 'skip'; readonly reason: string };

/** Events that only concern a sharded cluster's layout: a replica-set target has nothing to do. */
const SHARDING_EVENTS: ReadonlySet<string> = new Set([
  'shardCollection',
  'reshardCollection',
  'refineCollectionShardKey',
  'migrateLastChunkFromShard',
  'migrateChunkToNewShard',
  'reshardBegin',
  'reshardDoneCatchUp'
]);

interface EventNs {
  readonly db: string;
  readonly coll: string | undefined;
  /** `db.coll`, or `db` for database events. */
  readonly name: string;
}

function nsOf(value: unknown, fail: (what: string) => UnsupportedOplogEntryError): EventNs {
  if (value === undefined) return { db: '', coll: undefined, name: '' };
  if (!isDocument(value) || typeof value.db !== 'string') {
    throw fail('"ns" is not a {db, coll} document');
  }
  const coll: unknown = value.coll;
  if (coll !== undefined && typeof coll !== 'string') throw fail('"ns.coll" is not a string');
  return { db: value.db, coll, name: coll === undefined ? value.db : `${value.db}.${coll}` };
}

/** The event's facts every conversion needs, checked once. */
class EventView {
  readonly type: string;
  readonly ns: EventNs;

  constructor(readonly event: Document) {
    if (!isDocument(event)) throw malformed('a change event is not a document', {});
    const type: unknown = event.operationType;
    if (typeof type !== 'string') {
      throw malformed('a change event has no "operationType"', { ts: event.clusterTime });
    }
    this.type = type;
    this.ns = nsOf(event.ns, what =>
      malformed(`${type} change event: ${what}`, { ts: event.clusterTime })
    );
  }

  fail(what: string): UnsupportedOplogEntryError {
    return malformed(`${this.type} change event: ${what}`, {
      ...(this.ns.name ? { ns: this.ns.name } : {}),
      ts: this.event.clusterTime
    });
  }

  /** The collection the event is about; required. */
  get coll(): string {
    if (this.ns.coll === undefined || this.ns.coll === '') throw this.fail('"ns" has no "coll"');
    return this.ns.coll;
  }

  get collectionNs(): string {
    return `${this.ns.db}.${this.coll}`;
  }

  get commandNs(): string {
    if (this.ns.db === '') throw this.fail('"ns" has no "db"');
    return `${this.ns.db}.$cmd`;
  }

  get ui(): Binary | undefined {
    return this.event.collectionUUID as Binary | undefined;
  }

  document(field: 'fullDocument' | 'documentKey'): Document {
    const value: unknown = this.event[field];
    if (!isDocument(value)) throw this.fail(`"${field}" is missing or not a document`);
    if (!('_id' in value)) throw this.fail(`"${field}" has no _id`);
    return value;
  }

  description(): Document {
    const value: unknown = this.event.updateDescription;
    if (!isDocument(value)) throw this.fail('"updateDescription" is missing or not a document');
    return value;
  }

  operationDescription(): Document {
    const value: unknown = this.event.operationDescription;
    if (value === undefined) return {};
    if (!isDocument(value)) throw this.fail('"operationDescription" is not a document');
    return value;
  }

  /** An operation with the event's collection UUID, when it has one. */
  op(fields: Document): Document {
    const ui = this.ui;
    const { op, ns, ...rest } = fields;
    return ui === undefined ? { op, ns, ...rest } : { op, ns, ui, ...rest };
  }
}

const ops = (...list: Document[]): ConvertedEvent => ({ kind: 'ops', ops: list });
const skip = (reason: string): ConvertedEvent => ({ kind: 'skip', reason });

/**
 * Turns one change event into the oplog operations that redo it on the target.
 *
 * @remarks
 * - `insert` → `{op: 'i', o: fullDocument}`, with `o2: documentKey` when it holds a shard key;
 * - `delete` → `{op: 'd', o: documentKey}`;
 * - `replace` → `{op: 'u', o: fullDocument, o2: documentKey}`: a replacement, not a `$set`;
 * - `update` → `{op: 'u', o: {$v: 2, diff}, o2: documentKey}`, the diff from
 *   {@link updateDescriptionToDiff}; on MongoDB 6.0, when the paths are ambiguous, a replacement
 *   by `fullDocument`, or a skip if the document no longer exists;
 * - `create`, `drop`, `rename`, `dropDatabase`, `createIndexes` (one operation per index),
 *   `dropIndexes` (one per index) and `modify` → `op: 'c'` commands on `db.$cmd`, in the form
 *   the oplog logs them;
 * - `shardCollection` → the no-op entry a primary shard logs for it (its `o2` holds
 *   `shardCollection`, `shardKey` and `unique`), which a sharded target may replay;
 * - other sharding events, `invalidate` and unknown types → a skip with the reason.
 *
 * Operations carry `ui` (the event's `collectionUUID`) when the event has it.
 *
 * @param event - a change event, decoded with `promoteValues: false` so values keep their types
 * @throws {@link UnsupportedOplogEntryError} if the event is malformed
 * @public
 */
export function changeEventToOps(event: Document): ConvertedEvent {
  const view = new EventView(event);
  switch (view.type) {
    case 'insert':
      return ops(insertOp(view));
    case 'delete':
      return ops(view.op({ op: 'd', ns: view.collectionNs, o: view.document('documentKey') }));
    case 'replace':
      return ops(replaceOp(view, view.document('fullDocument')));
    case 'update':
      return updateOps(view);
    case 'create':
      return ops(command(view, { create: view.coll, ...view.operationDescription() }));
    case 'drop':
      return ops(command(view, { drop: view.coll }));
    case 'dropDatabase':
      return ops(command(view, { dropDatabase: 1 }));
    case 'rename':
      return ops(command(view, renameCommand(view)));
    case 'createIndexes':
      return ops(
        ...indexSpecs(view).map(spec => command(view, { createIndexes: view.coll, ...spec }))
      );
    case 'dropIndexes':
      return ops(
        ...indexSpecs(view).map(spec => {
          if (typeof spec.name !== 'string') throw view.fail('an index has no "name"');
          return command(view, { dropIndexes: view.coll, index: spec.name });
        })
      );
    case 'modify':
      return ops(command(view, { collMod: view.coll, ...view.operationDescription() }));
    case 'invalidate':
      return skip(
        `invalidate on ${view.ns.name || 'the cluster'}: the stream ended; nothing to apply`
      );
    case 'shardCollection':
      return ops(shardCollectionNoop(view));
    default:
      if (SHARDING_EVENTS.has(view.type)) {
        return skip(`${view.type} on ${view.ns.name} has no effect on a replica-set target`);
      }
      return skip(`unknown change event type ${view.type}`);
  }
}

/**
 * The no-op the primary shard logs for `shardCollection`: applied as `shardCollection` on a
 * sharded target (targetSharding 'source'), passed over otherwise.
 */
function shardCollectionNoop(view: EventView): Document {
  const description = view.operationDescription();
  if (!isDocument(description.shardKey)) {
    throw view.fail('"operationDescription.shardKey" is missing or not a document');
  }
  const ns = view.collectionNs;
  return view.op({
    op: 'n',
    ns,
    o: { msg: { shardCollection: ns } },
    o2: { shardCollection: ns, shardKey: description.shardKey, unique: description.unique === true }
  });
}

function insertOp(view: EventView): Document {
  const o = view.document('fullDocument');
  const key = view.document('documentKey');
  const hasShardKey = Object.keys(key).some(field => field !== '_id');
  return view.op({ op: 'i', ns: view.collectionNs, o, ...(hasShardKey ? { o2: key } : {}) });
}

function replaceOp(view: EventView, replacement: Document): Document {
  // A top-level `$` field would turn the replacement into an update operator.
  if (Object.keys(replacement).some(field => field.startsWith('$'))) {
    throw view.fail('"fullDocument" has a field starting with "$"');
  }
  return view.op({
    op: 'u',
    ns: view.collectionNs,
    o: replacement,
    o2: view.document('documentKey')
  });
}

function updateOps(view: EventView): ConvertedEvent {
  const ns = view.collectionNs;
  const description = view.description();
  const clusterTime: unknown = view.event.clusterTime;
  const source: UpdateSource = {
    namespace: ns,
    ...(isTimestamp(clusterTime) ? { optime: clusterTime } : {})
  };
  const postImage: unknown = view.event.fullDocument;
  const ambiguous =
    hasAmbiguousPaths(description, source) ||
    (description.disambiguatedPaths === undefined &&
      isDocument(postImage) &&
      hasDottedFieldName(postImage));
  if (!ambiguous) {
    const diff = updateDescriptionToDiff(description, source);
    // An event that changes nothing has nothing to apply (and an empty diff is not an update).
    if (Object.keys(diff).length === 0)
      return skip(`update of a document in ${ns} changed nothing`);
    return ops(view.op({ op: 'u', ns, o: { $v: 2, diff }, o2: view.document('documentKey') }));
  }
  if (isDocument(postImage)) return ops(replaceOp(view, view.document('fullDocument')));
  return skip(
    `update of a document in ${ns} skipped: its paths are ambiguous without disambiguatedPaths (MongoDB 6.0) and the document no longer exists on the source, so a later delete or drop removes it`
  );
}

/** True if a field name anywhere in the document contains a dot. */
function hasDottedFieldName(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasDottedFieldName);
  if (!isDocument(value)) return false;
  return Object.entries(value).some(
    ([field, child]) => field.includes('.') || hasDottedFieldName(child)
  );
}

function command(view: EventView, o: Document): Document {
  return view.op({ op: 'c', ns: view.commandNs, o });
}

function renameCommand(view: EventView): Document {
  const description = view.operationDescription();
  const to: unknown = view.event.to ?? description.to;
  if (!isDocument(to) || typeof to.db !== 'string' || typeof to.coll !== 'string') {
    throw view.fail('"to" is not a {db, coll} document');
  }
  const o: Document = { renameCollection: view.collectionNs, to: `${to.db}.${to.coll}` };
  if (description.stayTemp !== undefined) o.stayTemp = description.stayTemp;
  if (description.dropTarget !== undefined) o.dropTarget = description.dropTarget;
  return o;
}

function indexSpecs(view: EventView): Document[] {
  const indexes: unknown = view.operationDescription().indexes;
  if (!Array.isArray(indexes) || indexes.length === 0 || !indexes.every(isDocument)) {
    throw view.fail('"operationDescription.indexes" is not a non-empty array of index specs');
  }
  return indexes;
}
