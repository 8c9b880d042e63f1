/**
 * Applies an update tree to a working copy of the document, mirroring UpdateObjectNode::apply,
 * UpdateArrayNode::apply and ModifierNode::apply: `pathTaken` is the part of the current path that
 * exists, `pathToCreate` the missing rest that a path-creating modifier will build.
 */
import { type BDoc, type BValue, cloneValue, compareStrings } from '../../bson/values.js';
import type { Matcher } from '../query/matcher.js';
import { ServerError } from '../server-error.js';
import { elementMatches } from './array-filters.js';
import { binaryEqual } from './binary-equal.js';
import { elementString, idString } from './format.js';
import type { ApplyEnv, Modifier } from './modifiers.js';
import { childRef, fieldRef, indexRef, parseIndex, type Ref, rootRef } from './ref.js';
import { mergeNodes, type ObjectNode, sortedChildren, type UpdateNode } from './tree.js';

interface State {
  readonly env: ApplyEnv;
  readonly filters: Map<string, Matcher>;
  /** The positional `$` field: the matched array index as a string. */
  readonly matchedField: string | undefined;
  /** Whether the pre-image had `_id` (the one immutable path of an unsharded collection). */
  readonly hadId: boolean;
  readonly pathTaken: string[];
  readonly pathToCreate: string[];
}

const MAX_PADDING = 1500000;

export function applyTree(
  root: ObjectNode,
  doc: BDoc,
  env: ApplyEnv,
  filters: Map<string, Matcher>
): void {
  const position = env.ctx.matchPosition;
  const state: State = {
    env,
    filters,
    matchedField: position === undefined ? undefined : String(position),
    hadId: doc.has('_id'),
    pathTaken: [],
    pathToCreate: []
  };
  applyNode(root, rootRef(doc), state);
}

function applyNode(node: UpdateNode, element: Ref, st: State): void {
  if (node.kind === 'object') applyObject(node, element, st);
  else if (node.kind === 'array') applyArray(node, element, st);
  else if (node.mod.rename) applyRename(node.mod.rename, element, st);
  else applyLeaf(node.mod, element, st);
}

function applyObject(node: ObjectNode, element: Ref, st: State): void {
  let current = element;
  const positional = node.positional;
  const matched = st.matchedField;
  let pending = positional !== undefined;
  if (pending && matched === undefined) {
    throw new ServerError(
      2,
      'The positional operator did not find the match needed from the query.'
    );
  }
  const run = (child: UpdateNode, field: string): void => {
    current = applyChild(child, field, current, st);
  };
  for (const [name, child] of sortedChildren(node.children)) {
    if (pending && name === matched) {
      // The positional field names an explicit child too: both apply as one merged subtree.
      const path = [...st.pathTaken, ...st.pathToCreate, matched];
      run(mergeNodes(positional!, child, path), name);
      pending = false;
      continue;
    }
    if (pending && compareStrings(matched!, name) < 0) {
      run(positional!, matched!);
      pending = false;
    }
    run(child, name);
  }
  if (pending) run(positional!, matched!);
}

/** Applies `child` to field `field` of `element`; returns `element` advanced past created parts. */
function applyChild(child: UpdateNode, field: string, element: Ref, st: State): Ref {
  const takenBefore = st.pathTaken.length;
  const existing = st.pathToCreate.length === 0 ? childRef(element.get(), field) : undefined;
  if (existing) st.pathTaken.push(field);
  else st.pathToCreate.push(field);
  applyNode(child, existing ?? element, st);
  if (st.pathToCreate.length > 0) st.pathToCreate.pop();
  else st.pathTaken.pop();

  // A child may have created the missing path: later siblings must see it as existing.
  let current = element;
  if (st.pathTaken.length > takenBefore) {
    for (let i = takenBefore; i < st.pathTaken.length; i++) {
      current = childRef(current.get(), st.pathTaken[i]!)!;
    }
  } else if (st.pathToCreate.length > 0) {
    const first = childRef(current.get(), st.pathToCreate[0]!);
    if (first) {
      current = first;
      st.pathTaken.push(st.pathToCreate[0]!);
      for (let i = 1; i < st.pathToCreate.length; i++) {
        current = childRef(current.get(), st.pathToCreate[i]!)!;
        st.pathTaken.push(st.pathToCreate[i]!);
      }
      st.pathToCreate.length = 0;
    }
  }
  return current;
}

function applyArray(node: { children: Map<string, UpdateNode> }, element: Ref, st: State): void {
  if (st.pathToCreate.length > 0) {
    throw new ServerError(
      2,
      `The path '${st.pathToCreate.join('.')}' must exist in the document in order to apply array updates.`
    );
  }
  const array = element.get();
  if (!Array.isArray(array)) {
    throw new ServerError(
      2,
      `Cannot apply array updates to non-array element ${elementString(element.name, array)}`
    );
  }
  const children = sortedChildren(node.children);
  // mongod decides every element's matching updates before applying any of them.
  const matching = array.map(value =>
    children
      .filter(([id]) => id === '' || elementMatches(st.filters.get(id)!, id, value))
      .map(([, child]) => child)
  );
  matching.forEach((updates, index) => {
    if (updates.length === 0) return;
    const path = [...st.pathTaken, String(index)];
    const child = updates.reduce((left, right) => mergeNodes(left, right, path));
    st.pathTaken.push(String(index));
    applyNode(child, indexRef(array, index), st);
    st.pathTaken.pop();
  });
}

