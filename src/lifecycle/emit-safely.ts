/**
 * Emitting so that a throwing host listener can neither break the pipeline nor starve the other
 * listeners: plain `emit` stops at the first throw, so a buggy listener could hide events from
 * `waitFor` or from the Replicator.
 */
import { type EventEmitter } from 'eventemitter3';

import { type Logger, redactError } from '../logger.js';

/**
 * Calls each listener of `event` in its own try/catch, in registration order with `emitter` as
 * `this`; a throw is logged (redacted) and the other listeners still run.
 * @internal
 */
export function emitSafely(
  emitter: EventEmitter,
  event: string,
  args: readonly unknown[],
  logger: Logger,
  fields: Record<string, unknown>
): void {
  for (const listener of emitter.listeners(event)) {
    // Removes the listener only if it was added with once(), as emit() would, before the call.
    emitter.removeListener(event, listener, undefined, true);
    try {
      (listener as (...a: unknown[]) => void).apply(emitter, [...args]);
    } catch (listenerError) {
      logger.error(`A listener for '${event}' threw; carrying on`, {
        ...fields,
        listenerError: redactError(listenerError)
      });
    }
  }
}
