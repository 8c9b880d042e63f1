/**
 * Translates the update of an oplog entry into an update the target can run with `updateOne`,
 * with exactly the effect a secondary's oplog application has (mongod's
 * `document_diff_applier.cpp`), even when the target holds another version of the document.
 *
 * A `$v: 2` diff is turned into one of three forms, the cheapest that stays faithful:
 *
 * 1. operators (`$set`/`$unset`): only top-level `d` and `u` sections, with plain field names,
 *    and `u` fields in byte order. `$set` creates several missing fields in byte order of their
 *    names, while the diff appends them in `u` order: the two agree only when those orders agree.
 * 2. a two-stage pipeline (`$unset`, then `$set` of literals): top-level `i` and `s` sections with
 *    plain field names. `i` must move an existing field to the end, which only removing it first
 *    does; `s` must not create a missing parent and must null a parent of the wrong type.
 * 3. `$replaceWith` of an expression that rebuilds the document: field names with dots or a
 *    leading `$`, which stage field names cannot express.
 *
 * Sub-diffs are expressions of the current value: `$cond` on `$type` picks the sub-diff when the
 * type matches, `null` when it does not, and leaves an absent field absent. Document sub-diffs
 * use `$mergeObjects` (which replaces existing fields in place and appends new ones in order);
 * array sub-diffs use `$concatArrays` of `$slice`d runs of the old array, null padding built
 * with `$map` over `$range`, and the new elements.
 */
import { type Document, type Timestamp } from 'mongodb';

import { type UnsupportedOplogEntryError } from '../errors.js';
import { isDocument, malformed, numberOf, type UpdateEntry } from './oplog-entry.js';

/**
 * Where a diff came from, so that a malformed one can be reported with its entry.
 * @public
 */
export interface UpdateSource {
  /** The namespace of the entry. */
  readonly namespace?: string;
  /** The optime of the entry. */
  readonly optime?: Timestamp;
}

interface DocDiff {
  readonly kind: 'object';
  /** Fields with a binary diff (`b`): only a read of the document can apply them. */
  readonly binaries: string[];
  readonly deletes: string[];
  /** The `u` and `i` sections as logged (used as `$literal`s, never copied). */
  readonly updates: Document | undefined;
  readonly inserts: Document | undefined;
  readonly subs: [string, SubDiff][];
}

type ArrayMod = { index: number; value: unknown } | { index: number; sub: SubDiff };

interface ArrayDiff {
  readonly kind: 'array';
  readonly length: number | undefined;
  /** Sorted by index. */
  readonly mods: ArrayMod[];
}

type SubDiff = DocDiff | ArrayDiff;

type Fail = (what: string) => UnsupportedOplogEntryError;

function failFor(source: UpdateSource): Fail {
  return what =>
    malformed(`invalid $v:2 diff: ${what}`, {
      op: 'u',
      ...(source.namespace === undefined ? {} : { ns: source.namespace }),
      ...(source.optime === undefined ? {} : { ts: source.optime })
    });
}

function section(value: unknown, name: string, fail: Fail): Document {
  if (!isDocument(value)) throw fail(`section "${name}" is not a document`);
  return value;
}

function parseSub(value: unknown, name: string, fail: Fail): SubDiff {
  const doc = section(value, name, fail);
  return doc.a === true ? parseArrayDiff(doc, fail) : parseDocDiff(doc, fail);
}

