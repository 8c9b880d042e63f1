/**
 * The details of a failed validation, generated as doc_validation_error.cpp generates them; the
 * expectations are those of mongod's doc_validation_error_test.cpp and
 * doc_validation_error_json_schema_test.cpp (with the 6.0+ rule that a keyword whose value has
 * the wrong type leaves the explanation to the `type`/`bsonType` keyword).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EJSON } from 'bson';

import { validationErrorInfo, validatorTree } from '../../engine/query/validation-error.js';
import { d } from './fixtures.js';

/** The generated `details` of `doc` (given an `_id`) failing `validator`, as relaxed EJSON. */
function details(validator: Record<string, unknown>, doc: Record<string, unknown>): unknown {
  const info = validationErrorInfo(validatorTree(d(validator)), d({ _id: 1, ...doc }));
  return EJSON.serialize(info.get('details'), { relaxed: true });
}

const property = (name: string, inner: unknown[]) => ({
  operatorName: '$jsonSchema',
  schemaRulesNotSatisfied: [
    { operatorName: 'properties', propertiesNotSatisfied: [{ propertyName: name, details: inner }] }
  ]
});

describe('validation error details: query operators', () => {
  it('comparisons report the considered values, or a missing field', () => {
    assert.deepEqual(details({ a: { $eq: 2 } }, { a: 1 }), {
      operatorName: '$eq',
      specifiedAs: { a: { $eq: 2 } },
      reason: 'comparison failed',
      consideredValue: 1
    });
    assert.deepEqual(details({ a: 2 }, { b: 1 }), {
      operatorName: '$eq',
      specifiedAs: { a: 2 },
      reason: 'field was missing'
    });
    assert.deepEqual(details({ 'a.b': { $eq: 0 } }, { a: [{ b: [1, 2] }, { b: [3, 4] }] }), {
      operatorName: '$eq',
      specifiedAs: { 'a.b': { $eq: 0 } },
      reason: 'comparison failed',
      consideredValues: [1, 2, 3, 4]
    });
    assert.deepEqual(details({ a: { $ne: 2 } }, { a: [1, 2, 3] }), {
      operatorName: '$ne',
      specifiedAs: { a: { $ne: 2 } },
      reason: 'comparison succeeded',
      consideredValues: [1, 2, 3]
    });
  });

  it('$and, $or, $nor and $not explain their clauses', () => {
    assert.deepEqual(details({ a: { $gt: 1 }, b: { $exists: true } }, { a: 0 }), {
      operatorName: '$and',
      clausesNotSatisfied: [
        {
          index: 0,
          details: {
            operatorName: '$gt',
            specifiedAs: { a: { $gt: 1 } },
            reason: 'comparison failed',
            consideredValue: 0
          }
        },
        {
          index: 1,
          details: {
            operatorName: '$exists',
            specifiedAs: { b: { $exists: true } },
            reason: 'path does not exist'
          }
        }
      ]
    });
    assert.deepEqual(details({ $nor: [{ a: 1 }, { b: 1 }] }, { a: 1, b: 2 }), {
      operatorName: '$nor',
      clausesSatisfied: [
        {
          index: 0,
          details: {
            operatorName: '$eq',
            specifiedAs: { a: 1 },
            reason: 'comparison succeeded',
            consideredValue: 1
          }
        }
      ]
    });
    assert.deepEqual(details({ a: { $not: { $type: 'string' } } }, { a: 'x' }), {
      operatorName: '$not',
      details: {
        operatorName: '$type',
        specifiedAs: { a: { $type: 'string' } },
        reason: 'type did match',
        consideredValue: 'x',
        consideredType: 'string'
      }
    });
    assert.deepEqual(details({ a: { $size: 2 } }, { a: 'x' }), {
      operatorName: '$size',
      specifiedAs: { a: { $size: 2 } },
      reason: 'type did not match',
      consideredType: 'string',
      expectedType: 'array',
      consideredValue: 'x'
    });
  });
});

