/**
 * The events of the {@link CatalogCopier} and their payloads.
 */

/**
 * Payload of the `created` event: the copier created something on the target.
 * @public
 */
export interface CatalogCreatedEvent {
  /** What was created. A time-series collection is a `'collection'`. */
  readonly kind: 'collection' | 'view' | 'index';
  /** The target namespace (for an index, the collection it was built on). */
  readonly namespace: string;
  /** The index name; only for `kind: 'index'`. */
  readonly name?: string;
}

/**
 * Payload of the `dropped` event: the copier dropped a target collection or view before
 * recreating it (policy `onExistingTarget: 'drop'`).
 * @public
 */
export interface CatalogDroppedEvent {
  /** What was dropped. */
  readonly kind: 'collection' | 'view';
  /** The target namespace. */
  readonly namespace: string;
  /** Why: it held documents, or it had other options than the source. */
  readonly reason: 'notEmpty' | 'incompatible';
}

/**
 * Events of the {@link CatalogCopier}.
 * @public
 */
export interface CatalogCopierEvents {
  /** A collection, view or index was created on the target (not emitted for what existed). */
  created: (event: CatalogCreatedEvent) => void;
  /** A target collection or view was dropped, to be recreated from the source. */
  dropped: (event: CatalogDroppedEvent) => void;
}
