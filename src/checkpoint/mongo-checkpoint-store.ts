/** The default checkpoint store: a collection in the target deployment. */
import { type Collection, type Document, type MongoClient } from 'mongodb';

import { CheckpointError, InvalidConfigError } from '../errors.js';
import { isClientLike, readOptions } from '../options/option-reader.js';
import { type Checkpoint, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { type CheckpointStore } from './checkpoint-store.js';
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

/**
 * Stores checkpoints as documents `{_id: name, ...}` in `mongo_replicate.checkpoints` of the
 * target, written with `w: 'majority'` and journaled so a saved checkpoint survives a failover.
 *
 * @remarks
 * A {@link Replicator} never replicates this namespace (nor anything in `mongo_replicate`) and
 * refuses renames into it, so in a chain A → B → C, or a failback B → A, each replicator's
 * checkpoints stay its own.
 * @public
 */
export class MongoCheckpointStore implements CheckpointStore {
  readonly #collection: Collection<Document>;

  constructor(client: MongoClient, options: MongoCheckpointStoreOptions = {}) {
    const { database, collection } = readOptions(options, reader => ({
      database: reader.string('database', mongoCheckpointStoreDefaults.database),
      collection: reader.string('collection', mongoCheckpointStoreDefaults.collection)
    }));
    if (!isClientLike(client)) {
      throw new InvalidConfigError('checkpoint.store', 'expected a connected MongoClient');
    }
    this.#collection = client.db(database).collection(collection);
    this.namespace = `${database}.${collection}`;
  }

  /** Where the checkpoints are (`db.collection`); the replicator never replicates it. */
  readonly namespace: string;

  /** {@inheritDoc CheckpointStore.load} */
  async load(name: string): Promise<Checkpoint | undefined> {
    let stored: Document | null;
    try {
      stored = await this.#collection.findOne(
        { _id: name as never },
        { promoteValues: false, promoteLongs: false }
      );
    } catch (error) {
      throw new CheckpointError(`Cannot read checkpoint "${name}" from the target`, true, {
        cause: error
      });
    }
    if (!stored) return undefined;
    const { _id: _ignored, ...rest } = stored;
    return decodeCheckpoint(
      { ...rest, version: numberOf(rest.version) },
      `${this.#collection.namespace} (_id "${name}")`
    );
  }

  /**
   * Saves a checkpoint with majority write concern, replacing any with the same name. Saves of
   * one name run one after the other, in call order, so an older one never lands last.
   * @throws {@link CheckpointError} when the target refuses the write
   */
  save(checkpoint: Checkpoint): Promise<void> {
    return this.#saves.run(checkpoint.name, () => this.#write(checkpoint));
  }

  readonly #saves = new OrderedSaves();

  async #write(checkpoint: Checkpoint): Promise<void> {
    try {
      await this.#collection.replaceOne(
        { _id: checkpoint.name as never },
        encodeCheckpoint(checkpoint),
        {
          upsert: true,
          writeConcern: { w: 'majority', journal: true }
        }
      );
    } catch (error) {
      throw new CheckpointError(
        `Cannot write checkpoint "${checkpoint.name}" to the target`,
        true,
        { cause: error }
      );
    }
  }

  /** {@inheritDoc CheckpointStore.delete} */
  async delete(name: string): Promise<void> {
    await this.#collection.deleteOne({ _id: name as never });
  }
}

/** `promoteValues: false` keeps Timestamps exact but also wraps plain numbers; unwrap `version`. */
function numberOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'valueOf' in value
    ? Number((value as { valueOf(): unknown }).valueOf())
    : value;
}
