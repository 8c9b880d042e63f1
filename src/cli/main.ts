#!/usr/bin/env node
/**
 * The `mongo-replicate` command. Subcommands: `run`, `verify`, `checkpoint show | reset`; `--help`
 * everywhere. Exit codes: see `exit-codes.ts` and docs/cli.md. The CLI's own dependencies
 * (commander, cli-progress, zod) are imported only from here, never by the library's entry point.
 */
import { readFileSync } from 'node:fs';

import { Command, CommanderError, Option } from 'commander';

import { InvalidConfigError, LeaseHeldError, ReplicationError } from '../errors.js';
import { redactText } from '../logger.js';
import { checkpointResetCommand, checkpointShowCommand } from './checkpoint-command.js';
import { cliLogger, type LogFormat } from './cli-logger.js';
import { type ConfigFlags } from './config.js';
import { ExitCode } from './exit-codes.js';
import { type ProgressMode } from './progress-display.js';
import { runCommand } from './run-command.js';
import { verifyCommand } from './verify-command.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/**
 * The package's version, read from its package.json: two levels up from `dist/cli/main.js` in
 * an installed package (and from `src/cli/main.ts` in a checkout), so it can never drift from
 * what npm installed.
 */
function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** An integer flag within bounds, else the usage error (exit 2) naming it. */
function integerFlag(
  name: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER
): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidConfigError(name, `must be an integer from ${min} to ${max}`);
  }
  return n;
}

/** Options every command that connects takes. */
function withConnectionOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'JSON config file (flags override its values)')
    .option('--source <uri>', 'source connection string (a replica set)')
    .option('--target <uri>', 'target connection string')
    .option(
      '--include <ns>',
      'namespace to replicate: db, db.coll, db.*, *.coll (repeatable)',
      collect
    )
    .option('--exclude <ns>', 'namespace to leave out (repeatable)', collect)
    .option('--rename <from=to>', "rename rule such as 'shop.*=shop_copy.*' (repeatable)", collect)
    .option('--checkpoint-name <name>', 'checkpoint name (default: "default")')
    .option('--checkpoint-dir <dir>', 'keep checkpoints as files here instead of in the target')
    .addOption(
      new Option('--log-format <format>', 'log lines as text or JSON (stderr)')
        .choices(['text', 'json'])
        .default('text')
    )
    .option('-v, --verbose', 'also log debug messages');
}

interface CommonFlags extends ConfigFlags {
  logFormat: LogFormat;
  verbose?: boolean;
}

/** Runs a command body, mapping errors to exit codes and redacted messages on stderr. */
async function execute(
  flags: CommonFlags,
  body: (logger: ReturnType<typeof cliLogger>) => Promise<number>
): Promise<void> {
  const logger = cliLogger(flags.logFormat, { verbose: flags.verbose === true });
  try {
    process.exitCode = await body(logger);
  } catch (error) {
    const message = redactText(error instanceof Error ? error.message : String(error));
    // A ReplicationError's message already ends with what to do.
    const code = ReplicationError.is(error) ? error.code : undefined;
    logger.error(message, code ? { code } : {});
    process.exitCode =
      error instanceof InvalidConfigError
        ? ExitCode.usage
        : error instanceof LeaseHeldError
          ? ExitCode.leaseHeld
          : ExitCode.failed;
  }
}

const program = new Command('mongo-replicate')
  .description('Replicate MongoDB: copy a source into a target, then keep it current')
  .version(packageVersion(), '-V, --version', 'print the version of mongo-replicate')
  .showHelpAfterError()
  .exitOverride();

