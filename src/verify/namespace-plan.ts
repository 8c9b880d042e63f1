/**
 * Which namespaces the verifier compares, paired source with target: every collection and view
 * the filter selects on the source, with its target namespace (which may be missing), plus the
 * target namespaces the filter maps a source name onto although the source has no such
 * namespace (their documents are all extra).
 */
import { type SourceCatalog, type SourceCollection, type SourceView } from '../catalog/index.js';
import { mongoCheckpointStoreDefaults } from '../checkpoint/mongo-checkpoint-store.js';
import { splitNamespace } from '../namespace/namespace.js';
import { type NamespaceFilter } from '../namespace/namespace-filter.js';
import { type TargetNamespace } from './target-catalog.js';

/**
 * One namespace to compare.
 * @internal
 */
export interface NamespacePair {
  /** The source namespace (for a target-only one, the source name the filter maps onto it). */
  readonly source: string;
  readonly target: string;
  readonly kind: 'collection' | 'view';
  /** The source collection or view, when the source has it. */
  readonly sourceEntry: SourceCollection | SourceView | undefined;
  /** The target namespace, when the target has it. */
  readonly targetEntry: TargetNamespace | undefined;
}

/**
 * What the pairing needs besides the two catalogs.
 * @internal
 */
export interface PairingContext {
  readonly filter: Pick<NamespaceFilter, 'map'>;
  /** Databases the source has (to find the source name of a target-only namespace). */
  readonly sourceDatabases: readonly string[];
  /** Rename rules, when known, to find a source name renamed onto a target-only namespace. */
  readonly renameRules: Readonly<Record<string, string>>;
}

/**
 * Pairs source and target namespaces: source collections, then source views, then target-only
 * namespaces, each group in listing order.
 *
 * @remarks
 * The target database of the default checkpoint store (`mongo_replicate`) holds the
 * replicator's own state, so its target-only collections are not reported.
 * @internal
 */
export function pairNamespaces(
  catalog: SourceCatalog,
  targets: ReadonlyMap<string, TargetNamespace>,
  context: PairingContext
): NamespacePair[] {
  const pairs: NamespacePair[] = [];
  for (const entry of [...catalog.collections, ...catalog.views]) {
    pairs.push({
      source: entry.sourceNs,
      target: entry.targetNs,
      kind: entry.type === 'view' ? 'view' : 'collection',
      sourceEntry: entry,
      targetEntry: targets.get(entry.targetNs)
    });
  }
  const paired = new Set(pairs.map(pair => pair.target));
  for (const [ns, targetEntry] of targets) {
    if (paired.has(ns)) continue;
    if (splitNamespace(ns).db === mongoCheckpointStoreDefaults.database) continue;
    const source = sourceNameOf(ns, context);
    if (source === undefined) continue;
    pairs.push({
      source,
      target: ns,
      kind: targetEntry.type === 'view' ? 'view' : 'collection',
      sourceEntry: undefined,
      targetEntry
    });
  }
  return pairs;
}

/**
 * A source namespace the filter maps onto `target`, or `undefined`. Tried: the sources of the
 * rename rules that point at it, `target` itself, and the same collection name in every source
 * database (database renames of a filter given as an instance, whose rules are not known).
 */
function sourceNameOf(target: string, context: PairingContext): string | undefined {
  const { db, coll } = splitNamespace(target);
  // The most specific first: a collection rule, then a database rule, then no rename.
  const byCollectionRule: string[] = [];
  const byDatabaseRule: string[] = [];
  for (const [from, to] of Object.entries(context.renameRules)) {
    const fromDb = databaseRule(from);
    if (fromDb === undefined) {
      if (to === target) byCollectionRule.push(from);
    } else if (databaseRule(to) === db) {
      byDatabaseRule.push(`${fromDb}.${coll}`);
    }
  }
  const candidates = [
    ...byCollectionRule,
    ...byDatabaseRule,
    target,
    ...context.sourceDatabases.map(sourceDb => `${sourceDb}.${coll}`)
  ];
  return candidates.find(candidate => mapSafely(context.filter, candidate) === target);
}

/** `'a.*'` or `'a'` → `'a'`; a collection rule → undefined. */
function databaseRule(text: string): string | undefined {
  if (text.endsWith('.*')) return text.slice(0, -2);
  return text.includes('.') ? undefined : text;
}

/** A candidate may not be a valid namespace at all; then nothing maps from it. */
function mapSafely(filter: Pick<NamespaceFilter, 'map'>, ns: string): string | null {
  try {
    return filter.map(ns);
  } catch {
    return null;
  }
}
