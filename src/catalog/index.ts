/**
 * The catalog copier's public surface, re-exported in one place so the rest of the library (and
 * `src/index.ts`) imports it from one module.
 */
export { CatalogCopier, type PrepareCollectionsOptions } from './catalog-copier.js';
export {
  type CatalogCopierEvents,
  type CatalogCreatedEvent,
  type CatalogDroppedEvent
} from './catalog-copier-events.js';
export {
  catalogCopierDefaults,
  type CatalogCopierOptions,
  type ResolvedCatalogCopierOptions
} from './catalog-copier-options.js';
export {
  type CatalogEntry,
  type SourceCatalog,
  type SourceCollection,
  type SourceView
} from './source-catalog.js';
export { type OnExistingTarget } from './target-plan.js';
