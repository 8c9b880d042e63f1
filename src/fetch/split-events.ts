/**
 * Reassembly of change events that `$changeStreamSplitLargeEvent` cut into fragments because
 * they exceed 16 MiB: every fragment carries some of the event's top-level fields and
 * `splitEvent: {fragment, of}`; together they are the event. The last fragment's `_id` is the
 * token to resume after the whole event.
 */
import { type Document } from 'mongodb';

import { UnsupportedOplogEntryError } from '../errors.js';
import { isDocument, numberOf } from '../oplog/oplog-entry.js';

/**
 * Joins fragments of split change events back into whole events.
 * @internal
 */
export class SplitEventAssembler {
  #fragments: Document[] = [];

  /** True while fragments of an event wait for the rest. */
  get pending(): boolean {
    return this.#fragments.length > 0;
  }

  /**
   * Takes the next event of the stream: returns it when whole, `undefined` while it waits for
   * more fragments.
   * @throws {@link UnsupportedOplogEntryError} when fragments arrive out of order
   */
  add(event: Document): Document | undefined {
    const split: unknown = event.splitEvent;
    if (split === undefined) {
      if (this.pending) throw this.#broken('a whole event arrived between fragments');
      return event;
    }
    const fragment = isDocument(split) ? numberOf(split.fragment) : undefined;
    const of = isDocument(split) ? numberOf(split.of) : undefined;
    if (fragment === undefined || of === undefined || fragment !== this.#fragments.length + 1) {
      throw this.#broken(`fragment ${String(fragment)} of ${String(of)} arrived out of order`);
    }
    this.#fragments.push(event);
    if (fragment < of) return undefined;
    const whole: Document = {};
    for (const part of this.#fragments) {
      for (const [key, value] of Object.entries(part)) {
        if (key !== 'splitEvent') whole[key] = value;
      }
    }
    this.#fragments = [];
    return whole;
  }

  /** Forgets a partial event (a re-opened stream reads all its fragments again). */
  discard(): void {
    this.#fragments = [];
  }

  #broken(what: string): UnsupportedOplogEntryError {
    this.#fragments = [];
    return new UnsupportedOplogEntryError(
      `A split change event is incomplete: ${what}`,
      undefined,
      {
        hint: 'Restart replication; the stream resumes before the split event'
      }
    );
  }
}
