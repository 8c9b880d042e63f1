/**
 * AbortSignals that abort after a deadline with a message naming what was awaited. Built on ref'd
 * timers on purpose: `AbortSignal.timeout()` is unref'd, and node:test then cancels a test that
 * waits on it ("event loop has already resolved") instead of failing it with this message. The
 * timers still pending when a file's tests end are cleared, so a passing file exits at once
 * instead of holding the (serial) test run until its longest deadline.
 */
import { after } from 'node:test';

const pending = new Set<NodeJS.Timeout>();
after(() => {
  for (const timer of pending) clearTimeout(timer);
  pending.clear();
});

/** An AbortSignal that aborts after `ms` with a message naming `what`. */
export function timeoutSignal(ms: number, what: string): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    pending.delete(timer);
    controller.abort(new Error(`Timed out after ${ms} ms waiting for ${what}`));
  }, ms);
  pending.add(timer);
  controller.signal.addEventListener(
    'abort',
    () => {
      clearTimeout(timer);
      pending.delete(timer);
    },
    { once: true }
  );
  return controller.signal;
}

/** Polls `condition` (on the event loop's turn, not on a sleep) until it holds or `signal` aborts. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  signal: AbortSignal
): Promise<void> {
  while (!(await condition())) {
    signal.throwIfAborted();
    await new Promise(resolve => setImmediate(resolve));
  }
}

/**
 * Resolves like `promise`, or rejects with a message naming `what` after `ms`. The timer is
 * cleared as soon as the promise settles, so a passing test does not keep the process alive.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
