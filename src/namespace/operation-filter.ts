/**
 * OperationFilter: which kinds of source operations incremental sync does not apply
 * (`filter.skip`), MongoShake's operation filters. It decides by the kind of operation alone; the
 * namespace filter has already decided whether the namespace is replicated at all.
 *
 * - `insert`, `update` (replacements included: they are updates of the whole document), `delete`.
 * - `ddl`: every DDL command; a {@link DdlCommandName} (`drop`, `dropDatabase`, …): that command
 *   only, by the name the target runs it under, so `createIndexes` also covers a two-phase index
 *   build (`commitIndexBuild` in the oplog) and `dropIndexes` its old aliases.
 *
 * Transactions are not a kind: their operations are filtered one by one. Names are checked
 * against the commands the applier knows, so a typo (`dropCollection`) is an error, not a filter
 * that never matches.
 */
import { InvalidConfigError } from '../errors.js';
import { DDL_COMMAND_NAMES, type DdlCommandName, ddlCommandName } from '../oplog/ddl-ops.js';
import { describeValue } from '../options/option-reader.js';

/**
 * What `filter.skip` may name: a kind of write, every DDL command (`'ddl'`), or one DDL command.
 * @public
 */
export type SkippableOperation = 'insert' | 'update' | 'delete' | 'ddl' | DdlCommandName;

const WRITE_KINDS = ['insert', 'update', 'delete', 'ddl'] as const;
const ALLOWED: readonly string[] = [...WRITE_KINDS, ...DDL_COMMAND_NAMES];

/**
 * The compiled `filter.skip` list.
 * @internal
 */
export class OperationFilter {
  /** The list as given, without repeats. */
  readonly skipped: readonly SkippableOperation[];
  readonly #writes: { readonly i: boolean; readonly u: boolean; readonly d: boolean };
  readonly #allDdl: boolean;
  readonly #commands: ReadonlySet<DdlCommandName>;

  /**
   * @param skip - The `filter.skip` value (`undefined`: skip nothing).
   * @param field - Its path, for errors.
   * @throws {@link InvalidConfigError} naming `filter.skip[i]` for a name it does not know
   */
  constructor(skip: unknown, field = 'filter.skip') {
    if (skip !== undefined && !Array.isArray(skip)) {
      throw new InvalidConfigError(
        field,
        `expected an array of operation kinds, got ${describeValue(skip)}`
      );
    }
    const list = (skip ?? []) as unknown[];
    list.forEach((name, i) => {
      if (typeof name !== 'string' || !ALLOWED.includes(name)) {
        throw new InvalidConfigError(
          `${field}[${i}]`,
          `expected one of ${ALLOWED.map(n => `"${n}"`).join(', ')}, got ${describeValue(name)}`
        );
      }
    });
    const names = new Set(list as SkippableOperation[]);
    this.skipped = Object.freeze([...names]);
    this.#writes = { i: names.has('insert'), u: names.has('update'), d: names.has('delete') };
    this.#allDdl = names.has('ddl');
    this.#commands = new Set(
      [...names].filter((n): n is DdlCommandName => ddlCommandName(n) !== undefined)
    );
  }

  /** True when nothing is skipped. */
  get isEmpty(): boolean {
    return this.skipped.length === 0;
  }

  /** True when writes of this oplog kind (`i`, `u` or `d`) are not applied. */
  skipsWrite(op: 'i' | 'u' | 'd'): boolean {
    return this.#writes[op];
  }

  /**
   * True when this DDL command (as the oplog names it: `drop`, `commitIndexBuild`, …) is not
   * applied. Never for a command the applier does not know: that one still stops replication
   * rather than pass unnoticed, `'ddl'` or not.
   */
  skipsCommand(command: string): boolean {
    const name = ddlCommandName(command);
    return name !== undefined && (this.#allDdl || this.#commands.has(name));
  }
}
