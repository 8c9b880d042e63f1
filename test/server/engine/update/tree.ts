/**
 * The update tree (update_object_node.cpp / update_array_node.cpp): one node per path component,
 * leaves holding modifiers. Building it detects conflicting paths exactly where mongod does, and
 * applying children in field-name order is what makes mongod create new fields in lexicographic
 * order.
 */
import { type BDoc, type BValue, compareStrings, typeAlias } from '../../bson/values.js';
import { ServerError } from '../server-error.js';
import { docString, elementString } from './format.js';
import { type Modifier, MODIFIER_NAMES, parseModifier, renameModifier } from './modifiers.js';

export interface LeafNode {
  readonly kind: 'leaf';
  readonly mod: Modifier;
}
export interface ObjectNode {
  readonly kind: 'object';
  readonly children: Map<string, UpdateNode>;
  positional: UpdateNode | undefined;
}
/** Children keyed by array filter identifier; '' is `$[]`. */
export interface ArrayNode {
  readonly kind: 'array';
  readonly children: Map<string, UpdateNode>;
}
export type UpdateNode = LeafNode | ObjectNode | ArrayNode;

export function newObjectNode(): ObjectNode {
  return { kind: 'object', children: new Map(), positional: undefined };
}

/** Children in mongod's std::map order (byte order of the UTF-8 names). */
export function sortedChildren(children: Map<string, UpdateNode>): [string, UpdateNode][] {
  return [...children].sort(([a], [b]) => compareStrings(a, b));
}

const badValue = (message: string): ServerError => new ServerError(2, message);

export function isArrayFilterIdentifier(part: string): boolean {
  return part.length >= 3 && part.startsWith('$[') && part.endsWith(']');
}

/** fieldchecker::isUpdatable plus the positional-count checks of parseAndMerge. */
function checkPath(path: string): string[] {
  if (path === '') throw new ServerError(56, 'An empty update path is not valid.');
  const parts = path.split('.');
  if (parts.some(p => p === '')) {
    throw new ServerError(
      56,
      `The update path '${path}' contains an empty field name, which is not allowed.`
    );
  }
  const positional = parts.map((p, i) => (p === '$' ? i : -1)).filter(i => i >= 0);
  if (positional.length > 1) {
    throw badValue(`Too many positional (i.e. '$') elements found in path '${path}'`);
  }
  if (positional[0] === 0) {
    throw badValue(
      `Cannot have positional (i.e. '$') element in the first position in path '${path}'`
    );
  }
  return parts;
}

interface ParseState {
  readonly arrayFilters: ReadonlySet<string>;
  readonly foundIdentifiers: Set<string>;
}

function childName(part: string, index: number, path: string, state: ParseState): string {
  if (!isArrayFilterIdentifier(part)) return part;
  if (index === 0) {
    throw badValue(
      `Cannot have array filter identifier (i.e. '$[<id>]') element in the first position in path '${path}'`
    );
  }
  const identifier = part.slice(2, -1);
  if (identifier !== '' && !state.arrayFilters.has(identifier)) {
    throw badValue(`No array filter found for identifier '${identifier}' in path '${path}'`);
  }
  if (identifier !== '') state.foundIdentifiers.add(identifier);
  return identifier;
}

function getChild(node: ObjectNode | ArrayNode, name: string): UpdateNode | undefined {
  if (node.kind === 'object' && name === '$') return node.positional;
  return node.children.get(name);
}

function setChild(node: ObjectNode | ArrayNode, name: string, child: UpdateNode): void {
  if (node.kind === 'object' && name === '$') node.positional = child;
  else node.children.set(name, child);
}

/** UpdateObjectNode::parseAndMerge for one already-initialised leaf. */
function merge(
  root: ObjectNode,
  parts: string[],
  path: string,
  leaf: LeafNode,
  state: ParseState
): void {
  const conflict = (at: string): ServerError =>
    new ServerError(40, `Updating the path '${path}' would create a conflict at '${at}'`);
  let current: ObjectNode | ArrayNode = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const name = childName(parts[i]!, i, path, state);
    const shouldBeArray = isArrayFilterIdentifier(parts[i + 1]!);
    let child = getChild(current, name);
    if (child) {
      if (child.kind !== (shouldBeArray ? 'array' : 'object'))
        throw conflict(parts.slice(0, i + 1).join('.'));
    } else {
      child = shouldBeArray ? { kind: 'array', children: new Map() } : newObjectNode();
      setChild(current, name, child);
    }
    current = child as ObjectNode | ArrayNode;
  }
  const last = parts.length - 1;
  const name = childName(parts[last]!, last, path, state);
  if (getChild(current, name)) throw conflict(path);
  setChild(current, name, leaf);
}

