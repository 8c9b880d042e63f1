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
    'max-txn-ops-per-oplog-entry': { type: 'string' },
    help: { type: 'boolean', default: false }
  },
  strict: true
});

if (values.help) {
  process.stdout.write(
    'Usage: npm run test-server -- [--port 0] [--version 4.4|5.0|6.0|7.0] [--repl-set rs0] [--oplog-size-mb 64] [--noop-interval-ms 0] [--max-txn-ops-per-oplog-entry N]\nSIGHUP restarts the server in place; SIGINT/SIGTERM stop it.\n'
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
    noopIntervalMs: number('noop-interval-ms', values['noop-interval-ms']),
    ...(values['max-txn-ops-per-oplog-entry'] !== undefined
      ? {
          maxTransactionOpsPerOplogEntry: number(
            'max-txn-ops-per-oplog-entry',
            values['max-txn-ops-per-oplog-entry']
          )
        }
      : {})
  });
  process.stdout.write(`${server.uri}\n`);
  const shutdown = () => {
    void server.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  // SIGHUP restarts the server in place (same port, data and oplog kept), like a mongod restart.
  process.on('SIGHUP', () => {
    void server.restart().catch((error: unknown) => {
      process.stderr.write(
        `restart failed: ${error instanceof Error ? error.message : String(error)}\n`
      );
    });
  });
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
