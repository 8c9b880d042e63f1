/**
 * The `errInfo` of a document that failed its collection's validator (MongoDB 5.0+), generated
 * the way mongod's doc_validation_error.cpp generates it: the validator is parsed into a match
 * tree with error annotations (query operators here, `$jsonSchema` in json-schema.ts), and the
 * tree is walked with a stack of frames that decide, node by node, whether the node explains the
 * failure, needs its children's outcomes first, or stays silent. The walk follows mongod's
 * pre-, in- and post-visitors one for one, so the details have mongod's shape and order:
 * `{failingDocumentId, details: {operatorName, specifiedAs | schemaRulesNotSatisfied | …}}`.
 */
import { Int32, Long } from 'bson';

import { splitPath } from '../../bson/paths.js';
import { type BDoc, type BValue, isDoc, isTruthy, typeAlias } from '../../bson/values.js';
import { compileExpression, makeScope, MISSING as EXPR_MISSING } from '../aggregate/expressions.js';
import { regexParts } from './arguments.js';
import { parseJsonSchema } from './json-schema.js';
import {
  type AllElemMatchNode,
  type AllowedPropertiesNode,
  annotate,
  childrenOf,
  type CondNode,
  DESCEND,
  type ErrorAnnotation,
  firstDuplicate,
  type LeafExplanation,
  type ListNode,
  matches,
  type MatchNode,
  type PatternSchema,
  valueAt,
  withPlaceholder
} from './match-tree.js';
import { compileFilter } from './matcher.js';
import { MISSING } from './path.js';

// ---------------------------------------------------------------------------------------------
// The validator as an annotated tree (expression_parser.cpp's annotations for query operators).

const NUMBER_TYPES = ['decimal', 'double', 'int', 'long'];

const LEAVES: Readonly<Record<string, LeafExplanation>> = {
  $eq: path('comparison failed', 'comparison succeeded'),
  $gt: path('comparison failed', 'comparison succeeded'),
  $gte: path('comparison failed', 'comparison succeeded'),
  $lt: path('comparison failed', 'comparison succeeded'),
  $lte: path('comparison failed', 'comparison succeeded'),
  $in: path('no matching value found in array', 'matching value found in array'),
  $regex: path('regular expression did not match', 'regular expression did match', [
    'regex',
    'string',
    'symbol'
  ]),
  $mod: path(
    '$mod did not evaluate to expected remainder',
    '$mod did evaluate to expected remainder',
    NUMBER_TYPES
  ),
  $size: path(
    'array length was not equal to given size',
    'array length was equal to given size',
    ['array'],
    'none'
  ),
  $elemMatch: path(
    'array did not satisfy the child predicate',
    'array did satisfy the child predicate',
    ['array'],
    'none'
  ),
  $all: {
    style: 'logicalLeaf',
    normalReason: 'array did not contain all specified values',
    invertedReason: 'array did contain all specified values',
    traversal: 'none'
  },
  $exists: {
    style: 'exists',
    normalReason: 'path does not exist',
    invertedReason: 'path does exist',
    traversal: 'none'
  },
  $type: {
    style: 'type',
    normalReason: 'type did not match',
    invertedReason: 'type did match',
    traversal: 'omit'
  }
};

for (const bits of ['$bitsAllSet', '$bitsAnySet', '$bitsAllClear', '$bitsAnyClear']) {
  (LEAVES as Record<string, LeafExplanation>)[bits] = path(
    'bitwise operator failed to match',
    'bitwise operator matched successfully',
    ['binData', 'decimal', 'double', 'int', 'long']
  );
}

function path(
  normalReason: string,
  invertedReason: string,
  expectedTypes?: string[],
  traversal: 'omit' | 'none' = 'omit'
): LeafExplanation {
  return { style: 'path', normalReason, invertedReason, expectedTypes, traversal };
}

function single(name: string, value: BValue): BDoc {
  return new Map([[name, value]]);
}

/** A query operator on `field` as a leaf, matched by the filter engine. */
function leaf(field: string, operator: string, filter: BDoc, specifiedAs: BDoc): MatchNode {
  const matcher = compileFilter(filter);
  return {
    kind: 'leaf',
    path: field,
    test: doc => matcher.matches(doc),
    explain: LEAVES[operator] ?? path('expression did not match', 'expression did match'),
    ann: annotate(operator, specifiedAs)
  };
}

function and(children: MatchNode[]): MatchNode {
  return children.length === 1 ? children[0]! : { kind: 'and', children, ann: annotate('$and') };
}

