/**
 * Child process of file-store-crash.test.ts: saves checkpoints (under a lease) into the
 * directory given as argument, as fast as it can, printing each optime once its save resolved,
 * until it is killed.
 */
import { Timestamp } from 'mongodb';

import { FileCheckpointStore } from '../../../src/checkpoint/file-checkpoint-store.js';

const store = new FileCheckpointStore(process.argv[2]!);
const lease = await store.acquireLease(
  'crash',
  { id: 'child', host: 'here', pid: process.pid },
  600_000
);
const token = { ownerId: lease.owner.id, token: lease.token };
// A large copy state makes each write long enough to be cut in the middle.
const copy = Array.from({ length: 200 }, (_, i) => ({
  sourceNs: `db.c${i}`,
  targetNs: `db.c${i}`,
  ranges: Array.from({ length: 20 }, () => ({ estimatedDocuments: 1000, done: true }))
}));
for (let t = 1; ; t++) {
  await store.save(
    {
      name: 'crash',
      version: 1,
      mode: 'all',
      phase: 'full',
      lastApplied: new Timestamp({ t, i: 1 }),
      copy,
      updatedAt: new Date()
    },
    { lease: token }
  );
  if (t % 3 === 0) await store.renewLease('crash', token, 600_000);
  process.stdout.write(`${t}\n`);
}
