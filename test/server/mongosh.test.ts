import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { startTestServer, type TestServer } from './server.js';

const run = promisify(execFile);
const mongoshBin = join(
  dirname(createRequire(import.meta.url).resolve('mongosh/package.json')),
  'bin',
  'mongosh.js'
);

const script = `
db = db.getSiblingDB('shell');
db.items.insertOne({ _id: 1, name: 'a', qty: 5 });
db.items.insertMany([{ _id: 2, name: 'b', qty: 1 }, { _id: 3, name: 'c', qty: 9 }]);
db.items.updateOne({ _id: 2 }, { $inc: { qty: 10 } });
db.items.createIndex({ name: 1 }, { unique: true });
print(JSON.stringify({
  found: db.items.find({ qty: { $gt: 4 } }).sort({ _id: 1 }).toArray(),
  collections: db.getCollectionNames(),
  indexes: db.items.getIndexes().map(i => i.name),
  status: rs.status().members[0].stateStr
}));
`;

describe('mongosh (the npm package) against the test server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.stop();
  });

  it('runs a script that inserts, updates, finds and lists collections and indexes', async () => {
    const { stdout } = await run(
      process.execPath,
      [mongoshBin, server.uri, '--quiet', '--norc', '--eval', script],
      {
        timeout: 60_000,
        env: { ...process.env, MONGOSH_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' }
      }
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.deepEqual(result, {
      found: [
        { _id: 1, name: 'a', qty: 5 },
        { _id: 2, name: 'b', qty: 11 },
        { _id: 3, name: 'c', qty: 9 }
      ],
      collections: ['items'],
      indexes: ['_id_', 'name_1'],
      status: 'PRIMARY'
    });
  });
});