/** The operators of `{field: {…}}`, one node each (`parseSub`). */
function operatorNodes(field: string, ops: BDoc): MatchNode[] {
  const nodes: MatchNode[] = [];
  for (const [operator, arg] of ops) {
    const specifiedAs = single(field, single(operator, arg));
    switch (operator) {
      case '$options':
        break;
      case '$regex': {
        const regex: BDoc = new Map([[operator, arg]]);
        if (ops.has('$options')) regex.set('$options', ops.get('$options'));
        nodes.push(leaf(field, '$regex', single(field, regex), single(field, regex)));
        break;
      }
      case '$ne':
      case '$nin': {
        const positive = operator === '$ne' ? '$eq' : '$in';
        const inner = leaf(field, positive, single(field, single(positive, arg)), specifiedAs);
        inner.ann = annotate(operator, specifiedAs);
        nodes.push({ kind: 'not', child: inner, ann: DESCEND });
        break;
      }
      case '$exists': {
        const exists = leaf(field, '$exists', single(field, single('$exists', true)), specifiedAs);
        nodes.push(isTruthy(arg) ? exists : { kind: 'not', child: exists, ann: DESCEND });
        break;
      }
      case '$not': {
        const regex = regexParts(arg);
        const inner = regex
          ? leaf(field, '$regex', single(field, arg), single(field, arg))
          : and(operatorNodes(field, arg as BDoc));
        nodes.push({ kind: 'not', child: inner, ann: annotate('$not') });
        break;
      }
      default:
        nodes.push(leaf(field, operator, single(field, single(operator, arg)), specifiedAs));
    }
  }
  return nodes;
}

function isOperatorDocument(value: BValue): value is BDoc {
  if (!isDoc(value) || value.size === 0) return false;
  const first = value.keys().next().value as string;
  return first.startsWith('$') && !(value.has('$ref') && value.has('$id'));
}

/** The top-level clauses of a filter document (`parse`). */
function clauses(filter: BDoc): MatchNode[] {
  const out: MatchNode[] = [];
  for (const [name, value] of filter) {
    switch (name) {
      case '$and':
      case '$or':
      case '$nor': {
        const kind = name === '$and' ? 'and' : name === '$or' ? 'or' : 'nor';
        const children = (value as BDoc[]).map(item => and(clauses(item)));
        out.push({ kind, children, ann: annotate(name) });
        break;
      }
      case '$jsonSchema':
        out.push(parseJsonSchema(value));
        break;
      case '$expr':
        out.push(exprNode(value));
        break;
      case '$comment':
        break;
      case '$alwaysTrue':
      case '$alwaysFalse':
        out.push({
          kind: 'always',
          value: name === '$alwaysTrue',
          ann: annotate(name, single(name, value))
        });
        break;
      default:
        if (isOperatorDocument(value)) {
          out.push(...operatorNodes(name, value));
        } else {
          const operator = regexParts(value) ? '$regex' : '$eq';
          const specifiedAs = single(name, value);
          out.push(leaf(name, operator, specifiedAs, specifiedAs));
        }
    }
  }
  return out;
}

function exprNode(expression: BValue): MatchNode {
  const compiled = compileExpression(expression, []);
  const evaluate = (doc: BDoc): BValue => {
    const value = compiled(makeScope(doc, new Map()));
    return value === EXPR_MISSING ? null : (value as BValue);
  };
  const test = compileFilter(single('$expr', expression));
  return {
    kind: 'expr',
    test: doc => test.matches(doc),
    evaluate,
    ann: annotate('$expr', single('$expr', expression))
  };
}

/** The annotated tree of a collection validator (already accepted by the filter parser). */
export function validatorTree(validator: BDoc): MatchNode {
  const all = clauses(validator);
  if (all.length === 0) return { kind: 'always', value: true, ann: annotate('$alwaysTrue') };
  return and(all);
}

// ---------------------------------------------------------------------------------------------
// The walk (ValidationErrorPreVisitor, ValidationErrorInVisitor, ValidationErrorPostVisitor).

type RuntimeState = 'error' | 'noError' | 'needChildrenInfo' | 'ignoreChildren';

interface FrameParams {
  readonly doc: BDoc;
  readonly inverted: boolean;
}

interface Frame {
  state: RuntimeState;
  params: FrameParams;
  obj: BDoc;
  arr: BValue[];
  childIndex: number;
}

type Latest =
  | { readonly kind: 'none' }
  | { readonly kind: 'path'; readonly value: string }
  | { readonly kind: 'object'; readonly value: BDoc }
  | { readonly kind: 'array'; readonly value: BValue[] };

const NONE: Latest = { kind: 'none' };

