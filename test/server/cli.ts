/**
 * `npm run test-server -- --port 0 [--version 7.0] [--repl-set rs0] [--oplog-size-mb 64]
 * [--noop-interval-ms 0]`: prints the connection string as the first line of stdout, then serves
 * until SIGINT or SIGTERM. With `--shards N`, a sharded cluster: the first line is the mongos
 * connection string, then `config <uri>` and `shard<i> <uri>` lines.
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
    shards: { type: 'string' },
    balancer: { type: 'string', default: 'off' },
    'balancer-interval-ms': { type: 'string' },
    'orphan-cleanup-delay-ms': { type: 'string' },
    help: { type: 'boolean', default: false }
  },
  strict: true
});

if (values.help) {
  process.stdout.write(
    'Usage: npm run test-server -- [--port 0] [--version 4.4|5.0|6.0|7.0] [--repl-set rs0] [--oplog-size-mb 64] [--noop-interval-ms 0] [--max-txn-ops-per-oplog-entry N]\n' +
      '       [--shards N [--balancer on|off] [--balancer-interval-ms 1000] [--orphan-cleanup-delay-ms 900000]]\n' +
      'SIGHUP restarts the server in place (not a cluster); SIGINT/SIGTERM stop it.\n' +
      'With --shards, the first line is the mongos URI; the config server and shards follow, one a line.\n'
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

const common = {
  port: number('port', values.port),
  version: values.version,
  oplogSizeMb: number('oplog-size-mb', values['oplog-size-mb']),
  ...(values['max-txn-ops-per-oplog-entry'] !== undefined
    ? {
        maxTransactionOpsPerOplogEntry: number(
          'max-txn-ops-per-oplog-entry',
          values['max-txn-ops-per-oplog-entry']
        )
      }
    : {})
};

if (values.balancer !== 'on' && values.balancer !== 'off') {
  process.stderr.write(`--balancer must be on or off, got "${values.balancer}"\n`);
  process.exit(2);
}

try {
  if (values.shards !== undefined) {
    const cluster = await startTestServer({
      ...common,
      shards: number('shards', values.shards),
      balancer: values.balancer === 'on',
      // A cluster's members log periodic no-ops by default (see docs/test-server.md).
      ...(values['noop-interval-ms'] !== '0'
        ? { noopIntervalMs: number('noop-interval-ms', values['noop-interval-ms']) }
        : {}),
      ...(values['balancer-interval-ms'] !== undefined
        ? { balancerIntervalMs: number('balancer-interval-ms', values['balancer-interval-ms']) }
        : {}),
      ...(values['orphan-cleanup-delay-ms'] !== undefined
        ? {
            orphanCleanupDelayMs: number(
              'orphan-cleanup-delay-ms',
              values['orphan-cleanup-delay-ms']
            )
          }
        : {})
    });
    process.stdout.write(
      [
        cluster.uri,
        `config ${cluster.configServer.uri}`,
        ...cluster.shards.map((shard, i) => `shard${i} ${shard.uri}`)
      ].join('\n') + '\n'
    );
    const stop = () => {
      void cluster.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  } else {
    await serveSingle();
  }
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

async function serveSingle(): Promise<void> {
  const server = await startTestServer({
    ...common,
    replSetName: values['repl-set'],
    noopIntervalMs: number('noop-interval-ms', values['noop-interval-ms'])
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
}
