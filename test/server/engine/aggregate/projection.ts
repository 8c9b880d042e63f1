/**
 * Projections as mongod's ProjectionNode trees: inclusion, exclusion and computed fields for
 * `$project`, `$addFields`/`$set`, `$unset` and the find command (with `$slice`, `$elemMatch` and
 * positional `.$`). Field order follows mongod: kept fields in document order, then computed ones.
 */
import { type BDoc, type BValue, isDoc, isTruthy } from '../../bson/values.js';
import { fieldPathParts } from '../field-path.js';
import { compileFilter } from '../query/matcher.js';
import { notImplemented, ServerError } from '../server-error.js';
import { type Compiled, MISSING, type Parser, type Scope, type Value } from './expr-core.js';
import { expressionParser, makeScope } from './expressions.js';

type Leaf =
  | { kind: 'include'; slice?: [number | undefined, number] }
  | { kind: 'exclude' }
  | { kind: 'expr'; expr: Compiled }
  | { kind: 'elemMatch'; test: (element: BValue) => boolean }
  | { kind: 'positional' };

interface Node {
  kind: 'node';
  children: Map<string, Node | Leaf>;
  computed: boolean;
}

type Mode = 'find' | 'aggregate' | 'addFields';

function newNode(): Node {
  return { kind: 'node', children: new Map(), computed: false };
}

function addAt(root: Node, path: string[], leaf: Leaf | Node, full: string): void {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const part = path[i]!;
    const child = node.children.get(part);
    if (!child) {
      const created = newNode();
      node.children.set(part, created);
      node = created;
    } else if (child.kind === 'node') node = child;
    else {
      throw new ServerError(
        31249,
        `Path collision at ${full} remaining portion ${path.slice(i + 1).join('.')}`
      );
    }
  }
  const last = path[path.length - 1]!;
  if (node.children.has(last)) throw new ServerError(31250, `Path collision at ${full}`);
  node.children.set(last, leaf);
}

function markComputed(root: Node, path: string[]): void {
  let node: Node | Leaf | undefined = root;
  for (const part of path) {
    if (!node || node.kind !== 'node') return;
    node.computed = true;
    node = node.children.get(part);
  }
}

function checkPath(key: string): string[] {
  if (key.length === 0)
    throw new ServerError(40352, 'FieldPath cannot be constructed with empty string');
  return fieldPathParts(key);
}

interface Parsed {
  root: Node;
  inclusion: boolean;
}