function isDynamic(parts: string[]): boolean {
  return parts.some(p => p === '$' || isArrayFilterIdentifier(p));
}

function parseRename(root: ObjectNode, from: string, to: BValue, state: ParseState): void {
  // mongod first places a conflict placeholder at the source path...
  const fromParts = checkPath(from);
  merge(root, fromParts, from, { kind: 'leaf', mod: placeholder() }, state);
  // ...then the rename node at the destination.
  if (typeof to !== 'string') {
    throw badValue(`The 'to' field for $rename must be a string: ${elementString(from, to)}`);
  }
  const toParts = checkPath(to);
  const spec = elementString(from, to);
  if (from === to) throw badValue(`The source and target field for $rename must differ: ${spec}`);
  if (to.startsWith(from + '.') || from.startsWith(to + '.')) {
    throw badValue(`The source and target field for $rename must not be on the same path: ${spec}`);
  }
  if (isDynamic(fromParts))
    throw badValue(`The source field for $rename may not be dynamic: ${from}`);
  if (isDynamic(toParts))
    throw badValue(`The destination field for $rename may not be dynamic: ${to}`);
  merge(root, toParts, to, { kind: 'leaf', mod: renameModifier(from, to) }, state);
}

/** ConflictPlaceholderNode: reserves $rename's source path, does nothing itself. */
function placeholder(): Modifier {
  return {
    op: '$rename',
    allowCreation: false,
    allowNonViablePath: true,
    insertOnly: false,
    applyExisting: () => false,
    createValue: () => null
  };
}

/**
 * Parses a modifier-style update into its tree (parseUpdateExpression). `arrayFilters` are the
 * identifiers the command declared; each must be used.
 */
export function parseUpdateTree(update: BDoc, arrayFilters: ReadonlySet<string>): ObjectNode {
  const root = newObjectNode();
  const state: ParseState = { arrayFilters, foundIdentifiers: new Set() };
  for (const [op, spec] of update) {
    if (!MODIFIER_NAMES.has(op)) {
      throw new ServerError(
        9,
        `Unknown modifier: ${op}. Expected a valid update modifier or pipeline-style update specified as an array`
      );
    }
    if (!(spec instanceof Map)) {
      throw new ServerError(
        9,
        `Modifiers operate on fields but we found type ${typeAlias(spec)} instead. For example: ` +
          `{$mod: {<field>: ...}} not {${elementString(op, spec)}}`
      );
    }
    for (const [path, value] of spec) {
      if (op === '$rename') {
        parseRename(root, path, value, state);
        continue;
      }
      const parts = checkPath(path);
      const leaf: LeafNode = { kind: 'leaf', mod: parseModifier(op, path, value) };
      merge(root, parts, path, leaf, state);
    }
  }
  for (const identifier of arrayFilters) {
    if (!state.foundIdentifiers.has(identifier)) {
      throw new ServerError(
        9,
        `The array filter for identifier '${identifier}' was not used in the update ${docString(update)}`
      );
    }
  }
  return root;
}

/**
 * UpdateNode::createUpdateNodeByMerging: combines two subtrees that apply to the same element
 * (positional `$` meeting the same field, or several array filters matching one element).
 */
export function mergeNodes(left: UpdateNode, right: UpdateNode, path: string[]): UpdateNode {
  if (left.kind === 'object' && right.kind === 'object') {
    const merged = newObjectNode();
    mergeMaps(left.children, right.children, merged.children, path);
    merged.positional = copyOrMerge(left.positional, right.positional, [...path, '$']);
    return merged;
  }
  if (left.kind === 'array' && right.kind === 'array') {
    const merged: ArrayNode = { kind: 'array', children: new Map() };
    mergeMaps(left.children, right.children, merged.children, path);
    return merged;
  }
  throw new ServerError(40, `Update created a conflict at '${path.join('.')}'`);
}

function copyOrMerge(
  left: UpdateNode | undefined,
  right: UpdateNode | undefined,
  path: string[]
): UpdateNode | undefined {
  if (left && right) return mergeNodes(left, right, path);
  return left ?? right;
}

function mergeMaps(
  left: Map<string, UpdateNode>,
  right: Map<string, UpdateNode>,
  out: Map<string, UpdateNode>,
  path: string[]
): void {
  for (const [name, node] of left) {
    out.set(name, copyOrMerge(node, right.get(name), [...path, name])!);
  }
  for (const [name, node] of right) if (!left.has(name)) out.set(name, node);
}
