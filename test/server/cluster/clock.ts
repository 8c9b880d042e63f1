/**
 * The cluster's logical clock. mongod and mongos each keep a vector clock advanced by gossip
 * (`$clusterTime` in every request and reply); in this in-process cluster every member draws its
 * oplog timestamps from one shared clock instead, which is what gossip converges to: timestamps
 * are unique and ordered across shards, so a merge of the shards' oplogs by `ts` is a total order.
 */
import { Timestamp } from 'bson';

import { compareValues } from '../bson/values.js';

export class ClusterClock {
  #last = new Timestamp({ t: 0, i: 0 });

  /** The newest time handed out or gossiped (`$clusterTime`). */
  get last(): Timestamp {
    return this.#last;
  }

  /** A new time: the wall clock's seconds, an increment within one second. */
  next(): Timestamp {
    const now = Math.floor(Date.now() / 1000);
    const last = this.#last;
    this.#last =
      now > last.t
        ? new Timestamp({ t: now, i: 1 })
        : last.i >= 0xffffffff
          ? new Timestamp({ t: last.t + 1, i: 1 })
          : new Timestamp({ t: last.t, i: last.i + 1 });
    return this.#last;
  }

  /** Gossip: a time seen elsewhere (a client's `$clusterTime`, a member's oplog) moves it on. */
  advanceTo(ts: Timestamp): void {
    if (compareValues(ts, this.#last) > 0) this.#last = ts;
  }
}
