/**
 * A match-expression tree shaped like mongod's `MatchExpression` trees, with the error annotation
 * each node carries (`MatchExpression::ErrorAnnotation`). `$jsonSchema` is translated into such a
 * tree exactly as json_schema_parser.cpp translates it, and a failed collection validator is
 * explained by walking the tree the way doc_validation_error.cpp walks mongod's
 * (validation-error.ts). Plain find filters do not use it: they compile to closures (parse.ts).
 */
import { BSONRegExp, BSONSymbol, Decimal128, Double, Int32, Long } from 'bson';

import {
  type BDoc,
  type BValue,
  canonicalType,
  compareValuesBinary,
  isDoc,
  isNumber,
  typeAlias
} from '../../bson/values.js';
import { type Found, MISSING } from './path.js';
import { type CompareOp, comparison } from './predicates.js';

/**
 * How a node takes part in error generation: `generate` explains itself, `ignore` never does
 * (nor do its children), `descend` says nothing itself but lets its children explain.
 */
export type AnnotationMode = 'generate' | 'ignore' | 'descend';

export interface ErrorAnnotation {
  /** The operator or keyword name; `_`-prefixed tags are internal (`_subschema`, `_property`). */
  readonly tag: string;
  /** `specifiedAs` of a leaf, or the fields a tree node adds to its error. */
  readonly annotation: BDoc;
  /** The `title` and `description` of the (sub)schema the node stands for. */
  readonly schemaAnnotations: BDoc;
  readonly mode: AnnotationMode;
}

const EMPTY: BDoc = new Map();

/** An annotation that generates an error (`doc_validation_error::createAnnotation`). */
export function annotate(tag: string, annotation: BDoc = EMPTY, schema?: BDoc): ErrorAnnotation {
  const schemaAnnotations: BDoc = new Map();
  if (schema) {
    for (const [key, value] of schema) {
      if (key === 'title' || key === 'description') schemaAnnotations.set(key, value);
    }
  }
  return { tag, annotation, schemaAnnotations, mode: 'generate' };
}

export const IGNORE: ErrorAnnotation = Object.freeze({
  tag: '',
  annotation: EMPTY,
  schemaAnnotations: EMPTY,
  mode: 'ignore'
});

export const DESCEND: ErrorAnnotation = Object.freeze({
  tag: '',
  annotation: EMPTY,
  schemaAnnotations: EMPTY,
  mode: 'descend'
});

/** A set of BSON types by alias (`$type`'s aliases); `allNumbers` is the `number` alias. */
export interface TypeSet {
  readonly aliases: ReadonlySet<string>;
  readonly allNumbers: boolean;
}

export const NUMERIC_ALIASES: ReadonlySet<string> = new Set(['int', 'long', 'double', 'decimal']);

export function typeSetHas(types: TypeSet, alias: string): boolean {
  return types.aliases.has(alias) || (types.allNumbers && NUMERIC_ALIASES.has(alias));
}

export function isSingleType(types: TypeSet): boolean {
  return types.allNumbers ? types.aliases.size === 0 : types.aliases.size === 1;
}

export type Bound = 'min' | 'max';

interface Base {
  ann: ErrorAnnotation;
}

/** A logical node; `xor` is `oneOf` ($_internalSchemaXor). */
export interface ListNode extends Base {
  readonly kind: 'and' | 'or' | 'nor' | 'xor';
  readonly children: MatchNode[];
}

export interface NotNode extends Base {
  readonly kind: 'not';
  readonly child: MatchNode;
}

export interface AlwaysNode extends Base {
  readonly kind: 'always';
  readonly value: boolean;
}

/** `$exists: true` on a (schema) path. */
export interface ExistsNode extends Base {
  readonly kind: 'exists';
  readonly path: string;
}

/** `$_internalSchemaType`: the value at the path (arrays not traversed) is of one of the types. */
export interface TypeNode extends Base {
  readonly kind: 'type';
  readonly path: string;
  readonly types: TypeSet;
}

/** `minimum`/`maximum` ($lt, $lte, $gt, $gte without array traversal). */
export interface CompareNode extends Base {
  readonly kind: 'compare';
  readonly path: string;
  readonly op: CompareOp;
  readonly rhs: BValue;
}

