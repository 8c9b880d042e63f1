/**
 * `$jsonSchema` (JSON Schema draft 4 as MongoDB implements it), translated into a match tree the
 * way mongod's json_schema_parser.cpp translates it: the same nodes, in the same order, with the
 * same error annotations, the same parse errors (codes and messages) and the same quirks
 * (restriction keywords apply only to values of their type; `type` at the top level must allow
 * `object`; `minimum` and the like mean nothing at the top level, where only objects are).
 */
import {
  type BDoc,
  BSON_TYPE_NUMBERS,
  type BValue,
  isDoc,
  isNumber,
  toNumber
} from '../../bson/values.js';
import { badValue, failedToParse, ServerError, typeMismatch } from '../server-error.js';
import { show } from './arguments.js';
import {
  annotate,
  DESCEND,
  type ErrorAnnotation,
  IGNORE,
  isSingleType,
  type MatchNode,
  NUMERIC_ALIASES,
  type PatternSchema,
  PLACEHOLDER,
  type TypeNode,
  type TypeSet,
  typeSetHas,
  unorderedEqual
} from './match-tree.js';
import { compileRegex } from './regex.js';

const KEYWORDS = new Set([
  'additionalItems',
  'additionalProperties',
  'allOf',
  'anyOf',
  'bsonType',
  'dependencies',
  'description',
  'encrypt',
  'encryptMetadata',
  'enum',
  'exclusiveMaximum',
  'exclusiveMinimum',
  'items',
  'maxItems',
  'maxLength',
  'maxProperties',
  'maximum',
  'minItems',
  'minLength',
  'minProperties',
  'minimum',
  'multipleOf',
  'not',
  'oneOf',
  'pattern',
  'patternProperties',
  'properties',
  'required',
  'title',
  'type',
  'uniqueItems'
]);

/** Keywords of the JSON Schema spec that mongod refuses by name. */
const UNSUPPORTED = new Set(['$ref', '$schema', 'default', 'definitions', 'format', 'id']);

/** `type`'s JSON types as mongod maps them (`findJsonSchemaTypeAlias`); `number` is separate. */
const JSON_TYPES: Readonly<Record<string, string>> = {
  array: 'array',
  boolean: 'bool',
  null: 'null',
  object: 'object',
  string: 'string'
};

type Restriction = 'number' | 'string' | 'array' | 'object';

/** The name mongod prints for the BSON type of a value in parse errors. */
function bsonTypeName(value: BValue): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (isDoc(value)) return 'object';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  const name = value.constructor.name;
  const known: Record<string, string> = {
    Int32: 'int',
    Double: 'double',
    Long: 'long',
    Decimal128: 'decimal',
    ObjectId: 'objectId',
    Binary: 'binData',
    Timestamp: 'timestamp',
    BSONRegExp: 'regex',
    BSONSymbol: 'symbol',
    MinKey: 'minKey',
    MaxKey: 'maxKey'
  };
  if (name === 'Code')
    return (value as { scope?: unknown }).scope ? 'javascriptWithScope' : 'javascript';
  return known[name] ?? name;
}

/** Parses `{$jsonSchema: schema}`'s argument into its match tree (tagged `$jsonSchema`). */
export function parseJsonSchema(schema: BValue): MatchNode {
  if (!isDoc(schema)) throw typeMismatch('$jsonSchema must be an object');
  const node = parseSchema('', schema);
  node.ann = annotate('$jsonSchema', node.ann.annotation, schema);
  return node;
}

function keywordMap(schema: BDoc): Map<string, BValue> {
  const keywords = new Map<string, BValue>();
  for (const [name, value] of schema) {
    if (!KEYWORDS.has(name)) {
      if (UNSUPPORTED.has(name)) {
        throw failedToParse(`$jsonSchema keyword '${name}' is not currently supported`);
      }
      throw failedToParse(`Unknown $jsonSchema keyword: ${name}`);
    }
    keywords.set(name, value);
  }
  return keywords;
}