function applyLeaf(mod: Modifier, element: Ref, st: State): void {
  if (mod.insertOnly && !st.env.ctx.isUpsertInsert) return;
  if (st.pathToCreate.length > 0) {
    if (mod.allowCreation) createAt(element, mod.createValue(st.env), st);
    else if (!mod.allowNonViablePath) checkViability(element, st);
    return;
  }
  if (mod.applyExisting(element, st.pathTaken.join('.'), st.env)) checkImmutable(st.pathTaken, st);
}

/** checkImmutablePathsNotModified: an existing element on or under `_id` changed. */
function checkImmutable(path: readonly string[], st: State): void {
  if (st.hadId && path[0] === '_id') {
    throw new ServerError(
      66,
      `Performing an update on the path '${path.join('.')}' would modify the immutable field '_id'`
    );
  }
}

function pathNotViable(part: string, element: Ref, value: BValue): ServerError {
  return new ServerError(
    28,
    `Cannot create field '${part}' in element {${elementString(element.name, value)}}`
  );
}

/** pathsupport::createPathAt: builds `pathToCreate` under `element`, padding arrays with null. */
function createAt(element: Ref, value: BValue, st: State): void {
  const parts = st.pathToCreate;
  const base = element.get();
  if (!(base instanceof Map) && !Array.isArray(base)) throw pathNotViable(parts[0]!, element, base);
  let container: BDoc;
  let i = 0;
  if (Array.isArray(base)) {
    const index = parseIndex(parts[0]!);
    if (index === undefined) throw pathNotViable(parts[0]!, element, base);
    if (index - base.length > MAX_PADDING) {
      throw new ServerError(10, "can't backfill array to larger than 1,500,000 elements", {
        codeName: 'CannotBackfillArray'
      });
    }
    while (base.length < index) base.push(null);
    if (parts.length === 1) {
      base.push(value);
      return finishCreate(element, st);
    }
    container = new Map();
    base.push(container);
    i = 1;
  } else {
    container = base;
  }
  for (; i < parts.length - 1; i++) {
    const next: BDoc = new Map();
    container.set(parts[i]!, next);
    container = next;
  }
  container.set(parts[parts.length - 1]!, value);
  finishCreate(element, st);
}

function finishCreate(element: Ref, st: State): void {
  // Creating anything under an existing `_id` (e.g. `_id.x`) modifies it.
  if (st.hadId && st.pathTaken[0] === '_id') {
    throw new ServerError(
      66,
      `Updating the path '${st.pathTaken.join('.')}' to ${elementString(element.name, element.get())} ` +
        "would modify the immutable field '_id'"
    );
  }
}

/** UpdateLeafNode::checkViability for $pop/$pull/$pullAll on a missing path. */
function checkViability(element: Ref, st: State): void {
  const value = element.get();
  const first = st.pathToCreate[0]!;
  if (value instanceof Map) return;
  if (Array.isArray(value) && parseIndex(first) !== undefined) return;
  throw new ServerError(
    28,
    `Cannot use the part (${first}) of (${[...st.pathTaken, ...st.pathToCreate].join('.')}) to ` +
      `traverse the element ({${elementString(element.name, value)}})`
  );
}

/** pathsupport::findLongestPrefix for $rename's source: the element, or undefined if missing. */
function findSource(parts: string[], root: BDoc): Ref | undefined {
  if (root.size === 0) return undefined;
  let current: BValue = root;
  let ref: Ref | undefined;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (current instanceof Map) {
      if (!current.has(part)) return undefined;
      ref = fieldRef(current, part);
    } else if (Array.isArray(current) && parseIndex(part) !== undefined) {
      const index = parseIndex(part)!;
      if (index >= current.length) return undefined;
      ref = indexRef(current, index);
    } else {
      throw new ServerError(
        28,
        `cannot use the part (${parts[i - 1]} of ${parts.join('.')}) to traverse the element ` +
          `({${elementString(parts[i - 1]!, current)}})`
      );
    }
    current = ref.get();
  }
  return ref;
}

/** The values along `parts` from the root (ancestors first). */
function valuesAlong(root: BDoc, parts: readonly string[]): BValue[] {
  const out: BValue[] = [];
  let current: BValue = root;
  for (const part of parts) {
    current = childRef(current, part)!.get();
    out.push(current);
  }
  return out;
}

function arrayAncestor(root: BDoc, parts: readonly string[]): string | undefined {
  const values = valuesAlong(root, parts);
  for (let i = values.length - 1; i >= 0; i--) if (Array.isArray(values[i])) return parts[i];
  return undefined;
}

/** RenameNode::apply: a $set of the source's value at the destination, then an $unset. */
function applyRename(spec: { from: string; to: string }, element: Ref, st: State): void {
  const root = st.env.root;
  const fromParts = spec.from.split('.');
  const source = findSource(fromParts, root);
  if (!source) return;
  const sourceArray = arrayAncestor(root, fromParts.slice(0, -1));
  if (sourceArray !== undefined) {
    throw new ServerError(
      2,
      `The source field cannot be an array element, '${spec.from}' in doc with ${idString(root)} ` +
        `has an array field called '${sourceArray}'`
    );
  }
  const destinationParents =
    st.pathToCreate.length === 0 ? st.pathTaken.slice(0, -1) : st.pathTaken;
  const destinationArray = arrayAncestor(root, destinationParents);
  if (destinationArray !== undefined) {
    throw new ServerError(
      2,
      `The destination field cannot be an array element, '${spec.to}' in doc with ${idString(root)} ` +
        `has an array field called '${destinationArray}'`
    );
  }
  const value = cloneValue(source.get());
  if (st.pathToCreate.length > 0) {
    createAt(element, value, st);
  } else if (!binaryEqual(element.get(), value)) {
    element.set(value);
    checkImmutable(st.pathTaken, st);
  }
  source.remove();
  checkImmutable(fromParts, st);
}