withConnectionOptions(
  program
    .command('run')
    .description('replicate (mode full, incr or all) until stopped (SIGINT/SIGTERM: graceful stop)')
)
  .addOption(new Option('--mode <mode>', 'what to do').choices(['full', 'incr', 'all']))
  .addOption(
    new Option('--fetch-method <method>', 'how to read the source').choices([
      'oplog',
      'changeStream'
    ])
  )
  .addOption(
    new Option('--transactions <mode>', 'how source transactions are applied').choices([
      'flatten',
      'preserve'
    ])
  )
  .option(
    '--start-at <optime>',
    'mode incr without a checkpoint: "latest" or "<seconds>:<increment>"'
  )
  .option('--spool-dir <dir>', 'mode all: where the oplog is spooled during the copy')
  .addOption(
    new Option('--on-existing-target <policy>', 'a non-empty target collection').choices([
      'fail',
      'drop',
      'append'
    ])
  )
  .addOption(
    new Option('--indexes <when>', 'when indexes are built').choices(['before', 'after', 'none'])
  )
  .option('--lanes <n>', 'parallel applier lanes')
  .option(
    '--standby',
    "wait while another replicator holds the checkpoint's lease, and take over when it stops"
  )
  .option('--lease-ttl <ms>', "how long the checkpoint's lease lasts unless renewed (15000)")
  .option(
    '--shard-worker-group <name>',
    'one of several workers on a sharded source: the name every worker of the job shares'
  )
  .option('--shards <names>', 'with --shard-worker-group: the shards this worker reads (a,b)')
  .addOption(
    new Option(
      '--target-sharding <how>',
      "a sharded target: 'source' shards its collections as the source's are (none)"
    ).choices(['none', 'source'])
  )
  .option(
    '--skip <op>',
    'do not apply this operation: insert, update, delete, ddl, or a DDL command such as drop (repeatable)',
    collect
  )
  .option('--max-ops-per-second <n>', 'write at most this many ops per second to the target')
  .option('--max-bytes-per-second <n>', 'write at most this many BSON bytes per second')
  .option(
    '--no-bypass-document-validation',
    "let the target's validators refuse documents the source holds (stops replication)"
  )
  .option('--status-port <port>', 'serve GET /status and GET /metrics on this port (0: any)')
  .option('--status-host <host>', 'address of the status server', '127.0.0.1')
  .option('--until-fence', 'once tailing, write a fence, wait until it is applied, and exit')
  .addOption(
    new Option('--progress <mode>', 'bars (terminal), json lines, or none').choices([
      'bars',
      'json',
      'none'
    ])
  )
  .option('--progress-interval <ms>', 'how often progress is shown', '1000')
  .action(async (flags: CommonFlags & Record<string, unknown>, command: Command) => {
    // A lone --no-… flag defaults to true in commander; only an explicit flag overrides the
    // config file.
    if (command.getOptionValueSource('bypassDocumentValidation') === 'default') {
      delete flags.bypassDocumentValidation;
    }
    const progress =
      (flags.progress as ProgressMode | undefined) ??
      (flags.logFormat === 'json' || !process.stdout.isTTY ? 'json' : 'bars');
    await execute(flags, logger =>
      runCommand(
        {
          ...flags,
          ...(flags.statusPort === undefined
            ? {}
            : { statusPort: String(integerFlag('status-port', flags.statusPort, 0, 65_535)) }),
          progress,
          progressIntervalMs: integerFlag('progress-interval', flags.progressInterval ?? '1000', 50)
        },
        logger
      )
    );
  });

withConnectionOptions(
  program
    .command('verify')
    .description(
      'compare source and target namespaces (documents, indexes, options); exit 0 when equal'
    )
)
  .option('--json', 'print the report as JSON')
  .option('--concurrency <n>', 'ranges compared at once')
  .action(async (flags: CommonFlags & { json?: boolean; concurrency?: string }) => {
    await execute(flags, logger => verifyCommand(flags, logger));
  });

const checkpoint = program.command('checkpoint').description('show or reset a stored checkpoint');
withConnectionOptions(checkpoint.command('show').description('print a checkpoint as Extended JSON'))
  .option('--spool-dir <dir>', 'the spool directory of mode all')
  .action(async (flags: CommonFlags) => {
    await execute(flags, logger => checkpointShowCommand(flags, logger));
  });
withConnectionOptions(
  checkpoint
    .command('reset')
    .description('delete a checkpoint and its spool: the next run starts over')
)
  .option('--spool-dir <dir>', 'the spool directory of mode all')
  .option(
    '--force',
    'also when the lease was not released (its replicator crashed); never while it is live'
  )
  .action(async (flags: CommonFlags & { force?: boolean }) => {
    await execute(flags, logger => checkpointResetCommand(flags, logger, flags.force === true));
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here with code 0; usage errors (already printed) with 2.
    process.exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  } else {
    throw error;
  }
}