export interface RegexNode extends Base {
  readonly kind: 'regex';
  readonly path: string;
  readonly re: RegExp;
  readonly source: string;
}

export interface StrLengthNode extends Base {
  readonly kind: 'strLength';
  readonly path: string;
  readonly bound: Bound;
  readonly length: number;
}

export interface FmodNode extends Base {
  readonly kind: 'fmod';
  readonly path: string;
  readonly divisor: BValue;
}

export interface NumItemsNode extends Base {
  readonly kind: 'numItems';
  readonly path: string;
  readonly bound: Bound;
  readonly count: number;
}

/** `minProperties`/`maxProperties` of the current (sub)document. */
export interface NumPropertiesNode extends Base {
  readonly kind: 'numProperties';
  readonly bound: Bound;
  readonly count: number;
}

export interface UniqueItemsNode extends Base {
  readonly kind: 'uniqueItems';
  readonly path: string;
}

/** `$_internalSchemaObjectMatch`: the value at the path is an object its child matches. */
export interface ObjectMatchNode extends Base {
  readonly kind: 'objectMatch';
  readonly path: string;
  readonly child: MatchNode;
}

export interface PatternSchema {
  /** The pattern as written (reported as `regexMatched`). */
  readonly raw: string;
  readonly re: RegExp;
  /** Matched against `{i: <property value>}`. */
  readonly filter: MatchNode;
}

/** `$_internalSchemaAllowedProperties`: `additionalProperties` and `patternProperties`. */
export interface AllowedPropertiesNode extends Base {
  readonly kind: 'allowedProperties';
  readonly properties: ReadonlySet<string>;
  readonly patterns: readonly PatternSchema[];
  /** The `additionalProperties` schema, matched against `{i: <property value>}`. */
  readonly otherwise: MatchNode;
}

/** `$_internalSchemaAllElemMatchFromIndex`: every element from `start` matches `{i: element}`. */
export interface AllElemMatchNode extends Base {
  readonly kind: 'allElemMatch';
  readonly path: string;
  readonly start: number;
  readonly child: MatchNode;
}

/** `$_internalSchemaMatchArrayIndex`: element `index`, if there is one, matches `{i: element}`. */
export interface MatchArrayIndexNode extends Base {
  readonly kind: 'matchArrayIndex';
  readonly path: string;
  readonly index: number;
  readonly child: MatchNode;
}

/** `$_internalSchemaCond`: `then` if `cond` matches, else `otherwise`. */
export interface CondNode extends Base {
  readonly kind: 'cond';
  readonly cond: MatchNode;
  readonly then: MatchNode;
  readonly otherwise: MatchNode;
}

/** `$_internalSchemaEq`: the value equals, comparing objects without regard to field order. */
export interface SchemaEqNode extends Base {
  readonly kind: 'schemaEq';
  readonly path: string;
  readonly value: BValue;
}

/** `$_internalSchemaRootDocEq`: the whole document equals (field order ignored). */
export interface RootDocEqNode extends Base {
  readonly kind: 'rootDocEq';
  readonly value: BDoc;
}

/** How a query-language leaf explains a failure (doc_validation_error.cpp `generatePathError`). */
export interface LeafExplanation {
  readonly style: 'path' | 'exists' | 'type' | 'logicalLeaf';
  readonly normalReason: string;
  readonly invertedReason: string;
  readonly expectedTypes?: readonly string[] | undefined;
  /** `omit`: mongod's kTraverseOmitArray; `none`: kNoTraversal. */
  readonly traversal: 'omit' | 'none';
}

/** A query-language operator on a dotted path, matched by the compiled filter engine. */
export interface LeafNode extends Base {
  readonly kind: 'leaf';
  readonly path: string;
  readonly test: (doc: BDoc) => boolean;
  readonly explain: LeafExplanation;
}

/** `$expr`; `evaluate` gives the expression's value for `expressionResult`. */
export interface ExprNode extends Base {
  readonly kind: 'expr';
  readonly test: (doc: BDoc) => boolean;
  readonly evaluate: (doc: BDoc) => BValue;
}

