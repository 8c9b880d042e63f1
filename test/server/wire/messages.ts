/**
 * MongoDB wire-protocol framing: parses OP_MSG, OP_QUERY and OP_COMPRESSED requests and builds
 * OP_MSG / OP_REPLY replies (TEST-SERVER-SPEC §1).
 */
import { inflateSync } from 'node:zlib';

import { decodeDocument, documentLength, encodeDocument, encodeReply } from '../bson/codec.js';
import { type BDoc } from '../bson/values.js';

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

/** mongod rejects messages above this size (`maxMessageSizeBytes`). */
export const MAX_MESSAGE_SIZE = 48_000_000;

const CHECKSUM_PRESENT = 1 << 0;
const MORE_TO_COME = 1 << 1;
const EXHAUST_ALLOWED = 1 << 16;
/** Flag bits 0-15 are "required": a receiver that does not know one must fail. */
const KNOWN_REQUIRED_BITS = CHECKSUM_PRESENT | MORE_TO_COME;

/** A protocol violation: the connection is closed, as mongod does. */
export class ProtocolError extends Error {
  override get name(): string {
    return 'ProtocolError';
  }
}

/** A decoded OP_MSG request: the body with every document sequence folded in. */
export interface MsgRequest {
  readonly kind: 'msg';
  readonly requestId: number;
  readonly body: BDoc;
  readonly moreToCome: boolean;
  readonly exhaustAllowed: boolean;
}

/** A decoded OP_QUERY request (only the handshake, or every command in 4.4 mode). */
export interface QueryRequest {
  readonly kind: 'query';
  readonly requestId: number;
  readonly fullCollectionName: string;
  readonly query: BDoc;
}

export type Request = MsgRequest | QueryRequest;

/**
 * Splits a byte stream into complete messages. Call `push` with each chunk; it returns the
 * message buffers (header included) that are complete so far.
 */
export class MessageSplitter {
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  push(chunk: Buffer): Buffer[] {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.#pendingBytes < 4) break;
      const length = this.#peekLength();
      if (length < 16 || length > MAX_MESSAGE_SIZE) {
        throw new ProtocolError(`invalid message length ${length}`);
      }
      // Large messages arrive in many chunks: join them once, when the message is complete.
      if (this.#pendingBytes < length) break;
      const all = this.#pending.length === 1 ? this.#pending[0]! : this.#flatten();
      out.push(all.subarray(0, length));
      const rest = all.subarray(length);
      this.#pending = rest.length > 0 ? [rest] : [];
      this.#pendingBytes = rest.length;
    }
    return out;
  }

  #peekLength(): number {
    const first = this.#pending[0]!;
    if (first.length >= 4) return first.readInt32LE(0);
    return this.#flatten().readInt32LE(0);
  }

  #flatten(): Buffer {
    const all = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = [all];
    return all;
  }
}

/** Parses one complete message (as returned by {@link MessageSplitter}). */
export function parseMessage(message: Buffer): Request {
  const requestId = message.readInt32LE(4);
  const opCode = message.readInt32LE(12);
  switch (opCode) {
    case OP_MSG:
      return parseOpMsg(message, requestId, 16);
    case OP_QUERY:
      return parseOpQuery(message, requestId);
    case OP_COMPRESSED:
      return parseMessage(decompress(message));
    default:
      throw new ProtocolError(`unsupported opCode ${opCode}`);
  }
}

