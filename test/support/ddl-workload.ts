/**
 * A seeded random DDL workload for convergence tests: collections created with options, indexed,
 * renamed within and across databases (with dropTarget), modified, dropped and re-created, with
 * a few documents written in between — run through the driver against the source.
 */
import { Int32, type MongoClient, MongoServerError } from 'mongodb';

import { seededRandom } from './workload.js';

const NAMES = ['d0', 'd1', 'd2'];

export class DdlWorkload {
  readonly #random: () => number;
  #counter = 0;

  /**
   * @param dbs - the databases the collections live in; renames cross between them
   */
  constructor(
    private readonly client: MongoClient,
    private readonly dbs: readonly [string, ...string[]],
    seed: number
  ) {
    this.#random = seededRandom(seed ^ 0xdd1);
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)]!;
  }

  async #existing(): Promise<{ db: string; name: string }[]> {
    const out: { db: string; name: string }[] = [];
    for (const db of this.dbs) {
      const colls = await this.client.db(db).listCollections({}, { nameOnly: true }).toArray();
      for (const { name } of colls) if (NAMES.includes(name)) out.push({ db, name });
    }
    return out;
  }

  /** Runs `count` random DDL steps. */
  async run(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.step();
  }

  async step(): Promise<void> {
    const existing = await this.#existing();
    const roll = this.#random();
    const db = this.#pick(this.dbs);
    const name = this.#pick(NAMES);
    const exists = existing.some(c => c.db === db && c.name === name);
    const some = existing.length > 0 ? this.#pick(existing) : undefined;
    try {
      if (roll < 0.2 || some === undefined) {
        if (exists) return;
        const options = this.#pick([
          {},
          { validator: { n: { $type: 'int' } }, validationAction: 'warn' as const },
          { collation: { locale: 'fr', strength: 2 } }
        ]);
        await this.client.db(db).createCollection(name, options);
      } else if (roll < 0.45) {
        const docs = Array.from({ length: 1 + Math.floor(this.#random() * 3) }, () => ({
          _id: `${some.db}-${++this.#counter}`,
          n: new Int32(this.#counter),
          s: this.#pick(['a', 'b', 'c'])
        }));
        await this.client
          .db(some.db)
          .collection(some.name)
          .insertMany(docs as never[]);
      } else if (roll < 0.6) {
        const spec = this.#pick([
          { key: { n: 1 }, name: 'n_1' },
          { key: { s: 1, n: -1 }, name: 's_n', sparse: true },
          { key: { s: 1 }, name: 's_ttl', expireAfterSeconds: 3600 }
        ]);
        await this.client.db(some.db).command({ createIndexes: some.name, indexes: [spec] });
      } else if (roll < 0.7) {
        const index = this.#pick(['n_1', 's_n', 's_ttl']);
        await this.client.db(some.db).command({ dropIndexes: some.name, index });
      } else if (roll < 0.82) {
        const toDb = this.#pick(this.dbs);
        const toName = this.#pick(NAMES);
        if (toDb === some.db && toName === some.name) return;
        await this.client.db('admin').command({
          renameCollection: `${some.db}.${some.name}`,
          to: `${toDb}.${toName}`,
          dropTarget: true
        });
      } else if (roll < 0.9) {
        await this.client.db(some.db).command({
          collMod: some.name,
          validator: { n: { $type: this.#pick(['int', 'number']) } },
          validationAction: 'warn'
        });
      } else {
        await this.client.db(some.db).collection(some.name).drop();
      }
    } catch (error) {
      // A step may race its own preconditions (an index already gone, a name taken); the
      // source refusing it writes nothing, so there is nothing to replicate.
      if (error instanceof MongoServerError) return;
      throw error;
    }
  }
}
