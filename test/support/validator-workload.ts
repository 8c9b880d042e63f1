/**
 * A seeded workload on a collection with a `$jsonSchema` validator that some of its documents
 * break: written before the validator existed, or with validation bypassed (as data migrations
 * and imports do). A replica must hold them all, and keep the validator.
 */
import { type Collection, Int32, type MongoClient } from 'mongodb';

import { seededRandom } from './workload.js';

type Item = { _id: number; kind?: unknown; qty?: unknown };

/** The source's validator: an item has a string `kind` and a non-negative int `qty`. */
export const ITEM_VALIDATOR = {
  $jsonSchema: {
    bsonType: 'object',
    required: ['kind', 'qty'],
    properties: { kind: { bsonType: 'string' }, qty: { bsonType: 'int', minimum: 0 } }
  }
};

export class ValidatorWorkload {
  readonly #random: () => number;
  #next = 0;

  constructor(
    private readonly client: MongoClient,
    private readonly db: string,
    seed: number,
    private readonly collection = 'validated'
  ) {
    this.#random = seededRandom(seed ^ 0x7a11d);
  }

  #items(): Collection<Item> {
    return this.client.db(this.db).collection<Item>(this.collection);
  }

  /** Creates the collection with its validator, and `count` items, some of them invalid. */
  async setUp(count: number): Promise<void> {
    await this.client.db(this.db).createCollection(this.collection, {
      validator: ITEM_VALIDATOR,
      validationLevel: 'moderate',
      validationAction: 'error'
    });
    for (let i = 0; i < count; i++) await this.#insert();
  }

  async run(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      if (this.#next === 0 || this.#random() < 0.4) await this.#insert();
      else {
        const id = 1 + Math.floor(this.#random() * this.#next);
        // Half of the updates make the item invalid (with validation bypassed).
        const invalid = this.#random() < 0.5;
        await this.#items().updateOne(
          { _id: id },
          { $set: { qty: invalid ? 'many' : new Int32(Math.floor(this.#random() * 9)) } },
          { bypassDocumentValidation: invalid }
        );
      }
    }
  }

  async #insert(): Promise<void> {
    const id = ++this.#next;
    const invalid = this.#random() < 0.4;
    await this.#items().insertOne(
      invalid ? { _id: id, qty: new Int32(-1) } : { _id: id, kind: 'box', qty: new Int32(id % 5) },
      { bypassDocumentValidation: invalid }
    );
  }
}
