/**
 * Parsing and legality checks of a `$changeStream` stage, with mongod's codes and messages
 * (DocumentSourceChangeStreamSpec IDL, `assertIsLegalSpecification` in
 * document_source_change_stream.cpp) and the allowed user stages (pipeline.cpp).
 */
import { Timestamp } from 'bson';

import { type BDoc, type BValue, isDoc, typeAlias } from '../bson/values.js';
import { isKnownStage } from '../engine/aggregate/pipeline.js';
import { notImplemented, ServerError } from '../engine/server-error.js';
import { type BeforeChangeMode } from './change-stream-source.js';
import { type FullDocumentMode } from './events.js';
import { type StreamScope } from './namespace-scope.js';
import { EVENT_TOKEN, type ParsedToken, parseResumeToken } from './resume-token.js';

export interface ChangeStreamSpec {
  readonly scope: StreamScope;
  readonly resumeAfter?: ParsedToken | undefined;
  readonly startAfter?: ParsedToken | undefined;
  readonly startAtOperationTime?: Timestamp | undefined;
  readonly fullDocument: FullDocumentMode;
  readonly fullDocumentBeforeChange: BeforeChangeMode;
  readonly showExpandedEvents: boolean;
  readonly userStages: BDoc[];
}

/** Stages a change stream pipeline may contain after `$changeStream` (isAllowedInChangeStream). */
const ALLOWED_STAGES = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$redact',
  '$changeStreamSplitLargeEvent'
]);

const FIELDS_ALL_VERSIONS = [
  'resumeAfter',
  'startAfter',
  'startAtOperationTime',
  'fullDocument',
  'allChangesForCluster',
  'showMigrationEvents'
];
const FIELDS_6_0 = ['fullDocumentBeforeChange', 'showExpandedEvents'];

export interface SpecContext {
  readonly db: string;
  /** The `aggregate` value: a collection name, or 1. */
  readonly target: BValue;
  readonly replicaSet: boolean;
  readonly maxWireVersion: number;
}

/** Parses `pipeline` (first stage `$changeStream`) as mongod would, throwing its errors. */
export function parseChangeStream(pipeline: BDoc[], ctx: SpecContext): ChangeStreamSpec {
  const raw = pipeline[0]!.get('$changeStream');
  if (!isDoc(raw))
    throw new ServerError(50808, '$changeStream stage expects a document as argument');
  const fields =
    ctx.maxWireVersion >= 17 ? [...FIELDS_ALL_VERSIONS, ...FIELDS_6_0] : FIELDS_ALL_VERSIONS;
  for (const key of raw.keys()) {
    if (!fields.includes(key)) {
      throw new ServerError(40415, `BSON field '$changeStream.${key}' is an unknown field.`, {
        codeName: 'Location40415'
      });
    }
  }
  const fullDocument = enumField(
    raw,
    'fullDocument',
    fullDocumentModes(ctx.maxWireVersion),
    'default'
  );
  const fullDocumentBeforeChange = enumField(
    raw,
    'fullDocumentBeforeChange',
    ['off', 'whenAvailable', 'required'],
    'off'
  );
  const allChangesForCluster = boolField(raw, 'allChangesForCluster');
  const showExpandedEvents = boolField(raw, 'showExpandedEvents');
  if (boolField(raw, 'showMigrationEvents'))
    throw notImplemented("$changeStream 'showMigrationEvents'");
  const startAt = raw.get('startAtOperationTime');
  if (startAt !== undefined && !(startAt instanceof Timestamp)) {
    throw wrongType('startAtOperationTime', startAt, 'timestamp');
  }
  const scope = checkNamespace(ctx, allChangesForCluster);
  const userStages = checkStages(pipeline.slice(1));
  if (raw.has('resumeAfter') && raw.has('startAfter')) {
    throw new ServerError(
      50865,
      "Do not specify both 'resumeAfter' and 'startAfter' in a $changeStream stage"
    );
  }
  const resumeAfter = raw.has('resumeAfter')
    ? parseResumeToken('resumeAfter', raw.get('resumeAfter'))
    : undefined;
  const startAfter = raw.has('startAfter')
    ? parseResumeToken('startAfter', raw.get('startAfter'))
    : undefined;
  const token = resumeAfter ?? startAfter;
  if (startAt && token) {
    throw new ServerError(
      40674,
      'Only one type of resume option is allowed, but multiple were found'
    );
  }
  if (resumeAfter?.fromInvalidate) {
    throw new ServerError(
      260,
      "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification",
      { codeName: 'InvalidResumeToken' }
    );
  }
  if (token && scope.kind === 'collection' && !token.hasUuid && token.tokenType === EVENT_TOKEN) {
    throw new ServerError(
      260,
      'Attempted to resume a single-collection stream, but the resume token does not include a UUID',
      { codeName: 'InvalidResumeToken' }
    );
  }
  return {
    scope,
    resumeAfter,
    startAfter,
    startAtOperationTime: startAt,
    fullDocument: fullDocument as FullDocumentMode,
    fullDocumentBeforeChange: fullDocumentBeforeChange as BeforeChangeMode,
    showExpandedEvents,
    userStages
  };
}

