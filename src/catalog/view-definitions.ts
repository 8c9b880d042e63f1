/**
 * Views on the target: in which order to create them (a view on a view after the view it reads)
 * and which collection each one reads there once the filter has renamed things.
 */
import { InvalidConfigError } from '../errors.js';
import { splitNamespace } from '../namespace/namespace.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import { type SourceView } from './source-catalog.js';

/**
 * `views` reordered so that every view comes after the view it is defined on, when that one is
 * in the list too; otherwise the order is kept.
 *
 * @remarks
 * mongod refuses view cycles, so there are none to break; should a list still hold one (views
 * changed while they were listed), its members keep their relative order rather than loop.
 * @internal
 */
export function orderViews<View extends Pick<SourceView, 'sourceNs' | 'options'>>(
  views: readonly View[]
): View[] {
  const byNs = new Map<string, View>(views.map(view => [view.sourceNs, view]));
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const ordered: View[] = [];
  const place = (view: View): void => {
    if (placed.has(view.sourceNs) || visiting.has(view.sourceNs)) return;
    visiting.add(view.sourceNs);
    const base = byNs.get(viewOnNamespace(view));
    if (base !== undefined) place(base);
    visiting.delete(view.sourceNs);
    placed.add(view.sourceNs);
    ordered.push(view);
  };
  for (const view of views) place(view);
  return ordered;
}

/** The source namespace a view reads: `viewOn` is a collection name in the view's database. */
function viewOnNamespace(view: Pick<SourceView, 'sourceNs' | 'options'>): string {
  return `${splitNamespace(view.sourceNs).db}.${String(view.options.viewOn)}`;
}

/**
 * What a view reads on the target.
 * @internal
 */
export interface TargetViewOn {
  /** The `viewOn` to create the target view with (a collection name in its database). */
  readonly viewOn: string;
  /**
   * True when the filter does not copy what the view reads; the view is still created, on the
   * same name in its target database, and reads whatever is (or later appears) there.
   */
  readonly excluded: boolean;
}

/**
 * The `viewOn` of `view` on the target: the filter's name for the collection (or view) it reads.
 *
 * @throws {@link InvalidConfigError} (field `filter.rename`) when the rename rules move the
 * view and what it reads into different databases, which mongod cannot express
 * @internal
 */
export function targetViewOn(
  view: Pick<SourceView, 'sourceNs' | 'targetNs' | 'options'>,
  filter: Pick<NamespaceFilter, 'map'>
): TargetViewOn {
  const viewOn = String(view.options.viewOn);
  const targetDb = splitNamespace(view.targetNs).db;
  const mapped = filter.map(viewOnNamespace(view));
  if (mapped === null) return { viewOn, excluded: true };
  const target = splitNamespace(mapped);
  if (target.db !== targetDb) {
    throw new InvalidConfigError(
      'filter.rename',
      `view ${view.sourceNs} becomes ${view.targetNs}, but the ${viewOn} it reads becomes ${mapped}; a view and what it reads must stay in one database, so rename them into the same one`
    );
  }
  return { viewOn: target.coll, excluded: false };
}
