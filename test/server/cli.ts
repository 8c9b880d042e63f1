/**
 * `npm run test-server -- --port 0 [--version 7.0] [--repl-set rs0] [--oplog-size-mb 64]
 * [--noop-interval-ms 0]`: prints the connection string as the first line of stdout, then serves
 * until SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util';

import { startTestServer } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    version: { type: 'string', default: '7.0' },
    'repl-set': { type: 'string', default: 'rs0' },
    'oplog-size-mb': { type: 'string', default: '64' },
    'noop-interval-ms': { type: 'string', default: '0' },
    help: { type: 'boolean', default: false }
  },
  strict: true
});

if (values.help) {
  process.stdout.write(
    'Usage: npm run test-server -- [--port 0] [--version 4.4|5.0|6.0|7.0] [--repl-set rs0] [--oplog-size-mb 64] [--noop-interval-ms 0]\n'
  );
  process.exit(0);
}

function number(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    process.stderr.write(`--${name} must be a non-negative number, got "${text}"\n`);
    process.exit(2);
  }
  return value;
}

try {
  const server = await startTestServer({
    port: number('port', values.port),
    version: values.version,
    replSetName: values['repl-set'],
    oplogSizeMb: number('oplog-size-mb', values['oplog-size-mb']),
    noopIntervalMs: number('noop-interval-ms', values['noop-interval-ms'])
  });
  process.stdout.write(`${server.uri}\n`);
  const shutdown = () => {
    void server.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
