/** The default checkpoint store: a collection in the target deployment. */
import { type Collection, type Document, type MongoClient, MongoServerError } from 'mongodb';

import { CheckpointError, InvalidConfigError, LeaseLostError } from '../errors.js';
import {
  type LeaseOwner,
  type LeaseRecord,
  type LeaseToken,
  type LeasingCheckpointStore
} from '../lease/lease.js';
import { isClientLike, readOptions } from '../options/option-reader.js';
import {
  type Checkpoint,
  type CopiedCollection,
  decodeCheckpoint,
  encodeCheckpoint,
  isCopiedCollection,
  withNumericEstimates
} from './checkpoint.js';
import { type CheckpointSaveOptions } from './checkpoint-store.js';
import { type CopyStateSaveOptions, type CopyStateStore } from './copy-state-store.js';
import {
  currentLeaseFilter,
  freeLeaseFilter,
  leaseFromDocument,
  RELEASE_LEASE_UPDATE,
  REMOVE_CHECKPOINT_UPDATE,
  renewLeaseUpdate,
  replaceCheckpointUpdate,
  takeLeaseUpdate
} from './mongo-lease.js';
import { OrderedSaves } from './ordered-saves.js';

/**
 * Options for {@link MongoCheckpointStore}.
 * @public
 */
export interface MongoCheckpointStoreOptions {
  /** Database holding the checkpoints. @defaultValue 'mongo_replicate' */
  database?: string;
  /** Collection holding the checkpoints. @defaultValue 'checkpoints' */
  collection?: string;
}

/**
 * The defaults {@link MongoCheckpointStore} applies to omitted options.
 * @public
 */
export const mongoCheckpointStoreDefaults = Object.freeze({
  database: 'mongo_replicate',
  collection: 'checkpoints'
});

/** Every write of the store: acknowledged by a majority and journaled, so a failover keeps it. */
const DURABLE = { writeConcern: { w: 'majority', journal: true } } as const;
const DUPLICATE_KEY = 11000;

/**
 * Stores checkpoints as documents `{_id: name, ...}` in `mongo_replicate.checkpoints` of the
 * target, written with `w: 'majority'` and journaled so a saved checkpoint survives a failover.
 * Each document also holds the checkpoint's lease (`lease`), judged by the server's clock. The
 * full copy's state is one document per source collection in `<collection>.copy`
 * (`mongo_replicate.checkpoints.copy`), `_id` `<name>` NUL `<source namespace>`.
 *
 * @remarks
 * A {@link Replicator} never replicates this namespace (nor anything in `mongo_replicate`) and
 * refuses renames into it, so in a chain A → B → C, or a failback B → A, each replicator's
 * checkpoints stay its own.
 * @public
 */
export class MongoCheckpointStore implements LeasingCheckpointStore, CopyStateStore {
  readonly #collection: Collection<Document>;
  readonly #copies: Collection<Document>;

  constructor(client: MongoClient, options: MongoCheckpointStoreOptions = {}) {
    const { database, collection } = readOptions(options, reader => ({
      database: reader.string('database', mongoCheckpointStoreDefaults.database),
      collection: reader.string('collection', mongoCheckpointStoreDefaults.collection)
    }));
    if (!isClientLike(client)) {
      throw new InvalidConfigError('checkpoint.store', 'expected a connected MongoClient');
    }
    this.#collection = client.db(database).collection(collection);
    this.#copies = client.db(database).collection(`${collection}.copy`);
    this.namespace = `${database}.${collection}`;
  }

  /** Where the checkpoints are (`db.collection`); the replicator never replicates it. */
  readonly namespace: string;

