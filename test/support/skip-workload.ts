/**
 * A seeded workload for the `filter.skip` convergence tests that builds its own expectation: every
 * operation runs on the source, and — unless its kind is skipped — the same operation, with the
 * effect it had on the source, runs on an "expected" deployment. The expected deployment is
 * therefore the source's history minus the skipped operations, computed without the replicator
 * and without reading the oplog.
 *
 * Why mirroring the effect is exact: while a document exists on the source, its expected copy is
 * equal to it unless updates are skipped, so an operation that matched it on the source does
 * the same to the copy. Deletes are mirrored by the `_id`s the source deleted, updates only when
 * they matched there, and inserts as replace-upserts (a kept document with that `_id` is
 * replaced, as the applier does).
 */
import { type Document, Int32, type MongoClient } from 'mongodb';

import { seededRandom } from './workload.js';

/** What a skip list drops, in the terms of this workload. */
export interface SkipKinds {
  readonly insert: boolean;
  readonly update: boolean;
  readonly delete: boolean;
  readonly drop: boolean;
}

type Doc = Document & { _id: number | string };

/** One effect of a source operation, mirrored on the expected side unless skipped. */
type Effect =
  | { readonly kind: 'insert'; readonly coll: string; readonly doc: Doc }
  | {
      readonly kind: 'update';
      readonly coll: string;
      readonly id: Doc['_id'];
      readonly update: Document;
    }
  | {
      readonly kind: 'replace';
      readonly coll: string;
      readonly id: Doc['_id'];
      readonly doc: Document;
    }
  | { readonly kind: 'delete'; readonly coll: string; readonly ids: readonly Doc['_id'][] }
  | { readonly kind: 'drop'; readonly coll: string };

export const SKIP_COLLECTIONS = ['alpha', 'beta', 'gamma'] as const;

export class SkipWorkload {
  readonly #random: () => number;
  readonly #ids = new Map<string, Doc['_id'][]>();
  #counter = 0;

  constructor(
    private readonly source: MongoClient,
    private readonly expected: MongoClient,
    private readonly db: string,
    private readonly skip: SkipKinds,
    seed: number
  ) {
    this.#random = seededRandom(seed ^ 0x51c1);
  }

  /** Runs `count` random operations. */
  async run(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.step();
  }

