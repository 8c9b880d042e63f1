import { startWithClient } from '/work/main/test/server/support.js';
const s = await startWithClient({ version: '7.0' });
const coll = s.client.db('t').collection<any>('c');
await coll.insertOne({ _id: 0 });
const cs = coll.watch([], { fullDocument: 'updateLookup' });
await cs.tryNext();
console.log('pbrt', cs.resumeToken);
await coll.insertOne({ _id: 1, a: [1, 2, 3] });
await coll.updateOne({ _id: 1 }, { $set: { b: 2, 'a.1': 5 }, $unset: { x: 1 } });
await coll.updateOne({ _id: 1 }, { $pop: { a: 1 } });
await coll.replaceOne({ _id: 1 }, { z: 1 });
await coll.deleteOne({ _id: 1 });
await coll.drop();
for (let i = 0; i < 7; i++) { const e = await cs.next(); console.log(JSON.stringify(e)); }
console.log(cs.closed);
await s.close();