function parse(spec: BDoc, mode: Mode, p: Parser, query: BDoc | undefined): Parsed {
  const root = newNode();
  let type: 'inclusion' | 'exclusion' | undefined;
  let idSpecified = false;
  let positional = false;
  let findSlice = false;
  let elemMatch = false;
  const walkSpec = (obj: BDoc, prefix: string[]) => {
    for (const [key, value] of obj) {
      const isTopId = prefix.length === 0 && key === '_id';
      if (prefix.length === 0 && (key === '_id' || key.startsWith('_id.'))) idSpecified = true;
      if (mode === 'find' && (key.endsWith('.$') || key === '$' || key.includes('.$.'))) {
        if (!isTruthy(value) || isDoc(value))
          throw notImplemented(`positional projection form ${key}`);
        if (positional)
          throw new ServerError(
            31276,
            'Cannot specify more than one positional projection per query.'
          );
        if (elemMatch)
          throw new ServerError(31256, 'Cannot specify positional operator and $elemMatch.');
        if (key.includes('.$.') || key.indexOf('.$') !== key.length - 2)
          throw notImplemented(`positional projection form ${key}`);
        positional = true;
        if (type === 'exclusion')
          throw new ServerError(
            31253,
            `Cannot do inclusion on field ${key} in exclusion projection`
          );
        type = 'inclusion';
        addAt(root, [...prefix, ...checkPath(key.slice(0, -2))], { kind: 'positional' }, key);
        continue;
      }
      const path = [...prefix, ...checkPath(key)];
      const full = path.join('.');
      if (mode === 'addFields') {
        if (isDoc(value) && value.size > 0 && ![...value.keys()][0]!.startsWith('$')) {
          walkSpec(value, path);
        } else {
          addAt(root, path, { kind: 'expr', expr: p.compile(value) }, full);
          markComputed(root, path);
        }
        continue;
      }
      if (isDoc(value)) {
        const first = [...value.keys()][0];
        if (first === undefined) {
          throw new ServerError(
            51270,
            `An empty sub-projection is not a valid value. Found empty object at path`
          );
        }
        if (!first.startsWith('$')) {
          walkSpec(value, path);
          continue;
        }
        if (mode === 'find' && first === '$slice') {
          findSlice = true;
          addAt(root, path, { kind: 'include', slice: parseSlice(value.get('$slice')!) }, full);
          continue;
        }
        if (mode === 'find' && first === '$elemMatch') {
          const arg = value.get('$elemMatch');
          if (!isDoc(arg))
            throw new ServerError(
              31274,
              `elemMatch: Invalid argument, object required, but got ${typeof arg}`
            );
          if (positional)
            throw new ServerError(31255, 'Cannot specify positional operator and $elemMatch.');
          if (path.length > 1)
            throw new ServerError(31275, 'Cannot use $elemMatch projection on a nested field.');
          const matcher = compileFilter(new Map([['x', new Map([['$elemMatch', arg]])]]));
          elemMatch = true;
          addAt(
            root,
            path,
            { kind: 'elemMatch', test: e => matcher.matches(new Map([['x', [e]]])) },
            full
          );
          continue;
        }
        if (first === '$meta') throw notImplemented('$meta projection');
        if (type === 'exclusion') {
          throw new ServerError(
            31252,
            'Cannot use expression other than $meta in exclusion projection'
          );
        }
        type = 'inclusion';
        addAt(root, path, { kind: 'expr', expr: p.compile(value) }, full);
        markComputed(root, path);
        continue;
      }
      if (typeof value === 'boolean' || typeof value === 'number' || isNumberLike(value)) {
        if (isTruthy(value)) {
          if (type === 'exclusion')
            throw new ServerError(
              31253,
              `Cannot do inclusion on field ${full} in exclusion projection`
            );
          type = 'inclusion';
          addAt(root, path, { kind: 'include' }, full);
        } else {
          addAt(root, path, { kind: 'exclude' }, full);
          if (!isTopId) {
            if (type === 'inclusion')
              throw new ServerError(
                31254,
                `Cannot do exclusion on field ${full} in inclusion projection`
              );
            type = 'exclusion';
          }
        }
        continue;
      }
      // Any other literal is a computed field (strings are field paths or literals).
      if (type === 'exclusion')
        throw new ServerError(
          31252,
          'Cannot use expression other than $meta in exclusion projection'
        );
      type = 'inclusion';
      addAt(root, path, { kind: 'expr', expr: p.compile(value) }, full);
      markComputed(root, path);
    }
  };
  walkSpec(spec, []);
  if (positional && !query)
    throw new ServerError(51050, 'Projections with a positional operator require a matcher');
  if (mode === 'addFields') return { root, inclusion: false };
  if (!type) type = findSlice ? 'exclusion' : elemMatch ? 'inclusion' : 'exclusion';
  if (type === 'inclusion' && !idSpecified) root.children.set('_id', { kind: 'include' });
  return { root, inclusion: type === 'inclusion' };
}

function isNumberLike(v: BValue): boolean {
  return isDoc(v)
    ? false
    : typeof v === 'object' &&
        v !== null &&
        '_bsontype' in v &&
        ['Int32', 'Double', 'Long', 'Decimal128'].includes((v as { _bsontype: string })._bsontype);
}

function parseSlice(arg: BValue): [number | undefined, number] {
  if (isNumberLike(arg)) return [undefined, clampInt(Number(arg!.valueOf()))];
  if (Array.isArray(arg)) {
    if (arg.length !== 2)
      throw new ServerError(31272, '$slice array argument should be of form [skip, limit]');
    const [skip, limit] = arg;
    if (!isNumberLike(skip!))
      throw new ServerError(
        31257,
        `$slice expects the skip argument to be a number, got ${typeof skip}`
      );
    if (!isNumberLike(limit!))
      throw new ServerError(
        31258,
        `$slice expects the limit argument to be a number, got ${typeof limit}`
      );
    const l = clampInt(Number(limit!.valueOf()));
    if (l <= 0) throw new ServerError(31259, `$slice limit must be positive, got ${l}`);
    return [clampInt(Number(skip!.valueOf())), l];
  }
  throw new ServerError(31273, '$slice only supports numbers and [skip, limit] arrays');
}