export type MatchNode =
  | ListNode
  | NotNode
  | AlwaysNode
  | ExistsNode
  | TypeNode
  | CompareNode
  | RegexNode
  | StrLengthNode
  | FmodNode
  | NumItemsNode
  | NumPropertiesNode
  | UniqueItemsNode
  | ObjectMatchNode
  | AllowedPropertiesNode
  | AllElemMatchNode
  | MatchArrayIndexNode
  | CondNode
  | SchemaEqNode
  | RootDocEqNode
  | LeafNode
  | ExprNode;

/** The placeholder JSON Schema sub-expressions of arrays and properties are written against. */
export const PLACEHOLDER = 'i';

/** `{i: value}`, the document a placeholder expression is matched against. */
export function withPlaceholder(value: BValue): BDoc {
  return new Map([[PLACEHOLDER, value]]);
}

/** A node's children in mongod's order (the order its error walker visits them). */
export function childrenOf(node: MatchNode): readonly MatchNode[] {
  switch (node.kind) {
    case 'and':
    case 'or':
    case 'nor':
    case 'xor':
      return node.children;
    case 'not':
    case 'objectMatch':
    case 'allElemMatch':
    case 'matchArrayIndex':
      return [node.child];
    case 'allowedProperties':
      return [node.otherwise, ...node.patterns.map(p => p.filter)];
    case 'cond':
      return [node.cond, node.then, node.otherwise];
    default:
      return [];
  }
}

/**
 * The value a JSON Schema node reads: the field itself (a property name may contain dots; it
 * is then followed through embedded documents), arrays never traversed.
 */
export function valueAt(doc: BDoc, path: string): Found {
  if (path === '') return doc;
  if (doc.has(path)) return doc.get(path);
  if (!path.includes('.')) return MISSING;
  let current: BValue = doc;
  for (const part of path.split('.')) {
    if (!isDoc(current) || !current.has(part)) return MISSING;
    current = current.get(part);
  }
  return current;
}

export function typeMatches(types: TypeSet, value: Found): boolean {
  if (value === MISSING) return false;
  return typeSetHas(types, typeAlias(value));
}

/** Equality with objects compared as unordered field sets (UnorderedFieldsBSONElementComparator). */
export function unorderedEqual(a: BValue, b: BValue): boolean {
  if (canonicalType(a) !== canonicalType(b)) return false;
  if (isDoc(a) && isDoc(b)) {
    if (a.size !== b.size) return false;
    for (const [key, value] of a) {
      if (!b.has(key) || !unorderedEqual(value, b.get(key))) return false;
    }
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((value, i) => unorderedEqual(value, b[i]));
  }
  return compareValuesBinary(a, b) === 0;
}

/** The first element that equals an earlier one (`findFirstDuplicateValue`), if any. */
export function firstDuplicate(array: readonly BValue[]): { value: BValue } | undefined {
  for (let i = 1; i < array.length; i++) {
    for (let j = 0; j < i; j++) {
      if (unorderedEqual(array[i], array[j])) return { value: array[i] };
    }
  }
  return undefined;
}

/** Length in code points, as mongod counts a UTF-8 string's characters. */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _char of text) n++;
  return n;
}

/** A finite number as an exact decimal `coefficient × 10^exponent`; doubles to 15 digits. */
function decimalParts(value: BValue): { coefficient: bigint; exponent: number } | undefined {
  let text: string;
  if (value instanceof Int32) return { coefficient: BigInt(value.value), exponent: 0 };
  if (value instanceof Long) return { coefficient: value.toBigInt(), exponent: 0 };
  if (value instanceof Double) {
    if (!Number.isFinite(value.value)) return undefined;
    // mongod converts a double to Decimal128 rounded to 15 significant digits.
    text = value.value.toPrecision(15);
  } else if (value instanceof Decimal128) {
    text = value.toString();
  } else {
    return undefined;
  }
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return undefined;
  const [, sign, whole = '', fraction = '', exp = '0'] = match;
  const digits = `${whole}${fraction}` || '0';
  const coefficient = BigInt(digits) * (sign === '-' ? -1n : 1n);
  return { coefficient, exponent: Number(exp) - fraction.length };
}

/** `multipleOf`: the value modulo the divisor is zero, computed in decimal as mongod does. */
export function isMultipleOf(value: BValue, divisor: BValue): boolean {
  const a = decimalParts(value);
  const b = decimalParts(divisor);
  if (!a || !b || b.coefficient === 0n) return false;
  const exponent = Math.min(a.exponent, b.exponent);
  const scaledA = a.coefficient * 10n ** BigInt(a.exponent - exponent);
  const scaledB = b.coefficient * 10n ** BigInt(b.exponent - exponent);
  return scaledA % scaledB === 0n;
}