/** `_parse`: the schema (or subschema for `path`) as one `_subschema` AND node. */
function parseSchema(path: string, schema: BDoc): MatchNode {
  const keywords = keywordMap(schema);
  for (const name of ['description', 'title']) {
    if (keywords.has(name) && typeof keywords.get(name) !== 'string') {
      throw typeMismatch(`$jsonSchema keyword '${name}' must be of type string`);
    }
  }
  const typeElt = keywords.get('type');
  const bsonTypeElt = keywords.get('bsonType');
  if (keywords.has('type') && keywords.has('bsonType')) {
    throw failedToParse("Cannot specify both $jsonSchema keywords 'type' and 'bsonType'");
  }
  if (keywords.has('encrypt') || keywords.has('encryptMetadata')) {
    throw new ServerError(
      224,
      'Encryption-related validator keywords are not allowed in this context',
      { codeName: 'QueryFeatureNotAllowed' }
    );
  }
  let typeNode: TypeNode | undefined;
  if (keywords.has('type')) typeNode = parseType(path, 'type', typeElt, JSON_TYPES);
  else if (keywords.has('bsonType')) typeNode = parseType(path, 'bsonType', bsonTypeElt, undefined);
  const stated = typeNode?.types;

  const clauses: MatchNode[] = [];
  scalarKeywords(keywords, path, stated, clauses);
  arrayKeywords(keywords, path, stated, clauses);
  objectKeywords(keywords, path, stated, clauses);
  logicalKeywords(keywords, path, clauses);

  if (path === '' && stated && !typeSetHas(stated, 'object')) {
    // Only objects are stored, so a top-level type other than object matches nothing.
    return {
      kind: 'always',
      value: false,
      ann: annotate('$jsonSchema', new Map([['$jsonSchema', schema]]))
    };
  }
  if (path !== '' && typeNode) clauses.push(typeNode);
  return { kind: 'and', children: clauses, ann: annotate('_subschema', undefined, schema) };
}

/** `JSONSchemaParser::parseTypeSet` plus the empty check of `parseType`. */
function parseType(
  path: string,
  keyword: string,
  value: BValue,
  jsonTypes: Readonly<Record<string, string>> | undefined
): TypeNode {
  if (typeof value !== 'string' && !Array.isArray(value)) {
    throw typeMismatch(
      `$jsonSchema keyword '${keyword}' must be either a string or an array of strings`
    );
  }
  const names: string[] = [];
  for (const item of Array.isArray(value) ? value : [value]) {
    if (typeof item !== 'string') {
      throw typeMismatch(`$jsonSchema keyword '${keyword}' array elements must be strings`);
    }
    if (item === 'integer') {
      throw failedToParse("$jsonSchema type 'integer' is not currently supported.");
    }
    if (names.includes(item)) {
      throw failedToParse(`$jsonSchema keyword '${keyword}' has duplicate value: ${item}`);
    }
    names.push(item);
  }
  const aliases = new Set<string>();
  let allNumbers = false;
  for (const name of names) {
    if (name === 'number') {
      allNumbers = true;
      continue;
    }
    let alias: string | undefined;
    if (jsonTypes) alias = Object.hasOwn(jsonTypes, name) ? jsonTypes[name] : undefined;
    else alias = Object.hasOwn(BSON_TYPE_NUMBERS, name) ? name : undefined;
    if (alias === undefined) throw badValue(`Unknown type name alias: ${name}`);
    aliases.add(alias);
  }
  if (aliases.size === 0 && !allNumbers) {
    throw failedToParse(`$jsonSchema keyword '${keyword}' must name at least one type`);
  }
  return {
    kind: 'type',
    path,
    types: { aliases, allNumbers },
    ann: annotate(keyword, new Map([[keyword, value]]))
  };
}

/**
 * A keyword that only constrains values of one type (`makeRestriction`): with a single stated
 * type it applies as is (or not at all), otherwise only when the value has the type.
 */
function restrict(
  restriction: Restriction,
  path: string,
  expr: MatchNode,
  stated: TypeSet | undefined
): MatchNode {
  if (stated && isSingleType(stated)) {
    const statedAlias = stated.allNumbers ? 'int' : [...stated.aliases][0]!;
    const applies =
      restriction === 'number' ? NUMERIC_ALIASES.has(statedAlias) : statedAlias === restriction;
    return applies ? expr : { kind: 'always', value: true, ann: IGNORE };
  }
  const types: TypeSet =
    restriction === 'number'
      ? { aliases: new Set(), allNumbers: true }
      : { aliases: new Set([restriction]), allNumbers: false };
  return {
    kind: 'or',
    ann: DESCEND,
    children: [
      { kind: 'not', ann: IGNORE, child: { kind: 'type', path, types, ann: IGNORE } },
      expr
    ]
  };
}

