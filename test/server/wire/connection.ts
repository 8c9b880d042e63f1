/**
 * One client connection: requests are answered strictly in order; `moreToCome` requests get no
 * reply; an awaitable hello with `exhaustAllowed` streams replies until the socket closes.
 */
import { type Socket } from 'node:net';

import { type BDoc } from '../bson/values.js';
import { type ConnectionInfo } from '../commands/context.js';
import { CLOSE_CONNECTION, errorReply, HELLO_COMMANDS, runCommand } from '../commands/dispatch.js';
import { ServerError } from '../engine/server-error.js';
import { type Mongod } from '../mongod/mongod.js';
import {
  buildMsgReply,
  buildQueryReply,
  MessageSplitter,
  newRequestId,
  parseMessage,
  ProtocolError,
  type Request
} from './messages.js';

/** What a connection serves: a mongod, or a sharded cluster's router (cluster/router.ts). */
export interface Endpoint {
  nextConnectionId(): number;
  run(body: BDoc, info: ConnectionInfo): Promise<Map<string, unknown> | typeof CLOSE_CONNECTION>;
  errorReply(error: unknown): Map<string, unknown>;
  /** Commands other than hello are executed when sent as OP_QUERY (4.4 and 5.0). */
  readonly opQueryCommands: boolean;
}

function mongodEndpoint(mongod: Mongod): Endpoint {
  return {
    nextConnectionId: () => mongod.nextConnectionId(),
    run: (body, info) => runCommand(mongod, body, info),
    errorReply: error => errorReply(mongod, error),
    opQueryCommands: mongod.profile.opQueryCommands
  };
}

export class Connection {
  readonly info: ConnectionInfo;
  readonly #closed = new AbortController();
  readonly #splitter = new MessageSplitter();
  #queue: Promise<void> = Promise.resolve();
  readonly #endpoint: Endpoint;

  constructor(
    private readonly socket: Socket,
    target: Mongod | Endpoint
  ) {
    this.#endpoint = 'run' in target ? target : mongodEndpoint(target);
    this.info = {
      id: this.#endpoint.nextConnectionId(),
      appName: undefined,
      closed: this.#closed.signal
    };
    socket.setNoDelay(true);
    socket.on('data', chunk => this.#onData(chunk));
    socket.on('close', () => this.#closed.abort());
    socket.on('error', () => this.#closed.abort());
  }

  /** Closes the socket at once (server stop, fail points). */
  destroy(): void {
    this.#closed.abort();
    this.socket.destroy();
  }

  #onData(chunk: Buffer): void {
    let messages: Buffer[];
    try {
      messages = this.#splitter.push(chunk);
    } catch {
      this.destroy();
      return;
    }
    for (const message of messages) {
      this.#queue = this.#queue.then(() => this.#handle(message)).catch(() => this.destroy());
    }
  }

  async #handle(message: Buffer): Promise<void> {
    if (this.#closed.signal.aborted) return;
    let request: Request;
    try {
      request = parseMessage(message);
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.destroy();
        return;
      }
      // Invalid BSON in an otherwise well-framed message: answer like mongod, keep the connection.
      const requestId = message.readInt32LE(4);
      this.#write(
        buildMsgReply(requestId, this.#endpoint.errorReply(new ServerError(22, String(error))))
      );
      return;
    }
    if (request.kind === 'query') {
      await this.#handleQuery(request.requestId, request.fullCollectionName, request.query);
      return;
    }
    const reply = await this.#endpoint.run(request.body, this.info);
    if (reply === CLOSE_CONNECTION) {
      this.destroy();
      return;
    }
    if (request.moreToCome) return;
    const name = request.body.keys().next().value as string;
    const streaming =
      request.exhaustAllowed &&
      HELLO_COMMANDS.has(name) &&
      request.body.has('maxAwaitTimeMS') &&
      reply.get('code') === undefined;
    if (!streaming) {
      this.#write(buildMsgReply(request.requestId, reply));
      return;
    }
    await this.#stream(request.requestId, request.body, reply);
  }

  /** Exhaust hello: each reply answers the previous one, until the client goes away. */
  async #stream(requestId: number, body: BDoc, first: Map<string, unknown>): Promise<void> {
    let responseTo = requestId;
    let reply = first;
    for (;;) {
      const ownId = newRequestId();
      this.#write(buildMsgReply(responseTo, reply, { moreToCome: true, requestId: ownId }));
      responseTo = ownId;
      // The next reply waits for a topology change or maxAwaitTimeMS, like the first.
      const next = new Map(body);
      next.set('topologyVersion', reply.get('topologyVersion') as BDoc);
      const streamed = await this.#endpoint.run(next, this.info);
      if (this.#closed.signal.aborted) return;
      if (streamed === CLOSE_CONNECTION) {
        this.destroy();
        return;
      }
      reply = streamed;
    }
  }

  async #handleQuery(requestId: number, fullCollectionName: string, query: BDoc): Promise<void> {
    const name = query.keys().next().value ?? '';
    const dot = fullCollectionName.indexOf('.');
    const db = dot > 0 ? fullCollectionName.slice(0, dot) : fullCollectionName;
    if (!fullCollectionName.endsWith('.$cmd')) {
      this.destroy();
      return;
    }
    let reply: Map<string, unknown>;
    if (HELLO_COMMANDS.has(name) || this.#endpoint.opQueryCommands) {
      const body = new Map(query);
      body.set('$db', db);
      const result = await this.#endpoint.run(body, this.info);
      if (result === CLOSE_CONNECTION) {
        this.destroy();
        return;
      }
      reply = result;
    } else {
      reply = this.#endpoint.errorReply(
        new ServerError(
          352,
          `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal`
        )
      );
    }
    this.#write(buildQueryReply(requestId, reply));
  }

  #write(buffer: Buffer): void {
    if (!this.#closed.signal.aborted) this.socket.write(buffer);
  }
}
