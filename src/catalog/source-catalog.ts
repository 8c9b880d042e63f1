/**
 * What the catalog copier reads from the source: every selected collection and view with its
 * options and indexes, as `listCollections` and `listIndexes` report them (exact BSON types).
 */
import { type Binary, type Document } from 'mongodb';

/**
 * A source collection (ordinary or time-series) the filter selects.
 * @public
 */
export interface SourceCollection {
  /** The source namespace, `db.collection`. */
  readonly sourceNs: string;
  /** Where it is copied to, as the filter renames it. */
  readonly targetNs: string;
  /** `'timeseries'` for a time-series collection (its data lives in `system.buckets.<name>`). */
  readonly type: 'collection' | 'timeseries';
  /** The `options` document of its `listCollections` entry, with exact BSON types. */
  readonly options: Readonly<Document>;
  /** The collection's UUID on the source, when the source reports one. */
  readonly uuid?: Binary;
  /** The `idIndex` of its `listCollections` entry (absent for clustered and time-series). */
  readonly idIndex?: Readonly<Document>;
  /** Its `listIndexes` specs, `_id` index included, with exact BSON types. */
  readonly indexes: readonly Document[];
}

/**
 * A source view the filter selects.
 * @public
 */
export interface SourceView {
  /** The source namespace, `db.view`. */
  readonly sourceNs: string;
  /** Where it is created, as the filter renames it. */
  readonly targetNs: string;
  /** Always `'view'`. */
  readonly type: 'view';
  /** `{ viewOn, pipeline, collation? }` as `listCollections` reports them. */
  readonly options: Readonly<Document>;
  /** Views have no UUID. */
  readonly uuid?: undefined;
  /** Views have no indexes: always empty. */
  readonly indexes: readonly Document[];
}

/**
 * One selected source namespace: a collection, a time-series collection or a view.
 * @public
 */
export type CatalogEntry = SourceCollection | SourceView;

/**
 * The part of the source catalog the filter selects.
 * @public
 */
export interface SourceCatalog {
  /** Ordinary and time-series collections, database by database. */
  readonly collections: readonly SourceCollection[];
  /** Views, ordered so that a view defined on another view comes after it. */
  readonly views: readonly SourceView[];
}
