import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SourceReadError, TargetWriteError } from '../../../src/errors.js';
import { type StageState } from '../../../src/events.js';
import { BoundedQueue } from '../../../src/lifecycle/bounded-queue.js';
import { Stage, type StageEvents, type StageOptions } from '../../../src/lifecycle/stage.js';
import { type Logger } from '../../../src/logger.js';
import { withTimeout } from '../../support/timeout-signal.js';

interface EchoEvents extends StageEvents {
  /** One item was processed. */
  item: (event: { readonly value: number }) => void;
}

/** A stage that moves numbers from an input queue to `seen`, with injectable faults. */
class Echo extends Stage<EchoEvents> {
  readonly input = new BoundedQueue<number>(10, Infinity);
  readonly seen: number[] = [];
  openFailure: unknown;
  drainFailure: unknown;
  /** Resolves open() when set; lets a test stop the stage while it is starting. */
  openGate: Promise<void> | undefined;

  constructor(options: StageOptions = {}) {
    super('echo', options);
  }

  protected async open(signal: AbortSignal): Promise<void> {
    if (this.openFailure !== undefined) throw this.openFailure;
    if (this.openGate) {
      await new Promise<void>((resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason as unknown), { once: true });
        void this.openGate?.then(resolve);
      });
    }
  }

  protected async run(signal: AbortSignal): Promise<void> {
    for (let value = await this.input.shift(signal); value !== undefined;) {
      if (value < 0) throw new Error(`negative ${value}`);
      this.seen.push(value);
      this.safeEmit('item', { value });
      value = await this.input.shift(signal);
    }
  }

  protected async drain(): Promise<void> {
    if (this.drainFailure !== undefined) throw this.drainFailure;
    this.input.close(); // run() ends once the rest is consumed
    await new Promise<void>(resolve => setImmediate(resolve));
  }

  protected toReplicationError(error: unknown): SourceReadError {
    if (error instanceof SourceReadError) return error;
    return new SourceReadError(error instanceof Error ? error.message : String(error), false, {
      cause: error
    });
  }
}

function recordStates(stage: Echo): StageState[] {
  const states: StageState[] = [];
  stage.on('state', event => {
    assert.equal(event.stage, 'echo');
    assert.equal(event.from, states.at(-1) ?? 'idle');
    states.push(event.to);
  });
  return states;
}

describe('Stage', () => {
  it('emits starting, running, stopping, stopped; stop drains; done resolves', async () => {
    const stage = new Echo();
    const states = recordStates(stage);
    await stage.start();
    assert.equal(stage.state, 'running');
    const first = stage.waitFor('item'); // listen before pushing: run() may emit at once
    await stage.input.push(1, 1);
    const [item] = await withTimeout(first, 1000, 'item');
    assert.deepEqual(item, { value: 1 });
    await stage.input.push(2, 1);
    await stage.stop();
    await withTimeout(stage.done, 1000, 'done');
    assert.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
    assert.deepEqual(stage.seen, [1, 2]);
    // Idempotent.
    await stage.stop();
    await stage.start();
    assert.deepEqual(states, ['starting', 'running', 'stopping', 'stopped']);
  });

  it('a failing open() rejects start() and done with the same typed error', async () => {
    const stage = new Echo();
    const states = recordStates(stage);
    const errors: unknown[] = [];
    stage.on('error', error => errors.push(error));
    const retryable = new SourceReadError('no primary', true);
    stage.openFailure = retryable;
    const started = stage.start();
    await assert.rejects(started, retryable);
    await assert.rejects(stage.done, retryable);
    assert.deepEqual(errors, [retryable]);
    assert.equal((await started.catch((e: unknown) => e)) as SourceReadError, retryable);
    assert.deepEqual(states, ['starting', 'failed']);
    await stage.stop(); // the failure was already reported; stop() does not repeat it
  });

  it('a failure in run() fails the stage: error event, then done rejects', async () => {
    const stage = new Echo();
    const states = recordStates(stage);
    await stage.start();
    const failed = stage.waitFor('error');
    await stage.input.push(-1, 1);
    const [error] = await withTimeout(failed, 1000, 'error event');
    assert.ok(error instanceof SourceReadError);
    assert.match(error.message, /negative -1/);
    await assert.rejects(stage.done, error);
    assert.deepEqual(states, ['starting', 'running', 'failed']);
  });

  it('a failing drain() rejects stop() and done', async () => {
    const stage = new Echo();
    const states = recordStates(stage);
    await stage.start();
    stage.drainFailure = new TargetWriteError('target gone', false);
    await assert.rejects(stage.stop(), /target gone/);
    await assert.rejects(stage.done, /target gone/);
    assert.deepEqual(states, ['starting', 'running', 'stopping', 'failed']);
  });

  it('a throwing listener is logged and the stage keeps running', async () => {
    const logged: string[] = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: message => logged.push(message)
    };
    const stage = new Echo({ logger });
    stage.on('item', () => {
      throw new Error('host bug');
    });
    await stage.start();
    const second = stage.waitFor('item', { filter: e => e.value === 2 });
    await stage.input.push(1, 1);
    await stage.input.push(2, 1);
    await withTimeout(second, 1000, 'item 2');
    assert.equal(stage.state, 'running');
    assert.equal(logged.length >= 1, true);
    assert.match(logged[0]!, /A listener for 'item' threw/);
    await stage.stop();
  });

  it('a forced abort through options.signal stops without draining', async () => {
    const controller = new AbortController();
    const stage = new Echo({ signal: controller.signal });
    const states = recordStates(stage);
    await stage.start();
    controller.abort(new Error('forced'));
    await withTimeout(stage.done, 1000, 'done');
    assert.deepEqual(states, ['starting', 'running', 'stopped']);
    assert.equal(stage.input.closed, false, 'drain() did not run');
  });

  it('stop() while starting cancels open() and ends stopped; stop() before start() too', async () => {
    const stage = new Echo();
    const states = recordStates(stage);
    stage.openGate = new Promise(() => {}); // open() never finishes by itself
    const started = stage.start();
    await stage.stop();
    await started;
    assert.deepEqual(states, ['starting', 'stopping', 'stopped']);

    const idle = new Echo();
    const idleStates = recordStates(idle);
    await idle.stop();
    await idle.start();
    assert.deepEqual(idleStates, ['stopped']);

    const preAborted = new Echo({ signal: AbortSignal.abort(new Error('early')) });
    const preStates = recordStates(preAborted);
    await preAborted.start();
    assert.deepEqual(preStates, ['starting', 'stopped']);
  });

  it('waitFor filters, times out with the signal reason, and rejects when the stage fails', async () => {
    const stage = new Echo();
    await stage.start();
    const controller = new AbortController();
    const waiting = stage.waitFor('item', { signal: controller.signal, filter: e => e.value > 5 });
    const first = stage.waitFor('item');
    await stage.input.push(1, 1);
    await withTimeout(first, 1000, 'item 1');
    controller.abort(new Error('Timed out waiting for item > 5'));
    await assert.rejects(waiting, /Timed out waiting for item > 5/);

    const never = stage.waitFor('item', { filter: e => e.value > 100 });
    await stage.input.push(-5, 1);
    await assert.rejects(withTimeout(never, 1000, 'rejection'), /negative -5/);
    assert.equal(stage.listenerCount('item'), 0, 'waitFor removed its listeners');
  });

  it('[Symbol.asyncDispose] stops the stage', async () => {
    const stage = new Echo();
    await stage.start();
    await stage[Symbol.asyncDispose]();
    assert.equal(stage.state, 'stopped');
  });
});
