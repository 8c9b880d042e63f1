/**
 * `updateDescription` of an update event, derived from the oplog entry's update as mongod's
 * change_stream_document_diff_parser.cpp does for `$v: 2` diffs (per level: `u`, `i`, `b` fields
 * into updatedFields, then `d` into removedFields, then each `s<field>` sub-diff in order; in an
 * array diff `l` gives a truncatedArrays entry before the `u<idx>`/`s<idx>` entries), and as 4.4
 * did for `$v: 1` (`$set` → updatedFields, `$unset` keys → removedFields, no truncatedArrays).
 */
import { Int32 } from 'bson';

import { type BDoc, type BValue, isDoc, toNumber } from '../bson/values.js';

interface PathPart {
  readonly name: string;
  readonly isIndex: boolean;
}

export interface DescriptionOptions {
  /** Add `disambiguatedPaths` (6.1+ with showExpandedEvents). */
  readonly disambiguatedPaths: boolean;
}

/** The description of a `$v: 2` update (`o.diff`). */
export function describeDiffV2(diff: BDoc, options: DescriptionOptions): BDoc {
  const builder = new DescriptionBuilder();
  builder.walkDocument(diff, []);
  return builder.result(options.disambiguatedPaths, true);
}

/** The description of a `$v: 1` update (`{$v: 1, $set, $unset}`), as 4.4 reported it. */
export function describeUpdateV1(o: BDoc): BDoc {
  const set = o.get('$set');
  const unset = o.get('$unset');
  const updatedFields: BDoc = isDoc(set) ? new Map(set) : new Map();
  const removedFields: BValue[] = isDoc(unset) ? [...unset.keys()] : [];
  return new Map<string, BValue>([
    ['updatedFields', updatedFields],
    ['removedFields', removedFields]
  ]);
}

class DescriptionBuilder {
  readonly #updated: BDoc = new Map();
  readonly #removed: BValue[] = [];
  readonly #truncated: BValue[] = [];
  readonly #disambiguated: BDoc = new Map();

  walkDocument(diff: BDoc, path: PathPart[]): void {
    for (const section of ['u', 'i', 'b']) {
      const fields = diff.get(section);
      if (isDoc(fields)) {
        for (const [name, value] of fields) this.#update([...path, field(name)], value);
      }
    }
    const deletes = diff.get('d');
    if (isDoc(deletes)) {
      for (const name of deletes.keys()) this.#record(this.#removed, [...path, field(name)]);
    }
    for (const [section, value] of diff) {
      if (section.length > 1 && section.startsWith('s') && isDoc(value)) {
        this.#walk(value, [...path, field(section.slice(1))]);
      }
    }
  }

  #walk(diff: BDoc, path: PathPart[]): void {
    if (diff.get('a') === true) this.#walkArray(diff, path);
    else this.walkDocument(diff, path);
  }

  #walkArray(diff: BDoc, path: PathPart[]): void {
    const newSize = diff.get('l');
    if (newSize !== undefined) {
      const dotted = dottedPath(path);
      this.#truncated.push(
        new Map<string, BValue>([
          ['field', dotted],
          ['newSize', new Int32(toNumber(newSize))]
        ])
      );
      this.#noteAmbiguity(path);
    }
    for (const [section, value] of diff) {
      if (section === 'a' || section === 'l') continue;
      const index = { name: section.slice(1), isIndex: true };
      if (section.startsWith('u')) this.#update([...path, index], value);
      else if (section.startsWith('s') && isDoc(value)) this.#walk(value, [...path, index]);
    }
  }

  #update(path: PathPart[], value: BValue): void {
    this.#updated.set(dottedPath(path), value);
    this.#noteAmbiguity(path);
  }

  #record(list: BValue[], path: PathPart[]): void {
    list.push(dottedPath(path));
    this.#noteAmbiguity(path);
  }

  /** A path is ambiguous once a field name (not an array index) is dotted or, below the top, numeric. */
  #noteAmbiguity(path: PathPart[]): void {
    const ambiguous = path.some(
      (part, i) =>
        !part.isIndex && (part.name.includes('.') || (i > 0 && isStrictlyNumeric(part.name)))
    );
    if (!ambiguous) return;
    this.#disambiguated.set(
      dottedPath(path),
      path.map(part => (part.isIndex ? new Int32(Number(part.name)) : part.name))
    );
  }

  result(withDisambiguated: boolean, withTruncated: boolean): BDoc {
    const out = new Map<string, BValue>([
      ['updatedFields', this.#updated],
      ['removedFields', this.#removed]
    ]);
    if (withTruncated) out.set('truncatedArrays', this.#truncated);
    if (withDisambiguated) out.set('disambiguatedPaths', this.#disambiguated);
    return out;
  }
}

function field(name: string): PathPart {
  return { name, isIndex: false };
}

function dottedPath(path: PathPart[]): string {
  return path.map(part => part.name).join('.');
}

/** `FieldRef::isNumericPathComponentStrict`: digits only, no leading zero unless it is "0". */
function isStrictlyNumeric(name: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(name);
}
