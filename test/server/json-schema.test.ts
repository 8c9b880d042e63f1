/**
 * `$jsonSchema` through the driver: as a query operator (cases of mongod's
 * jstests/core/json_schema/*.js), as a collection validator with mongod 7.0's validation levels,
 * actions and bypass, its parse errors (json_schema_parser.cpp), and the `errInfo` of a failed
 * validation in mongod's shape (doc_validation_error.cpp and its unit tests), per version.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BSON, type Db, type Document, MongoServerError } from 'mongodb';

import { type AnyDoc, type Started, startWithClient } from './support.js';

async function failure(promise: Promise<unknown>): Promise<MongoServerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  );
  assert.ok(error instanceof MongoServerError, `expected a server error, got ${String(error)}`);
  return error;
}

/** The `errInfo` of a write error (or command error) the driver raised. */
function errInfoOf(error: MongoServerError): Document | undefined {
  return (error.errInfo ??
    (error as { writeErrors?: { errInfo?: Document }[] }).writeErrors?.[0]?.errInfo) as
    Document | undefined;
}

describe('test server $jsonSchema as a query operator', () => {
  let started: Started;
  let db: Db;
  before(async () => {
    started = await startWithClient();
    db = started.client.db('jsq');
    await db
      .collection<AnyDoc>('num')
      .insertMany([
        { _id: 0, num: 3 },
        { _id: 1, num: -3 },
        { _id: 2, num: new BSON.Int32(2) },
        { _id: 3, num: new BSON.Int32(-2) },
        { _id: 4, num: BSON.Long.fromNumber(1) },
        { _id: 5, num: BSON.Long.fromNumber(-1) },
        { _id: 6, num: {} },
        { _id: 7, num: 'str' },
        { _id: 8, num: 'string' },
        { _id: 9 }
      ]);
  });
  after(async () => {
    await started.close();
  });

  const ids = async (filter: Document) =>
    (await db.collection<AnyDoc>('num').find(filter).sort({ _id: 1 }).toArray()).map(d => d._id);

  it('matches as jstests/core/json_schema/json_schema.js expects', async () => {
    assert.equal((await ids({ $jsonSchema: {} })).length, 10);
    assert.equal((await ids({ $jsonSchema: { type: 'object' } })).length, 10);
    assert.deepEqual(await ids({ $jsonSchema: { type: 'string' } }), []);
    assert.deepEqual(await ids({ $jsonSchema: { bsonType: 'long' } }), []);
    assert.deepEqual(
      await ids({ $jsonSchema: { properties: { num: { type: 'number' } } } }),
      [0, 1, 2, 3, 4, 5, 9]
    );
    assert.deepEqual(
      await ids({ $jsonSchema: { properties: { num: { type: 'number', maximum: -1 } } } }),
      [1, 3, 5, 9]
    );
    assert.deepEqual(
      await ids({ $jsonSchema: { properties: { num: { bsonType: 'long' } } } }),
      [4, 5, 9]
    );
    assert.deepEqual(
      await ids({ $jsonSchema: { properties: { num: { bsonType: 'long', maximum: 0 } } } }),
      [5, 9]
    );
    // A restriction without a type only applies to values of its type.
    assert.deepEqual(
      await ids({ $jsonSchema: { properties: { num: { maximum: 0 } } } }),
      [1, 3, 5, 6, 7, 8, 9]
    );
    assert.deepEqual(
      await ids({ $jsonSchema: { properties: { num: { type: 'string', maximum: 0 } } } }),
      [7, 8, 9]
    );
    assert.deepEqual(
      await ids({ $jsonSchema: { properties: { num: { type: 'string', minLength: 4 } } } }),
      [8, 9]
    );
    assert.deepEqual(
      await ids({ $jsonSchema: { properties: { num: { type: 'string', pattern: 'ing' } } } }),
      [8, 9]
    );
    assert.deepEqual(
      await ids({
        $or: [
          { num: 'str' },
          { $jsonSchema: { required: ['num'], properties: { num: { bsonType: 'int' } } } }
        ]
      }),
      [0, 1, 2, 3, 7]
    );
  });

  it('works in count, aggregate $match, updates and deletes', async () => {
    const coll = db.collection<AnyDoc>('ops');
    await coll.insertMany([
      { _id: 1, tags: ['a', 'b'] },
      { _id: 2, tags: ['a', 'a'] },
      { _id: 3, tags: 'a' }
    ]);
    const unique = {
      $jsonSchema: {
        required: ['tags'],
        properties: { tags: { bsonType: 'array', uniqueItems: true } }
      }
    };
    assert.equal(await coll.countDocuments(unique), 1);
    const matched = await coll.aggregate([{ $match: unique }]).toArray();
    assert.deepEqual(matched, [{ _id: 1, tags: ['a', 'b'] }]);
    const update = await coll.updateMany(
      { $jsonSchema: { properties: { tags: { type: 'string' } } } },
      { $set: { s: true } }
    );
    assert.equal(update.modifiedCount, 1);
    const removed = await coll.deleteMany({ $nor: [unique] });
    assert.equal(removed.deletedCount, 2);
  });

  it('refuses what mongod refuses, with its codes and messages', async () => {
    const find = (schema: unknown) => db.collection('num').find({ $jsonSchema: schema }).toArray();
    const cases: [unknown, number, string][] = [
      ['x', 14, '$jsonSchema must be an object'],
      [{ $ref: '#/definitions/a' }, 9, "$jsonSchema keyword '$ref' is not currently supported"],
      [
        { $schema: 'http://json-schema.org/draft-04/schema#' },
        9,
        "$jsonSchema keyword '$schema' is not currently supported"
      ],
      [{ default: 1 }, 9, "$jsonSchema keyword 'default' is not currently supported"],
      [{ definitions: {} }, 9, "$jsonSchema keyword 'definitions' is not currently supported"],
      [{ format: 'email' }, 9, "$jsonSchema keyword 'format' is not currently supported"],
      [{ id: 'x' }, 9, "$jsonSchema keyword 'id' is not currently supported"],
      [{ foo: 1 }, 9, 'Unknown $jsonSchema keyword: foo'],
      [{ type: 'integer' }, 9, "$jsonSchema type 'integer' is not currently supported."],
      [{ type: 'int' }, 2, 'Unknown type name alias: int'],
      [{ bsonType: 'integer' }, 9, "$jsonSchema type 'integer' is not currently supported."],
      [
        { type: 'object', bsonType: 'object' },
        9,
        "Cannot specify both $jsonSchema keywords 'type' and 'bsonType'"
      ],
      [
        { properties: { a: 'number' } },
        14,
        "Nested schema for $jsonSchema property 'a' must be an object"
      ],
      [
        { properties: { a: { maximum: '0' } } },
        14,
        "$jsonSchema keyword 'maximum' must be a number"
      ],
      [{ properties: { a: { maxLength: -1 } } }, 9, 'Expected a positive number in: maxLength: -1'],
      [{ required: [] }, 9, "$jsonSchema keyword 'required' cannot be an empty array"],
      [
        { required: ['a', 'a'] },
        9,
        "$jsonSchema keyword 'required' array cannot contain duplicate values"
      ],
      [{ enum: [] }, 9, "$jsonSchema keyword 'enum' cannot be an empty array"],
      [
        {
          enum: [
            { a: 1, b: 2 },
            { b: 2, a: 1 }
          ]
        },
        9,
        "$jsonSchema keyword 'enum' array cannot contain duplicate values."
      ],
      [{ anyOf: [] }, 2, "$jsonSchema keyword 'anyOf' must be a non-empty array"],
      [
        { exclusiveMinimum: true },
        9,
        "$jsonSchema keyword 'minimum' must be a present if exclusiveMinimum is present"
      ],
      [{ multipleOf: 0 }, 9, "$jsonSchema keyword 'multipleOf' must have a positive value"],
      [{ title: 1 }, 14, "$jsonSchema keyword 'title' must be of type string"],
      [
        { dependencies: { a: [] } },
        9,
        "property 'a' in $jsonSchema keyword 'dependencies' cannot be an empty array"
      ],
      [{ items: 1 }, 14, "$jsonSchema keyword 'items' must be an array or an object, not int"]
    ];
    for (const [schema, code, message] of cases) {
      const error = await failure(find(schema));
      assert.equal(error.code, code, JSON.stringify(schema));
      assert.equal(error.message, message);
    }
    // Schema metadata is checked but otherwise ignored.
    assert.equal(
      (await find({ title: 't', description: 'd', properties: { a: { title: 'x' } } })).length,
      10
    );
  });
});