/** A keyword that means nothing at the top level keeps its annotation on an always-true node. */
function alwaysTrue(ann: ErrorAnnotation): MatchNode {
  return { kind: 'always', value: true, ann };
}

function single(name: string, value: BValue): BDoc {
  return new Map([[name, value]]);
}

/** `parseIntegerElementToNonNegativeLong`. */
function nonNegativeInteger(name: string, value: BValue): number {
  if (!isNumber(value)) throw failedToParse(`Expected a number in: ${name}: ${show(value)}`);
  const n = toNumber(value);
  if (Number.isNaN(n)) {
    throw failedToParse(`Expected an integer, but found NaN in: ${name}: ${show(value)}`);
  }
  if (!Number.isInteger(n)) throw failedToParse(`Expected an integer: ${name}: ${show(value)}`);
  if (n < 0) throw failedToParse(`Expected a positive number in: ${name}: ${show(value)}`);
  return n;
}

function scalarKeywords(
  keywords: Map<string, BValue>,
  path: string,
  stated: TypeSet | undefined,
  out: MatchNode[]
): void {
  if (keywords.has('pattern')) {
    const pattern = keywords.get('pattern');
    if (typeof pattern !== 'string') {
      throw typeMismatch("$jsonSchema keyword 'pattern' must be a string");
    }
    const ann = annotate('pattern', single('pattern', pattern));
    if (path === '') out.push(alwaysTrue(ann));
    else {
      const re = compileRegex(pattern, '');
      out.push(restrict('string', path, { kind: 'regex', path, re, source: pattern, ann }, stated));
    }
  }
  for (const [keyword, bound] of [
    ['maxLength', 'max'],
    ['minLength', 'min']
  ] as const) {
    if (!keywords.has(keyword)) continue;
    const value = keywords.get(keyword);
    const length = nonNegativeInteger(keyword, value);
    const ann = annotate(keyword, single(keyword, value));
    if (path === '') out.push(alwaysTrue(ann));
    else
      out.push(restrict('string', path, { kind: 'strLength', path, bound, length, ann }, stated));
  }
  if (keywords.has('multipleOf')) {
    const divisor = keywords.get('multipleOf');
    if (!isNumber(divisor)) {
      throw typeMismatch("$jsonSchema keyword 'multipleOf' must be a number");
    }
    const n = toNumber(divisor);
    if (n < 0 || n === 0) {
      throw failedToParse("$jsonSchema keyword 'multipleOf' must have a positive value");
    }
    const ann = annotate('multipleOf', single('multipleOf', divisor));
    if (path === '') out.push(alwaysTrue(ann));
    else out.push(restrict('number', path, { kind: 'fmod', path, divisor, ann }, stated));
  }
  for (const [keyword, exclusiveKeyword, inclusiveOp, exclusiveOp] of [
    ['maximum', 'exclusiveMaximum', '$lte', '$lt'],
    ['minimum', 'exclusiveMinimum', '$gte', '$gt']
  ] as const) {
    if (!keywords.has(keyword)) {
      if (keywords.has(exclusiveKeyword)) {
        throw failedToParse(
          `$jsonSchema keyword '${keyword}' must be a present if ${exclusiveKeyword} is present`
        );
      }
      continue;
    }
    let exclusive = false;
    if (keywords.has(exclusiveKeyword)) {
      const flag = keywords.get(exclusiveKeyword);
      if (typeof flag !== 'boolean') {
        throw typeMismatch(`$jsonSchema keyword '${exclusiveKeyword}' must be a boolean`);
      }
      exclusive = flag;
    }
    const limit = keywords.get(keyword);
    if (!isNumber(limit)) throw typeMismatch(`$jsonSchema keyword '${keyword}' must be a number`);
    const specified = single(keyword, limit);
    if (exclusive) specified.set(exclusiveKeyword, true);
    const ann = annotate(keyword, specified);
    if (path === '') out.push(alwaysTrue(ann));
    else {
      const op = exclusive ? exclusiveOp : inclusiveOp;
      out.push(restrict('number', path, { kind: 'compare', path, op, rhs: limit, ann }, stated));
    }
  }
}

