/**
 * The `updateDescription` of a change stream's update event, turned back into one `$v: 2` diff,
 * so that the applier redoes the update exactly as the oplog entry would (one atomic update).
 *
 * mongod derives the description from the entry's diff by flattening it into dotted paths
 * (change_stream_document_diff_parser.cpp): `u` and `i` fields go to `updatedFields`, `d` to
 * `removedFields`, an array diff's `l` to `truncatedArrays`. Rebuilding the tree is exact except
 * for one thing a description cannot say: that an `i` moved an existing field to the end. Every
 * updated field becomes `u`, which replaces an existing field in place and appends a missing
 * one — the same result, up to the order of such moved fields.
 *
 * A dotted path is split into components. From 6.1, with `showExpandedEvents`, mongod lists every
 * path it cannot print unambiguously in `disambiguatedPaths` (a field name with a dot, or a
 * numeric field name below the top level); any other numeric component below the top is an
 * array index. On 6.0 there is no such list, and `a.3` may mean index 3 or field "3":
 * {@link hasAmbiguousPaths} says when a caller must use the post-image instead.
 */
import { type Document } from 'mongodb';

import { UnsupportedOplogEntryError } from '../errors.js';
import { isDocument, malformed, numberOf } from './oplog-entry.js';
import { type UpdateSource } from './update-diff.js';

/** A field name (`index` undefined) or an array index. */
interface Component {
  readonly name: string;
  readonly index: number | undefined;
}

type Leaf = { readonly kind: 'update'; readonly value: unknown } | { readonly kind: 'delete' };

interface DocNode {
  readonly kind: 'doc';
  readonly children: Map<string, Child>;
}

interface ArrayNode {
  readonly kind: 'array';
  /** The truncation's `newSize`, as the event holds it. */
  newSize: unknown;
  readonly children: Map<number, Child>;
}

type DiffNode = DocNode | ArrayNode;
type Child = Leaf | DiffNode;

type Fail = (what: string) => UnsupportedOplogEntryError;

/** `FieldRef::isNumericPathComponentStrict`: digits, no leading zero unless it is "0". */
const NUMERIC = /^(0|[1-9][0-9]*)$/;

function failFor(source: UpdateSource): Fail {
  return what =>
    malformed(`invalid updateDescription: ${what}`, {
      op: 'u',
      ...(source.namespace === undefined ? {} : { ns: source.namespace }),
      ...(source.optime === undefined ? {} : { ts: source.optime })
    });
}

/** Sets a field without going through setters (a field may be named `__proto__`). */
function define(doc: Document, key: string, value: unknown): void {
  Object.defineProperty(doc, key, { value, enumerable: true, writable: true, configurable: true });
}

interface Parts {
  readonly updated: Document;
  readonly removed: string[];
  readonly truncated: { readonly field: string; readonly newSize: unknown }[];
  readonly disambiguated: Document | undefined;
}

function partsOf(description: Document, fail: Fail): Parts {
  const { updatedFields, removedFields, truncatedArrays, disambiguatedPaths } = description;
  if (updatedFields !== undefined && !isDocument(updatedFields)) {
    throw fail('"updatedFields" is not a document');
  }
  if (
    removedFields !== undefined &&
    !(Array.isArray(removedFields) && removedFields.every(path => typeof path === 'string'))
  ) {
    throw fail('"removedFields" is not an array of strings');
  }
  if (disambiguatedPaths !== undefined && !isDocument(disambiguatedPaths)) {
    throw fail('"disambiguatedPaths" is not a document');
  }
  const truncated: Parts['truncated'] = [];
  if (truncatedArrays !== undefined) {
    if (!Array.isArray(truncatedArrays)) throw fail('"truncatedArrays" is not an array');
    for (const entry of truncatedArrays as unknown[]) {
      if (!isDocument(entry) || typeof entry.field !== 'string') {
        throw fail('a "truncatedArrays" entry has no "field"');
      }
      const size = numberOf(entry.newSize);
      if (size === undefined || !Number.isSafeInteger(size) || size < 0) {
        throw fail(`the "newSize" of truncated array "${entry.field}" is not a size`);
      }
      truncated.push({ field: entry.field, newSize: entry.newSize });
    }
  }
  return {
    updated: updatedFields ?? {},
    removed: (removedFields as string[] | undefined) ?? [],
    truncated,
    disambiguated: disambiguatedPaths
  };
}

