/**
 * One oplog operation → its change event, in the field order of mongod's
 * ChangeStreamDefaultEventTransformation (change_stream_event_transform.cpp): `to` (rename) and
 * `txnNumber`/`lsid` (transactions) are added before `_id`, then `operationType`, `clusterTime`,
 * `collectionUUID` (expanded), `wallTime` (6.0+), `fullDocument`, `ns`, `documentKey`,
 * `operationDescription` (expanded), `updateDescription`, `stateBeforeChange`.
 */
import { type Binary, type Timestamp } from 'bson';

import { type BDoc, type BValue, isDoc } from '../bson/values.js';
import { type ImageId } from '../mongod/change-stream-images.js';
import {
  splitNamespace,
  type StreamScope,
  watchesCollection,
  watchesDatabase
} from './namespace-scope.js';
import {
  encodeTokenData,
  EVENT_TOKEN,
  type ResumeTokenData,
  tokenDocument
} from './resume-token.js';
import { describeDiffV2, describeUpdateV1 } from './update-description.js';

export type FullDocumentMode = 'default' | 'updateLookup' | 'whenAvailable' | 'required';

export interface EventSettings {
  readonly scope: StreamScope;
  readonly showExpandedEvents: boolean;
  /** 6.0+ events carry `wallTime`. */
  readonly wallTime: boolean;
  /** 6.1+ with showExpandedEvents: `updateDescription.disambiguatedPaths`. */
  readonly disambiguatedPaths: boolean;
  readonly fullDocument: FullDocumentMode;
  /** The token version for an event (the resumed token's until the stream passed it). */
  tokenVersion(clusterTime: Timestamp, txnOpIndex: number): number;
}

/** Where an event came from: the entry's time, and transaction fields for unwound applyOps. */
export interface EventOrigin {
  readonly ts: Timestamp;
  readonly wall: BValue;
  readonly txnOpIndex?: number | undefined;
  readonly lsid?: BValue;
  readonly txnNumber?: BValue;
}

/** A change event before the user's pipeline. */
export interface StreamEvent {
  readonly token: string;
  readonly tokenData: ResumeTokenData;
  readonly operationType: string;
  readonly doc: BDoc;
  /** For updateLookup: where the current document lives. */
  readonly lookup?: { readonly db: string; readonly coll: string; readonly id: BValue };
  /** Where the operation's pre- and post-images are filed, if its collection records them. */
  readonly imageId?: ImageId;
}

const CLASSIC_TYPES = new Set([
  'insert',
  'update',
  'replace',
  'delete',
  'drop',
  'rename',
  'dropDatabase',
  'invalidate'
]);

/** True for the event types a stream without showExpandedEvents returns. */
export function isClassic(operationType: string): boolean {
  return CLASSIC_TYPES.has(operationType);
}

interface Parts {
  operationType: string;
  ns: BDoc;
  uuid?: Binary | undefined;
  fullDocument?: BValue;
  documentKey?: BDoc | undefined;
  operationDescription?: BDoc | undefined;
  updateDescription?: BDoc | undefined;
  stateBeforeChange?: BDoc | undefined;
  to?: BDoc | undefined;
  lookup?: StreamEvent['lookup'];
}

/** The event for one `i`/`u`/`d`/`c` operation, or undefined when the stream does not see it. */
export function eventFor(
  op: BDoc,
  origin: EventOrigin,
  settings: EventSettings
): StreamEvent | undefined {
  if (op.get('fromMigrate') === true) return undefined;
  const parts = partsFor(op, settings);
  if (!parts) return undefined;
  return buildEvent(parts, origin, settings);
}

function partsFor(op: BDoc, settings: EventSettings): Parts | undefined {
  const kind = op.get('op');
  const ns = op.get('ns');
  if (typeof ns !== 'string') return undefined;
  const uuid = op.get('ui') as Binary | undefined;
  const o = op.get('o');
  if (!isDoc(o)) return undefined;
  const [db, coll] = splitNamespace(ns);
  if (kind === 'i' || kind === 'u' || kind === 'd') {
    if (!watchesCollection(settings.scope, db, coll)) return undefined;
    return crudParts(kind, db, coll, uuid, o, op.get('o2'), settings);
  }
  if (kind === 'c' && coll === '$cmd') return commandParts(db, uuid, o, op.get('o2'), settings);
  if (kind === 'n') return shardingParts(db, coll, uuid, op.get('o2'), settings);
  return undefined;
}

/**
 * The sharding events a shard logs as no-ops (6.0+, change_stream_event_transform.cpp): the
 * `o2` names the event, and the rest of `o2` is its `operationDescription`. Internal ones
 * (`migrateChunkToNewShard`, `migrateLastChunkFromShard`) are for the router, never users.
 */