function bounded(bound: Bound, actual: number, limit: number): boolean {
  return bound === 'min' ? actual >= limit : actual <= limit;
}

function regexMatches(node: RegexNode, value: Found): boolean {
  if (typeof value === 'string') return node.re.test(value);
  if (value instanceof BSONSymbol) return node.re.test(value.valueOf());
  // A stored regex matches only the identical regex (RegexMatchExpression).
  return value instanceof BSONRegExp && value.pattern === node.source && value.options === '';
}

const COMPARATORS = new WeakMap<CompareNode, ReturnType<typeof comparison>>();

/** Whether `doc` (the current document or `{i: value}`) matches the node. */
export function matches(node: MatchNode, doc: BDoc): boolean {
  switch (node.kind) {
    case 'and':
      return node.children.every(child => matches(child, doc));
    case 'or':
      return node.children.some(child => matches(child, doc));
    case 'nor':
      return !node.children.some(child => matches(child, doc));
    case 'xor': {
      let count = 0;
      for (const child of node.children) if (matches(child, doc) && ++count > 1) return false;
      return count === 1;
    }
    case 'not':
      return !matches(node.child, doc);
    case 'always':
      return node.value;
    case 'exists':
      return valueAt(doc, node.path) !== MISSING;
    case 'type':
      return typeMatches(node.types, valueAt(doc, node.path));
    case 'compare': {
      let test = COMPARATORS.get(node);
      if (!test) {
        test = comparison(node.op, node.rhs);
        COMPARATORS.set(node, test);
      }
      return test(valueAt(doc, node.path), null);
    }
    case 'regex':
      return regexMatches(node, valueAt(doc, node.path));
    case 'strLength': {
      const value = valueAt(doc, node.path);
      return typeof value === 'string' && bounded(node.bound, codePointLength(value), node.length);
    }
    case 'fmod': {
      const value = valueAt(doc, node.path);
      return isNumber(value) && isMultipleOf(value, node.divisor);
    }
    case 'numItems': {
      const value = valueAt(doc, node.path);
      return Array.isArray(value) && bounded(node.bound, value.length, node.count);
    }
    case 'numProperties':
      return bounded(node.bound, doc.size, node.count);
    case 'uniqueItems': {
      const value = valueAt(doc, node.path);
      return Array.isArray(value) && !firstDuplicate(value);
    }
    case 'objectMatch': {
      const value = valueAt(doc, node.path);
      return isDoc(value) && matches(node.child, value);
    }
    case 'allowedProperties':
      return allowedPropertiesMatch(node, doc);
    case 'allElemMatch': {
      const value = valueAt(doc, node.path);
      if (!Array.isArray(value)) return false;
      for (let i = node.start; i < value.length; i++) {
        if (!matches(node.child, withPlaceholder(value[i]))) return false;
      }
      return true;
    }
    case 'matchArrayIndex': {
      const value = valueAt(doc, node.path);
      if (!Array.isArray(value)) return false;
      return node.index >= value.length || matches(node.child, withPlaceholder(value[node.index]));
    }
    case 'cond':
      return matches(node.cond, doc) ? matches(node.then, doc) : matches(node.otherwise, doc);
    case 'schemaEq': {
      const value = valueAt(doc, node.path);
      return value !== MISSING && unorderedEqual(value, node.value);
    }
    case 'rootDocEq':
      return unorderedEqual(doc, node.value);
    case 'leaf':
    case 'expr':
      return node.test(doc);
  }
}

/** Each property must match every pattern it matches, and `otherwise` if it matched none. */
function allowedPropertiesMatch(node: AllowedPropertiesNode, doc: BDoc): boolean {
  for (const [name, value] of doc) {
    let checkOtherwise = !node.properties.has(name);
    for (const pattern of node.patterns) {
      if (!pattern.re.test(name)) continue;
      checkOtherwise = false;
      if (!matches(pattern.filter, withPlaceholder(value))) return false;
    }
    if (checkOtherwise && !matches(node.otherwise, withPlaceholder(value))) return false;
  }
  return true;
}
