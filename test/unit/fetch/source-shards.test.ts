import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { MongoClient } from 'mongodb';

import { shardClientFor, shardConnectionString } from '../../../src/fetch/source-shards.js';

const shard = { id: 'shard1', replicaSet: 'rs1', hosts: ['h1:27018', 'h2:27018'] };

describe('shardConnectionString', () => {
  it('keeps the credentials and options, points at the shard’s replica set', () => {
    const uri = shardConnectionString(
      'mongodb://user:p%40ss@mongos1:27017,mongos2:27017/admin?authSource=admin&tls=true&directConnection=false&appName=x',
      shard
    );
    assert.equal(
      uri,
      'mongodb://user:p%40ss@h1:27018,h2:27018/admin?authSource=admin&tls=true&appName=x&replicaSet=rs1'
    );
  });

  it('turns an SRV string into hosts with TLS on, as SRV implies', () => {
    const uri = shardConnectionString(
      'mongodb+srv://u:p@cluster0.example.net/?retryWrites=true',
      shard
    );
    assert.equal(uri, 'mongodb://u:p@h1:27018,h2:27018/?retryWrites=true&tls=true&replicaSet=rs1');
  });

  it('leaves an explicit TLS choice of an SRV string alone', () => {
    const uri = shardConnectionString('mongodb+srv://cluster0.example.net/?tls=false', shard);
    assert.match(uri, /tls=false/);
    assert.doesNotMatch(uri, /tls=true/);
  });
});

describe('shardClientFor', () => {
  it('carries a host-given client’s credentials over', async () => {
    const mongos = new MongoClient(
      'mongodb://user:secret@mongos:27017/?authSource=other&appName=app'
    );
    const client = shardClientFor(mongos, shard);
    try {
      assert.equal(client.options.replicaSet, 'rs1');
      assert.deepEqual(
        client.options.hosts.map(host => host.toString()),
        ['h1:27018', 'h2:27018']
      );
      assert.equal(client.options.credentials?.username, 'user');
      assert.equal(client.options.credentials?.password, 'secret');
      assert.equal(client.options.credentials?.source, 'other');
      assert.equal(client.options.appName, 'app');
    } finally {
      await Promise.all([client.close(), mongos.close()]);
    }
  });
});