describe('validation error details: $jsonSchema', () => {
  it('properties, nested properties and exclusive bounds', () => {
    assert.deepEqual(
      details(
        { $jsonSchema: { properties: { a: { minimum: 1, exclusiveMinimum: true } } } },
        { a: 1 }
      ),
      property('a', [
        {
          operatorName: 'minimum',
          specifiedAs: { minimum: 1, exclusiveMinimum: true },
          reason: 'comparison failed',
          consideredValue: 1
        }
      ])
    );
    assert.deepEqual(
      details(
        {
          $jsonSchema: { properties: { a: { properties: { b: { minimum: 10, maximum: -10 } } } } }
        },
        { a: { b: 5 } }
      ),
      property('a', [
        {
          operatorName: 'properties',
          propertiesNotSatisfied: [
            {
              propertyName: 'b',
              details: [
                {
                  operatorName: 'maximum',
                  specifiedAs: { maximum: -10 },
                  reason: 'comparison failed',
                  consideredValue: 5
                },
                {
                  operatorName: 'minimum',
                  specifiedAs: { minimum: 10 },
                  reason: 'comparison failed',
                  consideredValue: 5
                }
              ]
            }
          ]
        }
      ])
    );
  });

  it('a keyword over a value of another type leaves the explanation to the type', () => {
    assert.deepEqual(
      details({ $jsonSchema: { properties: { a: { type: 'string', minLength: 4 } } } }, { a: 1 }),
      property('a', [
        {
          operatorName: 'type',
          specifiedAs: { type: 'string' },
          reason: 'type did not match',
          consideredValue: 1,
          consideredType: 'int'
        }
      ])
    );
    assert.deepEqual(
      details({ $jsonSchema: { properties: { a: { type: 'string' } } } }, { a: ['x', 'y'] }),
      property('a', [
        {
          operatorName: 'type',
          specifiedAs: { type: 'string' },
          reason: 'type did not match',
          consideredValue: ['x', 'y'],
          consideredType: 'array'
        }
      ])
    );
  });

  it('a schema that cannot match objects, and an inverted $jsonSchema', () => {
    const query = { $jsonSchema: { type: 'number', properties: { a: { minimum: 1 } } } };
    assert.deepEqual(details(query, { a: 1 }), {
      operatorName: '$jsonSchema',
      specifiedAs: query,
      reason: 'expression always evaluates to false'
    });
    assert.deepEqual(details({ $nor: [{ $jsonSchema: { minimum: 1 } }] }, { a: 2 }), {
      operatorName: '$nor',
      clausesSatisfied: [
        { index: 0, details: { operatorName: '$jsonSchema', reason: 'schema matched' } }
      ]
    });
  });

  it('allOf, anyOf, oneOf and not', () => {
    assert.deepEqual(
      details(
        {
          $jsonSchema: {
            allOf: [{ properties: { a: { minimum: 1 } } }, { properties: { b: { minimum: 2 } } }]
          }
        },
        { a: 1, b: 0 }
      ),
      {
        operatorName: '$jsonSchema',
        schemaRulesNotSatisfied: [
          {
            operatorName: 'allOf',
            schemasNotSatisfied: [
              {
                index: 1,
                details: [
                  {
                    operatorName: 'properties',
                    propertiesNotSatisfied: [
                      {
                        propertyName: 'b',
                        details: [
                          {
                            operatorName: 'minimum',
                            specifiedAs: { minimum: 2 },
                            reason: 'comparison failed',
                            consideredValue: 0
                          }
                        ]
                      }
                    ]
                  }
                ]
              }
            ]
          }
        ]
      }
    );
    assert.deepEqual(
      details(
        {
          $jsonSchema: {
            properties: { a: { oneOf: [{ minimum: 4 }, { maximum: 1 }, { bsonType: 'int' }] } }
          }
        },
        { a: 2.1 }
      ),
      property('a', [
        {
          operatorName: 'oneOf',
          schemasNotSatisfied: [
            {
              index: 0,
              details: [
                {
                  operatorName: 'minimum',
                  specifiedAs: { minimum: 4 },
                  reason: 'comparison failed',
                  consideredValue: 2.1
                }
              ]
            },
            {
              index: 1,
              details: [
                {
                  operatorName: 'maximum',
                  specifiedAs: { maximum: 1 },
                  reason: 'comparison failed',
                  consideredValue: 2.1
                }
              ]
            },
            {
              index: 2,
              details: [
                {
                  operatorName: 'bsonType',
                  specifiedAs: { bsonType: 'int' },
                  reason: 'type did not match',
                  consideredValue: 2.1,
                  consideredType: 'double'
                }
              ]
            }
          ]
        }
      ])
    );
    assert.deepEqual(
      details(
        {
          $jsonSchema: { properties: { a: { not: { allOf: [{ minimum: 1 }, { maximum: 3 }] } } } }
        },
        { a: 2 }
      ),
      property('a', [{ operatorName: 'not', reason: 'child expression matched' }])
    );
  });

  it('items, additionalItems, patternProperties and dependencies', () => {
    assert.deepEqual(
      details(
        {
          $jsonSchema: {
            properties: {
              a: { items: [{}, { bsonType: 'string' }], additionalItems: { bsonType: 'int' } }
            }
          }
        },
        { a: [0, 'x', 'y'] }
      ),
      property('a', [
        {
          operatorName: 'additionalItems',
          reason: 'At least one additional item did not match the sub-schema',
          itemIndex: 2,
          details: [
            {
              operatorName: 'bsonType',
              specifiedAs: { bsonType: 'int' },
              reason: 'type did not match',
              consideredValue: 'y',
              consideredType: 'string'
            }
          ]
        }
      ])
    );
    assert.deepEqual(
      details(
        { $jsonSchema: { patternProperties: { '^a': { description: 'an a', bsonType: 'int' } } } },
        { ab: 'x' }
      ),
      {
        operatorName: '$jsonSchema',
        schemaRulesNotSatisfied: [
          {
            operatorName: 'patternProperties',
            details: [
              {
                propertyName: 'ab',
                description: 'an a',
                regexMatched: '^a',
                details: [
                  {
                    operatorName: 'bsonType',
                    specifiedAs: { bsonType: 'int' },
                    reason: 'type did not match',
                    consideredValue: 'x',
                    consideredType: 'string'
                  }
                ]
              }
            ]
          }
        ]
      }
    );
    assert.deepEqual(
      details(
        { $jsonSchema: { dependencies: { a: { properties: { b: { bsonType: 'int' } } } } } },
        { a: 1, b: 'x' }
      ),
      {
        operatorName: '$jsonSchema',
        schemaRulesNotSatisfied: [
          {
            operatorName: 'dependencies',
            failingDependencies: [
              {
                conditionalProperty: 'a',
                details: [
                  {
                    operatorName: 'properties',
                    propertiesNotSatisfied: [
                      {
                        propertyName: 'b',
                        details: [
                          {
                            operatorName: 'bsonType',
                            specifiedAs: { bsonType: 'int' },
                            reason: 'type did not match',
                            consideredValue: 'x',
                            consideredType: 'string'
                          }
                        ]
                      }
                    ]
                  }
                ]
              }
            ]
          }
        ]
      }
    );
  });

  it('title and description of the schema and its subschemas', () => {
    assert.deepEqual(
      details({ $jsonSchema: { title: 'T', description: 'D', required: ['a'] } }, {}),
      {
        operatorName: '$jsonSchema',
        title: 'T',
        description: 'D',
        schemaRulesNotSatisfied: [
          { operatorName: 'required', specifiedAs: { required: ['a'] }, missingProperties: ['a'] }
        ]
      }
    );
  });
});