function parseOpMsg(message: Buffer, requestId: number, offset: number): MsgRequest {
  const flags = message.readUInt32LE(offset);
  if ((flags & 0xffff & ~KNOWN_REQUIRED_BITS) !== 0) {
    throw new ProtocolError(`unsupported required OP_MSG flag bits ${flags & 0xffff}`);
  }
  // The checksum (CRC-32C) is stripped, not verified: TCP on loopback does not corrupt bytes.
  const end = flags & CHECKSUM_PRESENT ? message.length - 4 : message.length;
  let pos = offset + 4;
  let body: BDoc | undefined;
  const sequences = new Map<string, BDoc[]>();
  while (pos < end) {
    const kind = message[pos++];
    if (kind === 0) {
      if (body) throw new ProtocolError('OP_MSG has more than one body section');
      const length = documentLength(message, pos);
      body = decodeDocument(message, pos);
      pos += length;
    } else if (kind === 1) {
      const size = message.readInt32LE(pos);
      const sectionEnd = pos + size;
      if (size < 5 || sectionEnd > end) throw new ProtocolError('invalid document sequence size');
      const idEnd = message.indexOf(0, pos + 4);
      if (idEnd < 0 || idEnd >= sectionEnd) throw new ProtocolError('invalid sequence identifier');
      const identifier = message.toString('utf8', pos + 4, idEnd);
      if (sequences.has(identifier)) {
        throw new ProtocolError(`duplicate document sequence '${identifier}'`);
      }
      const docs: BDoc[] = [];
      let docPos = idEnd + 1;
      while (docPos < sectionEnd) {
        const length = documentLength(message, docPos);
        docs.push(decodeDocument(message, docPos));
        docPos += length;
      }
      sequences.set(identifier, docs);
      pos = sectionEnd;
    } else {
      throw new ProtocolError(`unknown OP_MSG section kind ${String(kind)}`);
    }
  }
  if (!body) throw new ProtocolError('OP_MSG has no body section');
  for (const [identifier, docs] of sequences) {
    if (body.has(identifier)) {
      throw new ProtocolError(`document sequence '${identifier}' duplicates a body field`);
    }
    body.set(identifier, docs);
  }
  return {
    kind: 'msg',
    requestId,
    body,
    moreToCome: (flags & MORE_TO_COME) !== 0,
    exhaustAllowed: (flags & EXHAUST_ALLOWED) !== 0
  };
}

function parseOpQuery(message: Buffer, requestId: number): QueryRequest {
  let pos = 20;
  const nameEnd = message.indexOf(0, pos);
  if (nameEnd < 0) throw new ProtocolError('invalid OP_QUERY collection name');
  const fullCollectionName = message.toString('utf8', pos, nameEnd);
  pos = nameEnd + 1 + 8; // numberToSkip, numberToReturn
  let query = decodeDocument(message, pos);
  // Drivers may wrap the command as {$query: {...}, $readPreference: ...}.
  const wrapped = query.get('$query');
  if (wrapped instanceof Map) query = wrapped;
  return { kind: 'query', requestId, fullCollectionName, query };
}

function decompress(message: Buffer): Buffer {
  const originalOpcode = message.readInt32LE(16);
  const uncompressedSize = message.readInt32LE(20);
  const compressorId = message[24];
  const payload = message.subarray(25);
  let body: Buffer;
  if (compressorId === 0) body = payload;
  else if (compressorId === 2) body = inflateSync(payload);
  else throw new ProtocolError(`unsupported compressor id ${String(compressorId)}`);
  if (body.length !== uncompressedSize) throw new ProtocolError('decompressed size mismatch');
  const header = Buffer.alloc(16);
  header.writeInt32LE(16 + body.length, 0);
  header.writeInt32LE(message.readInt32LE(4), 4);
  header.writeInt32LE(message.readInt32LE(8), 8);
  header.writeInt32LE(originalOpcode, 12);
  return Buffer.concat([header, body]);
}

let nextReplyId = 1;

/** A fresh requestID for a server reply. */
export function newRequestId(): number {
  nextReplyId = (nextReplyId + 1) & 0x7fffffff || 1;
  return nextReplyId;
}

/** Builds an OP_MSG reply with one body section. */
export function buildMsgReply(
  responseTo: number,
  body: Map<string, unknown> | Record<string, unknown>,
  options: { moreToCome?: boolean; requestId?: number } = {}
): Buffer {
  const bson = encodeReply(body);
  const header = Buffer.alloc(21);
  header.writeInt32LE(21 + bson.length, 0);
  header.writeInt32LE(options.requestId ?? newRequestId(), 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(OP_MSG, 12);
  header.writeUInt32LE(options.moreToCome ? MORE_TO_COME : 0, 16);
  header[20] = 0;
  return Buffer.concat([header, bson]);
}

/** Builds an OP_REPLY (answer to OP_QUERY) with one document. */
export function buildQueryReply(
  responseTo: number,
  body: Map<string, unknown> | Record<string, unknown>
): Buffer {
  const bson = encodeDocument(body);
  const header = Buffer.alloc(36);
  header.writeInt32LE(36 + bson.length, 0);
  header.writeInt32LE(newRequestId(), 4);
  header.writeInt32LE(responseTo, 8);
  header.writeInt32LE(OP_REPLY, 12);
  header.writeInt32LE(8, 16); // AwaitCapable, as mongod sets it
  header.writeBigInt64LE(0n, 20);
  header.writeInt32LE(0, 28);
  header.writeInt32LE(1, 32);
  return Buffer.concat([header, bson]);
}