const SHARDING_EVENTS = ['shardCollection', 'reshardCollection', 'refineCollectionShardKey'];

function shardingParts(
  db: string,
  coll: string,
  uuid: Binary | undefined,
  o2: BValue,
  settings: EventSettings
): Parts | undefined {
  if (!isDoc(o2)) return undefined;
  const name = SHARDING_EVENTS.find(event => typeof o2.get(event) === 'string');
  if (!name || !watchesCollection(settings.scope, db, coll)) return undefined;
  return {
    operationType: name,
    ns: nsDoc(db, coll),
    uuid,
    operationDescription: without(o2, name)
  };
}

function nsDoc(db: string, coll?: string): BDoc {
  const out = new Map<string, BValue>([['db', db]]);
  if (coll) out.set('coll', coll);
  return out;
}

function crudParts(
  kind: 'i' | 'u' | 'd',
  db: string,
  coll: string,
  uuid: Binary | undefined,
  o: BDoc,
  o2: BValue,
  settings: EventSettings
): Parts {
  const ns = nsDoc(db, coll);
  if (kind === 'i') {
    const documentKey = isDoc(o2) ? o2 : new Map<string, BValue>([['_id', o.get('_id')]]);
    return { operationType: 'insert', ns, uuid, fullDocument: o, documentKey };
  }
  if (kind === 'd') return { operationType: 'delete', ns, uuid, documentKey: o };
  const documentKey = isDoc(o2) ? o2 : new Map<string, BValue>([['_id', o.get('_id')]]);
  const isOperatorUpdate = o.has('$v') || [...o.keys()].some(key => key.startsWith('$'));
  if (!isOperatorUpdate)
    return { operationType: 'replace', ns, uuid, fullDocument: o, documentKey };
  const diff = o.get('diff');
  const updateDescription =
    isDoc(diff) && o.get('$v') !== undefined && Number(String(o.get('$v'))) === 2
      ? describeDiffV2(diff, { disambiguatedPaths: settings.disambiguatedPaths })
      : describeUpdateV1(o);
  return {
    operationType: 'update',
    ns,
    uuid,
    documentKey,
    updateDescription,
    lookup: { db, coll, id: documentKey.get('_id') }
  };
}

/** A copy of `o` without the named fields, in order. */
function without(o: BDoc, ...names: string[]): BDoc {
  const out: BDoc = new Map();
  for (const [key, value] of o) if (!names.includes(key)) out.set(key, value);
  return out;
}

function commandParts(
  db: string,
  uuid: Binary | undefined,
  o: BDoc,
  o2: BValue,
  settings: EventSettings
): Parts | undefined {
  const scope = settings.scope;
  const name = o.keys().next().value as string | undefined;
  const target = typeof o.get(name ?? '') === 'string' ? (o.get(name!) as string) : '';
  const sees = (coll: string) => watchesCollection(scope, db, coll);
  switch (name) {
    case 'drop':
      // A view's drop (no UUID) surfaces only as a system.views change, which streams without
      // showExpandedEvents (and collection streams) never see.
      if (!sees(target) || (!uuid && (!settings.showExpandedEvents || scope.kind === 'collection')))
        return undefined;
      return { operationType: 'drop', ns: nsDoc(db, target), uuid };
    case 'renameCollection': {
      const [fromDb, fromColl] = splitNamespace(target);
      const [toDb, toColl] = splitNamespace(String(o.get('to')));
      if (!watchesCollection(scope, fromDb, fromColl)) return undefined;
      const to = nsDoc(toDb, toColl);
      const operationDescription = without(o, 'renameCollection', 'stayTemp');
      operationDescription.set('to', to);
      return {
        operationType: 'rename',
        ns: nsDoc(fromDb, fromColl),
        uuid,
        to,
        operationDescription
      };
    }
    case 'dropDatabase':
      if (!watchesDatabase(scope, db)) return undefined;
      return { operationType: 'dropDatabase', ns: nsDoc(db) };
    case 'create': {
      if (!sees(target)) return undefined;
      if (!uuid && scope.kind === 'collection') return undefined;
      return {
        operationType: 'create',
        ns: nsDoc(db, target),
        uuid,
        operationDescription: without(o, 'create')
      };
    }
    case 'createIndexes':
      if (!sees(target)) return undefined;
      return {
        operationType: 'createIndexes',
        ns: nsDoc(db, target),
        uuid,
        operationDescription: new Map([['indexes', [without(o, 'createIndexes')]]])
      };
    case 'commitIndexBuild':
      if (!sees(target)) return undefined;
      return {
        operationType: 'createIndexes',
        ns: nsDoc(db, target),
        uuid,
        operationDescription: new Map([['indexes', o.get('indexes') ?? []]])
      };
    case 'dropIndexes': {
      if (!sees(target)) return undefined;
      const spec = isDoc(o2) ? without(o2, 'dropIndexes') : new Map<string, BValue>();
      return {
        operationType: 'dropIndexes',
        ns: nsDoc(db, target),
        uuid,
        operationDescription: new Map([['indexes', [spec]]])
      };
    }
    case 'collMod': {
      if (!sees(target)) return undefined;
      if (!uuid && scope.kind === 'collection') return undefined;
      const before: BDoc = new Map();
      if (isDoc(o2)) {
        for (const key of ['collectionOptions_old', 'indexOptions_old']) {
          const value = o2.get(key);
          if (value !== undefined)
            before.set(
              key === 'collectionOptions_old' ? 'collectionOptions' : 'indexOptions',
              value
            );
        }
      }
      return {
        operationType: 'modify',
        ns: nsDoc(db, target),
        uuid,
        operationDescription: without(o, 'collMod'),
        stateBeforeChange: before
      };
    }
    default:
      // startIndexBuild, abortIndexBuild, applyOps handled by the caller, and the rest: no event.
      return undefined;
  }
}

