/**
 * What the command shows while it replicates, driven only by the Replicator's events: on a
 * terminal, a bar per namespace during the copy and one live line for incremental sync (applied
 * ops/s, lag, last optime); elsewhere (or with `--log-format json`) one JSON line per interval.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';

import { type CopyProgressEvent } from '../full/collection-executor.js';
import { type Replicator } from '../replicator.js';
import { jsonLine } from './cli-logger.js';

/**
 * How progress is shown.
 * @internal
 */
export type ProgressMode = 'bars' | 'json' | 'none';

interface Counters {
  phase: string;
  applied: number;
  lastApplied: number;
  lagSeconds: number | undefined;
  optime: string | undefined;
  copied: number;
  estimated: number;
  etaMs: number | undefined;
}

/**
 * Follows `replicator` and renders its progress until `stop()`.
 * @internal
 */
export class ProgressDisplay {
  readonly #mode: ProgressMode;
  readonly #counters: Counters = {
    phase: 'starting',
    applied: 0,
    lastApplied: 0,
    lagSeconds: undefined,
    optime: undefined,
    copied: 0,
    estimated: 0,
    etaMs: undefined
  };
  readonly #bars = new Map<string, SingleBar>();
  readonly #write: (line: string) => void;
  #multi: MultiBar | undefined;
  #line: SingleBar | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastTick = performance.now();

  constructor(
    replicator: Replicator,
    options: { mode: ProgressMode; intervalMs: number; write?: (line: string) => void }
  ) {
    this.#mode = options.mode;
    this.#write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
    if (this.#mode === 'none') return;
    replicator.on('phase', event => {
      this.#counters.phase = event.phase;
      if (event.phase !== 'full') this.#endBars();
    });
    replicator.on('progress', event => this.#onProgress(event));
    // Mode incr announces no phase: once running, the replicator's own phase is the truth.
    replicator.on('state', event => {
      if (event.to === 'running' && this.#counters.phase === 'starting') {
        this.#counters.phase = replicator.phase;
      }
    });
    replicator.on('batch', event => {
      this.#counters.applied += event.ops;
      this.#counters.optime = `${event.checkpointOptime.t}:${event.checkpointOptime.i}`;
    });
    replicator.on('lag', event => (this.#counters.lagSeconds = event.seconds));
    this.#timer = setInterval(() => this.#tick(), options.intervalMs);
    this.#timer.unref();
  }

  /** Stops rendering (the bars are left as they were). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#tick();
    this.#endBars();
    this.#line?.stop();
    this.#multi?.stop();
    this.#multi = undefined;
  }

  #onProgress(event: CopyProgressEvent): void {
    const c = this.#counters;
    c.copied = event.overall.documents;
    c.estimated = event.overall.estimatedDocuments;
    c.etaMs = event.overall.etaMs;
    if (this.#mode !== 'bars') return;
    this.#multi ??= new MultiBar(
      {
        format: ' {namespace} [{bar}] {value}/{total} docs | {rate}/s | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false
      },
      Presets.shades_classic
    );
    let bar = this.#bars.get(event.namespace);
    const total = Math.max(event.estimatedDocuments, event.documents, 1);
    if (bar === undefined) {
      bar = this.#multi.create(total, 0, { namespace: event.namespace.padEnd(24), rate: 0 });
      this.#bars.set(event.namespace, bar);
    }
    bar.setTotal(total);
    bar.update(event.documents, { rate: Math.round(event.countPerSecond) });
  }

  #endBars(): void {
    for (const bar of this.#bars.values()) bar.stop();
    this.#bars.clear();
  }

  #tick(): void {
    const c = this.#counters;
    const now = performance.now();
    const seconds = (now - this.#lastTick) / 1000;
    const rate = seconds > 0 ? Math.round((c.applied - c.lastApplied) / seconds) : 0;
    this.#lastTick = now;
    c.lastApplied = c.applied;
    if (this.#mode === 'json') {
      this.#write(
        jsonLine({
          phase: c.phase,
          copied: c.copied,
          estimatedDocuments: c.estimated,
          copyEtaMs: c.etaMs,
          applied: c.applied,
          appliedPerSecond: rate,
          lagSeconds: c.lagSeconds,
          lastOptime: c.optime
        })
      );
      return;
    }
    if (this.#mode !== 'bars' || c.phase === 'full' || c.phase === 'starting') return;
    this.#multi ??= new MultiBar({ format: ' {text}', hideCursor: true }, Presets.shades_classic);
    this.#line ??= this.#multi.create(1, 0, { text: '' }, { format: ' {text}' });
    this.#line.update(0, {
      text: `${c.phase}: ${c.applied} ops applied | ${rate} ops/s | lag ${c.lagSeconds ?? '?'} s | optime ${c.optime ?? '-'}`
    });
  }
}
