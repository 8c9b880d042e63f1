/**
 * A seeded random workload for convergence tests: inserts, updates of many shapes (nested,
 * arrays, renames, replacements), deletes and transactions over `_id`s of many BSON types, run
 * through the driver against the source.
 */
import {
  Binary,
  Decimal128,
  type Document,
  Double,
  Int32,
  Long,
  type MongoClient,
  ObjectId,
  type UpdateFilter
} from 'mongodb';

import { type AnyDoc } from '../server/support.js';

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Doc = AnyDoc;

export class Workload {
  readonly #random: () => number;
  readonly #ids: unknown[] = [];
  #counter = 0;

  constructor(
    private readonly client: MongoClient,
    private readonly db: string,
    seed: number,
    private readonly collections: string[] = ['alpha', 'beta', 'gamma']
  ) {
    this.#random = seededRandom(seed);
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)]!;
  }

  #chance(p: number): boolean {
    return this.#random() < p;
  }

  /** A new `_id` of a random BSON type (numeric ones of different types never collide). */
  #newId(): string | object {
    const n = ++this.#counter;
    switch (Math.floor(this.#random() * 7)) {
      case 0:
        return new Int32(n);
      case 1:
        return new Double(n + 0.5);
      case 2:
        return Long.fromNumber(n * 1000);
      case 3:
        return `s-${n}`;
      case 4:
        return new ObjectId();
      case 5:
        return { k: n, t: 'doc' };
      default:
        return new Binary(Buffer.from(`bin-${n}`), 0);
    }
  }

  #value(depth = 0): unknown {
    switch (Math.floor(this.#random() * (depth > 1 ? 6 : 8))) {
      case 0:
        return new Int32(Math.floor(this.#random() * 100));
      case 1:
        return new Double(this.#random() * 100);
      case 2:
        return `v${Math.floor(this.#random() * 1000)}`;
      case 3:
        return this.#chance(0.5);
      case 4:
        return null;
      case 5:
        return Decimal128.fromString(`${Math.floor(this.#random() * 1000)}.25`);
      case 6:
        return { a: this.#value(depth + 1), b: [this.#value(depth + 1), this.#value(depth + 1)] };
      default:
        return Array.from({ length: 1 + Math.floor(this.#random() * 4) }, () =>
          this.#value(depth + 1)
        );
    }
  }

  #document(): Doc {
    const doc: Doc = {
      _id: this.#newId(),
      n: new Int32(0),
      tags: ['x'],
      nested: { a: new Int32(1), list: [new Int32(1), new Int32(2)] }
    };
    for (const field of ['f', 'g', 'h']) if (this.#chance(0.6)) doc[field] = this.#value();
    return doc;
  }

  #update(): Document | Document[] {
    switch (Math.floor(this.#random() * 10)) {
      case 0:
        return { $set: { f: this.#value(), 'nested.a': this.#value() } };
      case 1:
        return { $unset: { g: '' }, $inc: { n: new Int32(1) } };
      case 2:
        return { $push: { tags: this.#pick(['y', 'z', 'w']) } };
      case 3:
        return { $pop: { tags: 1 } };
      case 4:
        return { $set: { 'nested.list.1': this.#value(), 'nested.list.4': new Int32(9) } };
      case 5:
        return { $rename: { f: 'renamed' } };
      case 6:
        return { $set: { zeta: this.#value(), alpha: this.#value(), mid: new Int32(1) } };
      case 7:
        return [{ $set: { total: { $add: ['$n', 1] } } }, { $unset: 'h' }];
      case 8:
        return { $pull: { tags: 'x' }, $set: { 'deep.new.path': new Int32(1) } };
      default:
        return {
          $mul: { n: new Int32(2) },
          $max: { top: new Int32(Math.floor(this.#random() * 10)) }
        };
    }
  }

  /** Runs `count` random operations against the source. */
  async run(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.step();
  }

  /** One random operation. */
  async step(): Promise<void> {
    const collection = this.client.db(this.db).collection<Doc>(this.#pick(this.collections));
    const roll = this.#random();
    const existing = this.#ids.length > 0 ? this.#pick(this.#ids) : undefined;
    if (roll < 0.3 || existing === undefined) {
      if (this.#chance(0.3)) {
        const docs = Array.from({ length: 2 + Math.floor(this.#random() * 4) }, () =>
          this.#document()
        );
        await collection.insertMany(docs);
        this.#ids.push(...docs.map(d => d._id));
      } else {
        const doc = this.#document();
        await collection.insertOne(doc);
        this.#ids.push(doc._id);
      }
    } else if (roll < 0.7) {
      await collection.updateOne({ _id: existing as never }, this.#update() as UpdateFilter<Doc>);
    } else if (roll < 0.78) {
      await collection.replaceOne(
        { _id: existing as never },
        { replaced: true, v: this.#value(), n: new Int32(7) },
        { upsert: this.#chance(0.5) }
      );
    } else if (roll < 0.88) {
      await collection.deleteOne({ _id: existing as never });
    } else if (roll < 0.92) {
      await collection.deleteMany({ n: new Int32(Math.floor(this.#random() * 3)) });
    } else {
      await this.#transaction();
    }
  }

  async #transaction(): Promise<void> {
    const session = this.client.startSession();
    try {
      await session.withTransaction(async () => {
        for (let k = 0; k < 3; k++) {
          const collection = this.client.db(this.db).collection<Doc>(this.#pick(this.collections));
          if (this.#chance(0.5) || this.#ids.length === 0) {
            const doc = this.#document();
            await collection.insertOne(doc, { session });
            this.#ids.push(doc._id);
          } else {
            await collection.updateOne(
              { _id: this.#pick(this.#ids) as never },
              { $inc: { n: new Int32(5) } },
              { session }
            );
          }
        }
      });
    } finally {
      await session.endSession();
    }
  }
}
