/**
 * The find filter grammar (mongod's `expression_parser.cpp`), compiled straight into closures:
 * a filter becomes one `DocPredicate` that is run per document without re-reading the filter.
 */
import { splitPath } from '../../bson/paths.js';
import { type BDoc, type BValue, isNumber, isTruthy, toNumber } from '../../bson/values.js';
import { badValue, failedToParse, notImplemented, ServerError } from '../server-error.js';
import {
  parseBits,
  parseMod,
  parseRegexDocument,
  parseSize,
  parseType,
  regexParts,
  regexPredicate,
  show
} from './arguments.js';
import { exprPredicate } from './expr.js';
import { parseJsonSchema } from './json-schema.js';
import { matches as matchesNode } from './match-tree.js';
import { visitPath } from './path.js';
import {
  type BitsOp,
  type CompareOp,
  comparison,
  exists,
  inList,
  type Rec,
  type ValuePredicate
} from './predicates.js';

/** A compiled filter: `rec`, when given, receives the positional `$` index of the match. */
export type DocPredicate = (doc: BDoc, rec: Rec | null) => boolean;

/** Where a filter sits: `sub` is inside `$elemMatch`, where `$expr` and `$text` are refused. */
export type Level = 'top' | 'sub';

/** One compiled field operator: a value test (with its leaf-array traversal) or a negation. */
type Op = { test: ValuePredicate; expandLeaf: boolean } | { not: Op[] };

const ALWAYS_FALSE: DocPredicate = () => false;
const ALWAYS_TRUE: DocPredicate = () => true;

const PATHLESS = new Set([
  'and',
  'or',
  'nor',
  'expr',
  'where',
  'text',
  'comment',
  'jsonSchema',
  'alwaysFalse',
  'alwaysTrue',
  'ref',
  'id',
  'db',
  'sampleRate'
]);

const GEO = new Set([
  '$geoWithin',
  '$within',
  '$geoIntersects',
  '$near',
  '$nearSphere',
  '$geoNear'
]);

const COMPARISONS = new Set(['$lt', '$lte', '$gt', '$gte']);

const BITS = new Set(['$bitsAllSet', '$bitsAnySet', '$bitsAllClear', '$bitsAnyClear']);

/** Operator names that make an object inside `$all` an error rather than a value. */
const FIELD_OPERATORS = new Set([
  '$eq',
  '$ne',
  '$lt',
  '$lte',
  '$gt',
  '$gte',
  '$in',
  '$nin',
  '$exists',
  '$type',
  '$size',
  '$mod',
  '$regex',
  '$options',
  '$elemMatch',
  '$all',
  ...BITS,
  ...GEO
]);

/** Constants a filter's `$expr` may read (the command's `let`). */
export type FilterVariables = ReadonlyMap<string, BValue>;

const NO_VARIABLES: FilterVariables = new Map();

/** Compiles a filter document (`parse` in mongod). */
export function parseFilter(
  filter: BDoc,
  level: Level,
  vars: FilterVariables = NO_VARIABLES
): DocPredicate {
  const clauses: DocPredicate[] = [];
  for (const [name, value] of filter) {
    if (name.startsWith('$')) {
      const clause = parseTopLevel(name, value, level, vars);
      if (clause) clauses.push(clause);
    } else if (isExpressionDocument(value, false)) {
      for (const op of parseOperators(name, value as BDoc)) {
        clauses.push(onPath(name, op));
      }
    } else {
      const regex = regexParts(value);
      const test = regex ? regexPredicate(regex.pattern, regex.options) : equality(value as BValue);
      clauses.push(onPath(name, { test, expandLeaf: true }));
    }
  }
  return and(clauses);
}

function and(clauses: DocPredicate[]): DocPredicate {
  if (clauses.length === 0) return ALWAYS_TRUE;
  if (clauses.length === 1) return clauses[0] as DocPredicate;
  return (doc, rec) => {
    for (const clause of clauses) if (!clause(doc, rec)) return false;
    return true;
  };
}

/**
 * An object is an operator document when its first field starts with `$`, unless it is a DBRef
 * (`isExpressionDocument`).
 */
function isExpressionDocument(value: unknown, allowIncompleteDBRef: boolean): boolean {
  if (!(value instanceof Map) || value.size === 0) return false;
  const first = value.keys().next().value as string;
  if (!first.startsWith('$')) return false;
  const hasRef = value.has('$ref');
  const hasId = value.has('$id');
  const isDBRef = allowIncompleteDBRef ? hasRef || hasId || value.has('$db') : hasRef && hasId;
  return !isDBRef;
}