function arrayKeywords(
  keywords: Map<string, BValue>,
  path: string,
  stated: TypeSet | undefined,
  out: MatchNode[]
): void {
  for (const [keyword, bound] of [
    ['minItems', 'min'],
    ['maxItems', 'max']
  ] as const) {
    if (!keywords.has(keyword)) continue;
    const value = keywords.get(keyword);
    const count = nonNegativeInteger(keyword, value);
    const ann = annotate(keyword, single(keyword, value));
    if (path === '') out.push(alwaysTrue(ann));
    else out.push(restrict('array', path, { kind: 'numItems', path, bound, count, ann }, stated));
  }
  if (keywords.has('uniqueItems')) {
    const flag = keywords.get('uniqueItems');
    const ann = annotate('uniqueItems', single('uniqueItems', flag));
    if (typeof flag !== 'boolean') {
      throw typeMismatch("$jsonSchema keyword 'uniqueItems' must be a boolean");
    }
    if (path === '' || !flag) out.push(alwaysTrue(ann));
    else out.push(restrict('array', path, { kind: 'uniqueItems', path, ann }, stated));
  }
  let additionalFrom: number | undefined;
  if (keywords.has('items')) {
    const items = keywords.get('items');
    const ann = annotate('items', single('items', items));
    if (Array.isArray(items)) {
      const children: MatchNode[] = items.map((subschema, index) => {
        if (!isDoc(subschema)) {
          throw typeMismatch(
            `$jsonSchema keyword 'items' requires that each element of the array is an object, but found a ${bsonTypeName(subschema)}`
          );
        }
        return {
          kind: 'matchArrayIndex',
          path,
          index,
          child: parseSchema(PLACEHOLDER, subschema),
          ann: annotate('')
        };
      });
      additionalFrom = items.length;
      if (path === '') out.push(alwaysTrue(ann));
      else out.push(restrict('array', path, { kind: 'and', children, ann }, stated));
    } else if (isDoc(items)) {
      const child = parseSchema(PLACEHOLDER, items);
      if (path === '') out.push(alwaysTrue(ann));
      else {
        out.push(
          restrict('array', path, { kind: 'allElemMatch', path, start: 0, child, ann }, stated)
        );
      }
    } else {
      throw typeMismatch(
        `$jsonSchema keyword 'items' must be an array or an object, not ${bsonTypeName(items)}`
      );
    }
  }
  if (keywords.has('additionalItems')) {
    const additional = keywords.get('additionalItems');
    let child: MatchNode;
    if (typeof additional === 'boolean') {
      child = { kind: 'always', value: additional, ann: IGNORE };
    } else if (isDoc(additional)) {
      child = parseSchema(PLACEHOLDER, additional);
    } else {
      throw typeMismatch(
        `$jsonSchema keyword 'additionalItems' must be either an object or a boolean, but got a ${bsonTypeName(additional)}`
      );
    }
    // additionalItems only means something after an array of `items` schemas.
    if (additionalFrom !== undefined) {
      const ann = annotate('additionalItems', single('additionalItems', additional));
      if (path === '') out.push(alwaysTrue(ann));
      else {
        out.push(
          restrict(
            'array',
            path,
            { kind: 'allElemMatch', path, start: additionalFrom, child, ann },
            stated
          )
        );
      }
    }
  }
}

/** A keyword over the object at `path` (the document itself at the top level). */
function onObject(path: string, node: MatchNode, stated: TypeSet | undefined): MatchNode {
  if (path === '') return node;
  return restrict('object', path, { kind: 'objectMatch', path, child: node, ann: DESCEND }, stated);
}