function buildEvent(parts: Parts, origin: EventOrigin, settings: EventSettings): StreamEvent {
  const txnOpIndex = origin.txnOpIndex ?? 0;
  const version = settings.tokenVersion(origin.ts, txnOpIndex);
  let eventIdentifier: BDoc | undefined;
  if (version <= 1) {
    eventIdentifier = parts.documentKey;
  } else {
    eventIdentifier = new Map<string, BValue>([['operationType', parts.operationType]]);
    if (parts.documentKey) eventIdentifier.set('documentKey', parts.documentKey);
    else if (parts.operationDescription) {
      eventIdentifier.set('operationDescription', parts.operationDescription);
    }
  }
  const tokenData: ResumeTokenData = {
    clusterTime: origin.ts,
    version,
    tokenType: EVENT_TOKEN,
    txnOpIndex,
    fromInvalidate: false,
    uuid: parts.uuid,
    eventIdentifier
  };
  const token = encodeTokenData(tokenData);
  const doc: BDoc = new Map();
  if (parts.to) doc.set('to', parts.to);
  if (origin.txnOpIndex !== undefined) {
    if (origin.txnNumber !== undefined) doc.set('txnNumber', origin.txnNumber);
    if (origin.lsid !== undefined) doc.set('lsid', origin.lsid);
  }
  doc.set('_id', tokenDocument(token));
  doc.set('operationType', parts.operationType);
  doc.set('clusterTime', origin.ts);
  if (settings.showExpandedEvents && parts.uuid) doc.set('collectionUUID', parts.uuid);
  if (settings.wallTime) doc.set('wallTime', origin.wall);
  if (parts.fullDocument !== undefined) doc.set('fullDocument', parts.fullDocument);
  else if (parts.operationType === 'update' && settings.fullDocument !== 'default') {
    // Filled in (or left null) by the post-image step, in this position.
    doc.set('fullDocument', null);
  }
  doc.set('ns', parts.ns);
  if (parts.documentKey) doc.set('documentKey', parts.documentKey);
  if (settings.showExpandedEvents && parts.operationDescription) {
    doc.set('operationDescription', parts.operationDescription);
  }
  if (parts.updateDescription) doc.set('updateDescription', parts.updateDescription);
  if (parts.stateBeforeChange) doc.set('stateBeforeChange', parts.stateBeforeChange);
  return {
    token,
    tokenData,
    operationType: parts.operationType,
    doc,
    ...(parts.lookup ? { lookup: parts.lookup } : {})
  };
}

/** The `invalidate` that follows an invalidating event: same token with fromInvalidate set. */
export function invalidateAfter(event: StreamEvent, settings: EventSettings): StreamEvent {
  const tokenData: ResumeTokenData = { ...event.tokenData, fromInvalidate: true };
  const token = encodeTokenData(tokenData);
  const doc = new Map<string, BValue>([
    ['_id', tokenDocument(token)],
    ['operationType', 'invalidate'],
    ['clusterTime', event.doc.get('clusterTime')]
  ]);
  if (settings.wallTime) doc.set('wallTime', event.doc.get('wallTime'));
  return { token, tokenData, operationType: 'invalidate', doc };
}
