/**
 * A small HTTP endpoint for a {@link ReplicatorMonitor}: `GET /status` answers the status as
 * JSON, `GET /metrics` the Prometheus text. Plain node:http, so a host needs no web framework;
 * a host that has one can serve `monitor.status()` and `monitor.metrics()` itself instead.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';

import { InvalidConfigError } from '../errors.js';
import { readOptions } from '../options/option-reader.js';
import { errorMessage } from './error-summary.js';
import { type ReplicatorMonitor } from './replicator-monitor.js';

/**
 * Options of {@link startStatusServer}.
 * @public
 */
export interface StatusServerOptions {
  /** The TCP port; 0 picks a free one (read it from {@link StatusServer.port}). */
  port: number;
  /**
   * The interface to listen on. The default keeps the endpoint local; pass `'0.0.0.0'` (or
   * `'::'`) to let a Prometheus server on another machine scrape it.
   * @defaultValue `'127.0.0.1'`
   */
  host?: string;
}

/**
 * A running status server.
 * @public
 */
export interface StatusServer {
  /** Its base URL, such as `http://127.0.0.1:9464`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** The paths served, for the 404 answer. */
const PATHS = ['/status', '/metrics'] as const;
type Path = (typeof PATHS)[number];

function isPath(path: string): path is Path {
  return (PATHS as readonly string[]).includes(path);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store'
  });
  response.end(JSON.stringify(body));
}

async function handle(
  monitor: ReplicatorMonitor,
  request: IncomingMessage,
  response: ServerResponse
): Promise<void> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (!isPath(path)) {
    sendJson(response, 404, { error: `Not found: ${path}`, paths: PATHS });
    return;
  }
  // HEAD is GET without a body (node:http drops the body); RFC 9110 asks servers to support both.
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    sendJson(response, 405, { error: `Method ${request.method ?? ''} not allowed on ${path}` });
    return;
  }
  if (path === '/status') {
    sendJson(response, 200, monitor.status());
    return;
  }
  const text = await monitor.metrics();
  response.writeHead(200, {
    'content-type': monitor.metricsContentType,
    'cache-control': 'no-store'
  });
  response.end(text);
}

/**
 * Serves `monitor` over HTTP: `GET /status` (JSON), `GET /metrics` (Prometheus text); any other
 * path answers 404, any other method 405, both with a JSON body.
 *
 * @example
 * ```ts
 * const server = await startStatusServer(new ReplicatorMonitor(replicator), { port: 9464 });
 * // curl http://127.0.0.1:9464/status
 * await server.close();
 * ```
 * @param monitor - What to serve.
 * @param options - Where to listen.
 * @returns Once listening.
 * @throws {@link InvalidConfigError} for a port outside 0–65535; the listen error (such as
 * `EADDRINUSE`) if the port cannot be bound.
 * @public
 */
export async function startStatusServer(
  monitor: ReplicatorMonitor,
  options: StatusServerOptions
): Promise<StatusServer> {
  const { port, host } = readOptions(options, reader => ({
    port: reader.custom('port', (value, field) => {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65_535) {
        throw new InvalidConfigError(field, 'must be an integer from 0 to 65535');
      }
      return value;
    }),
    host: reader.string('host', '127.0.0.1')
  }));
  const server = createServer((request, response) => {
    handle(monitor, request, response).catch((error: unknown) => {
      if (response.headersSent) response.destroy();
      else sendJson(response, 500, { error: errorMessage(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${address.port}`,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close(error => (error ? reject(error) : resolve()));
        // Keep-alive connections (fetch keeps them) would hold close() open until they time out.
        server.closeAllConnections();
      });
      return closing;
    }
  };
}