/** Tags whose failing children are reported with their index. */
const ORDERED = new Set(['$and', '$or', '$nor', 'allOf', 'anyOf', 'oneOf']);

/** Names of an AND's details array, normal and inverted (`detailsStringMap`). */
const AND_DETAILS: Readonly<Record<string, readonly [string, string]>> = {
  $and: ['clausesNotSatisfied', 'clausesSatisfied'],
  allOf: ['schemasNotSatisfied', ''],
  properties: ['propertiesNotSatisfied', ''],
  $jsonSchema: ['schemaRulesNotSatisfied', ''],
  _subschema: ['', ''],
  _propertiesExistList: ['', ''],
  items: ['details', ''],
  dependencies: ['failingDependencies', ''],
  required: ['missingProperties', ''],
  _property: ['details', ''],
  '': ['details', '']
};

const OR_DETAILS: Readonly<Record<string, readonly [string, string]>> = {
  $or: ['clausesNotSatisfied', 'clausesSatisfied'],
  anyOf: ['schemasNotSatisfied', '']
};

class ErrorWalk {
  readonly #frames: Frame[] = [];
  #latest: Latest = NONE;
  #childInput: FrameParams | undefined;

  constructor(private readonly root: BDoc) {}

  /** The details object of the walk (the error the root node produced). */
  run(node: MatchNode): BValue {
    this.#walk(node);
    const latest = this.#latest;
    if (latest.kind === 'object' || latest.kind === 'array') return latest.value;
    return new Map<string, BValue>([['reason', 'failed to generate document validation error']]);
  }

