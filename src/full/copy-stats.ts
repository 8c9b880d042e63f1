/**
 * Per-namespace counters of the full copy, and the `progress` events built from them.
 */
import { type CopyProgressEvent, type CopyTotals } from './collection-executor-options.js';

/** Rates are measured over windows of at least this long, so one fast chunk does not spike them. */
const RATE_WINDOW_MS = 1000;

/**
 * Documents, bytes and ranges copied into one target namespace, with rates.
 * @internal
 */
export class NamespaceCopyStats {
  /** What every namespace of the copy has counted together (shared, kept as they count). */
  readonly #overall: OverallCopyCounts;
  documents = 0;
  bytes = 0;
  replaced = 0;
  rangesDone = 0;
  rangesTotal = 0;
  estimatedDocuments = 0;
  readonly #started = performance.now();
  #window = { at: performance.now(), documents: 0, bytes: 0 };
  #rates = { documents: 0, bytes: 0 };

  constructor(
    readonly sourceNs: string,
    readonly targetNs: string,
    overall: OverallCopyCounts
  ) {
    this.#overall = overall;
  }

  /** Counts one more range of `estimatedDocuments` documents. */
  addRange(estimatedDocuments: number): void {
    this.rangesTotal++;
    this.estimatedDocuments += estimatedDocuments;
    this.#overall.estimatedDocuments += estimatedDocuments;
  }

  /** Counts a written chunk. */
  record(documents: number, bytes: number, replaced: number): void {
    this.documents += documents;
    this.#overall.documents += documents;
    this.bytes += bytes;
    this.replaced += replaced;
    const now = performance.now();
    const elapsed = now - this.#window.at;
    if (elapsed >= RATE_WINDOW_MS) {
      this.#rates = {
        documents: ((this.documents - this.#window.documents) * 1000) / elapsed,
        bytes: ((this.bytes - this.#window.bytes) * 1000) / elapsed
      };
      this.#window = { at: now, documents: this.documents, bytes: this.bytes };
    }
  }

  /** Counts a finished range. */
  rangeDone(): void {
    this.rangesDone++;
  }

  /** The `progress` event for the current counts; `overall` covers every namespace. */
  event(overall: CopyTotals): CopyProgressEvent {
    const elapsedMs = performance.now() - this.#started;
    // Until a full window has passed, the average since the start is the best estimate.
    const early = this.#rates.documents === 0 && elapsedMs > 0;
    const countPerSecond = early ? (this.documents * 1000) / elapsedMs : this.#rates.documents;
    return {
      stage: 'collection-executor',
      phase: 'full',
      sourceNs: this.sourceNs,
      namespace: this.targetNs,
      count: this.documents,
      documents: this.documents,
      bytes: this.bytes,
      replaced: this.replaced,
      countPerSecond,
      bytesPerSecond: early ? (this.bytes * 1000) / elapsedMs : this.#rates.bytes,
      elapsedMs,
      estimatedDocuments: this.estimatedDocuments,
      rangesDone: this.rangesDone,
      rangesTotal: this.rangesTotal,
      etaMs: eta(this.estimatedDocuments - this.documents, countPerSecond),
      overall
    };
  }
}

/** Milliseconds to copy `remaining` documents at `perSecond`; undefined without a rate. */
function eta(remaining: number, perSecond: number): number | undefined {
  if (!(perSecond > 0)) return undefined;
  return (Math.max(0, remaining) * 1000) / perSecond;
}

/**
 * The documents copied and estimated over every namespace, kept as each namespace counts: a
 * progress event then costs the same whatever the number of namespaces.
 * @internal
 */
export interface OverallCopyCounts {
  documents: number;
  estimatedDocuments: number;
}

/**
 * The counts of every namespace together, with an ETA at the average rate since `startedAt`.
 * @internal
 */
export function copyTotals(overall: Readonly<OverallCopyCounts>, startedAt: number): CopyTotals {
  const { documents, estimatedDocuments } = overall;
  const seconds = (performance.now() - startedAt) / 1000;
  return {
    documents,
    estimatedDocuments,
    etaMs: eta(estimatedDocuments - documents, seconds > 0 ? documents / seconds : 0)
  };
}