  async step(): Promise<void> {
    const coll = this.#pick(SKIP_COLLECTIONS);
    const known = this.#ids.get(coll) ?? [];
    const roll = this.#random();
    if (roll < 0.3 || known.length === 0) return this.#mirror(await this.#insert(coll));
    const id = this.#pick(known);
    if (roll < 0.55) return this.#mirror(await this.#update(coll, id));
    if (roll < 0.65) return this.#mirror(await this.#replace(coll, id));
    if (roll < 0.78) return this.#mirror(await this.#delete(coll, [id]));
    if (roll < 0.84) return this.#mirror(await this.#deleteSome(coll));
    if (roll < 0.96) return this.#transaction();
    if (roll < 0.98) return this.#mirror(await this.#reinsert(coll, id));
    await this.source
      .db(this.db)
      .collection(coll)
      .drop()
      .catch(() => undefined);
    return this.#mirror([{ kind: 'drop', coll }]);
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)]!;
  }

  #document(id: Doc['_id']): Doc {
    const doc: Doc = { _id: id, n: new Int32(Math.floor(this.#random() * 10)), tags: ['x'] };
    if (this.#random() < 0.5) doc.nested = { a: new Int32(1), list: [new Int32(1)] };
    if (this.#random() < 0.5) doc.s = `v${Math.floor(this.#random() * 100)}`;
    return doc;
  }

  #updateDoc(): Document {
    return this.#pick([
      { $set: { s: `u${this.#counter}`, 'nested.a': new Int32(this.#counter) } },
      { $inc: { n: new Int32(1) } },
      { $push: { tags: 'y' } },
      { $unset: { s: '' } },
      { $set: { zeta: new Int32(2), alpha: 'a' } }
    ]);
  }

  async #insert(coll: string): Promise<Effect[]> {
    const n = ++this.#counter;
    const doc = this.#document(this.#random() < 0.5 ? n : `s-${n}`);
    await this.source.db(this.db).collection<Doc>(coll).insertOne(doc);
    this.#ids.set(coll, [...(this.#ids.get(coll) ?? []), doc._id]);
    return [{ kind: 'insert', coll, doc }];
  }

  /** An `_id` the source may have deleted, inserted again (a kept document is replaced). */
  async #reinsert(coll: string, id: Doc['_id']): Promise<Effect[]> {
    const collection = this.source.db(this.db).collection<Doc>(coll);
    if ((await collection.countDocuments({ _id: id })) > 0) return [];
    const doc = this.#document(id);
    await collection.insertOne(doc);
    return [{ kind: 'insert', coll, doc }];
  }

  async #update(coll: string, id: Doc['_id']): Promise<Effect[]> {
    const update = this.#updateDoc();
    const result = await this.source
      .db(this.db)
      .collection<Doc>(coll)
      .updateOne({ _id: id }, update);
    return result.matchedCount === 1 ? [{ kind: 'update', coll, id, update }] : [];
  }

  async #replace(coll: string, id: Doc['_id']): Promise<Effect[]> {
    const doc = { replaced: true, n: new Int32(++this.#counter) };
    const result = await this.source.db(this.db).collection<Doc>(coll).replaceOne({ _id: id }, doc);
    return result.matchedCount === 1 ? [{ kind: 'replace', coll, id, doc }] : [];
  }

  async #delete(coll: string, ids: readonly Doc['_id'][]): Promise<Effect[]> {
    const collection = this.source.db(this.db).collection<Doc>(coll);
    // The workload is the source's only writer: what exists now is what the delete removes.
    const present = (await collection.find({ _id: { $in: [...ids] } }).toArray()).map(d => d._id);
    if (present.length === 0) return [];
    await collection.deleteMany({ _id: { $in: present } });
    return [{ kind: 'delete', coll, ids: present }];
  }

  async #deleteSome(coll: string): Promise<Effect[]> {
    const n = new Int32(Math.floor(this.#random() * 10));
    const ids = await this.source
      .db(this.db)
      .collection<Doc>(coll)
      .find({ n })
      .map(d => d._id)
      .toArray();
    return this.#delete(coll, ids);
  }

  async #transaction(): Promise<void> {
    let effects: Effect[] = [];
    const session = this.source.startSession();
    try {
      await session.withTransaction(async () => {
        effects = []; // withTransaction may run this again: mirror the committed attempt only
        for (let k = 0; k < 3; k++) {
          const coll = this.#pick(SKIP_COLLECTIONS);
          const collection = this.source.db(this.db).collection<Doc>(coll);
          const known = this.#ids.get(coll) ?? [];
          const roll = this.#random();
          if (roll < 0.4 || known.length === 0) {
            const doc = this.#document(`t-${++this.#counter}`);
            await collection.insertOne(doc, { session });
            this.#ids.set(coll, [...known, doc._id]);
            effects.push({ kind: 'insert', coll, doc });
          } else if (roll < 0.7) {
            const id = this.#pick(known);
            const update = { $inc: { n: new Int32(5) } };
            const result = await collection.updateOne({ _id: id }, update, { session });
            if (result.matchedCount === 1) effects.push({ kind: 'update', coll, id, update });
          } else {
            const id = this.#pick(known);
            const result = await collection.deleteOne({ _id: id }, { session });
            if (result.deletedCount === 1) effects.push({ kind: 'delete', coll, ids: [id] });
          }
        }
      });
    } finally {
      await session.endSession();
    }
    await this.#mirror(effects);
  }

  /** Applies the effects whose kind is not skipped to the expected deployment, in order. */
  async #mirror(effects: readonly Effect[]): Promise<void> {
    const db = this.expected.db(this.db);
    for (const effect of effects) {
      const collection = db.collection<Doc>(effect.coll);
      switch (effect.kind) {
        case 'insert':
          if (!this.skip.insert) {
            await collection.replaceOne({ _id: effect.doc._id }, effect.doc, { upsert: true });
          }
          break;
        case 'update':
          if (!this.skip.update) await collection.updateOne({ _id: effect.id }, effect.update);
          break;
        case 'replace':
          if (!this.skip.update) await collection.replaceOne({ _id: effect.id }, effect.doc);
          break;
        case 'delete':
          if (!this.skip.delete) await collection.deleteMany({ _id: { $in: [...effect.ids] } });
          break;
        case 'drop':
          if (!this.skip.drop) await collection.drop().catch(() => undefined);
          break;
      }
    }
  }
}
