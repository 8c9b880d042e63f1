/**
 * NamespaceFilter: which source namespaces are replicated and under which target names.
 *
 * Decision order for one namespace (first match wins):
 *
 * 1. `local.*` and `*.system.views` are never replicated. `local` is per node (mongod never
 *    replicates it) and views travel as `create`/`collMod` DDL entries, so copying
 *    `system.views` as documents would define every view twice.
 * 2. An `exclude` pattern matches: rejected (exclude beats include).
 * 3. A system namespace (database `admin` or `config`, or a `system.*` collection such as
 *    `system.js`) is rejected unless `includeSystem` is set, or an `include` entry names it
 *    exactly without wildcards (`'shop.system.js'`): an explicit name is a clear opt-in, a
 *    wildcard is not.
 * 4. An empty (or absent) `include` accepts everything; otherwise some `include` must match.
 *
 * Renames are applied to accepted namespaces only: a collection rule (`'a.b': 'c.d'`) beats a
 * database rule (`'a.*': 'c.*'`, also written `'a': 'c'`). Collisions the constructor can see are
 * rejected (two rules with one target; a collection renamed into a database that a database
 * rule fills from another source). Collisions that depend on which namespaces exist on the
 * source (a rename target that also exists there under its own name, or `'a.*': 'c.*'` with
 * `'a.x': 'c.y'` when `a.y` exists) need the source catalog and are left to the caller.
 */
import { InvalidConfigError } from '../errors.js';
import { OptionReader } from '../options/option-reader.js';
import {
  collectionNameProblem,
  databaseNameProblem,
  parseNamespace,
  splitNamespace,
  validateDatabaseName
} from './namespace.js';
import { OperationFilter, type SkippableOperation } from './operation-filter.js';

/**
 * Which namespaces to replicate and how to rename them.
 *
 * @remarks
 * String patterns: `db` or `db.*` (every collection of a database), `db.coll`, `*.coll` (that
 * collection in every database), `*` (everything) and `*` inside a part as a glob
 * (`shop.tmp_*`). A `*` is always a wildcard, so a collection literally named `*` cannot be
 * addressed by a string pattern; use a RegExp. A RegExp is tested against the full `db.coll`
 * (its `g` and `y` flags are dropped, because they make `test()` stateful).
 * @public
 */
export interface NamespaceFilterOptions {
  /**
   * Namespaces to replicate. Empty means every non-system namespace.
   * @defaultValue `[]`
   */
  include?: readonly (string | RegExp)[];
  /**
   * Namespaces to skip; an exclude always beats an include.
   * @defaultValue `[]`
   */
  exclude?: readonly (string | RegExp)[];
  /**
   * Target names: `'a.b': 'c.d'` renames one collection, `'a.*': 'c.*'` (or `'a': 'c'`) a whole
   * database. The most specific rule wins.
   * @defaultValue `{}`
   */
  rename?: Readonly<Record<string, string>>;
  /**
   * Also replicate the `admin` and `config` databases and `system.*` collections (never `local`
   * nor `system.views`).
   * @defaultValue false
   */
  includeSystem?: boolean;
  /**
   * Operations incremental sync does not apply, in the namespaces it replicates: `'insert'`,
   * `'update'` (replacements too), `'delete'`, `'ddl'` (every command), or one DDL command by
   * name (`'drop'`, `'dropDatabase'`, `'renameCollection'`, `'createIndexes'`…). The full copy
   * is not affected (it copies what exists); a transaction's skipped operations are dropped and
   * the rest applied. The target then differs from the source on purpose: see
   * `docs/incremental-sync.md#skipping-operations`.
   * @defaultValue `[]`
   */
  skip?: readonly SkippableOperation[];
}

/**
 * The defaults {@link NamespaceFilter} applies to omitted options.
 * @public
 */
export const namespaceFilterDefaults = Object.freeze({
  include: Object.freeze([]) as readonly (string | RegExp)[],
  exclude: Object.freeze([]) as readonly (string | RegExp)[],
  rename: Object.freeze({}) as Readonly<Record<string, string>>,
  includeSystem: false,
  skip: Object.freeze([]) as readonly SkippableOperation[]
});

/** Databases that hold server state rather than user data. */
const SYSTEM_DATABASES: ReadonlySet<string> = new Set(['admin', 'config', 'local']);