  /** {@inheritDoc CheckpointStore.load} */
  async load(name: string): Promise<Checkpoint | undefined> {
    const stored = await this.#run(`read checkpoint "${name}"`, () =>
      this.#collection.findOne(
        { _id: name as never },
        { promoteValues: false, promoteLongs: false, projection: { lease: 0 } }
      )
    );
    // A document holding only a lease: its replicator has not saved a position yet.
    if (!stored || stored.name === undefined) return undefined;
    const { _id: _ignored, ...rest } = stored;
    return decodeCheckpoint(
      { ...rest, version: numberOf(rest.version) },
      `${this.#collection.namespace} (_id "${name}")`
    );
  }

  /**
   * Saves a checkpoint with majority write concern, replacing any with the same name (and
   * keeping its lease). Saves of one name run one after the other, in call order, so an older
   * one never lands last.
   * @throws {@link CheckpointError} when the target refuses the write
   * @throws {@link LeaseLostError} when `options.lease` is no longer the current lease
   */
  save(checkpoint: Checkpoint, options: CheckpointSaveOptions = {}): Promise<void> {
    return this.#saves.run(checkpoint.name, () => this.#write(checkpoint, options.lease));
  }

  readonly #saves = new OrderedSaves();

  async #write(checkpoint: Checkpoint, lease: LeaseToken | undefined): Promise<void> {
    const { name } = checkpoint;
    const result = await this.#run(`write checkpoint "${name}"`, () =>
      this.#collection.updateOne(
        lease === undefined ? { _id: name as never } : currentLeaseFilter(name, lease),
        replaceCheckpointUpdate(encodeCheckpoint(checkpoint)),
        { ...DURABLE, upsert: lease === undefined }
      )
    );
    if (result.matchedCount + result.upsertedCount === 0) {
      throw new LeaseLostError(`Checkpoint "${name}" was not saved: its lease was taken over`);
    }
  }

  /**
   * Stores the state of `collections` under checkpoint `name`, one document each, with majority
   * write concern. See {@link CopyStateStore.saveCopyState}. Under a lease, the lease is checked
   * first (one read): a record is not fenced by the same write as the checkpoint, which is
   * harmless since a record only names finished ranges.
   */
  saveCopyState(
    name: string,
    collections: readonly CopiedCollection[],
    options: CopyStateSaveOptions = {}
  ): Promise<void> {
    return this.#saves.run(name, async () => {
      const { lease } = options;
      await this.#run(`write the copy state of checkpoint "${name}"`, async () => {
        if (lease !== undefined) {
          const current = await this.#collection.findOne(currentLeaseFilter(name, lease), {
            projection: { _id: 1 }
          });
          if (current === null) {
            throw new LeaseLostError(
              `The copy state of checkpoint "${name}" was not saved: its lease was taken over`
            );
          }
        }
        if (options.replace === true) {
          await this.#copies.deleteMany(copyRecordsOf(name), DURABLE);
        }
        if (collections.length === 0) return;
        await this.#copies.bulkWrite(
          collections.map(collection => ({
            replaceOne: {
              filter: { _id: copyRecordId(name, collection.sourceNs) as never },
              replacement: { checkpoint: name, ...collection },
              upsert: true
            }
          })),
          { ...DURABLE, ordered: false }
        );
      });
    });
  }

  /** {@inheritDoc CopyStateStore.loadCopyState} */
  async loadCopyState(name: string): Promise<CopiedCollection[]> {
    const records = await this.#run(`read the copy state of checkpoint "${name}"`, () =>
      this.#copies
        .find(copyRecordsOf(name), { promoteValues: false, promoteLongs: false })
        .toArray()
    );
    return records.map(record => {
      const { _id: id, checkpoint: _name, ...collection } = record;
      if (!isCopiedCollection(collection)) {
        throw new CheckpointError(
          `The copy state ${String(id)} in ${this.#copies.namespace} is invalid`,
          false,
          { hint: 'Delete the checkpoint (checkpoint reset) and copy again' }
        );
      }
      return withNumericEstimates(collection);
    });
  }

  /** {@inheritDoc CheckpointStore.delete} */
  async delete(name: string): Promise<void> {
    await this.#run(`delete checkpoint "${name}"`, async () => {
      await this.#copies.deleteMany(copyRecordsOf(name), DURABLE);
      await this.#collection.updateOne(
        { _id: name as never },
        [...REMOVE_CHECKPOINT_UPDATE],
        DURABLE
      );
      await this.#collection.deleteOne({ _id: name as never, lease: { $exists: false } }, DURABLE);
    });
  }

  /** {@inheritDoc LeasingCheckpointStore.acquireLease} */
  async acquireLease(name: string, owner: LeaseOwner, ttlMs: number): Promise<LeaseRecord> {
    const taken = await this.#run(`take the lease of checkpoint "${name}"`, async () => {
      try {
        return await this.#collection.findOneAndUpdate(
          freeLeaseFilter(name),
          takeLeaseUpdate(owner, ttlMs),
          { ...DURABLE, upsert: true, returnDocument: 'after', projection: { lease: 1 } }
        );
      } catch (error) {
        // The upsert met the existing document: someone holds the lease.
        if (error instanceof MongoServerError && error.code === DUPLICATE_KEY) return null;
        throw error;
      }
    });
    const record = leaseFromDocument(taken?.lease) ?? (await this.readLease(name));
    if (record === undefined) {
      throw new CheckpointError(`The lease of checkpoint "${name}" could not be read back`, true);
    }
    return record;
  }

  /** {@inheritDoc LeasingCheckpointStore.renewLease} */
  async renewLease(
    name: string,
    lease: LeaseToken,
    ttlMs: number
  ): Promise<LeaseRecord | undefined> {
    const renewed = await this.#run(`renew the lease of checkpoint "${name}"`, () =>
      this.#collection.findOneAndUpdate(currentLeaseFilter(name, lease), renewLeaseUpdate(ttlMs), {
        ...DURABLE,
        returnDocument: 'after',
        projection: { lease: 1 }
      })
    );
    return leaseFromDocument(renewed?.lease);
  }

  /** {@inheritDoc LeasingCheckpointStore.releaseLease} */
  async releaseLease(name: string, lease: LeaseToken): Promise<void> {
    await this.#run(`release the lease of checkpoint "${name}"`, () =>
      this.#collection.updateOne(
        currentLeaseFilter(name, lease),
        [...RELEASE_LEASE_UPDATE],
        DURABLE
      )
    );
  }

  /** {@inheritDoc LeasingCheckpointStore.readLease} */
  async readLease(name: string): Promise<LeaseRecord | undefined> {
    const [found] = await this.#run(`read the lease of checkpoint "${name}"`, () =>
      this.#collection
        .aggregate([{ $match: { _id: name } }, { $project: { _id: 0, lease: 1, now: '$$NOW' } }])
        .toArray()
    );
    return found === undefined ? undefined : leaseFromDocument(found.lease, found.now as Date);
  }

  async #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw new CheckpointError(`Cannot ${what} in ${this.namespace} of the target`, true, {
        cause: error
      });
    }
  }
}

/** The `_id` of a copy record: the checkpoint's name, NUL, the source namespace. */
function copyRecordId(name: string, sourceNs: string): string {
  return `${name}\u0000${sourceNs}`;
}

/** Every copy record of checkpoint `name`: one `_id` range, so the `_id` index serves it. */
function copyRecordsOf(name: string): Document {
  return { _id: { $gte: `${name}\u0000`, $lt: `${name}\u0001` } };
}

/** `promoteValues: false` keeps Timestamps exact but also wraps plain numbers; unwrap `version`. */
function numberOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'valueOf' in value
    ? Number((value as { valueOf(): unknown }).valueOf())
    : value;
}
