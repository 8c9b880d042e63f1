/**
 * `mongo-replicate run`: builds a Replicator from the config, shows progress, serves status and
 * metrics when asked, and stops gracefully on the first SIGINT/SIGTERM (a second one forces it).
 * With `--until-fence`, once the target tails the source it writes a fence, waits for it to be
 * applied and exits: the end of a migration.
 */
import { InvalidConfigError } from '../errors.js';
import { type Logger } from '../logger.js';
import { ReplicatorMonitor } from '../observability/replicator-monitor.js';
import { startStatusServer } from '../observability/status-server.js';
import { Replicator } from '../replicator.js';
import { type ConfigFlags, resolveCliConfig } from './config.js';
import { ExitCode } from './exit-codes.js';
import { ProgressDisplay, type ProgressMode } from './progress-display.js';

/**
 * The flags of `run`.
 * @internal
 */
export interface RunFlags extends ConfigFlags {
  statusPort?: string;
  statusHost?: string;
  untilFence?: boolean;
  progress: ProgressMode;
  progressIntervalMs: number;
}

/**
 * Waits until the target tails the source, takes a fence, and stops once it is applied. A stop
 * asked for meanwhile (a signal) is not a failure: the wait just ends.
 */
async function untilFence(
  replicator: Replicator,
  logger: Logger,
  stopRequested: () => boolean
): Promise<void> {
  try {
    if (replicator.phase !== 'incr') {
      await replicator.waitFor('phase', { filter: event => event.phase === 'incr' });
    }
    const fence = await replicator.fence();
    logger.info('The fence is applied on the target: the target holds every earlier write', {
      optime: `${fence.optime.t}:${fence.optime.i}`,
      durationMs: Math.round(fence.durationMs)
    });
  } catch (error) {
    if (!stopRequested()) throw error;
  }
  await replicator.stop();
}

/**
 * Runs replication until it ends (mode `full`), a fence is applied (`--until-fence`), a signal
 * stops it, or it fails. Resolves with the exit code.
 * @internal
 */
export async function runCommand(flags: RunFlags, logger: Logger): Promise<number> {
  const { options } = await resolveCliConfig(flags);
  if (flags.untilFence && options.mode === 'full') {
    throw new InvalidConfigError(
      'untilFence',
      'needs mode "incr" or "all" (mode "full" ends by itself)'
    );
  }
  // Constructing validates every option before any connection: bad input exits with 2.
  const forceStop = new AbortController();
  const replicator = new Replicator({ ...options, logger, signal: forceStop.signal });
  const monitor = new ReplicatorMonitor(replicator);
  const display = new ProgressDisplay(replicator, {
    mode: flags.progress,
    intervalMs: flags.progressIntervalMs
  });
  let server: Awaited<ReturnType<typeof startStatusServer>> | undefined;
  let signals = 0;
  let forced = false;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      logger.info(`${signal} received: stopping gracefully (again to force)`);
      void replicator.stop().catch(() => undefined);
    } else {
      forced = true;
      logger.warn(`${signal} received again: forcing the stop`);
      forceStop.abort(new Error(`forced by ${signal}`));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (flags.statusPort !== undefined) {
      server = await startStatusServer(monitor, {
        port: Number(flags.statusPort),
        ...(flags.statusHost ? { host: flags.statusHost } : {})
      });
      logger.info('Serving status and metrics', {
        status: `${server.url}/status`,
        metrics: `${server.url}/metrics`
      });
    }
    await replicator.start();
    if (flags.untilFence) await untilFence(replicator, logger, () => signals > 0);
    await replicator.done;
    logger.info('Replication stopped', { state: replicator.state });
    return forced ? ExitCode.interrupted : ExitCode.ok;
  } catch (error) {
    if (forced) return ExitCode.interrupted;
    throw error;
  } finally {
    // Whatever ended the command, nothing may keep replicating behind it.
    if (['starting', 'standby', 'running', 'paused'].includes(replicator.state)) {
      await replicator.stop().catch(() => undefined);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    display.stop();
    monitor.close();
    await server?.close();
  }
}
