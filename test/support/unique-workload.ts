/**
 * A seeded workload of the shape real schemas have: a `users` collection with a unique index on
 * `email` (and a compound unique index on `{org, handle}`), where values move between documents:
 * two users swap emails through a temporary value, three rotate theirs, a deleted user's email
 * is taken by a new one, and a transaction swaps two handles. A source that runs it is always
 * consistent; a replica that applies it out of order or over later versions meets duplicates.
 */
import { type Collection, Int32, type MongoClient } from 'mongodb';

import { seededRandom } from './workload.js';

type User = { _id: number; email: string; org: string; handle: string; n: Int32 };

/** The indexes the workload's collection has on the source. */
export const USER_INDEXES = [
  { key: { email: 1 }, name: 'email_1', unique: true },
  { key: { org: 1, handle: 1 }, name: 'org_1_handle_1', unique: true }
] as const;

export class UniqueWorkload {
  readonly #random: () => number;
  readonly #live: number[] = [];
  #next = 0;
  #temp = 0;

  constructor(
    private readonly client: MongoClient,
    private readonly db: string,
    seed: number,
    private readonly collection = 'users'
  ) {
    this.#random = seededRandom(seed ^ 0x0511ce);
  }

  #users(): Collection<User> {
    return this.client.db(this.db).collection<User>(this.collection);
  }

  /** Creates the collection with its unique indexes and `count` users. */
  async setUp(count: number): Promise<void> {
    await this.#users().createIndexes(USER_INDEXES.map(index => ({ ...index })));
    for (let i = 0; i < count; i++) await this.#insert();
  }

  /** Runs `count` random operations. */
  async run(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.step();
  }

  async step(): Promise<void> {
    const roll = this.#random();
    if (this.#live.length < 4 || roll < 0.15) await this.#insert();
    else if (roll < 0.45) await this.#swap('email');
    else if (roll < 0.6) await this.#rotate();
    else if (roll < 0.75) await this.#replaceDeleted();
    else if (roll < 0.85) await this.#swapInTransaction();
    else {
      await this.#users().updateOne({ _id: this.#pick() }, { $inc: { n: new Int32(1) } });
    }
  }

  #pick(except: readonly number[] = []): number {
    for (;;) {
      const id = this.#live[Math.floor(this.#random() * this.#live.length)]!;
      if (!except.includes(id)) return id;
    }
  }

  async #insert(): Promise<void> {
    const id = ++this.#next;
    await this.#users().insertOne({
      _id: id,
      email: `user-${id}@example.com`,
      org: `org-${id % 3}`,
      handle: `h-${id}`,
      n: new Int32(0)
    });
    this.#live.push(id);
  }

  async #valueOf(id: number, field: 'email' | 'handle'): Promise<string> {
    const doc = await this.#users().findOne({ _id: id });
    return doc![field];
  }

  /** a ↔ b through a temporary value: three writes, each consistent. */
  async #swap(field: 'email' | 'handle'): Promise<void> {
    const a = this.#pick();
    const b = this.#pick([a]);
    const [va, vb] = [await this.#valueOf(a, field), await this.#valueOf(b, field)];
    const users = this.#users();
    await users.updateOne({ _id: a }, { $set: { [field]: `tmp-${++this.#temp}` } });
    await users.updateOne({ _id: b }, { $set: { [field]: va } });
    await users.updateOne({ _id: a }, { $set: { [field]: vb } });
  }

  /** a → b's, b → c's, c → a's email, through a temporary value. */
  async #rotate(): Promise<void> {
    if (this.#live.length < 3) return this.#swap('email');
    const a = this.#pick();
    const b = this.#pick([a]);
    const c = this.#pick([a, b]);
    const [ea, eb, ec] = await Promise.all([a, b, c].map(id => this.#valueOf(id, 'email')));
    const users = this.#users();
    await users.updateOne({ _id: a }, { $set: { email: `tmp-${++this.#temp}` } });
    await users.updateOne({ _id: c }, { $set: { email: ea! } });
    await users.updateOne({ _id: b }, { $set: { email: ec! } });
    await users.updateOne({ _id: a }, { $set: { email: eb! } });
  }

  /** A user leaves; a new one registers with the same email. */
  async #replaceDeleted(): Promise<void> {
    const gone = this.#pick();
    const email = await this.#valueOf(gone, 'email');
    await this.#users().deleteOne({ _id: gone });
    this.#live.splice(this.#live.indexOf(gone), 1);
    const id = ++this.#next;
    await this.#users().insertOne({
      _id: id,
      email,
      org: `org-${id % 3}`,
      handle: `h-${id}`,
      n: new Int32(0)
    });
    this.#live.push(id);
  }

  /** Two users of one org swap handles in one transaction. */
  async #swapInTransaction(): Promise<void> {
    const a = this.#pick();
    const b = this.#pick([a]);
    const users = this.#users();
    const [da, db] = [await users.findOne({ _id: a }), await users.findOne({ _id: b })];
    if (!da || !db) return;
    // Same org for both, so the compound unique index is the one at stake.
    await users.updateOne({ _id: b }, { $set: { org: da.org } });
    const session = this.client.startSession();
    try {
      await session.withTransaction(async () => {
        await users.updateOne({ _id: a }, { $set: { handle: `tmp-${++this.#temp}` } }, { session });
        await users.updateOne({ _id: b }, { $set: { handle: da.handle } }, { session });
        await users.updateOne({ _id: a }, { $set: { handle: db.handle } }, { session });
      });
    } finally {
      await session.endSession();
    }
  }
}