function allPaths(parts: Parts): string[] {
  return [
    ...Object.keys(parts.updated),
    ...parts.removed,
    ...parts.truncated.map(entry => entry.field)
  ];
}

function numericBelowTop(path: string): boolean {
  return path.split('.').some((name, i) => i > 0 && NUMERIC.test(name));
}

/**
 * True when the description cannot be turned into a diff safely: it has no `disambiguatedPaths`
 * (MongoDB 6.0, or a stream without `showExpandedEvents`) and a path has a numeric component
 * below the top level, which may be an array index or a field name.
 *
 * @throws {@link UnsupportedOplogEntryError} if the description is malformed
 * @internal
 */
export function hasAmbiguousPaths(description: Document, source: UpdateSource = {}): boolean {
  const parts = partsOf(description, failFor(source));
  return parts.disambiguated === undefined && allPaths(parts).some(numericBelowTop);
}

function componentsOf(path: string, parts: Parts, fail: Fail): Component[] {
  const listed: unknown =
    parts.disambiguated !== undefined && Object.hasOwn(parts.disambiguated, path)
      ? parts.disambiguated[path]
      : undefined;
  let components: Component[];
  if (listed === undefined) {
    components = path.split('.').map((name, i) => ({
      name,
      index: i > 0 && NUMERIC.test(name) ? Number(name) : undefined
    }));
  } else {
    if (!Array.isArray(listed) || listed.length === 0) {
      throw fail(`disambiguatedPaths["${path}"] is not a non-empty array`);
    }
    components = (listed as unknown[]).map(part => {
      if (typeof part === 'string') return { name: part, index: undefined };
      const index = numberOf(part);
      if (index === undefined || !Number.isSafeInteger(index) || index < 0) {
        throw fail(`disambiguatedPaths["${path}"] holds a component that is not a name or index`);
      }
      return { name: String(index), index };
    });
    if (components.map(part => part.name).join('.') !== path) {
      throw fail(`disambiguatedPaths["${path}"] does not spell that path`);
    }
  }
  if (components[0]!.index !== undefined) throw fail(`path "${path}" starts with an array index`);
  for (const part of components) {
    if (part.index !== undefined && !Number.isSafeInteger(part.index)) {
      throw fail(`path "${path}" has an array index out of range`);
    }
  }
  return components;
}

function childOf(node: DiffNode, part: Component): Child | undefined {
  return node.kind === 'doc' ? node.children.get(part.name) : node.children.get(part.index!);
}

function setChild(node: DiffNode, part: Component, child: Child): void {
  if (node.kind === 'doc') node.children.set(part.name, child);
  else node.children.set(part.index!, child);
}

function newNode(kind: DiffNode['kind']): DiffNode {
  return kind === 'doc'
    ? { kind, children: new Map() }
    : { kind, newSize: undefined, children: new Map() };
}

class DiffBuilder {
  readonly root: DocNode = { kind: 'doc', children: new Map() };

  constructor(private readonly fail: Fail) {}

  /** The node the path's last component lives in, creating intermediate nodes on the way. */
  parentOf(path: string, components: Component[]): DiffNode {
    let node: DiffNode = this.root;
    for (let i = 0; i < components.length - 1; i++) {
      node = this.#descend(path, node, components[i]!, components[i + 1]!.index === undefined);
    }
    return node;
  }

  /** The array node at the path itself. */
  arrayAt(path: string, components: Component[]): ArrayNode {
    const node = this.#descend(
      path,
      this.parentOf(path, components),
      components[components.length - 1]!,
      false
    );
    return node as ArrayNode;
  }

  place(path: string, components: Component[], leaf: Leaf): void {
    const node = this.parentOf(path, components);
    const last = components[components.length - 1]!;
    if (childOf(node, last) !== undefined) throw this.#conflict(path);
    setChild(node, last, leaf);
  }

  #descend(path: string, node: DiffNode, part: Component, isDoc: boolean): DiffNode {
    const kind = isDoc ? 'doc' : 'array';
    const existing = childOf(node, part);
    if (existing === undefined) {
      const created = newNode(kind);
      setChild(node, part, created);
      return created;
    }
    if (existing.kind !== kind) throw this.#conflict(path);
    return existing;
  }

  #conflict(path: string): UnsupportedOplogEntryError {
    return this.fail(
      `path "${path}" conflicts with another path of the update (the same field changed twice, or used both as a document and as an array)`
    );
  }
}

