/**
 * The balancer (the config server's Balancer): while `config.settings` `{_id: 'balancer'}` says
 * `mode: 'full'` (balancerStart; `--balancer on`), a round runs every `balancerIntervalMs`. Per
 * collection not marked `noBalance`, it moves one chunk from the shard with the most chunks to the
 * one with the fewest when they differ by 2 or more (4.4's chunk-count thresholds at their
 * smallest); otherwise, while a chunk holds more than a shard's share of the collection's
 * documents (and the collection has fewer than 4 chunks per shard), it splits that chunk at its
 * median shard key, so data ends up spread, as 7.0's data-size balancing aims to. Migrations run
 * as `moveChunk` does, so writes keep flowing during them.
 */
import { type Migrations } from './migration.js';
import { type Router } from './router.js';
import { compareKeys } from './shard-key.js';

/** The balancer splits a collection into at most this many chunks per shard. */
const MAX_CHUNKS_PER_SHARD = 4;

export class Balancer {
  inRound = false;
  rounds = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly router: Router,
    private readonly migrations: Migrations,
    private readonly intervalMs: number
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.round(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One balancing round; does nothing while the balancer is stopped or a round is running. */
  async round(): Promise<void> {
    const { catalog } = this.router;
    if (this.inRound || catalog.balancerMode() === 'off') return;
    this.inRound = true;
    this.rounds++;
    try {
      for (const collection of [...catalog.collections.values()]) {
        if (catalog.balancingDisabled(collection.ns)) continue;
        const counts = new Map(catalog.shardIds().map(id => [id, 0]));
        for (const chunk of collection.chunks) {
          counts.set(chunk.shard, (counts.get(chunk.shard) ?? 0) + 1);
        }
        const ordered = [...counts].sort((a, b) => a[1] - b[1]);
        const [least, fewest] = ordered[0]!;
        const [most, most_count] = ordered[ordered.length - 1]!;
        if (most_count - fewest >= 2) {
          const chunk = collection.chunks.find(candidate => candidate.shard === most)!;
          await this.migrations
            .moveChunk(collection, chunk, least, { waitForDelete: false })
            .catch(() => undefined);
          continue;
        }
        if (collection.chunks.length < MAX_CHUNKS_PER_SHARD * counts.size) {
          this.#splitFullest(collection.ns, counts.size);
        }
      }
    } finally {
      this.inRound = false;
    }
  }

  #splitFullest(ns: string, shards: number): void {
    const { catalog } = this.router;
    const collection = catalog.collection(ns);
    if (!collection) return;
    let best: { keys: Map<string, unknown>[]; size: number } | undefined;
    let total = 0;
    for (const chunk of collection.chunks) {
      const stored = this.router
        .shard(chunk.shard)
        .mongod.catalog.collection(collection.db, collection.coll);
      const keys = (stored?.snapshot() ?? [])
        .filter(doc => catalog.owns(chunk.shard, ns, doc))
        .map(doc => collection.key.keyOfDocument(doc))
        .filter(key => compareKeys(key, chunk.min) >= 0 && compareKeys(key, chunk.max) < 0)
        .sort(compareKeys);
      total += keys.length;
      if (!best || keys.length > best.size) best = { keys, size: keys.length };
    }
    // Split while one chunk holds more than a shard's share of the collection.
    if (!best || best.size < 2 || best.size * shards <= total) return;
    const median = best.keys[Math.floor(best.size / 2)]!;
    catalog.split(collection, median as Map<string, never>);
  }
}
