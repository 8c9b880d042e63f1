/**
 * What the {@link Verifier} reports: one {@link NamespaceReport} per compared namespace, the
 * whole {@link VerificationReport}, and the payloads of its events.
 */
import { type MismatchKind } from './range-compare.js';

export { type MismatchKind } from './range-compare.js';

/**
 * How the collection options (or a view's definition) of a namespace compare.
 * @public
 */
export interface OptionsComparison {
  /** True when nothing differs. */
  readonly equal: boolean;
  /**
   * What differs: option names as the catalog copier compares them (`capped`, `validator`,
   * `collation`, `viewOn`, `pipeline`, …), `type` when one side is a view and the other a
   * collection (or a time-series collection), or `exists` when only one side has the namespace.
   */
  readonly differences: string[];
}

/**
 * How the indexes of a namespace compare, by index name (the built-in `_id` index is not
 * compared, as the catalog copier does not copy it).
 * @public
 */
export interface IndexesComparison {
  /** True when both sides have the same indexes with the same specs. */
  readonly equal: boolean;
  /** Indexes of the source that the target lacks. */
  readonly missing: string[];
  /** Indexes of the target that the source lacks. */
  readonly extra: string[];
  /** Indexes both have, with other keys or options. */
  readonly different: string[];
}

/**
 * The comparison of one namespace.
 * @public
 */
export interface NamespaceReport {
  /**
   * The source namespace, `db.coll`. For a target namespace with no source, the source name
   * the filter maps onto it.
   */
  readonly source: string;
  /** The target namespace (the source's after the filter's renames). */
  readonly target: string;
  /** `view` for a view (compared by definition only), else `collection`. */
  readonly kind: 'collection' | 'view';
  /** True when options, indexes and every document are equal. */
  readonly equal: boolean;
  /** Documents compared on each side. */
  readonly counts: { readonly source: number; readonly target: number };
  /** Source documents whose `_id` the target lacks. */
  readonly missing: number;
  /** Target documents whose `_id` the source lacks. */
  readonly extra: number;
  /** Documents on both sides whose bytes differ (values, types or field order). */
  readonly different: number;
  /**
   * Up to `sampleLimit` `_id`s of each kind, with their exact BSON types (EJSON-able), in the
   * order they were found.
   */
  readonly samples: {
    readonly missing: unknown[];
    readonly extra: unknown[];
    readonly different: unknown[];
  };
  /** Collection options or view definition. */
  readonly options: OptionsComparison;
  /** Indexes, by name. */
  readonly indexes: IndexesComparison;
  /** `_id` ranges the documents were compared in. */
  readonly ranges: number;
  /** How many times a mismatching range was read again after the target caught up. */
  readonly rechecked: number;
}

/**
 * The result of {@link Verifier.verify}.
 * @public
 */
export interface VerificationReport {
  /** True when every namespace is equal. */
  readonly equal: boolean;
  /** When the verification started. */
  readonly startedAt: Date;
  /** How long it took, in milliseconds. */
  readonly durationMs: number;
  /** Every compared namespace: source collections, then views, then target-only namespaces. */
  readonly namespaces: NamespaceReport[];
}

/**
 * Payload of the `progress` event: a range of a namespace was compared.
 * @public
 */
export interface VerifyProgressEvent {
  /** The source namespace. */
  readonly namespace: string;
  /** Ranges of the namespace compared so far. */
  readonly rangesDone: number;
  /** Ranges of the namespace. */
  readonly rangesTotal: number;
  /** Distinct `_id`s compared so far in the namespace (source documents plus extras). */
  readonly documents: number;
}

/**
 * Payload of the `mismatch` event: one document differs. Only final results are emitted: a range
 * that is rechecked reports the mismatches of its last reading.
 * @public
 */
export interface DocumentMismatchEvent {
  /** The source namespace. */
  readonly namespace: string;
  /** How the document differs. */
  readonly kind: MismatchKind;
  /** Its `_id`, with its exact BSON type. */
  readonly id: unknown;
}

/**
 * Events of {@link Verifier}.
 * @public
 */
export interface VerifierEvents {
  /** A range was compared. */
  progress: (event: VerifyProgressEvent) => void;
  /** A document differs (final results only). */
  mismatch: (event: DocumentMismatchEvent) => void;
  /** A namespace is done; its report. */
  namespace: (report: NamespaceReport) => void;
}