function emitDoc(node: DocNode): Document {
  const d: Document = {};
  const u: Document = {};
  const subs: [string, Document][] = [];
  for (const [name, child] of node.children) {
    if (child.kind === 'delete') define(d, name, false);
    else if (child.kind === 'update') define(u, name, child.value);
    else subs.push([`s${name}`, emit(child)]);
  }
  const out: Document = {};
  if (Object.keys(d).length > 0) out.d = d;
  if (Object.keys(u).length > 0) out.u = u;
  for (const [key, sub] of subs) define(out, key, sub);
  return out;
}

function emitArray(node: ArrayNode): Document {
  const out: Document = { a: true };
  if (node.newSize !== undefined) out.l = node.newSize;
  const indexes = [...node.children.keys()].sort((x, y) => x - y);
  for (const index of indexes) {
    const child = node.children.get(index)!;
    // An element cannot be removed, only set: mongod itself logs `$unset` of one as null.
    if (child.kind === 'delete') out[`u${index}`] = null;
    else if (child.kind === 'update') out[`u${index}`] = child.value;
    else out[`s${index}`] = emit(child);
  }
  return out;
}

function emit(node: DiffNode): Document {
  return node.kind === 'doc' ? emitDoc(node) : emitArray(node);
}

/**
 * Turns the `updateDescription` of a change stream update event into the `$v: 2` diff (the
 * `diff` of `{$v: 2, diff}`) that has the same effect, with updated, removed and truncated fields
 * in one diff so that the update stays atomic.
 *
 * @remarks
 * Sections come in the order mongod writes them: `d`, `u`, then `s<field>` in documents; `a`,
 * `l`, then `u<index>`/`s<index>` by ascending index in arrays. Updated fields all go to `u`
 * (which replaces an existing field in place and appends a missing one), so the only thing lost
 * is where an `i` section had moved an existing field: change events do not record it.
 *
 * @param description - the event's `updateDescription`
 * @param source - the namespace and optime, for error messages
 * @throws {@link UnsupportedOplogEntryError} if the description is malformed (paths that
 * conflict, such as `a` and `a.b` both updated), or ambiguous (a 6.0 event without
 * `disambiguatedPaths` whose paths may name array elements: use its `fullDocument` instead)
 * @public
 */
export function updateDescriptionToDiff(
  description: Document,
  source: UpdateSource = {}
): Document {
  const fail = failFor(source);
  if (!isDocument(description)) throw fail('it is not a document');
  const parts = partsOf(description, fail);
  if (parts.disambiguated === undefined && allPaths(parts).some(numericBelowTop)) {
    throw new UnsupportedOplogEntryError(
      `An update event${source.namespace === undefined ? '' : ` on ${source.namespace}`} has paths with numeric components, which may be array indexes or field names`,
      'u',
      {
        ...(source.namespace === undefined ? {} : { namespace: source.namespace }),
        ...(source.optime === undefined ? {} : { optime: source.optime }),
        hint: 'Read the change stream with showExpandedEvents on MongoDB 6.1+ (which adds disambiguatedPaths), or replace the document with the event\'s fullDocument (fullDocument: "updateLookup")'
      }
    );
  }
  const builder = new DiffBuilder(fail);
  for (const [path, value] of Object.entries(parts.updated)) {
    builder.place(path, componentsOf(path, parts, fail), { kind: 'update', value });
  }
  for (const path of parts.removed) {
    builder.place(path, componentsOf(path, parts, fail), { kind: 'delete' });
  }
  for (const { field, newSize } of parts.truncated) {
    const node = builder.arrayAt(field, componentsOf(field, parts, fail));
    if (node.newSize !== undefined) throw fail(`array "${field}" is truncated twice`);
    node.newSize = newSize;
  }
  return emitDoc(builder.root);
}