function parseDocDiff(diff: Document, fail: Fail): DocDiff {
  const seen = new Set<string>();
  const claim = (field: string): void => {
    // mongod rejects such a diff too (code 4728000): a field has one modification.
    if (seen.has(field)) throw fail(`field "${field}" appears in more than one section`);
    seen.add(field);
  };
  const out: DocDiff = {
    kind: 'object',
    binaries: [],
    deletes: [],
    updates: undefined,
    inserts: undefined,
    subs: []
  };
  const mutable = out as { -readonly [K in keyof DocDiff]: DocDiff[K] };
  for (const [key, value] of Object.entries(diff)) {
    if (key === 'd') {
      for (const field of Object.keys(section(value, key, fail))) {
        claim(field);
        out.deletes.push(field);
      }
    } else if (key === 'u' || key === 'i') {
      const fields = section(value, key, fail);
      Object.keys(fields).forEach(claim);
      if (key === 'u') mutable.updates = fields;
      else mutable.inserts = fields;
    } else if (key === 'b') {
      for (const [field, delta] of Object.entries(section(value, key, fail))) {
        claim(field);
        const { o, d } = section(delta, `b.${field}`, fail);
        const offset = numberOf(o);
        if (offset === undefined || !Number.isSafeInteger(offset) || offset < 0) {
          throw fail(`binary diff of "${field}" has no non-negative offset "o"`);
        }
        if ((d as { _bsontype?: unknown } | undefined)?._bsontype !== 'Binary') {
          throw fail(`binary diff of "${field}" has no BinData "d"`);
        }
        out.binaries.push(field);
      }
    } else if (key.startsWith('s')) {
      // `s` alone is the sub-diff of the field whose name is the empty string.
      const field = key.slice(1);
      claim(field);
      out.subs.push([field, parseSub(value, key, fail)]);
    } else {
      throw fail(`unknown section "${key}"`);
    }
  }
  return out;
}

function parseArrayDiff(diff: Document, fail: Fail): ArrayDiff {
  let length: number | undefined;
  const mods: ArrayMod[] = [];
  for (const [key, value] of Object.entries(diff)) {
    if (key === 'a') continue;
    if (key === 'l') {
      length = numberOf(value);
      if (length === undefined || !Number.isSafeInteger(length) || length < 0) {
        throw fail(`array length "l" is not a non-negative integer`);
      }
      continue;
    }
    const match = /^([us])(0|[1-9][0-9]*)$/.exec(key);
    if (!match) throw fail(`unknown array diff field "${key}"`);
    const index = Number(match[2]);
    if (!Number.isSafeInteger(index)) throw fail(`array index "${key}" is too large`);
    mods.push(match[1] === 'u' ? { index, value } : { index, sub: parseSub(value, key, fail) });
  }
  mods.sort((a, b) => a.index - b.index);
  for (let i = 1; i < mods.length; i++) {
    if (mods[i - 1]!.index === mods[i]!.index) {
      throw fail(`array index ${mods[i]!.index} appears twice`);
    }
  }
  const last = mods.at(-1);
  if (length !== undefined && last !== undefined && last.index >= length) {
    // mongod would fail an invariant here; such a diff cannot come from a primary.
    throw fail(`array index ${last.index} is past the new length ${length}`);
  }
  return { kind: 'array', length, mods };
}

/** A name usable as a stage or `$set` field: not a path, not an operator. */
function isPlainName(name: string): boolean {
  return name.length > 0 && !name.includes('.') && !name.startsWith('$');
}

/** mongod orders field names by their UTF-8 bytes (a `std::map<std::string, …>`). */
function byteOrdered(names: string[]): boolean {
  for (let i = 1; i < names.length; i++) {
    if (Buffer.compare(Buffer.from(names[i - 1]!), Buffer.from(names[i]!)) >= 0) return false;
  }
  return true;
}

/** True if a value holds a `$`-prefixed field name, which an operator update may refuse. */
function hasDollarKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasDollarKey);
  if (!isDocument(value)) return false;
  return Object.entries(value).some(([key, v]) => key.startsWith('$') || hasDollarKey(v));
}

const literal = (value: unknown): Document => ({ $literal: value });
const typeIs = (ref: string, type: string): Document => ({ $eq: [{ $type: ref }, type] });
const getField = (field: string, input: unknown): Document => ({
  $getField: { field: literal(field), input }
});

class ExpressionBuilder {
  #depth = 0;