function clampInt(n: number): number {
  return Math.trunc(Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, n)));
}

function applySlice(v: BValue, [skip, limit]: [number | undefined, number]): BValue {
  if (!Array.isArray(v)) return v;
  if (skip === undefined)
    return limit >= 0 ? v.slice(0, limit) : v.slice(Math.max(0, v.length + limit));
  const start = skip >= 0 ? Math.min(skip, v.length) : Math.max(0, v.length + skip);
  return v.slice(start, start + limit);
}

interface RunCtx {
  scope: Scope;
  recurseNested: boolean;
  position: number | undefined;
}

/** Inclusion phase: kept fields in document order; computed fields are added afterwards. */
function includeDoc(node: Node, doc: BDoc, rc: RunCtx): BDoc {
  const out: BDoc = new Map();
  for (const [key, value] of doc) {
    const child = node.children.get(key);
    if (!child) continue;
    if (child.kind === 'include')
      out.set(key, child.slice ? applySlice(value, child.slice) : value);
    else if (child.kind === 'positional') out.set(key, positionalValue(value, rc.position));
    else if (child.kind === 'node') {
      const v = includeValue(child, value, rc);
      if (v !== MISSING) out.set(key, v);
    }
  }
  return out;
}

function positionalValue(value: BValue, position: number | undefined): BValue {
  if (!Array.isArray(value) || position === undefined || position >= value.length) {
    throw new ServerError(
      51246,
      "Executor error during find command :: caused by :: positional operator '.$' couldn't find a matching element in the array"
    );
  }
  return [value[position]!];
}

function includeValue(node: Node, value: BValue, rc: RunCtx): Value {
  if (isDoc(value)) return includeDoc(node, value, rc);
  if (Array.isArray(value)) {
    const out: BValue[] = [];
    for (const item of value) {
      if (Array.isArray(item) && !rc.recurseNested) continue;
      const v = includeValue(node, item, rc);
      if (v !== MISSING) out.push(v);
    }
    return out;
  }
  return MISSING;
}

function excludeDoc(node: Node, doc: BDoc, rc: RunCtx): BDoc {
  const out: BDoc = new Map();
  for (const [key, value] of doc) {
    const child = node.children.get(key);
    if (!child) out.set(key, value);
    else if (child.kind === 'exclude') continue;
    else if (child.kind === 'node') out.set(key, excludeValue(child, value, rc));
    else if (child.kind === 'include' && child.slice) out.set(key, applySlice(value, child.slice));
    else out.set(key, value);
  }
  return out;
}

function excludeValue(node: Node, value: BValue, rc: RunCtx): BValue {
  if (isDoc(value)) return excludeDoc(node, value, rc);
  if (Array.isArray(value)) {
    return value.map(item =>
      Array.isArray(item) && !rc.recurseNested ? item : excludeValue(node, item, rc)
    );
  }
  return value;
}

/** Expression phase: `setField` semantics, i.e. overwrite in place or append. */
function applyExpressions(node: Node, out: BDoc, rc: RunCtx): void {
  for (const [key, child] of node.children) {
    if (child.kind === 'expr') {
      const v = child.expr(rc.scope);
      if (v === MISSING) out.delete(key);
      else out.set(key, v);
    } else if (child.kind === 'node' && child.computed) {
      const v = expressionsToValue(child, out.has(key) ? out.get(key)! : MISSING, rc);
      if (v === MISSING) out.delete(key);
      else out.set(key, v);
    }
  }
}

function expressionsToValue(node: Node, value: Value, rc: RunCtx): Value {
  if (isDoc(value)) {
    const copy: BDoc = new Map(value);
    applyExpressions(node, copy, rc);
    return copy;
  }
  if (Array.isArray(value)) {
    return value.map(item => {
      if (Array.isArray(item) && !rc.recurseNested) return item;
      const v = expressionsToValue(node, item, rc);
      return v === MISSING ? null : v;
    });
  }
  // A scalar or missing value is replaced by a document of the computed fields.
  const fresh: BDoc = new Map();
  applyExpressions(node, fresh, rc);
  return fresh;
}

