/**
 * The running totals of one namespace while its ranges are compared (in parallel), turned into
 * its {@link NamespaceReport} when the last range is done.
 */
import { type NamespacePair } from './namespace-plan.js';
import { type MismatchKind, type RangeComparison } from './range-compare.js';
import {
  type IndexesComparison,
  type NamespaceReport,
  type OptionsComparison
} from './verification-report.js';

/**
 * Counts, samples and range progress of one namespace.
 * @internal
 */
export class NamespaceTally {
  readonly #pair: NamespacePair;
  readonly #sampleLimit: number;
  readonly #options: OptionsComparison;
  readonly #indexes: IndexesComparison;
  readonly #samples: Record<MismatchKind, unknown[]> = { missing: [], extra: [], different: [] };
  #sourceDocuments = 0;
  #targetDocuments = 0;
  #missing = 0;
  #extra = 0;
  #different = 0;
  #rechecked = 0;
  #rangesDone = 0;
  /** Ranges to compare; 0 for a view. */
  rangesTotal = 0;

  constructor(
    pair: NamespacePair,
    catalog: { readonly options: OptionsComparison; readonly indexes: IndexesComparison },
    sampleLimit: number
  ) {
    this.#pair = pair;
    this.#options = catalog.options;
    this.#indexes = catalog.indexes;
    this.#sampleLimit = sampleLimit;
  }

  /** The source namespace. */
  get namespace(): string {
    return this.#pair.source;
  }

  get rangesDone(): number {
    return this.#rangesDone;
  }

  /** Distinct `_id`s compared so far: source documents plus extras. */
  get documents(): number {
    return this.#sourceDocuments + this.#extra;
  }

  get done(): boolean {
    return this.#rangesDone >= this.rangesTotal;
  }

  /** True when `kind` still has room for a sample (so the `_id` is worth decoding). */
  wantsSample(kind: MismatchKind): boolean {
    return this.#samples[kind].length < this.#sampleLimit;
  }

  addSample(kind: MismatchKind, id: unknown): void {
    if (this.wantsSample(kind)) this.#samples[kind].push(id);
  }

  /** A range's final comparison, after `rechecks` re-readings. */
  addRange(result: RangeComparison, rechecks: number): void {
    this.#sourceDocuments += result.sourceDocuments;
    this.#targetDocuments += result.targetDocuments;
    this.#missing += result.missing;
    this.#extra += result.extra;
    this.#different += result.different;
    this.#rechecked += rechecks;
    this.#rangesDone++;
  }

  report(): NamespaceReport {
    const documentsEqual = this.#missing === 0 && this.#extra === 0 && this.#different === 0;
    return {
      source: this.#pair.source,
      target: this.#pair.target,
      kind: this.#pair.kind,
      equal: documentsEqual && this.#options.equal && this.#indexes.equal,
      counts: { source: this.#sourceDocuments, target: this.#targetDocuments },
      missing: this.#missing,
      extra: this.#extra,
      different: this.#different,
      samples: {
        missing: [...this.#samples.missing],
        extra: [...this.#samples.extra],
        different: [...this.#samples.different]
      },
      options: this.#options,
      indexes: this.#indexes,
      ranges: this.rangesTotal,
      rechecked: this.#rechecked
    };
  }
}