describe('test server $jsonSchema validators (7.0)', () => {
  let started: Started;
  let db: Db;
  before(async () => {
    started = await startWithClient();
    db = started.client.db('jsv');
  });
  after(async () => {
    await started.close();
  });

  const personSchema = {
    bsonType: 'object',
    required: ['name', 'age'],
    properties: {
      _id: {},
      name: { bsonType: 'string', description: 'must be a string' },
      age: { bsonType: ['int', 'long'], minimum: 0, maximum: 150 },
      email: { type: 'string', pattern: '^[^@]+@[^@]+$' },
      tags: { bsonType: 'array', items: { bsonType: 'string' }, uniqueItems: true, maxItems: 3 },
      address: {
        bsonType: 'object',
        required: ['city'],
        properties: {
          city: { bsonType: 'string' },
          zip: { bsonType: 'string', minLength: 5, maxLength: 5 }
        },
        additionalProperties: false
      },
      kind: { enum: ['person', 'robot'] }
    },
    additionalProperties: false
  };

  it('stores the schema, accepts valid documents and explains refused ones as mongod 7.0', async () => {
    await db.createCollection('people', { validator: { $jsonSchema: personSchema } });
    const [entry] = await db.listCollections({ name: 'people' }).toArray();
    assert.deepEqual((entry as Document).options.validator, { $jsonSchema: personSchema });
    const people = db.collection<AnyDoc>('people');
    await people.insertOne({
      _id: 1,
      name: 'Ann',
      age: 30,
      email: 'ann@example.com',
      tags: ['a', 'b'],
      address: { city: 'Oslo', zip: '01234' },
      kind: 'person'
    });
    const error = await failure(people.insertOne({ _id: 2, name: 7, age: 200, extra: true }));
    assert.equal(error.code, 121);
    assert.equal(error.message, 'Document failed validation');
    assert.deepEqual(errInfoOf(error), {
      failingDocumentId: 2,
      details: {
        operatorName: '$jsonSchema',
        schemaRulesNotSatisfied: [
          {
            operatorName: 'properties',
            propertiesNotSatisfied: [
              {
                propertyName: 'name',
                description: 'must be a string',
                details: [
                  {
                    operatorName: 'bsonType',
                    specifiedAs: { bsonType: 'string' },
                    reason: 'type did not match',
                    consideredValue: 7,
                    consideredType: 'int'
                  }
                ]
              },
              {
                propertyName: 'age',
                details: [
                  {
                    operatorName: 'maximum',
                    specifiedAs: { maximum: 150 },
                    reason: 'comparison failed',
                    consideredValue: 200
                  }
                ]
              }
            ]
          },
          {
            operatorName: 'additionalProperties',
            specifiedAs: { additionalProperties: false },
            additionalProperties: ['extra']
          }
        ]
      }
    });
    const nested = await failure(
      people.insertOne({
        _id: 3,
        name: 'Bo',
        age: 3,
        tags: ['x', 'x', 2],
        address: { zip: '1' },
        kind: 'cat'
      })
    );
    assert.deepEqual(errInfoOf(nested)?.details, {
      operatorName: '$jsonSchema',
      schemaRulesNotSatisfied: [
        {
          operatorName: 'properties',
          propertiesNotSatisfied: [
            {
              propertyName: 'tags',
              details: [
                {
                  operatorName: 'uniqueItems',
                  specifiedAs: { uniqueItems: true },
                  reason: 'found a duplicate item',
                  consideredValue: ['x', 'x', 2],
                  duplicatedValue: 'x'
                },
                {
                  operatorName: 'items',
                  reason: 'At least one item did not match the sub-schema',
                  itemIndex: 2,
                  details: [
                    {
                      operatorName: 'bsonType',
                      specifiedAs: { bsonType: 'string' },
                      reason: 'type did not match',
                      consideredValue: 2,
                      consideredType: 'int'
                    }
                  ]
                }
              ]
            },
            {
              propertyName: 'address',
              details: [
                {
                  operatorName: 'properties',
                  propertiesNotSatisfied: [
                    {
                      propertyName: 'zip',
                      details: [
                        {
                          operatorName: 'minLength',
                          specifiedAs: { minLength: 5 },
                          reason: 'specified string length was not satisfied',
                          consideredValue: '1'
                        }
                      ]
                    }
                  ]
                },
                {
                  operatorName: 'required',
                  specifiedAs: { required: ['city'] },
                  missingProperties: ['city']
                }
              ]
            },
            {
              propertyName: 'kind',
              details: [
                {
                  operatorName: 'enum',
                  specifiedAs: { enum: ['person', 'robot'] },
                  reason: 'value was not found in enum',
                  consideredValue: 'cat'
                }
              ]
            }
          ]
        }
      ]
    });
    const missing = await failure(people.insertOne({ _id: 4, age: BSON.Long.fromNumber(5) }));
    assert.deepEqual(errInfoOf(missing)?.details, {
      operatorName: '$jsonSchema',
      schemaRulesNotSatisfied: [
        {
          operatorName: 'required',
          specifiedAs: { required: ['name', 'age'] },
          missingProperties: ['name']
        }
      ]
    });
    assert.equal(await people.countDocuments(), 1);
  });

  it('explains $jsonSchema combined with query operators, and logical keywords', async () => {
    await db.createCollection('mixed', {
      validator: {
        $and: [
          { $jsonSchema: { properties: { a: { oneOf: [{ minimum: 1 }, { maximum: 3 }] } } } },
          { x: { $gt: 1 } }
        ]
      }
    });
    const error = await failure(db.collection<AnyDoc>('mixed').insertOne({ _id: 'm', a: 2, x: 0 }));
    assert.deepEqual(errInfoOf(error), {
      failingDocumentId: 'm',
      details: {
        operatorName: '$and',
        clausesNotSatisfied: [
          {
            index: 0,
            details: {
              operatorName: '$jsonSchema',
              schemaRulesNotSatisfied: [
                {
                  operatorName: 'properties',
                  propertiesNotSatisfied: [
                    {
                      propertyName: 'a',
                      details: [
                        {
                          operatorName: 'oneOf',
                          reason: 'more than one subschema matched',
                          matchingSchemaIndexes: [0, 1]
                        }
                      ]
                    }
                  ]
                }
              ]
            }
          },
          {
            index: 1,
            details: {
              operatorName: '$gt',
              specifiedAs: { x: { $gt: 1 } },
              reason: 'comparison failed',
              consideredValue: 0
            }
          }
        ]
      }
    });
    await db.collection<AnyDoc>('mixed').insertOne({ _id: 'ok', a: 0, x: 2 });
    await db.createCollection('logic', {
      validator: {
        $jsonSchema: {
          not: { required: ['secret'] },
          dependencies: { card: ['cvv'] },
          anyOf: [{ required: ['phone'] }, { required: ['mail'] }]
        }
      }
    });
    const logic = await failure(
      db.collection<AnyDoc>('logic').insertOne({ _id: 1, secret: 1, card: 1 })
    );
    assert.deepEqual(errInfoOf(logic)?.details, {
      operatorName: '$jsonSchema',
      schemaRulesNotSatisfied: [
        {
          operatorName: 'dependencies',
          failingDependencies: [{ conditionalProperty: 'card', missingProperties: ['cvv'] }]
        },
        {
          operatorName: 'anyOf',
          schemasNotSatisfied: [
            {
              index: 0,
              details: [
                {
                  operatorName: 'required',
                  specifiedAs: { required: ['phone'] },
                  missingProperties: ['phone']
                }
              ]
            },
            {
              index: 1,
              details: [
                {
                  operatorName: 'required',
                  specifiedAs: { required: ['mail'] },
                  missingProperties: ['mail']
                }
              ]
            }
          ]
        },
        { operatorName: 'not', reason: 'child expression matched' }
      ]
    });
  });

  it('applies validationLevel strict, moderate and off, validationAction warn, and bypass', async () => {
    const coll = db.collection<AnyDoc>('levels');
    await coll.insertMany([
      { _id: 1, n: 1 },
      { _id: 2, n: 'old' }
    ]);
    const schema = { $jsonSchema: { properties: { n: { bsonType: 'int' } } } };
    await db.command({ collMod: 'levels', validator: schema });
    // strict: every update is checked, even of a document that was already invalid.
    assert.equal((await failure(coll.updateOne({ _id: 2 }, { $set: { m: 1 } }))).code, 121);
    await db.command({ collMod: 'levels', validationLevel: 'moderate' });
    await coll.updateOne({ _id: 2 }, { $set: { m: 1 } });
    assert.equal((await failure(coll.updateOne({ _id: 1 }, { $set: { n: 'x' } }))).code, 121);
    assert.equal((await failure(coll.insertOne({ _id: 3, n: 'new' }))).code, 121);
    await db.command({ collMod: 'levels', validationLevel: 'off' });
    await coll.insertOne({ _id: 3, n: 'new' });
    await db.command({ collMod: 'levels', validationLevel: 'strict', validationAction: 'warn' });
    await coll.insertOne({ _id: 4, n: 'warned' });
    await db.command({ collMod: 'levels', validationAction: 'error' });
    await coll.insertOne({ _id: 5, n: 'bypassed' }, { bypassDocumentValidation: true });
    await coll.updateOne({ _id: 1 }, { $set: { n: 'b' } }, { bypassDocumentValidation: true });
    assert.equal(
      (await failure(coll.updateOne({ _id: 9 }, { $set: { n: 'u' } }, { upsert: true }))).code,
      121
    );
    const fam = await failure(coll.findOneAndUpdate({ _id: 4 }, { $set: { n: 'still' } }));
    assert.equal(fam.code, 121);
    assert.equal(errInfoOf(fam)?.failingDocumentId, 4);
    assert.deepEqual(
      (await coll.find().sort({ _id: 1 }).toArray()).map(d => d.n),
      ['b', 'old', 'new', 'warned', 'bypassed']
    );
  });

  it('refuses a validator that does not parse, and unknown levels and actions', async () => {
    const bad = await failure(
      db.createCollection('bad', { validator: { $jsonSchema: { type: 'integer' } } })
    );
    assert.equal(bad.code, 9);
    assert.equal(
      bad.message,
      "Parsing of collection validator failed :: caused by :: $jsonSchema type 'integer' is not currently supported."
    );
    await db.createCollection('good');
    const collMod = await failure(
      db.command({ collMod: 'good', validator: { $jsonSchema: { format: 'x' } } })
    );
    assert.equal(collMod.code, 9);
    assert.match(
      collMod.message,
      /^Parsing of collection validator failed :: caused by :: \$jsonSchema keyword 'format'/
    );
    const level = await failure(db.command({ collMod: 'good', validationLevel: 'lax' }));
    assert.equal(level.code, 2);
    assert.equal(
      level.message,
      "Enumeration value 'lax' for field 'collMod.validationLevel' is not a valid value."
    );
    const notObject = await failure(db.command({ create: 'bad', validator: 1 }));
    assert.equal(notObject.code, 14);
    assert.equal((await db.listCollections({ name: 'bad' }).toArray()).length, 0);
  });
});

describe('test server validation errors by version', () => {
  for (const version of ['4.4', '5.0', '6.0'] as const) {
    it(`${version}: ${version === '4.4' ? 'no errInfo' : 'errInfo with details'}`, async () => {
      const started = await startWithClient({ version });
      try {
        const db = started.client.db('v');
        await db.createCollection('c', { validator: { $jsonSchema: { required: ['a'] } } });
        const error = await failure(db.collection<AnyDoc>('c').insertOne({ _id: 1 }));
        assert.equal(error.code, 121);
        if (version === '4.4') {
          assert.equal(errInfoOf(error), undefined);
        } else {
          assert.deepEqual(errInfoOf(error), {
            failingDocumentId: 1,
            details: {
              operatorName: '$jsonSchema',
              schemaRulesNotSatisfied: [
                {
                  operatorName: 'required',
                  specifiedAs: { required: ['a'] },
                  missingProperties: ['a']
                }
              ]
            }
          });
        }
      } finally {
        await started.close();
      }
    });
  }
});