/** `$elemMatch` fields come after the other fields, as in mongod 4.4+. */
function applyElemMatch(node: Node, doc: BDoc, out: BDoc): void {
  for (const [key, child] of node.children) {
    if (child.kind !== 'elemMatch') continue;
    const value = doc.get(key);
    out.delete(key);
    if (!Array.isArray(value)) continue;
    const hit = value.find(e => child.test(e));
    if (hit !== undefined) out.set(key, [hit]);
  }
}

export interface ProjectionOptions {
  /** The find filter, required by a positional projection. */
  query?: BDoc;
  vars?: Map<string, BValue>;
  now?: Date;
}

/** A compiled projection over whole documents; `matchPosition` feeds the positional `.$`. */
export type Projector = (doc: BDoc, matchPosition?: number) => BDoc;

export function compileProjection(
  spec: BDoc,
  mode: 'find' | 'aggregate',
  options: ProjectionOptions = {}
): Projector {
  const stage = mode === 'aggregate' ? '$project' : undefined;
  try {
    if (mode === 'aggregate' && spec.size === 0) {
      throw new ServerError(51272, 'projection specification must have at least one field');
    }
    if (mode === 'find' && spec.size === 0) return doc => doc;
    return build(
      parse(
        spec,
        mode,
        expressionParser(options.vars?.keys() ?? []),
        mode === 'find' ? (options.query ?? new Map()) : undefined
      ),
      mode,
      options
    );
  } catch (e) {
    throw stage ? wrapStageError(stage, e) : e;
  }
}

/** `$addFields` / `$set`: every leaf is an expression; existing fields are overwritten in place. */
export function compileAddFields(
  spec: BDoc,
  options: ProjectionOptions = {},
  stage = '$addFields'
): Projector {
  try {
    const parsed = parse(
      spec,
      'addFields',
      expressionParser(options.vars?.keys() ?? []),
      undefined
    );
    return doc => {
      const rc = runCtx(doc, options, true, undefined);
      const out: BDoc = new Map(doc);
      applyExpressions(parsed.root, out, rc);
      return out;
    };
  } catch (e) {
    throw wrapStageError(stage, e);
  }
}

/** `$unset`: an exclusion projection of the named paths. */
export function compileUnset(spec: BValue): Projector {
  const fields = typeof spec === 'string' ? [spec] : spec;
  if (!Array.isArray(fields) || (fields.length === 0 && Array.isArray(spec))) {
    throw new ServerError(
      31119,
      '$unset specification must be a string or an array with at least one field'
    );
  }
  if (!fields.every(f => typeof f === 'string')) {
    throw new ServerError(
      31120,
      '$unset specification must be a string or an array containing only string values'
    );
  }
  const projection: BDoc = new Map(fields.map(f => [f as string, false]));
  try {
    const parsed = parse(projection, 'aggregate', expressionParser(), undefined);
    return build(parsed, 'aggregate', {});
  } catch (e) {
    throw wrapStageError('$unset', e);
  }
}

function runCtx(
  doc: BDoc,
  options: ProjectionOptions,
  recurseNested: boolean,
  position: number | undefined
): RunCtx {
  return {
    scope: makeScope(doc, options.vars ?? new Map(), options.now ?? new Date()),
    recurseNested,
    position
  };
}

function build(parsed: Parsed, mode: Mode, options: ProjectionOptions): Projector {
  const recurse = mode !== 'find';
  if (!parsed.inclusion) {
    return (doc, position) => excludeDoc(parsed.root, doc, runCtx(doc, options, recurse, position));
  }
  return (doc, position) => {
    const rc = runCtx(doc, options, recurse, position);
    const out = includeDoc(parsed.root, doc, rc);
    if (parsed.root.computed) applyExpressions(parsed.root, out, rc);
    applyElemMatch(parsed.root, doc, out);
    return out;
  };
}

/** Aggregation stages report parse errors as "Invalid $project :: caused by :: …". */
export function wrapStageError(stage: string, e: unknown): unknown {
  if (!(e instanceof ServerError) || e.code === 238) return e;
  if (![31249, 31250, 31252, 31253, 31254, 51270, 51272, 40352, 15998, 16410].includes(e.code))
    return e;
  return new ServerError(e.code, `Invalid ${stage} :: caused by :: ${e.message}`, {
    codeName: e.codeName
  });
}
