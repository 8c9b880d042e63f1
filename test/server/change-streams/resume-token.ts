/**
 * Change-stream resume tokens: `{_data: <uppercase hex KeyString>}` encoding the tuple
 * `(clusterTime, version, tokenType, txnOpIndex, fromInvalidate, uuid, eventIdentifier)` exactly
 * as mongod's `ResumeToken(const ResumeTokenData&)` builds it (resume_token.cpp): version 1 omits a
 * missing UUID, version 2 (6.0+) writes it as an explicit null; high-water-mark tokens stop there.
 */
import { type Binary, Timestamp } from 'bson';

import { type BDoc, type BValue, isDoc, typeAlias } from '../bson/values.js';
import { ServerError } from '../engine/server-error.js';
import { KeyStringBuilder, KeyStringReader } from './keystring.js';

export const HIGH_WATER_MARK = 0;
export const EVENT_TOKEN = 128;

export interface ResumeTokenData {
  readonly clusterTime: Timestamp;
  readonly version: number;
  readonly tokenType: number;
  readonly txnOpIndex: number;
  readonly fromInvalidate: boolean;
  readonly uuid?: Binary | undefined;
  /** v1: the documentKey; v2: `{operationType, documentKey | operationDescription}`. */
  readonly eventIdentifier?: BDoc | undefined;
}

/** The hex `_data` string of a token. */
export function encodeTokenData(data: ResumeTokenData): string {
  const builder = new KeyStringBuilder()
    .append(data.clusterTime)
    .append(data.version)
    .append(data.tokenType)
    .append(data.txnOpIndex)
    .append(data.fromInvalidate);
  if (data.uuid) builder.append(data.uuid);
  else if (data.version >= 2) builder.append(null);
  if (data.eventIdentifier) builder.append(data.eventIdentifier);
  return builder.end().toBuffer().toString('hex').toUpperCase();
}

/** The `{_data}` document mongod returns as `_id` and `postBatchResumeToken`. */
export function tokenDocument(hex: string): BDoc {
  return new Map<string, BValue>([['_data', hex]]);
}

/** A high-water-mark token at `clusterTime`: sorts before every event at that time. */
export function highWaterMark(clusterTime: Timestamp, version: number): string {
  return encodeTokenData({
    clusterTime,
    version,
    tokenType: HIGH_WATER_MARK,
    txnOpIndex: 0,
    fromInvalidate: false
  });
}

/** What a client's token says, plus its `_data` for byte-wise comparison. */
export interface ParsedToken {
  readonly hex: string;
  readonly clusterTime: Timestamp;
  readonly version: number;
  readonly tokenType: number;
  readonly txnOpIndex: number;
  readonly fromInvalidate: boolean;
  readonly hasUuid: boolean;
}

/** Parses a client's `resumeAfter`/`startAfter` value, failing as mongod does. */
export function parseResumeToken(option: string, value: BValue): ParsedToken {
  if (!isDoc(value)) {
    throw new ServerError(
      14,
      `BSON field '$changeStream.${option}' is the wrong type '${typeAlias(value)}', expected type 'object'`
    );
  }
  const data = value.get('_data');
  if (typeof data !== 'string') {
    throw new ServerError(
      40647,
      `Bad resume token: _data of missing or of wrong type. Expected string, got ${describeToken(value)}`
    );
  }
  if (!/^([0-9a-fA-F]{2})*$/.test(data)) {
    throw new ServerError(9, 'resume token string was not a valid hex string');
  }
  const reader = new KeyStringReader(Buffer.from(data, 'hex'));
  try {
    const clusterTime = reader.readTimestamp();
    const version = reader.readUnsigned();
    if (version > 2)
      throw new ServerError(50795, 'Invalid Resume Token: only supports version 0, 1 and 2');
    const tokenType = version >= 1 ? reader.readUnsigned() : EVENT_TOKEN;
    if (tokenType !== EVENT_TOKEN && tokenType !== HIGH_WATER_MARK) {
      throw new ServerError(51057, `Token type ${tokenType} not recognized`);
    }
    const txnOpIndex = reader.readUnsigned();
    const fromInvalidate = version >= 1 ? reader.readBool() : false;
    let hasUuid = false;
    if (reader.peek() !== undefined && reader.peek() !== 0x04) {
      hasUuid = reader.readUuidOrNull() !== undefined;
    }
    return {
      hex: data.toUpperCase(),
      clusterTime,
      version,
      tokenType,
      txnOpIndex,
      fromInvalidate,
      hasUuid
    };
  } catch (error) {
    if (error instanceof ServerError) throw error;
    throw new ServerError(9, `Bad resume token: ${(error as Error).message}`);
  }
}

/** `{_data: "…"}` as mongod's Document::toString prints it in error messages. */
export function describeToken(token: BDoc): string {
  const parts = [...token].map(([k, v]) => `${k}: ${typeof v === 'string' ? `"${v}"` : String(v)}`);
  return `{${parts.join(', ')}}`;
}

/** The clusterTime one tick after `ts` (`LogicalTime::addTicks(1)`). */
export function nextTick(ts: Timestamp): Timestamp {
  return ts.i >= 0xffffffff
    ? new Timestamp({ t: ts.t + 1, i: 0 })
    : new Timestamp({ t: ts.t, i: ts.i + 1 });
}
