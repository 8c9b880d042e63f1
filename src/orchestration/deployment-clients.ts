/**
 * The source and target clients of a Replicator: connected from connection strings (and then
 * owned: closed at the end) or given connected by the host (never closed here). A failure to
 * connect names its side with that side's error class; a stop while connecting closes what is
 * being connected instead of waiting out the driver's server selection.
 */
import { MongoClient } from 'mongodb';

import { sideError } from '../lifecycle/side-errors.js';

/**
 * A source and a target client, and which of them this process must close.
 * @internal
 */
export class DeploymentClients {
  readonly #owned: MongoClient[];

  private constructor(
    readonly source: MongoClient,
    readonly target: MongoClient,
    owned: MongoClient[]
  ) {
    this.#owned = owned;
  }

  /**
   * Connects both sides (in parallel). On failure closes whatever this call opened.
   * @throws the side's typed error (source: `SourceReadError`, target: `TargetWriteError`), or
   * `signal.reason` when it aborts first
   */
  static async connect(
    source: string | MongoClient,
    target: string | MongoClient,
    signal: AbortSignal
  ): Promise<DeploymentClients> {
    const owned: MongoClient[] = [];
    const open = (value: string | MongoClient) => {
      if (typeof value !== 'string') return value;
      const client = new MongoClient(value);
      owned.push(client);
      return client;
    };
    const sourceClient = open(source);
    const targetClient = open(target);
    const closeOwned = () => Promise.allSettled(owned.map(client => client.close()));
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => reject(signal.reason as unknown);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      await Promise.race([
        Promise.all([
          connectSide(sourceClient, 'source', owned),
          connectSide(targetClient, 'target', owned)
        ]),
        aborted
      ]);
    } catch (error) {
      // Closing interrupts a pending server selection, so an abort ends at once.
      await closeOwned();
      throw error;
    }
    return new DeploymentClients(sourceClient, targetClient, owned);
  }

  /**
   * Until the returned function is called, an abort of `signal` closes the clients this process
   * connected: their pending commands then fail at once instead of waiting out the driver's
   * timeouts (a stop while starting). A host's own clients cannot be interrupted this way.
   */
  closeOnAbort(signal: AbortSignal): () => void {
    const onAbort = () => void this.close();
    signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  }

  /** Closes the clients this process connected (the host's own stay open). */
  async close(): Promise<void> {
    const clients = this.#owned.splice(0);
    await Promise.allSettled(clients.map(client => client.close()));
  }
}

async function connectSide(
  client: MongoClient,
  side: 'source' | 'target',
  owned: readonly MongoClient[]
): Promise<void> {
  if (!owned.includes(client)) return;
  try {
    await client.connect();
  } catch (error) {
    throw sideError(side, error, {
      action: `Connecting to the ${side}`,
      hint: `Check the ${side} connection string, that the deployment is reachable and that it is a replica set`,
      retryable: true
    });
  }
}
