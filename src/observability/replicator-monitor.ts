/**
 * ReplicatorMonitor: status and Prometheus metrics for a running Replicator, built from its
 * events only (no extra queries against the source or the target).
 */
import { InvalidConfigError } from '../errors.js';
import { readOptions } from '../options/option-reader.js';
import { type Replicator } from '../replicator.js';
import { ReplicatorMetrics } from './replicator-metrics.js';
import { type ReplicatorStatus } from './replicator-status.js';
import { StatusRecorder } from './status-recorder.js';

/**
 * Options of {@link ReplicatorMonitor}.
 * @public
 */
export interface ReplicatorMonitorOptions {
  /**
   * How many recent errors (retried and fatal) {@link ReplicatorMonitor.status} lists.
   * @defaultValue 10
   */
  recentErrors?: number;
  /**
   * The current time in milliseconds since the Unix epoch, for the times in the status.
   * @defaultValue `Date.now`
   */
  clock?: () => number;
}

/**
 * The defaults {@link ReplicatorMonitor} applies to omitted options.
 * @public
 */
export const replicatorMonitorDefaults = Object.freeze({
  recentErrors: 10
});

/**
 * The content type of the Prometheus text exposition format 0.0.4, as prom-client's
 * `Registry.PROMETHEUS_CONTENT_TYPE` spells it; known here without loading prom-client.
 */
const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Status and metrics of one {@link Replicator}, from its events.
 *
 * @remarks
 * Attach it before `start()` to count everything; counts cover what it saw while attached.
 * Metrics use prom-client, loaded on the first {@link ReplicatorMonitor.metrics} call, in a
 * registry of the monitor's own (never prom-client's global one). Nothing in the status or the
 * metrics holds a credential: deployments are shown by host, and error messages are redacted.
 *
 * @example
 * ```ts
 * const replicator = new Replicator({ source, target, mode: 'all', checkpoint: { name: 'shop' } });
 * const monitor = new ReplicatorMonitor(replicator);
 * const server = await startStatusServer(monitor, { port: 9464 });
 * await replicator.start();
 * console.log(monitor.status().phase, await monitor.metrics());
 * // … later
 * await replicator.stop();
 * await server.close();
 * monitor.close();
 * ```
 * @public
 */
export class ReplicatorMonitor {
  /** The content type of {@link ReplicatorMonitor.metrics}' text, for an HTTP answer. */
  readonly metricsContentType: string = PROMETHEUS_CONTENT_TYPE;
  readonly #recorder: StatusRecorder;
  #metrics: Promise<ReplicatorMetrics> | undefined;

  /**
   * Starts listening to `replicator`'s events.
   * @param replicator - The replicator to watch.
   * @param options - What to keep and which clock to use.
   * @throws {@link InvalidConfigError} if `recentErrors` is not a non-negative integer.
   */
  constructor(replicator: Replicator, options: ReplicatorMonitorOptions = {}) {
    const resolved = readOptions(options, reader => ({
      recentErrors: reader.integer('recentErrors', replicatorMonitorDefaults.recentErrors, {
        min: 0
      }),
      clock: reader.custom('clock', (value, field) => {
        if (value === undefined) return Date.now;
        if (typeof value !== 'function') {
          throw new InvalidConfigError(field, 'must be a function returning milliseconds');
        }
        return value as () => number;
      })
    }));
    this.#recorder = new StatusRecorder(replicator, resolved);
  }

  /** A JSON-ready snapshot: state, phase, lag, optimes, copy progress, applied counts, errors. */
  status(): ReplicatorStatus {
    return this.#recorder.status();
  }

  /**
   * The metrics in the Prometheus text exposition format (serve them as
   * {@link ReplicatorMonitor.metricsContentType}). Every name starts with `mongo_replicate_`.
   * The first call loads prom-client.
   */
  async metrics(): Promise<string> {
    // A failed load is not cached: the next scrape tries again.
    this.#metrics ??= ReplicatorMetrics.create().catch((error: unknown) => {
      this.#metrics = undefined;
      throw error;
    });
    const metrics = await this.#metrics;
    return metrics.render(this.#recorder.status(), this.#recorder.totals);
  }

  /** Stops listening to the replicator; `status()` and `metrics()` keep the last values. */
  close(): void {
    this.#recorder.close();
  }
}
