/**
 * What the library reads from a change-stream resume token: only its cluster time. A token's
 * `_data` is a hex KeyString whose first value is always the event's cluster time (type byte
 * 0x82, then `t` and `i` as big-endian 32-bit integers); the rest of its layout differs between
 * server versions and is never parsed.
 */
import { type Document, Timestamp } from 'mongodb';

const CLUSTER_TIME_PREFIX = /^82([0-9a-fA-F]{8})([0-9a-fA-F]{8})/;

/**
 * The cluster time a resume token points at, or `undefined` for a token of another shape.
 * @internal
 */
export function tokenClusterTime(token: Document | undefined): Timestamp | undefined {
  const data: unknown = token?._data;
  if (typeof data !== 'string') return undefined;
  const match = CLUSTER_TIME_PREFIX.exec(data);
  if (match === null) return undefined;
  return new Timestamp({ t: parseInt(match[1]!, 16), i: parseInt(match[2]!, 16) });
}

/**
 * True when two resume tokens are the same position.
 * @internal
 */
export function sameToken(a: Document | undefined, b: Document | undefined): boolean {
  return a !== undefined && b !== undefined && a._data === b._data && a._data !== undefined;
}

/**
 * The optime right after `ts`: `startAtOperationTime` is inclusive, so starting there skips
 * exactly the events at `ts`.
 * @internal
 */
export function justAfter(ts: Timestamp): Timestamp {
  if (ts.i < 0xffff_ffff) return new Timestamp({ t: ts.t, i: ts.i + 1 });
  return new Timestamp({ t: ts.t + 1, i: 0 });
}

/**
 * The optime right before `ts`.
 * @internal
 */
export function justBefore(ts: Timestamp): Timestamp {
  if (ts.i > 0) return new Timestamp({ t: ts.t, i: ts.i - 1 });
  return ts.t > 0 ? new Timestamp({ t: ts.t - 1, i: 0xffff_ffff }) : ts;
}