/**
 * The database where mongo-replicate keeps its own state (checkpoints, fences): never
 * replicated, whatever the filter says, and never a rename target. A chain A → B → C, or a
 * failback B → A, would otherwise copy one replicator's checkpoints over another's.
 * @public
 */
export const REPLICATOR_DATABASE = 'mongo_replicate';
/** Distinct namespaces are few, so results are memoised; the bound only guards odd workloads. */
const CACHE_LIMIT = 100_000;

/** One compiled include/exclude pattern. */
interface Pattern {
  readonly text: string;
  /** Exact `db.coll` with no wildcard: the only form that opts a system namespace in. */
  readonly exact: string | undefined;
  matches(db: string, coll: string, ns: string): boolean;
  /** Every collection of `db` matches. */
  coversDatabase(db: string): boolean;
  /** Some collection of `db` may match. */
  mayMatchDatabase(db: string): boolean;
}

type PartMatcher = (part: string) => boolean;

const ANY: PartMatcher = () => true;

function globMatcher(glob: string): PartMatcher {
  if (glob === '*') return ANY;
  if (!glob.includes('*')) return part => part === glob;
  const source = glob
    .split('*')
    .map(piece => piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`, 's');
  return part => re.test(part);
}

function compilePattern(pattern: string | RegExp, field: string): Pattern {
  if (pattern instanceof RegExp) {
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    return {
      text: String(re),
      exact: undefined,
      matches: (_db, _coll, ns) => re.test(ns),
      coversDatabase: () => false,
      mayMatchDatabase: () => true
    };
  }
  if (typeof pattern !== 'string') {
    throw new InvalidConfigError(field, 'a pattern must be a string or a RegExp');
  }
  if (pattern === '*' || pattern === '*.*') {
    return {
      text: pattern,
      exact: undefined,
      matches: () => true,
      coversDatabase: () => true,
      mayMatchDatabase: () => true
    };
  }
  const { db: dbGlob, coll: collPart } = splitNamespace(pattern);
  const collGlob = pattern.includes('.') ? collPart : '*';
  // Validate the literal characters; a '*' stands for characters that are valid by definition.
  const dbProblem = databaseNameProblem(dbGlob.replaceAll('*', 'x'));
  if (dbProblem !== undefined) throw new InvalidConfigError(field, dbProblem);
  const collProblem = collectionNameProblem(collGlob.replaceAll('*', 'x'));
  if (collProblem !== undefined) throw new InvalidConfigError(field, collProblem);
  const dbMatches = globMatcher(dbGlob);
  const collMatches = globMatcher(collGlob);
  const wholeDatabase = collMatches === ANY;
  return {
    text: pattern,
    exact: pattern.includes('*') ? undefined : pattern,
    matches: (db, coll) => dbMatches(db) && collMatches(coll),
    coversDatabase: db => wholeDatabase && dbMatches(db),
    mayMatchDatabase: dbMatches
  };
}

function isSystem(db: string, coll: string): boolean {
  return SYSTEM_DATABASES.has(db) || coll.startsWith('system.');
}

/** `'a.*'` or `'a'` → `'a'`; anything else → undefined. */
function databaseRulePart(text: string): string | undefined {
  if (text.endsWith('.*')) return text.slice(0, -2);
  return text.includes('.') ? undefined : text;
}

/**
 * What a {@link NamespaceFilter} is told besides its options.
 * @public
 */
export interface NamespaceFilterContext {
  /**
   * Namespaces the replicator itself writes outside {@link REPLICATOR_DATABASE} (such as a
   * checkpoint collection placed elsewhere): never replicated, never a rename target.
   */
  readonly reservedNamespaces?: readonly string[];
  /**
   * Set when source and target are one deployment: {@link NamespaceFilter.map} then throws the
   * error this returns for a namespace that would be written where the filter reads (onto
   * itself, or onto another namespace the filter accepts).
   */
  readonly selfTargetError?: (ns: string, target: string) => Error;
}

/**
 * Decides which namespaces are replicated and maps them to their target names.
 *
 * @remarks
 * Pure and synchronous. Results are memoised per namespace, so the per-entry cost on the apply
 * path is one map lookup. The applier calls {@link NamespaceFilter.map} for every CRUD entry,
 * every op inside `applyOps`, and both sides of `renameCollection`.
 *
 * @example
 * ```ts
 * const filter = new NamespaceFilter({
 *   include: ['shop.*'],
 *   exclude: ['shop.tmp_*'],
 *   rename: { 'shop.*': 'shop_copy.*' }
 * });
 * filter.map('shop.orders'); // 'shop_copy.orders'
 * filter.map('shop.tmp_1'); // null
 * ```
 * @public
 */
export class NamespaceFilter {
  readonly #reserved: ReadonlySet<string>;
  readonly #selfTargetError: ((ns: string, target: string) => Error) | undefined;
  readonly #include: readonly Pattern[];
  readonly #exclude: readonly Pattern[];
  readonly #exactIncludes: ReadonlySet<string>;
  readonly #includeSystem: boolean;
  /** Source db → target db. */
  readonly #dbRenames = new Map<string, string>();
  /** Source ns → target ns. */
  readonly #collRenames = new Map<string, string>();
  /** Source dbs with a collection renamed into another database than the db's own image. */
  readonly #splitDatabases = new Set<string>();
  /** Target dbs that receive a collection renamed from another source database. */
  readonly #mixedTargets = new Set<string>();
  readonly #cache = new Map<string, string | null>();
  readonly #operations: OperationFilter;

  /**
   * Compiles and validates the options.
   * @throws {@link InvalidConfigError} for an invalid pattern, an invalid rename target, or
   * rename rules that would write two sources into one target.
   */
  constructor(options: NamespaceFilterOptions = {}, context: NamespaceFilterContext = {}) {
    this.#reserved = new Set(context.reservedNamespaces ?? []);
    this.#selfTargetError = context.selfTargetError;
    const reader = new OptionReader(options, 'filter');
    const patterns = (key: 'include' | 'exclude') =>
      reader.custom(key, (value, field) => {
        const list: unknown = value ?? namespaceFilterDefaults[key];
        if (!Array.isArray(list)) {
          throw new InvalidConfigError(field, 'expected an array of "db.coll" patterns');
        }
        return list.map((p: string | RegExp, i) => compilePattern(p, `${field}[${i}]`));
      });
    this.#include = patterns('include');
    this.#exclude = patterns('exclude');
    this.#exactIncludes = new Set(
      this.#include.flatMap(p => (p.exact !== undefined && p.exact.includes('.') ? [p.exact] : []))
    );
    this.#includeSystem = reader.boolean('includeSystem', namespaceFilterDefaults.includeSystem);
    const rename =
      reader.optionalDocument<Readonly<Record<string, string>>>(
        'rename',
        'an object of "source": "target" rules'
      ) ?? namespaceFilterDefaults.rename;
    this.#operations = reader.custom('skip', (value, field) => new OperationFilter(value, field));
    reader.done();
    this.#compileRenames(rename);
  }

  /** The operations `skip` names, without repeats. */
  get skipped(): readonly SkippableOperation[] {
    return this.#operations.skipped;
  }

  /** True when writes of this oplog kind (`'i'`, `'u'` or `'d'`) are not applied (`skip`). */
  skipsWrite(op: 'i' | 'u' | 'd'): boolean {
    return this.#operations.skipsWrite(op);
  }

  /**
   * True when this DDL command, as the oplog names it (`drop`, `commitIndexBuild`…), is not
   * applied (`skip`).
   */
  skipsCommand(command: string): boolean {
    return this.#operations.skipsCommand(command);
  }

  /**
   * True when `ns` (`db.coll`) is replicated.
   */
  accepts(ns: string): boolean {
    return this.map(ns) !== null;
  }

  /**
   * The target namespace for `ns`, or `null` when `ns` is filtered out.
   */
  map(ns: string): string | null {
    const cached = this.#cache.get(ns);
    if (cached !== undefined) return cached;
    const { db, coll } = splitNamespace(ns);
    const mapped = this.#accepts(db, coll, ns) ? this.#rename(db, coll, ns) : null;
    if (mapped !== null && this.#selfTargetError !== undefined) {
      const target = splitNamespace(mapped);
      if (mapped === ns || this.#accepts(target.db, target.coll, mapped)) {
        throw this.#selfTargetError(ns, mapped);
      }
    }
    if (this.#cache.size >= CACHE_LIMIT) this.#cache.clear();
    this.#cache.set(ns, mapped);
    return mapped;
  }

  /**
   * True when some collection of `db` may be replicated (it may still hold excluded ones).
   *
   * @remarks
   * A RegExp include is assumed to possibly match any database.
   */
  acceptsDatabase(db: string): boolean {
    if (db === 'local' || db === REPLICATOR_DATABASE) return false;
    if (this.#exclude.some(p => p.coversDatabase(db))) return false;
    if (SYSTEM_DATABASES.has(db) && !this.#includeSystem) {
      return [...this.#exactIncludes].some(ns => splitNamespace(ns).db === db);
    }
    return this.#include.length === 0 || this.#include.some(p => p.mayMatchDatabase(db));
  }

  /**
   * The target database for a `dropDatabase` on `db`, or `null` when the target must not drop a
   * whole database.
   *
   * @remarks
   * Returns a name only when the filter provably accepts every (non-system) collection of `db`
   * and maps all of them into one target database. It returns `null` when `db` is filtered out,
   * only partly included (a collection-level or RegExp include, any exclude that may match inside
   * it, a system database replicated only through exact includes), split by a collection rule
   * that renames one of its collections into another database, or when its target database also
   * receives a collection renamed from elsewhere (dropping it would destroy that collection). Returning `null` loses nothing:
   * since MongoDB 3.6 a `dropDatabase` is preceded in the oplog by one `drop` entry per
   * collection, and those are mapped one by one through {@link NamespaceFilter.map}.
   */
  mapDatabase(db: string): string | null {
    if (!this.acceptsDatabase(db)) return null;
    if (SYSTEM_DATABASES.has(db) && !this.#includeSystem) return null;
    if (this.#exclude.some(p => p.mayMatchDatabase(db))) return null;
    if (this.#include.length > 0 && !this.#include.some(p => p.coversDatabase(db))) return null;
    if (this.#splitDatabases.has(db)) return null;
    const target = this.#dbRenames.get(db) ?? db;
    return this.#mixedTargets.has(target) ? null : target;
  }

  /**
   * A one-line description for logs, such as
   * `include [shop.*] exclude [shop.tmp_*] rename {shop.* → shop_copy.*} system excluded`.
   */
  describe(): string {
    const list = (patterns: readonly Pattern[]) => patterns.map(p => p.text).join(', ');
    const renames = [
      ...[...this.#dbRenames].map(([from, to]) => `${from}.* → ${to}.*`),
      ...[...this.#collRenames].map(([from, to]) => `${from} → ${to}`)
    ];
    return [
      this.#include.length > 0 ? `include [${list(this.#include)}]` : 'include everything',
      this.#exclude.length > 0 ? `exclude [${list(this.#exclude)}]` : undefined,
      renames.length > 0 ? `rename {${renames.join(', ')}}` : undefined,
      this.#includeSystem ? 'system included' : 'system excluded',
      this.#operations.isEmpty ? undefined : `skip [${this.#operations.skipped.join(', ')}]`
    ]
      .filter(part => part !== undefined)
      .join(' ');
  }

  #accepts(db: string, coll: string, ns: string): boolean {
    if (db === 'local' || coll === 'system.views') return false;
    if (db === REPLICATOR_DATABASE || this.#reserved.has(ns)) return false;
    for (const p of this.#exclude) if (p.matches(db, coll, ns)) return false;
    if (!this.#includeSystem && isSystem(db, coll) && !this.#exactIncludes.has(ns)) return false;
    if (this.#include.length === 0) return true;
    for (const p of this.#include) if (p.matches(db, coll, ns)) return true;
    return false;
  }

  #rename(db: string, coll: string, ns: string): string {
    const exact = this.#collRenames.get(ns);
    if (exact !== undefined) return exact;
    const targetDb = this.#dbRenames.get(db);
    return targetDb === undefined ? ns : `${targetDb}.${coll}`;
  }

  #compileRenames(rename: Readonly<Record<string, string>>): void {
    const dbTargets = new Map<string, string>(); // target db → source rule text
    const collTargets = new Map<string, string>(); // target ns → source ns
    for (const [source, target] of Object.entries(rename)) {
      const field = `filter.rename[${JSON.stringify(source)}]`;
      if (typeof target !== 'string') {
        throw new InvalidConfigError(field, 'a rename target must be a string');
      }
      const sourceDb = databaseRulePart(source);
      const targetDb = databaseRulePart(target);
      if (sourceDb !== undefined) {
        if (targetDb === undefined) {
          throw new InvalidConfigError(
            field,
            `database rule ${JSON.stringify(source)} must map to a database ("db.*" or "db"), got ${JSON.stringify(target)}`
          );
        }
        validateDatabaseName(sourceDb, field);
        validateDatabaseName(targetDb, field);
        this.#checkRenameTarget(field, targetDb, undefined);
        const previous = dbTargets.get(targetDb);
        if (previous !== undefined) {
          throw new InvalidConfigError(
            field,
            `${JSON.stringify(previous)} and ${JSON.stringify(source)} both rename into database ${JSON.stringify(targetDb)}; two sources may not share one target`
          );
        }
        dbTargets.set(targetDb, source);
        if (sourceDb !== targetDb) this.#dbRenames.set(sourceDb, targetDb);
        continue;
      }
      if (targetDb !== undefined) {
        throw new InvalidConfigError(
          field,
          `collection rule ${JSON.stringify(source)} must map to a "db.collection" namespace, got ${JSON.stringify(target)}`
        );
      }
      if (source.includes('*') || target.includes('*')) {
        throw new InvalidConfigError(
          field,
          'rename rules take exact namespaces or "db.*"; wildcards elsewhere are not supported'
        );
      }
      parseNamespace(source, field);
      const parsedTarget = parseNamespace(target, field);
      this.#checkRenameTarget(field, parsedTarget.db, parsedTarget.coll);
      const previous = collTargets.get(target);
      if (previous !== undefined) {
        throw new InvalidConfigError(
          field,
          `${JSON.stringify(previous)} and ${JSON.stringify(source)} both rename to ${JSON.stringify(target)}; two sources may not share one target`
        );
      }
      collTargets.set(target, source);
      if (source !== target) this.#collRenames.set(source, target);
    }
    this.#checkCollectionRulesAgainstDatabaseRules();
  }

  /**
   * Renames never write into the server's own databases, system collections, or what the
   * replicator itself writes: a rename there would overwrite users, the oplog, sharding metadata
   * or another replicator's checkpoints.
   */
  #checkRenameTarget(field: string, db: string, coll: string | undefined): void {
    const ns = coll === undefined ? undefined : `${db}.${coll}`;
    let why: string | undefined;
    if (SYSTEM_DATABASES.has(db)) why = `database ${JSON.stringify(db)} belongs to the server`;
    else if (db === REPLICATOR_DATABASE)
      why = `database ${JSON.stringify(db)} holds mongo-replicate's own state`;
    else if (coll?.startsWith('system.') === true)
      why = `${JSON.stringify(ns)} is a system collection`;
    else if (ns !== undefined && this.#reserved.has(ns))
      why = `${JSON.stringify(ns)} is written by mongo-replicate itself`;
    if (why !== undefined) {
      throw new InvalidConfigError(field, `cannot rename into it: ${why}`);
    }
  }

  /**
   * A collection rule may not land in a database that a database rule fills from *another*
   * source database: that target database would mix two sources, and a `dropDatabase` of the
   * rule's source would map onto it and destroy the renamed collection. Renaming inside a moved
   * database (`'a.*': 'c.*'` with `'a.x': 'c.y'`) is fine. It collides only if the source also
   * has an `a.y`, which needs the source catalog to know, like any other name collision with an
   * unrenamed source namespace.
   */
  #checkCollectionRulesAgainstDatabaseRules(): void {
    const dbSourceOf = new Map<string, string>();
    for (const [from, to] of this.#dbRenames) dbSourceOf.set(to, from);
    for (const [source, target] of this.#collRenames) {
      const field = `filter.rename[${JSON.stringify(source)}]`;
      const from = splitNamespace(source);
      const to = splitNamespace(target);
      if (to.db !== (this.#dbRenames.get(from.db) ?? from.db)) {
        // The source database is split, and the target database mixes two sources: a
        // dropDatabase of either must not drop a whole target database.
        this.#splitDatabases.add(from.db);
        this.#mixedTargets.add(to.db);
      }
      const filler = dbSourceOf.get(to.db);
      if (filler === undefined) continue;
      if (filler !== from.db) {
        throw new InvalidConfigError(
          field,
          `renames into database ${JSON.stringify(to.db)}, which rule "${filler}.*" also renames into; a dropDatabase of ${JSON.stringify(filler)} would drop it. Rename it into another database, or rename its whole database`
        );
      }
    }
  }
}
