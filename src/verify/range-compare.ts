/**
 * Compares one `_id` range: the source's and the target's documents arrive as two streams sorted
 * by `_id` (both sides read the same range the same way), and are merged like the two halves of
 * a merge sort. Only the two current documents are held, so a range of any size fits in memory.
 *
 * Documents with equal `_id`s are equal when their raw BSON bytes are: same fields in the same
 * order with the same types (Int32 1 and Double 1.0 differ, so do `{a, b}` and `{b, a}`).
 */
import { compareRawValues } from '../bson/bson-order.js';
import { rawId, type RawValue } from '../bson/raw-bson.js';

/**
 * How a document differs on the target: `missing` (only the source has its `_id`), `extra`
 * (only the target has it) or `different` (both have it, with other contents).
 * @public
 */
export type MismatchKind = 'missing' | 'extra' | 'different';

/**
 * What comparing one range found.
 * @internal
 */
export interface RangeComparison {
  /** Source documents read. */
  readonly sourceDocuments: number;
  /** Target documents read. */
  readonly targetDocuments: number;
  readonly missing: number;
  readonly extra: number;
  readonly different: number;
  /** True when the comparison stopped at the first mismatch (`stopAtFirstMismatch`). */
  readonly stoppedEarly: boolean;
}

/**
 * How {@link compareSortedDocuments} runs.
 * @internal
 */
export interface CompareOptions {
  /** Called for each mismatch, with the `_id` as stored (on the source, or the target for extras). */
  readonly onMismatch?: (kind: MismatchKind, id: RawValue) => void;
  /** Stop reading at the first mismatch (when the range will be read again anyway). */
  readonly stopAtFirstMismatch?: boolean;
  /** Checked between documents. */
  readonly signal?: AbortSignal;
}

/**
 * A stream that is not in `_id` order: the server's order and {@link compareRawValues} disagree,
 * or a document has no `_id`. The merge cannot be trusted, so the comparison stops.
 * @internal
 */
export class UnorderedStreamError extends Error {
  constructor(
    readonly side: 'source' | 'target',
    reason: string
  ) {
    super(reason);
  }

  override get name(): string {
    return 'UnorderedStreamError';
  }
}

/** A stream's current document and the `_id` it holds. */
interface Head {
  readonly document: Uint8Array;
  readonly id: RawValue;
}

/** Reads a stream one document at a time and checks its `_id`s never go down. */
class SortedStream {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #previous: RawValue | undefined;
  count = 0;

  constructor(
    documents: AsyncIterable<Uint8Array>,
    readonly side: 'source' | 'target'
  ) {
    this.#iterator = documents[Symbol.asyncIterator]();
  }

  async next(): Promise<Head | undefined> {
    const { done, value } = await this.#iterator.next();
    if (done === true) return undefined;
    const id = rawId(value);
    if (id === undefined) throw new UnorderedStreamError(this.side, 'a document has no _id');
    // Equal _ids can follow each other only where no unique _id index exists (time series).
    if (this.#previous !== undefined && compareRawValues(this.#previous, id) > 0) {
      throw new UnorderedStreamError(
        this.side,
        'documents did not arrive in the _id order mongo-replicate expects'
      );
    }
    this.#previous = id;
    this.count++;
    return { document: value, id };
  }

  async close(): Promise<void> {
    await this.#iterator.return?.();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * Merges the two sorted streams and reports every mismatch.
 *
 * @param source - The source's documents of the range, raw, in `_id` order.
 * @param target - The target's documents of the same range, raw, in `_id` order.
 * @throws {@link UnorderedStreamError} when a stream is not in `_id` order
 * @internal
 */
export async function compareSortedDocuments(
  source: AsyncIterable<Uint8Array>,
  target: AsyncIterable<Uint8Array>,
  options: CompareOptions = {}
): Promise<RangeComparison> {
  const left = new SortedStream(source, 'source');
  const right = new SortedStream(target, 'target');
  const tally = { missing: 0, extra: 0, different: 0 };
  const report = (kind: MismatchKind, id: RawValue): boolean => {
    tally[kind]++;
    options.onMismatch?.(kind, id);
    return options.stopAtFirstMismatch === true;
  };
  let stoppedEarly = false;
  try {
    let s = await left.next();
    let t = await right.next();
    while (s !== undefined || t !== undefined) {
      options.signal?.throwIfAborted();
      const order = s === undefined ? 1 : t === undefined ? -1 : compareRawValues(s.id, t.id);
      const kind: MismatchKind | undefined =
        order < 0
          ? 'missing'
          : order > 0
            ? 'extra'
            : sameBytes(s!.document, t!.document)
              ? undefined
              : 'different';
      if (kind !== undefined && report(kind, order > 0 ? t!.id : s!.id)) {
        stoppedEarly = true;
        break;
      }
      if (order <= 0) s = await left.next();
      if (order >= 0) t = await right.next();
    }
  } finally {
    await Promise.allSettled([left.close(), right.close()]);
  }
  return {
    sourceDocuments: left.count,
    targetDocuments: right.count,
    ...tally,
    stoppedEarly
  };
}