function fullDocumentModes(maxWireVersion: number): string[] {
  return maxWireVersion >= 17
    ? ['default', 'updateLookup', 'whenAvailable', 'required']
    : ['default', 'updateLookup'];
}

function checkNamespace(ctx: SpecContext, allChangesForCluster: boolean): StreamScope {
  if (!ctx.replicaSet) {
    throw new ServerError(40573, 'The $changeStream stage is only supported on replica sets');
  }
  const collectionless = typeof ctx.target !== 'string';
  const nsText = collectionless ? `${ctx.db}.$cmd.aggregate` : `${ctx.db}.${String(ctx.target)}`;
  if (allChangesForCluster && !(ctx.db === 'admin' && collectionless)) {
    throw new ServerError(
      72,
      `A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name; found ${nsText}`
    );
  }
  const internal =
    ctx.db === 'admin' ? !allChangesForCluster : ctx.db === 'local' || ctx.db === 'config';
  if (internal) {
    throw new ServerError(73, `$changeStream may not be opened on the internal ${ctx.db} database`);
  }
  if (typeof ctx.target === 'string' && ctx.target.startsWith('system.')) {
    throw new ServerError(
      73,
      `$changeStream may not be opened on the internal ${nsText} collection`
    );
  }
  if (ctx.db === 'admin') return { kind: 'cluster' };
  if (collectionless) return { kind: 'database', db: ctx.db };
  return { kind: 'collection', db: ctx.db, coll: ctx.target as string };
}

function checkStages(stages: BDoc[]): BDoc[] {
  const kept: BDoc[] = [];
  for (const stage of stages) {
    const name = stage.keys().next().value as string;
    if (name === '$changeStream') {
      throw new ServerError(40602, '$changeStream is only valid as the first stage in a pipeline');
    }
    // A stage mongod does not know fails the pipeline's parse before the change stream checks.
    if (!isKnownStage(name)) {
      throw new ServerError(40324, `Unrecognized pipeline stage name: '${name}'`);
    }
    if (!ALLOWED_STAGES.has(name)) {
      throw new ServerError(20, `${name} is not permitted in a $changeStream pipeline`);
    }
    // No event here comes near 16 MiB, so splitting never happens.
    if (name !== '$changeStreamSplitLargeEvent') kept.push(stage);
  }
  return kept;
}

function wrongType(field: string, value: BValue, expected: string): ServerError {
  return new ServerError(
    14,
    `BSON field '$changeStream.${field}' is the wrong type '${typeAlias(value)}', expected type '${expected}'`
  );
}

function boolField(raw: BDoc, field: string): boolean {
  const value = raw.get(field);
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw wrongType(field, value, 'bool');
  return value;
}

function enumField(raw: BDoc, field: string, allowed: string[], fallback: string): string {
  const value = raw.get(field);
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw wrongType(field, value, 'string');
  if (!allowed.includes(value)) {
    throw new ServerError(
      2,
      `Enumeration value '${value}' for field '$changeStream.${field}' is not a valid value.`
    );
  }
  return value;
}