function parseTopLevel(
  name: string,
  value: BValue,
  level: Level,
  vars: FilterVariables
): DocPredicate | undefined {
  switch (name) {
    case '$and':
    case '$or':
    case '$nor':
      return parseLogical(name, value, level, vars);
    case '$comment':
      return undefined;
    case '$expr': {
      if (level === 'sub') throw badValue('$expr can only be applied to the top-level document');
      const test = exprPredicate(value, vars);
      return doc => test(doc);
    }
    case '$text':
      if (level === 'sub') throw badValue('$text can only be applied to the top-level document');
      throw new ServerError(27, 'text index required for $text query');
    case '$where':
      throw notImplemented('$where');
    case '$jsonSchema': {
      const schema = parseJsonSchema(value);
      return doc => matchesNode(schema, doc);
    }
    case '$sampleRate':
      throw notImplemented('$sampleRate');
    case '$alwaysTrue':
    case '$alwaysFalse':
      return parseAlwaysBoolean(name, value);
    case '$ref':
    case '$id':
    case '$db':
      // DBRef fields are queried by their literal (dollar-prefixed) names.
      return onPath(name, { test: equality(value), expandLeaf: true });
    default:
      throw badValue(
        `unknown top level operator: ${name}. If you have a field name that starts with a '$' symbol, consider using $getField or $setField.`
      );
  }
}

function parseLogical(
  name: string,
  value: BValue,
  level: Level,
  vars: FilterVariables
): DocPredicate {
  if (!Array.isArray(value)) throw badValue(`${name} must be an array`);
  if (value.length === 0) throw badValue('$and/$or/$nor must be a nonempty array');
  const clauses = value.map(item => {
    if (!(item instanceof Map)) throw badValue('$or/$and/$nor entries need to be full objects');
    return parseFilter(item, level, vars);
  });
  if (name === '$and') return and(clauses);
  // mongod does not record a positional match under $or or $nor.
  const any = (doc: BDoc): boolean => clauses.some(clause => clause(doc, null));
  return name === '$or' ? any : doc => !any(doc);
}

function parseAlwaysBoolean(name: string, value: BValue): DocPredicate {
  if (!isNumber(value)) throw failedToParse(`Expected a number in: ${name}: ${show(value)}`);
  const n = toNumber(value);
  if (!Number.isInteger(n)) throw failedToParse(`Expected an integer: ${name}: ${show(value)}`);
  if (n !== 1) throw failedToParse(`${name} must be an integer value of 1`);
  return name === '$alwaysTrue' ? ALWAYS_TRUE : ALWAYS_FALSE;
}

/** An operator document such as `{$gt: 1, $lt: 5}` for `path` (`parseSub`). */
function parseOperators(path: string, ops: BDoc): Op[] {
  const out: Op[] = [];
  for (const [name, arg] of ops) {
    const op = parseOperator(path, name, arg, ops);
    if (Array.isArray(op)) out.push(...op);
    else if (op) out.push(op);
  }
  return out;
}

function leaf(test: ValuePredicate, expandLeaf = true): Op {
  return { test, expandLeaf };
}

function parseOperator(path: string, name: string, arg: BValue, ops: BDoc): Op | Op[] | undefined {
  if (COMPARISONS.has(name)) {
    if (regexParts(arg)) {
      throw badValue(`Can't have RegEx as arg to predicate over field '${path}'.`);
    }
    return leaf(comparisonOf(name as CompareOp, arg));
  }
  if (BITS.has(name)) return leaf(parseBits(name as BitsOp, arg));
  if (GEO.has(name)) throw notImplemented(`${name} query operator`);
  switch (name) {
    case '$eq':
      return leaf(equality(arg));
    case '$ne':
      if (regexParts(arg)) throw badValue("Can't have regex as arg to $ne.");
      return { not: [leaf(equality(arg))] };
    case '$in':
      if (!Array.isArray(arg)) throw badValue('$in needs an array');
      return leaf(parseIn(arg));
    case '$nin':
      if (!Array.isArray(arg)) throw badValue('$nin needs an array');
      return { not: [leaf(parseIn(arg))] };
    case '$exists':
      return isTruthy(arg) ? leaf(exists) : { not: [leaf(exists)] };
    case '$type':
      return leaf(parseType(path, arg));
    case '$size':
      return leaf(parseSize(arg), false);
    case '$mod':
      return leaf(parseMod(arg));
    case '$regex':
      return leaf(parseRegexDocument(ops));
    case '$options':
      if (!ops.has('$regex')) throw badValue('$options needs a $regex');
      return undefined;
    case '$elemMatch':
      return leaf(parseElemMatch(arg), false);
    case '$all':
      return parseAll(arg);
    case '$not':
      return parseNot(path, arg);
    case '$where':
      throw badValue('$where cannot be applied to a field');
    default:
      if (name.startsWith('$_internal')) throw notImplemented(`${name} query operator`);
      throw badValue(`unknown operator: ${name}`);
  }
}