function parseRequired(value: BValue): string[] {
  if (!Array.isArray(value)) {
    throw typeMismatch(
      `$jsonSchema keyword 'required' must be an array, but found an element of type ${bsonTypeName(value)}`
    );
  }
  const names: string[] = [];
  for (const name of value) {
    if (typeof name !== 'string') {
      throw typeMismatch(
        `$jsonSchema keyword 'required' must be an array of strings, but found an element of type: ${bsonTypeName(name)}`
      );
    }
    if (names.includes(name)) {
      throw failedToParse("$jsonSchema keyword 'required' array cannot contain duplicate values");
    }
    names.push(name);
  }
  if (names.length === 0) {
    throw failedToParse("$jsonSchema keyword 'required' cannot be an empty array");
  }
  return names;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function objectKeywords(
  keywords: Map<string, BValue>,
  path: string,
  stated: TypeSet | undefined,
  out: MatchNode[]
): void {
  const required = keywords.has('required') ? parseRequired(keywords.get('required')) : [];
  const properties = keywords.get('properties');
  if (keywords.has('properties')) {
    if (!isDoc(properties))
      throw typeMismatch("$jsonSchema keyword 'properties' must be an object");
    const children: MatchNode[] = [];
    for (const [name, subschema] of properties) {
      if (!isDoc(subschema)) {
        throw typeMismatch(`Nested schema for $jsonSchema property '${name}' must be an object`);
      }
      const nested = parseSchema(name, subschema);
      nested.ann = annotate('_property', single('propertyName', name), subschema);
      if (required.includes(name)) {
        children.push(nested);
      } else {
        // Absent, or matching its schema.
        children.push({
          kind: 'or',
          ann: DESCEND,
          children: [
            { kind: 'not', ann: IGNORE, child: { kind: 'exists', path: name, ann: IGNORE } },
            nested
          ]
        });
      }
    }
    out.push(onObject(path, { kind: 'and', children, ann: annotate('properties') }, stated));
  }
  if (keywords.has('patternProperties') || keywords.has('additionalProperties')) {
    const names = new Set(isDoc(properties) ? properties.keys() : []);
    const patterns: PatternSchema[] = [];
    if (keywords.has('patternProperties')) {
      const patternProperties = keywords.get('patternProperties');
      if (!isDoc(patternProperties)) {
        throw typeMismatch("$jsonSchema keyword 'patternProperties' must be an object");
      }
      for (const [raw, subschema] of patternProperties) {
        if (!isDoc(subschema)) {
          throw typeMismatch(
            `$jsonSchema keyword 'patternProperties' has property '${raw}' which is not an object`
          );
        }
        patterns.push({
          raw,
          filter: parseSchema(PLACEHOLDER, subschema),
          re: compileRegex(raw, '')
        });
      }
    }
    let otherwise: MatchNode = { kind: 'always', value: true, ann: IGNORE };
    let ann = annotate('');
    if (keywords.has('additionalProperties')) {
      const additional = keywords.get('additionalProperties');
      if (typeof additional === 'boolean') {
        otherwise = { kind: 'always', value: additional, ann: IGNORE };
      } else if (isDoc(additional)) {
        otherwise = parseSchema(PLACEHOLDER, additional);
      } else {
        throw typeMismatch(
          "$jsonSchema keyword 'additionalProperties' must be an object or a boolean"
        );
      }
      ann = annotate('', single('additionalProperties', additional));
    }
    out.push(
      onObject(
        path,
        { kind: 'allowedProperties', properties: names, patterns, otherwise, ann },
        stated
      )
    );
  }
  if (required.length > 0) {
    const children: MatchNode[] = [...required].sort(byteOrder).map(name => ({
      kind: 'exists',
      path: name,
      ann: annotate('_propertyExists')
    }));
    const ann = annotate('required', single('required', keywords.get('required')));
    out.push(onObject(path, { kind: 'and', children, ann }, stated));
  }
  for (const [keyword, bound] of [
    ['minProperties', 'min'],
    ['maxProperties', 'max']
  ] as const) {
    if (!keywords.has(keyword)) continue;
    const value = keywords.get(keyword);
    const count = nonNegativeInteger(keyword, value);
    const ann = annotate(keyword, single(keyword, value));
    out.push(onObject(path, { kind: 'numProperties', bound, count, ann }, stated));
  }
  if (keywords.has('dependencies')) out.push(parseDependencies(path, keywords.get('dependencies')));
}

/** `{name: {$exists: true}}` inside the object at `path` (no type restriction). */
function dependencyExists(path: string, name: string): MatchNode {
  const exists: MatchNode = { kind: 'exists', path: name, ann: annotate('_propertyExists') };
  return path === '' ? exists : { kind: 'objectMatch', path, child: exists, ann: DESCEND };
}

/** `annotateTreeToIgnoreForErrorDetails`: the `if` of a dependency never explains anything. */
function ignoring(node: MatchNode): MatchNode {
  if (node.kind === 'objectMatch') return { ...node, child: ignoring(node.child), ann: IGNORE };
  return { ...node, ann: IGNORE };
}

function parseDependencies(path: string, dependencies: BValue): MatchNode {
  if (!isDoc(dependencies)) {
    throw typeMismatch("$jsonSchema keyword 'dependencies' must be an object");
  }
  const children: MatchNode[] = [];
  for (const [name, dependency] of dependencies) {
    const when = ignoring(dependencyExists(path, name));
    const otherwise: MatchNode = { kind: 'always', value: true, ann: IGNORE };
    if (isDoc(dependency)) {
      children.push({
        kind: 'cond',
        cond: when,
        then: parseSchema(path, dependency),
        otherwise,
        ann: annotate('_schemaDependency', single(name, dependency))
      });
    } else if (Array.isArray(dependency)) {
      if (dependency.length === 0) {
        throw failedToParse(
          `property '${name}' in $jsonSchema keyword 'dependencies' cannot be an empty array`
        );
      }
      const seen: string[] = [];
      for (const item of dependency) {
        if (typeof item !== 'string') {
          throw typeMismatch(
            `array '${name}' in $jsonSchema keyword 'dependencies' can only contain strings, but found element of type: ${bsonTypeName(item)}`
          );
        }
        if (seen.includes(item)) {
          throw failedToParse(
            `array '${name}' in $jsonSchema keyword 'dependencies' contains duplicate element: ${item}`
          );
        }
        seen.push(item);
      }
      children.push({
        kind: 'cond',
        cond: when,
        then: {
          kind: 'and',
          children: seen.map(item => dependencyExists(path, item)),
          ann: annotate('_propertiesExistList', single(name, dependency))
        },
        otherwise,
        ann: annotate('_propertyDependency', single(name, dependency))
      });
    } else if (typeof dependency === 'string' && (name === 'title' || name === 'description')) {
      continue;
    } else {
      throw typeMismatch(
        `property '${name}' in $jsonSchema keyword 'dependencies' must be either an object or an array`
      );
    }
  }
  return { kind: 'and', children, ann: annotate('dependencies', undefined, dependencies) };
}

function logicalKeywords(keywords: Map<string, BValue>, path: string, out: MatchNode[]): void {
  for (const [keyword, kind] of [
    ['allOf', 'and'],
    ['anyOf', 'or'],
    ['oneOf', 'xor']
  ] as const) {
    if (!keywords.has(keyword)) continue;
    const list = keywords.get(keyword);
    if (!Array.isArray(list))
      throw typeMismatch(`$jsonSchema keyword '${keyword}' must be an array`);
    if (list.length === 0)
      throw badValue(`$jsonSchema keyword '${keyword}' must be a non-empty array`);
    const children = list.map(item => {
      if (!isDoc(item)) {
        throw typeMismatch(
          `$jsonSchema keyword '${keyword}' must be an array of objects, but found an element of type ${bsonTypeName(item)}`
        );
      }
      return parseSchema(path, item);
    });
    out.push({ kind, children, ann: annotate(keyword) });
  }
  if (keywords.has('not')) {
    const subschema = keywords.get('not');
    if (!isDoc(subschema)) {
      throw typeMismatch(
        `$jsonSchema keyword 'not' must be an object, but found an element of type ${bsonTypeName(subschema)}`
      );
    }
    out.push({ kind: 'not', child: parseSchema(path, subschema), ann: annotate('not') });
  }
  if (keywords.has('enum')) out.push(parseEnum(path, keywords.get('enum')));
}

function parseEnum(path: string, values: BValue): MatchNode {
  if (!Array.isArray(values)) {
    throw typeMismatch(
      `$jsonSchema keyword 'enum' must be an array, but found an element of type ${bsonTypeName(values)}`
    );
  }
  if (values.length === 0)
    throw failedToParse("$jsonSchema keyword 'enum' cannot be an empty array");
  const ann = annotate('enum', single('enum', values));
  const children: MatchNode[] = [];
  values.forEach((value, i) => {
    if (values.slice(0, i).some(earlier => unorderedEqual(earlier, value))) {
      throw failedToParse("$jsonSchema keyword 'enum' array cannot contain duplicate values.");
    }
    if (path !== '') children.push({ kind: 'schemaEq', path, value, ann: IGNORE });
    // At the top level only object values can ever match (only objects are stored).
    else if (isDoc(value)) children.push({ kind: 'rootDocEq', value, ann: IGNORE });
  });
  if (children.length === 0) return { kind: 'always', value: false, ann };
  return { kind: 'or', children, ann };
}