  /** A fresh variable for a `$let`; user variables must start with a lowercase letter. */
  #variable(): [name: string, ref: string] {
    const name = `v${this.#depth++}`;
    return [name, `$$${name}`];
  }

  /** The value after the sub-diff, given `ref` (a variable) holds a value of the right type. */
  #apply(ref: string, diff: SubDiff): unknown {
    return diff.kind === 'object' ? this.object(ref, diff) : this.#array(ref, diff);
  }

  /**
   * The value of a field or element after a sub-diff: applied when the type matches, else `null`
   * (as mongod does: a later entry is bound to overwrite it). Callers handle absent fields.
   */
  #typed(ref: string, diff: SubDiff): Document {
    return { $cond: [typeIs(ref, diff.kind), this.#apply(ref, diff), null] };
  }

  /** The `$set`-stage value of a top-level sub-diffed field: absent stays absent. */
  topLevelSub(field: string, diff: SubDiff): Document {
    const [name, ref] = this.#variable();
    return {
      $let: {
        vars: { [name]: getField(field, '$$ROOT') },
        in: { $cond: [typeIs(ref, 'missing'), '$$REMOVE', this.#typed(ref, diff)] }
      }
    };
  }

  /** The document held by `ref` after `diff`. */
  object(ref: string, diff: DocDiff): unknown {
    const removed = [...diff.deletes, ...Object.keys(diff.inserts ?? {})];
    let base: unknown = ref;
    if (removed.length > 0 && removed.length <= 4) {
      for (const field of removed) {
        base = { $setField: { field: literal(field), input: base, value: '$$REMOVE' } };
      }
    } else if (removed.length > 0) {
      // Many removals: one flat filter instead of a deep chain (BSON nesting is limited).
      const [name, kv] = this.#variable();
      base = {
        $arrayToObject: {
          $filter: {
            input: { $objectToArray: ref },
            as: name,
            cond: { $not: [{ $in: [`${kv}.k`, literal(removed)] }] }
          }
        }
      };
    }
    const merged: unknown[] = [base];
    for (const [field, sub] of diff.subs) {
      // {} when the field is absent (nothing to do), else {field: value} merged in place.
      const [name, value] = this.#variable();
      merged.push({
        $let: {
          vars: { [name]: getField(field, ref) },
          in: {
            $cond: [
              typeIs(value, 'missing'),
              {},
              { $arrayToObject: [[[literal(field), this.#typed(value, sub)]]] }
            ]
          }
        }
      });
    }
    // Existing `u` fields are replaced in place; the rest, then the `i` fields, are appended.
    if (diff.updates && Object.keys(diff.updates).length > 0) merged.push(literal(diff.updates));
    if (diff.inserts && Object.keys(diff.inserts).length > 0) merged.push(literal(diff.inserts));
    return merged.length === 1 ? base : { $mergeObjects: merged };
  }

  /** Elements `from` to `to - 1` of the array held by `ref`, null past its end. */
  #padded(ref: string, from: number, to: number): unknown[] {
    const size = { $size: ref };
    return [
      { $slice: [ref, from, to - from] },
      {
        $map: {
          input: { $range: [{ $cond: [{ $gt: [size, from] }, size, from] }, to] },
          in: null
        }
      }
    ];
  }

  #array(ref: string, diff: ArrayDiff): unknown {
    const segments: unknown[] = [];
    let next = 0;
    let run: unknown[] = [];
    diff.mods.forEach((mod, i) => {
      if (mod.index > next) segments.push(...this.#padded(ref, next, mod.index));
      if ('value' in mod) {
        run.push(literal(mod.value));
      } else {
        const [name, value] = this.#variable();
        run.push({
          $let: {
            vars: { [name]: { $arrayElemAt: [ref, mod.index] } },
            in: this.#typed(value, mod.sub)
          }
        });
      }
      next = mod.index + 1;
      if (diff.mods[i + 1]?.index !== next) {
        segments.push(run);
        run = [];
      }
    });
    if (diff.length !== undefined) {
      if (diff.length > next) segments.push(...this.#padded(ref, next, diff.length));
    } else if (next === 0) {
      return ref;
    } else {
      // The rest of the old array; the count must be positive even for an empty array.
      segments.push({ $slice: [ref, next, { $add: [{ $size: ref }, 1] }] });
    }
    if (segments.length === 0) return literal([]);
    return segments.length === 1 ? segments[0] : { $concatArrays: segments };
  }
}

function operatorForm(diff: DocDiff): Document | undefined {
  if (diff.subs.length > 0 || (diff.inserts && Object.keys(diff.inserts).length > 0)) {
    return undefined;
  }
  const updated = Object.keys(diff.updates ?? {});
  if (!diff.deletes.every(isPlainName) || !updated.every(isPlainName)) return undefined;
  if (!byteOrdered(updated) || hasDollarKey(diff.updates)) return undefined;
  const update: Document = {};
  if (updated.length > 0) update.$set = diff.updates;
  if (diff.deletes.length > 0) {
    update.$unset = Object.fromEntries(diff.deletes.map(field => [field, '']));
  }
  // An empty diff: mongod (5.0+) accepts an empty $set as a no-op.
  return updated.length > 0 || diff.deletes.length > 0 ? update : { $set: {} };
}

function stageForm(diff: DocDiff, builder: ExpressionBuilder): Document[] | undefined {
  const inserted = Object.keys(diff.inserts ?? {});
  const updated = Object.keys(diff.updates ?? {});
  const names = [...diff.deletes, ...inserted, ...updated, ...diff.subs.map(([field]) => field)];
  if (!names.every(isPlainName)) return undefined;
  const stages: Document[] = [];
  const removed = [...diff.deletes, ...inserted];
  if (removed.length > 0) stages.push({ $unset: removed });
  // $set (= $addFields) replaces existing fields in place and appends new ones in spec order.
  const set: Document = {};
  for (const [field, sub] of diff.subs) set[field] = builder.topLevelSub(field, sub);
  for (const field of updated) set[field] = literal(diff.updates![field]);
  for (const field of inserted) set[field] = literal(diff.inserts![field]);
  if (Object.keys(set).length > 0) stages.push({ $set: set });
  return stages;
}

/**
 * Translates the `diff` of a `$v: 2` update entry into an update with the same effect as a
 * secondary applying the diff.
 *
 * @remarks
 * The result is an operator update (`$set`/`$unset`) when that is faithful, otherwise an update
 * pipeline; see the file comment for the rules. Faithful means: the same fields, values, BSON
 * types and field order, whatever version of the document the target holds, including:
 * `d` of an absent field is ignored; `u` replaces in place or appends; `i` moves the field to the
 * end; `s<field>` does nothing on an absent field and sets `null` on a field of the wrong type;
 * in arrays `u<n>` pads with `null`, `s<n>` past the end or on the wrong type yields `null`, and
 * `l` truncates or pads with `null`.
 *
 * Field names that look like integers (`"1"`) are reordered by JavaScript objects when the
 * driver decodes the entry; their original order cannot be recovered here.
 *
 * @param diff - the entry's `o.diff`
 * @param source - namespace and optime, for the error of a malformed diff
 * @throws {@link UnsupportedOplogEntryError} if the diff is malformed
 * @public
 */
export function diffToUpdate(diff: Document, source: UpdateSource = {}): Document | Document[] {
  const parsed = parseDiff(diff, source);
  if (hasBinaries(parsed)) {
    throw failFor(source)(
      'a binary section (b) cannot be expressed as an update; it is applied to the document read from the target'
    );
  }
  return exactForm(parsed);
}

function parseDiff(diff: Document, source: UpdateSource): DocDiff {
  const fail = failFor(source);
  const doc = section(diff, 'diff', fail);
  // mongod refuses to apply an empty diff ("Expected at least one section").
  if (Object.keys(doc).length === 0) throw fail('the diff is empty');
  return parseDocDiff(doc, fail);
}

function hasBinaries(diff: SubDiff): boolean {
  if (diff.kind === 'array') return diff.mods.some(mod => 'sub' in mod && hasBinaries(mod.sub));
  return diff.binaries.length > 0 || diff.subs.some(([, sub]) => hasBinaries(sub));
}

function exactForm(parsed: DocDiff): Document | Document[] {
  const builder = new ExpressionBuilder();
  return (
    operatorForm(parsed) ??
    stageForm(parsed, builder) ?? [{ $replaceWith: builder.object('$$ROOT', parsed) }]
  );
}

/** A field name mongod's `$set` would read as an array index when its parent is an array. */
const INDEX_LIKE = /^[0-9]+$/;

/**
 * Adds the `$set`/`$unset` paths of `diff` (at `prefix`) to `set` and `unset`; false when a
 * section needs more than those operators (see {@link preImageUpdate}).
 */
function collectPaths(diff: DocDiff, prefix: string, set: Document, unset: Document): boolean {
  if (diff.inserts && Object.keys(diff.inserts).length > 0) return false;
  // Under a sub-diff the parent is a document on the source, but may be an array on a target
  // holding another version, where `a.0` would silently set an element instead of failing.
  const usable = (name: string) => isPlainName(name) && (prefix === '' || !INDEX_LIKE.test(name));
  const updated = Object.keys(diff.updates ?? {});
  if (!diff.deletes.every(usable) || !updated.every(usable)) return false;
  if (!byteOrdered(updated) || hasDollarKey(diff.updates)) return false;
  for (const name of updated) set[prefix + name] = (diff.updates as Document)[name];
  for (const name of diff.deletes) unset[prefix + name] = '';
  return diff.subs.every(
    ([name, sub]) =>
      sub.kind === 'object' && usable(name) && collectPaths(sub, `${prefix}${name}.`, set, unset)
  );
}

/**
 * What {@link preImageUpdate} returns.
 * @internal
 */
export type PreImageUpdate =
  | {
      /** The update to run. */
      readonly update: Document | Document[];
      /** True when `update` is the dotted-path operator form, exact on the pre-image only. */
      readonly preImageForm: boolean;
      readonly needsDocument?: undefined;
    }
  | {
      /**
       * The diff has a binary section (`b`): no update expresses it, the document must be read
       * and the diff applied to it ({@link applyDiffToDocument}).
       */
      readonly needsDocument: true;
    };

/**
 * The update for a `$v: 2` diff on a target that holds the document's pre-image (the steady
 * state): the operator form (`$set`/`$unset` of dotted paths) when every sub-diff is a document
 * sub-diff with `u` and `d` sections, else what {@link diffToUpdate} returns. The operator form is
 * cheaper to build and to apply than a pipeline, and the diff is parsed once either way.
 *
 * @remarks
 * On another version of the document the operator form differs in two ways. A sub-diffed field
 * that is missing is created (the diff leaves it missing): only a replay or a conflict puts such
 * a version on the target, and a later entry of the stream removed that field, so replaying it
 * removes it again. A sub-diffed field of another type makes mongod fail the update with
 * PathNotViable (28), where the diff sets it to `null`: callers must then apply the entry with
 * {@link diffToUpdate}, so it does not suit a transaction (the failure aborts it). The applier
 * also keeps the exact form for the catch-up after a full copy, where any document may hold
 * another version.
 *
 * @throws {@link UnsupportedOplogEntryError} if the diff is malformed
 * @internal
 */
export function preImageUpdate(diff: Document, source: UpdateSource = {}): PreImageUpdate {
  const parsed = parseDiff(diff, source);
  if (hasBinaries(parsed)) return { needsDocument: true };
  const set: Document = {};
  const unset: Document = {};
  if (collectPaths(parsed, '', set, unset)) {
    const update: Document = {};
    if (Object.keys(set).length > 0) update.$set = set;
    if (Object.keys(unset).length > 0) update.$unset = unset;
    if (Object.keys(update).length > 0) return { update, preImageForm: true };
  }
  return { update: exactForm(parsed), preImageForm: false };
}

/**
 * Translates a `$v: 1` (or older, unversioned) update entry: the `$set`/`$unset` operators it
 * holds, without `$v`.
 *
 * @remarks
 * mongod logs `$v: 1` updates with `$set` and `$unset` only, and a secondary applies them like
 * any `$set`, so passing them on is faithful.
 *
 * @param o - the entry's `o`
 * @param source - namespace and optime, for the error of a malformed update
 * @throws {@link UnsupportedOplogEntryError} on any other operator
 * @public
 */
export function v1ToUpdate(o: Document, source: UpdateSource = {}): Document {
  const update: Document = {};
  for (const [key, value] of Object.entries(o)) {
    if (key === '$v') continue;
    if ((key !== '$set' && key !== '$unset') || !isDocument(value)) {
      throw malformed(
        `a $v:1 update holds ${JSON.stringify(key)}, expected only $set and $unset documents`,
        {
          op: 'u',
          ...(source.namespace === undefined ? {} : { ns: source.namespace }),
          ...(source.optime === undefined ? {} : { ts: source.optime })
        }
      );
    }
    update[key] = value;
  }
  return Object.keys(update).length > 0 ? update : { $set: {} };
}

/**
 * The update to run on the target for an update entry: the translated diff, the `$v: 1`
 * operators, or the replacement document itself.
 *
 * @throws {@link UnsupportedOplogEntryError} if the update is malformed
 * @public
 */
export function updateOf(entry: UpdateEntry): Document | Document[] {
  const source = { namespace: entry.ns, optime: entry.ts };
  switch (entry.kind) {
    case 'diff':
      return diffToUpdate(entry.o.diff as Document, source);
    case 'operators':
      return v1ToUpdate(entry.o, source);
    case 'replacement':
      return entry.o;
  }
}