function comparisonOf(op: CompareOp, arg: BValue): ValuePredicate {
  if (arg === undefined) throw badValue('cannot compare to undefined');
  return comparison(op, arg);
}

/** Equality as `{field: value}` and `$eq` have it (arrays, null and numbers included). */
function equality(arg: BValue): ValuePredicate {
  return comparisonOf('$eq', arg);
}

function parseIn(list: BValue[]): ValuePredicate {
  const equalities: BValue[] = [];
  const regexes: ValuePredicate[] = [];
  for (const item of list) {
    if (isExpressionDocument(item, false)) throw badValue('cannot nest $ under $in');
    const regex = regexParts(item);
    if (regex) {
      regexes.push(regexPredicate(regex.pattern, regex.options));
    } else {
      if (item === undefined) throw badValue('InMatchExpression equality cannot be undefined');
      equalities.push(item);
    }
  }
  return inList(equalities, regexes);
}

function parseNot(path: string, arg: BValue): Op {
  const regex = regexParts(arg);
  if (regex) return { not: [leaf(regexPredicate(regex.pattern, regex.options))] };
  if (!(arg instanceof Map)) throw badValue('$not needs a regex or a document');
  if (arg.size === 0) throw badValue('$not cannot be empty');
  return { not: parseOperators(path, arg) };
}

function parseAll(arg: BValue): Op[] {
  if (!Array.isArray(arg)) throw badValue('$all needs an array');
  if (arg.length === 0) return [leaf(() => false)];
  const first = arg[0];
  if (first instanceof Map && first.keys().next().value === '$elemMatch') {
    return arg.map(item => {
      if (!(item instanceof Map) || item.keys().next().value !== '$elemMatch') {
        throw badValue('$all/$elemMatch has to be consistent');
      }
      return leaf(parseElemMatch(item.get('$elemMatch') as BValue), false);
    });
  }
  return arg.map(item => {
    const regex = regexParts(item);
    if (regex) return leaf(regexPredicate(regex.pattern, regex.options));
    if (item instanceof Map && FIELD_OPERATORS.has(item.keys().next().value ?? '')) {
      throw badValue('no $ expressions in $all');
    }
    return leaf(equality(item));
  });
}

/** `$elemMatch`: on operators (value form) or on a query over each element (object form). */
function parseElemMatch(arg: BValue): ValuePredicate {
  if (!(arg instanceof Map)) throw badValue('$elemMatch needs an Object');
  const first = arg.keys().next().value;
  const valueForm = isExpressionDocument(arg, true) && !PATHLESS.has((first as string).slice(1));
  if (valueForm) {
    const tests = parseOperators('', arg).map(toValuePredicate);
    return (value, rec) => {
      if (!Array.isArray(value)) return false;
      for (let i = 0; i < value.length; i++) {
        const element = value[i];
        if (tests.every(test => test(element, null))) {
          if (rec) rec.index = i;
          return true;
        }
      }
      return false;
    };
  }
  if (arg.has('$where')) throw badValue('$elemMatch cannot contain $where expression');
  const query = parseFilter(arg, 'sub');
  return (value, rec) => {
    if (!Array.isArray(value)) return false;
    for (let i = 0; i < value.length; i++) {
      const element = value[i];
      // A nested array is matched as a document whose field names are its indexes.
      const asDoc =
        element instanceof Map ? element : Array.isArray(element) ? indexDoc(element) : undefined;
      if (asDoc && query(asDoc, null)) {
        if (rec) rec.index = i;
        return true;
      }
    }
    return false;
  };
}

function indexDoc(array: BValue[]): BDoc {
  return new Map(array.map((v, i) => [String(i), v]));
}

/** An operator applied to one value, as inside `$elemMatch`'s value form. */
function toValuePredicate(op: Op): ValuePredicate {
  if ('test' in op) return op.test;
  const tests = op.not.map(toValuePredicate);
  return value => !tests.every(test => test(value, null));
}

/** An operator applied to every value `path` yields; true when any of them passes. */
function onPath(path: string, op: Op): DocPredicate {
  const parts = splitPath(path);
  if ('not' in op) {
    const inner = and(op.not.map(child => onPath(path, child)));
    return doc => !inner(doc, null);
  }
  const { test, expandLeaf } = op;
  return (doc, rec) =>
    visitPath(doc, parts, expandLeaf, (value, offset) => {
      if (!test(value, rec)) return false;
      if (rec && offset !== undefined) rec.index = offset;
      return true;
    });
}