  #walk(node: MatchNode): void {
    this.#pre(node);
    const children = childrenOf(node);
    children.forEach((child, i) => {
      if (i > 0) this.#in(node);
      this.#walk(child);
    });
    this.#post(node);
  }

  // -- frame bookkeeping (ValidationErrorContext) --

  get #top(): Frame {
    return this.#frames[this.#frames.length - 1]!;
  }

  #push(node: MatchNode): void {
    this.#latest = NONE;
    if (this.#frames.length === 0) {
      this.#frames.push(frame('error', { doc: this.root, inverted: false }));
      return;
    }
    const parentState = this.#top.state;
    let params = this.#top.params;
    if (this.#childInput) {
      params = this.#childInput;
      this.#childInput = undefined;
    }
    if (
      parentState === 'noError' ||
      parentState === 'ignoreChildren' ||
      node.ann.mode === 'ignore'
    ) {
      this.#frames.push(frame('noError', params));
      return;
    }
    if (parentState === 'needChildrenInfo') {
      let generate: boolean;
      try {
        generate = matches(node, params.doc) ? params.inverted : !params.inverted;
      } catch {
        generate = true;
      }
      this.#frames.push(frame(generate ? 'error' : 'noError', params));
      return;
    }
    this.#frames.push(frame('error', params));
  }

  #pop(): void {
    this.#frames.pop();
  }

  #setState(state: RuntimeState): void {
    if (this.#top.state !== 'noError') this.#top.state = state;
  }

  #setChildInput(doc: BDoc): void {
    this.#childInput = { doc, inverted: this.#top.params.inverted };
  }

  get #doc(): BDoc {
    return this.#top.params.doc;
  }

  get #inverted(): boolean {
    return this.#top.params.inverted;
  }

  #flip(): void {
    this.#top.params = { ...this.#top.params, inverted: !this.#top.params.inverted };
  }

  #generates(node: MatchNode): boolean {
    return node.ann.mode === 'generate' && this.#top.state !== 'noError';
  }

  #producesArray(node: MatchNode): boolean {
    return node.ann.tag === '_subschema' || node.ann.tag === '_propertiesExistList';
  }

  #finish(node: MatchNode): void {
    if (this.#generates(node)) {
      this.#latest = this.#producesArray(node)
        ? { kind: 'array', value: this.#top.arr }
        : { kind: 'object', value: this.#top.obj };
    }
    this.#pop();
  }

  /** `appendLatestCompleteError` into an object: as `details`. */
  #appendLatestTo(obj: BDoc): void {
    const latest = this.#latest;
    if (latest.kind === 'object' || latest.kind === 'array') obj.set('details', latest.value);
  }

  /** `appendLatestCompleteError` into an array: an array error is absorbed element by element. */
  #appendLatestToArray(arr: BValue[]): void {
    const latest = this.#latest;
    if (latest.kind === 'array') arr.push(...latest.value);
    else if (latest.kind !== 'none') arr.push(latest.value);
  }

  // -- field helpers (ValidationErrorPreVisitor's private utilities) --

  #operatorName(node: MatchNode): void {
    if (node.ann.tag !== '') this.#top.obj.set('operatorName', node.ann.tag);
  }

  #details(node: MatchNode): void {
    this.#operatorName(node);
    this.#top.obj.set('specifiedAs', node.ann.annotation);
  }

  #reason(normal: string, inverted: string): void {
    const obj = this.#top.obj;
    if (obj.has('reason')) return;
    const reason = this.#inverted ? inverted : normal;
    if (reason !== '') obj.set('reason', reason);
  }

  /** The values a path yields (`createValuesArray`), undefined when the path does not exist. */
  #values(field: string, traversal: 'omit' | 'none'): BValue[] | undefined {
    if (field === '') return [this.root];
    const found: BValue[] = [];
    let exists = false;
    const walk = (value: BValue, parts: string[], at: number): void => {
      if (at === parts.length) {
        exists = true;
        if (traversal === 'omit' && Array.isArray(value)) found.push(...value);
        else found.push(value);
        return;
      }
      const part = parts[at]!;
      if (isDoc(value)) {
        if (value.has(part)) walk(value.get(part), parts, at + 1);
      } else if (Array.isArray(value)) {
        if (/^\d+$/.test(part) && Number(part) < value.length) {
          walk(value[Number(part)], parts, at + 1);
        }
        for (const element of value) if (isDoc(element)) walk(element, parts, at);
      }
    };
    const doc = this.#doc;
    if (doc.has(field)) walk(doc.get(field), [], 0);
    else walk(doc, splitPath(field), 0);
    return exists ? found : undefined;
  }

  #missingField(values: BValue[] | undefined): void {
    if (!values) this.#top.obj.set('reason', 'field was missing');
  }

  #typeMismatch(values: BValue[] | undefined, expected: readonly string[] | undefined): void {
    const obj = this.#top.obj;
    if (!values || obj.has('reason') || !expected) return;
    if (values.some(value => expected.includes(typeAlias(value)))) return;
    obj.set('reason', 'type did not match');
    this.#consideredTypes(values);
    const sorted = [...new Set(expected)].sort();
    if (sorted.length === 1) obj.set('expectedType', sorted[0]!);
    else obj.set('expectedTypes', sorted);
  }

  #consideredValues(values: BValue[] | undefined): void {
    if (!values) return;
    if (values.length === 1) this.#top.obj.set('consideredValue', values[0]);
    else this.#top.obj.set('consideredValues', values);
  }

  #consideredTypes(values: BValue[] | undefined): void {
    if (!values || values.length === 0) return;
    const types = [...new Set(values.map(typeAlias))].sort();
    if (types.length === 1) this.#top.obj.set('consideredType', types[0]!);
    else this.#top.obj.set('consideredTypes', types);
  }

  /**
   * The value a JSON Schema keyword node applies to, when the node should explain a failure:
   * present and of one of the keyword's types (otherwise a type or required node explains it).
   */
  #keywordValue(
    node: MatchNode & { path: string },
    expected: readonly string[]
  ): BValue | typeof MISSING {
    if (!this.#generates(node) || this.#inverted) return MISSING;
    const value = valueAt(this.#doc, node.path);
    return value !== MISSING && expected.includes(typeAlias(value)) ? value : MISSING;
  }

  #pathError(
    node: MatchNode & { path: string },
    normal: string,
    inverted: string,
    expected: readonly string[] | undefined,
    traversal: 'omit' | 'none',
    jsonSchema: boolean
  ): void {
    this.#push(node);
    if (!this.#generates(node)) return;
    if (jsonSchema && this.#keywordValue(node, expected ?? []) === MISSING) {
      this.#setState('noError');
      return;
    }
    this.#details(node);
    const values = this.#values(node.path, traversal);
    this.#missingField(values);
    this.#typeMismatch(values, expected);
    this.#reason(normal, inverted);
    this.#consideredValues(values);
  }

  #typeError(
    node: MatchNode & { path: string },
    traversal: 'omit' | 'none',
    jsonSchema: boolean
  ): void {
    this.#push(node);
    if (!this.#generates(node)) return;
    const values = this.#values(node.path, traversal);
    if (jsonSchema && !values) {
      this.#setState('noError');
      return;
    }
    this.#details(node);
    this.#missingField(values);
    this.#reason('type did not match', 'type did match');
    this.#consideredValues(values);
    this.#consideredTypes(values);
  }

  #treeOperator(node: MatchNode): void {
    this.#push(node);
    if (!this.#generates(node)) return;
    const tag = node.ann.tag;
    if (!tag.startsWith('_')) this.#operatorName(node);
    if (tag === 'required') this.#top.obj.set('specifiedAs', node.ann.annotation);
    else for (const [key, value] of node.ann.annotation) this.#top.obj.set(key, value);
  }

  #logicalLeaf(node: ListNode, normal: string, inverted: string, jsonSchema: boolean): void {
    this.#push(node);
    if (!this.#generates(node)) return;
    this.#details(node);
    const first = node.children[0];
    const field = first && 'path' in first ? first.path : '';
    const values = this.#values(field, 'none');
    if (jsonSchema && !values) {
      this.#setState('noError');
      return;
    }
    this.#missingField(values);
    this.#reason(normal, inverted);
    this.#consideredValues(values);
  }

  // -- pre-visit --

  #pre(node: MatchNode): void {
    switch (node.kind) {
      case 'and':
        return this.#preAnd(node);
      case 'or':
        if (node.ann.tag === 'enum') {
          this.#logicalLeaf(node, 'value was not found in enum', 'value was found in enum', true);
          return;
        }
        this.#treeOperator(node);
        if (this.#inverted) this.#setState('needChildrenInfo');
        return;
      case 'nor':
        this.#treeOperator(node);
        if (!this.#inverted) this.#setState('needChildrenInfo');
        this.#flip();
        return;
      case 'not':
        this.#treeOperator(node);
        this.#flip();
        if (this.#generates(node) && node.ann.tag === 'not') {
          this.#reason('', 'child expression matched');
          this.#setState('ignoreChildren');
        }
        return;
      case 'xor':
        return this.#preXor(node);
      case 'always':
        this.#push(node);
        if (this.#generates(node)) {
          this.#details(node);
          this.#reason(
            'expression always evaluates to false',
            'expression always evaluates to true'
          );
        }
        return;
      case 'exists':
        this.#push(node);
        if (this.#generates(node) && node.ann.tag !== '_propertyExists') {
          this.#details(node);
          this.#reason('path does not exist', 'path does exist');
        }
        return;
      case 'type':
        return this.#typeError(node, 'none', true);
      case 'compare':
        return this.#pathError(
          node,
          'comparison failed',
          'comparison succeeded',
          NUMBER_TYPES,
          'none',
          true
        );
      case 'regex':
        return this.#pathError(
          node,
          'regular expression did not match',
          'regular expression did match',
          ['regex', 'string', 'symbol'],
          'omit',
          node.ann.tag === 'pattern'
        );
      case 'strLength':
        return this.#pathError(
          node,
          'specified string length was not satisfied',
          'specified string length was satisfied',
          ['string'],
          'none',
          true
        );
      case 'fmod':
        return this.#pathError(
          node,
          'considered value is not a multiple of the specified value',
          'considered value is a multiple of the specified value',
          NUMBER_TYPES,
          'none',
          true
        );
      case 'numItems': {
        this.#push(node);
        const value = this.#keywordValue(node, ['array']);
        if (!Array.isArray(value)) {
          this.#setState('noError');
          return;
        }
        this.#details(node);
        this.#reason('array did not match specified length', '');
        this.#top.obj.set('consideredValue', value);
        this.#top.obj.set('numberOfItems', new Int32(value.length));
        return;
      }
      case 'numProperties':
        this.#push(node);
        if (this.#generates(node)) {
          this.#details(node);
          this.#reason('specified number of properties was not satisfied', '');
          this.#top.obj.set('numberOfProperties', new Int32(this.#doc.size));
        }
        return;
      case 'uniqueItems': {
        this.#push(node);
        const value = this.#keywordValue(node, ['array']);
        if (!Array.isArray(value)) {
          this.#setState('noError');
          return;
        }
        this.#details(node);
        this.#reason('found a duplicate item', '');
        this.#top.obj.set('consideredValue', value);
        const duplicate = firstDuplicate(value);
        if (duplicate) this.#top.obj.set('duplicatedValue', duplicate.value);
        return;
      }
      case 'objectMatch': {
        this.#push(node);
        if (this.#top.state === 'noError') return;
        const value = valueAt(this.#doc, node.path);
        if (isDoc(value)) this.#setChildInput(value);
        else this.#setState('noError');
        return;
      }
      case 'allowedProperties':
        return this.#preAllowedProperties(node);
      case 'allElemMatch':
        return this.#preAllElemMatch(node);
      case 'matchArrayIndex': {
        this.#push(node);
        if (!this.#generates(node)) return;
        const value = valueAt(this.#doc, node.path);
        const array = Array.isArray(value) ? value : [];
        this.#top.obj.set('itemIndex', Long.fromNumber(node.index));
        this.#setChildInput(withPlaceholder(array[node.index]));
        return;
      }
      case 'cond':
        this.#push(node);
        if (this.#generates(node) && !matches(node.cond, this.#doc)) this.#setState('noError');
        return;
      case 'schemaEq':
      case 'rootDocEq':
        return;
      case 'leaf':
        return this.#preLeaf(node);
      case 'expr': {
        this.#push(node);
        if (!this.#generates(node)) return;
        this.#details(node);
        try {
          const result = node.evaluate(this.#doc);
          this.#reason('expression did not match', 'expression did match');
          this.#top.obj.set('expressionResult', result);
        } catch (error) {
          this.#top.obj.set('reason', 'failed to evaluate aggregation expression');
          const failure = error as { code?: number; codeName?: string; message?: string };
          this.#top.obj.set(
            'details',
            new Map<string, BValue>([
              ['code', new Int32(failure.code ?? 1)],
              ['codeName', failure.codeName ?? 'InternalError'],
              ['errmsg', failure.message ?? String(error)]
            ])
          );
        }
        return;
      }
    }
  }

  #preAnd(node: ListNode): void {
    const tag = node.ann.tag;
    if (tag === 'items') {
      this.#push(node);
      const first = node.children[0];
      if (!first) return;
      if (first.kind === 'matchArrayIndex' && Array.isArray(this.#keywordValue(first, ['array']))) {
        this.#operatorName(node);
        this.#setState('needChildrenInfo');
      } else {
        this.#setState('noError');
      }
      return;
    }
    this.#treeOperator(node);
    if (!this.#inverted) this.#setState('needChildrenInfo');
    if (tag === '$jsonSchema' && this.#inverted) {
      this.#setState('ignoreChildren');
      this.#reason('', 'schema matched');
    }
  }

  #preXor(node: ListNode): void {
    this.#treeOperator(node);
    this.#setState('needChildrenInfo');
    if (!this.#generates(node)) return;
    const matching: Int32[] = [];
    node.children.forEach((child, i) => {
      if (matches(child, this.#doc)) matching.push(new Int32(i));
    });
    if (matching.length > 0) {
      this.#flip();
      this.#setState('ignoreChildren');
      this.#reason('', 'more than one subschema matched');
      this.#top.obj.set('matchingSchemaIndexes', matching);
    }
  }

  #preLeaf(node: MatchNode & { kind: 'leaf' }): void {
    const explain = node.explain;
    switch (explain.style) {
      case 'exists':
        this.#push(node);
        if (this.#generates(node)) {
          this.#details(node);
          this.#reason(explain.normalReason, explain.invertedReason);
        }
        return;
      case 'type':
        return this.#typeError(node, explain.traversal, false);
      case 'logicalLeaf': {
        this.#push(node);
        if (!this.#generates(node)) return;
        this.#details(node);
        const values = this.#values(node.path, 'none');
        this.#missingField(values);
        this.#reason(explain.normalReason, explain.invertedReason);
        this.#consideredValues(values);
        return;
      }
      default:
        return this.#pathError(
          node,
          explain.normalReason,
          explain.invertedReason,
          explain.expectedTypes,
          explain.traversal,
          false
        );
    }
  }

  // -- additionalProperties / patternProperties --

  #additionalProperties(node: AllowedPropertiesNode): string[] {
    const names: string[] = [];
    for (const name of this.#doc.keys()) {
      if (node.properties.has(name)) continue;
      if (node.patterns.some(pattern => pattern.re.test(name))) continue;
      names.push(name);
    }
    return names;
  }

  #firstFailingAdditional(node: AllowedPropertiesNode, names: string[]): string | undefined {
    return names.find(name => !matches(node.otherwise, withPlaceholder(this.#doc.get(name))));
  }

  #failingPatternProperty(pattern: PatternSchema): string | undefined {
    for (const [name, value] of this.#doc) {
      if (pattern.re.test(name) && !matches(pattern.filter, withPlaceholder(value))) return name;
    }
    return undefined;
  }

  #additionalKind(node: AllowedPropertiesNode): 'bool' | 'schema' | 'none' {
    const value = node.ann.annotation.get('additionalProperties');
    if (typeof value === 'boolean') return 'bool';
    return isDoc(value) ? 'schema' : 'none';
  }

  #preAllowedProperties(node: AllowedPropertiesNode): void {
    this.#push(node);
    this.#setState('ignoreChildren');
    if (!this.#generates(node)) return;
    const additional = this.#additionalProperties(node);
    const kind = this.#additionalKind(node);
    if (kind === 'bool' && !matches(node.otherwise, this.#doc)) {
      if (additional.length > 0) {
        const obj = this.#top.obj;
        obj.set('operatorName', 'additionalProperties');
        obj.set('specifiedAs', single('additionalProperties', false));
        obj.set('additionalProperties', additional);
      }
    } else if (kind === 'schema') {
      const failing = this.#firstFailingAdditional(node, additional);
      if (failing !== undefined) {
        this.#setState('error');
        this.#setChildInput(withPlaceholder(this.#doc.get(failing)));
      }
    }
  }

  /** `generateAllowedPropertiesSchemaError`, after the child at the current index. */
  #allowedPropertiesChildError(node: AllowedPropertiesNode): void {
    const index = this.#top.childIndex;
    if (this.#latest.kind === 'none') return;
    if (index === 0) {
      if (this.#additionalKind(node) !== 'schema') return;
      const additional = this.#additionalProperties(node);
      const failing = this.#firstFailingAdditional(node, additional);
      const obj = this.#top.obj;
      obj.set('operatorName', 'additionalProperties');
      for (const [key, value] of node.otherwise.ann.schemaAnnotations) obj.set(key, value);
      obj.set('reason', 'at least one additional property did not match the subschema');
      if (failing !== undefined) obj.set('failingProperty', failing);
      this.#appendLatestTo(obj);
      return;
    }
    const pattern = node.patterns[index - 1]!;
    const failing = this.#failingPatternProperty(pattern);
    if (this.#generates(node) && failing !== undefined) {
      const entry: BDoc = new Map<string, BValue>([['propertyName', failing]]);
      for (const [key, value] of pattern.filter.ann.schemaAnnotations) entry.set(key, value);
      entry.set('regexMatched', pattern.raw);
      this.#appendLatestTo(entry);
      this.#top.arr.push(entry);
    }
  }

  #inAllowedProperties(node: AllowedPropertiesNode): void {
    if (this.#generates(node)) {
      this.#allowedPropertiesChildError(node);
      this.#setState('ignoreChildren');
      const pattern = node.patterns[this.#top.childIndex]!;
      const failing = this.#failingPatternProperty(pattern);
      if (failing !== undefined) {
        this.#setState('error');
        this.#setChildInput(withPlaceholder(this.#doc.get(failing)));
      }
    }
    this.#top.childIndex++;
  }

  #postAllowedProperties(node: AllowedPropertiesNode): void {
    if (this.#generates(node)) {
      this.#allowedPropertiesChildError(node);
      const additionalError = this.#top.obj;
      let patternError: BDoc | undefined;
      if (this.#top.arr.length > 0) {
        patternError = new Map<string, BValue>([
          ['operatorName', 'patternProperties'],
          ['details', this.#top.arr]
        ]);
      }
      if (additionalError.size === 0 && patternError) {
        this.#latest = { kind: 'object', value: patternError };
      } else if (!patternError) {
        this.#latest = { kind: 'object', value: additionalError };
      } else {
        this.#latest = { kind: 'array', value: [additionalError, patternError] };
      }
    }
    this.#pop();
  }

  // -- items / additionalItems --

  #preAllElemMatch(node: AllElemMatchNode): void {
    this.#push(node);
    const value = this.#keywordValue(node, ['array']);
    if (!Array.isArray(value)) {
      this.#setState('noError');
      return;
    }
    if (
      node.ann.tag === 'additionalItems' &&
      typeof node.ann.annotation.get('additionalItems') === 'boolean'
    ) {
      this.#details(node);
      this.#reason('found additional items', '');
      this.#top.obj.set('additionalItems', value.slice(node.start));
      return;
    }
    const reason =
      node.ann.tag === 'items'
        ? 'At least one item did not match the sub-schema'
        : 'At least one additional item did not match the sub-schema';
    this.#operatorName(node);
    for (const [key, item] of node.child.ann.schemaAnnotations) this.#top.obj.set(key, item);
    this.#reason(reason, '');
    for (let i = node.start; i < value.length; i++) {
      if (!matches(node.child, withPlaceholder(value[i]))) {
        this.#top.obj.set('itemIndex', new Int32(i));
        this.#setChildInput(withPlaceholder(value[i]));
        return;
      }
    }
  }

  // -- in-visit --

  #in(node: MatchNode): void {
    switch (node.kind) {
      case 'and':
      case 'or':
      case 'nor':
        return this.#childError(node);
      case 'xor':
        if (!this.#inverted) this.#childError(node);
        return;
      case 'allowedProperties':
        return this.#inAllowedProperties(node);
      case 'cond':
        if (this.#generates(node)) this.#dependencyError(node);
        this.#top.childIndex++;
        return;
      default:
        return;
    }
  }

  /** `finishLogicalOperatorChildError`. */
  #childError(node: ListNode): void {
    const top = this.#top;
    if (this.#generates(node) && top.state !== 'ignoreChildren' && this.#latest.kind !== 'none') {
      if (ORDERED.has(node.ann.tag)) {
        const entry: BDoc = new Map<string, BValue>([['index', new Int32(top.childIndex)]]);
        const child = node.children[top.childIndex];
        if (child) for (const [key, value] of child.ann.schemaAnnotations) entry.set(key, value);
        this.#appendLatestTo(entry);
        top.arr.push(entry);
      } else {
        this.#appendLatestToArray(top.arr);
      }
    }
    top.childIndex++;
  }

  /** `generateSingleDependencyError`: after the `then` branch of a failed dependency. */
  #dependencyError(node: CondNode): void {
    if (this.#top.childIndex !== 1 || this.#latest.kind === 'none') return;
    const obj = this.#top.obj;
    obj.set('conditionalProperty', node.ann.annotation.keys().next().value as string);
    if (node.ann.tag === '_schemaDependency') {
      this.#appendLatestTo(obj);
    } else if (this.#latest.kind === 'array') {
      obj.set('missingProperties', this.#latest.value);
    }
  }

  // -- post-visit --

  #post(node: MatchNode): void {
    switch (node.kind) {
      case 'and': {
        const tag = node.ann.tag;
        if (tag === '$jsonSchema' && this.#inverted) return this.#finish(node);
        const names = AND_DETAILS[tag] ?? AND_DETAILS['']!;
        return this.#postTreeOperator(node, this.#inverted ? names[1] : names[0]);
      }
      case 'or': {
        if (node.ann.tag === 'enum' || !this.#generates(node)) return this.#finish(node);
        const names = OR_DETAILS[node.ann.tag] ?? ['details', ''];
        return this.#postTreeOperator(node, this.#inverted ? names[1] : names[0]);
      }
      case 'nor':
        return this.#postTreeOperator(
          node,
          this.#inverted ? 'clausesSatisfied' : 'clausesNotSatisfied'
        );
      case 'xor':
        if (!this.#inverted) return this.#postTreeOperator(node, 'schemasNotSatisfied');
        return this.#finish(node);
      case 'not':
        if (this.#generates(node) && node.ann.tag !== 'not') this.#appendLatestTo(this.#top.obj);
        return this.#finish(node);
      case 'exists':
        if (this.#generates(node) && node.ann.tag === '_propertyExists') {
          this.#latest = { kind: 'path', value: node.path };
          this.#pop();
          return;
        }
        return this.#finish(node);
      case 'allowedProperties':
        return this.#postAllowedProperties(node);
      case 'allElemMatch':
        if (
          this.#generates(node) &&
          !(
            node.ann.tag === 'additionalItems' &&
            typeof node.ann.annotation.get('additionalItems') === 'boolean'
          )
        ) {
          this.#appendLatestTo(this.#top.obj);
        }
        return this.#finish(node);
      case 'matchArrayIndex':
        if (this.#generates(node)) this.#appendLatestTo(this.#top.obj);
        return this.#finish(node);
      case 'schemaEq':
      case 'rootDocEq':
        return;
      default:
        return this.#finish(node);
    }
  }

  /** `postVisitTreeOperator`. */
  #postTreeOperator(node: ListNode, detailsName: string): void {
    for (const [key, value] of node.ann.schemaAnnotations) this.#top.obj.set(key, value);
    this.#childError(node);
    const tag = node.ann.tag;
    if (
      this.#generates(node) &&
      (tag === 'properties' || tag === '_property') &&
      this.#top.arr.length === 0
    ) {
      this.#setState('noError');
    }
    if (this.#generates(node) && !this.#producesArray(node)) {
      this.#top.obj.set(detailsName, this.#top.arr);
    }
    this.#finish(node);
  }
}

function frame(state: RuntimeState, params: FrameParams): Frame {
  return { state, params, obj: new Map(), arr: [], childIndex: 0 };
}

/** `doc_validation_error::generateError`: `{failingDocumentId, details}`. */
export function validationErrorInfo(tree: MatchNode, doc: BDoc): BDoc {
  const details = new ErrorWalk(doc).run(tree);
  return new Map<string, BValue>([
    ['failingDocumentId', doc.get('_id')],
    ['details', details]
  ]);
}

export type { ErrorAnnotation };
