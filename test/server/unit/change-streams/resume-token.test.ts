import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Binary, Double, Int32, Long, ObjectId, Timestamp } from 'bson';

import { type BDoc, type BValue } from '../../bson/values.js';
import { KeyStringBuilder } from '../../change-streams/keystring.js';
import {
  encodeTokenData,
  EVENT_TOKEN,
  highWaterMark,
  parseResumeToken,
  tokenDocument
} from '../../change-streams/resume-token.js';

const uuid = (hex: string) => new Binary(Buffer.from(hex, 'hex'), 4);
const doc = (...entries: [string, BValue][]): BDoc => new Map(entries);
const hex = (value: BValue | number) =>
  new KeyStringBuilder().append(value).toBuffer().toString('hex').toUpperCase();

describe('resume token KeyString encoding (real tokens, TEST-SERVER-SPEC §3.7)', () => {
  it('v1 high-water-mark token', () => {
    assert.equal(
      highWaterMark(new Timestamp({ t: 0x612f653e, i: 2 }), 1),
      '82612F653E000000022B0229296E04'
    );
  });

  it('v2 high-water-mark token writes the missing UUID as null', () => {
    assert.equal(
      highWaterMark(new Timestamp({ t: 0x612f653e, i: 2 }), 2),
      '82612F653E000000022B0429296E1404'
    );
  });

  it('v1 dropDatabase event token (no UUID, no documentKey)', () => {
    const token = encodeTokenData({
      clusterTime: new Timestamp({ t: 0x5e5393a5, i: 4 }),
      version: 1,
      tokenType: EVENT_TOKEN,
      txnOpIndex: 0,
      fromInvalidate: false
    });
    assert.equal(token, '825E5393A5000000042B022C0100296E04');
  });

  it('v1 delete event token with documentKey {_id: ObjectId}', () => {
    const id = '5E537CF27DC0F30426F01B77';
    const ui = '0123456789ABCDEF0123456789ABCDEF';
    const token = encodeTokenData({
      clusterTime: new Timestamp({ t: 0x5e537d02, i: 1 }),
      version: 1,
      tokenType: EVENT_TOKEN,
      txnOpIndex: 0,
      fromInvalidate: false,
      uuid: uuid(ui),
      eventIdentifier: doc(['_id', new ObjectId(id)])
    });
    assert.equal(token, `825E537D02000000012B022C0100296E5A1004${ui}46645F69640064${id}0004`);
  });

  it('v2 insert event token (PeerDB-io/peerdb#3246) byte for byte', () => {
    const token = encodeTokenData({
      clusterTime: new Timestamp({ t: 0x687e82de, i: 1 }),
      version: 2,
      tokenType: EVENT_TOKEN,
      txnOpIndex: 0,
      fromInvalidate: false,
      uuid: uuid('FEA7A1FFE23C4FD88070BFA43C9C995C'),
      eventIdentifier: doc(
        ['operationType', 'insert'],
        ['documentKey', doc(['_id', new ObjectId('687E82DC122A414A3ECD77F8')])]
      )
    });
    assert.equal(
      token,
      '82687E82DE000000012B042C0100296E5A1004FEA7A1FFE23C4FD88070BFA43C9C995C463C6F7065726174696F6E54797065003C696E736572740046646F63756D656E744B65790046645F69640064687E82DC122A414A3ECD77F8000004'
    );
  });

  it('parses clusterTime, version, txnOpIndex and fromInvalidate back', () => {
    const data = {
      clusterTime: new Timestamp({ t: 1700000000, i: 7 }),
      version: 2,
      tokenType: EVENT_TOKEN,
      txnOpIndex: 300,
      fromInvalidate: true,
      uuid: uuid('FEA7A1FFE23C4FD88070BFA43C9C995C'),
      eventIdentifier: doc(['operationType', 'drop'])
    };
    const parsed = parseResumeToken('resumeAfter', tokenDocument(encodeTokenData(data)));
    assert.equal(parsed.clusterTime.t, 1700000000);
    assert.equal(parsed.clusterTime.i, 7);
    assert.equal(parsed.version, 2);
    assert.equal(parsed.tokenType, EVENT_TOKEN);
    assert.equal(parsed.txnOpIndex, 300);
    assert.equal(parsed.fromInvalidate, true);
    assert.equal(parsed.hasUuid, true);
  });

  it('rejects malformed tokens as mongod does', () => {
    assert.throws(() => parseResumeToken('resumeAfter', 'x'), { code: 14 });
    assert.throws(() => parseResumeToken('resumeAfter', doc(['_data', new Int32(1)])), {
      code: 40647
    });
    assert.throws(() => parseResumeToken('resumeAfter', doc(['_data', 'XYZ'])), { code: 9 });
  });
});

describe('KeyString numbers', () => {
  it('encodes integers by magnitude class, negatives inverted', () => {
    assert.equal(hex(new Int32(0)), '29');
    assert.equal(hex(new Int32(1)), '2B02');
    assert.equal(hex(new Int32(128)), '2C0100');
    assert.equal(hex(new Int32(-1)), '27FD');
    assert.equal(hex(Long.fromNumber(2 ** 40)), '30020000000000');
    assert.equal(hex(new Double(5)), hex(new Int32(5)));
  });

  it('sorts numbers of any type byte-wise in numeric order', () => {
    const values = [
      new Double(-1e300),
      Long.fromNumber(-(2 ** 40)),
      new Int32(-300),
      new Double(-2.5),
      new Int32(-2),
      new Double(-0.25),
      new Int32(0),
      new Double(0.5),
      new Int32(1),
      new Double(1.5),
      new Int32(2),
      new Double(255.75),
      new Int32(256),
      Long.fromNumber(2 ** 50),
      new Double(1e300)
    ];
    const encoded = values.map(v => hex(v));
    for (let i = 1; i < encoded.length; i++) {
      assert.ok(encoded[i - 1]! < encoded[i]!, `${String(values[i - 1])} < ${String(values[i])}`);
    }
  });

  it('tokens sort by clusterTime, then txnOpIndex', () => {
    const at = (t: number, i: number, txnOpIndex: number) =>
      encodeTokenData({
        clusterTime: new Timestamp({ t, i }),
        version: 2,
        tokenType: EVENT_TOKEN,
        txnOpIndex,
        fromInvalidate: false,
        uuid: uuid('00000000000000000000000000000001'),
        eventIdentifier: doc(['operationType', 'insert'])
      });
    const ordered = [
      highWaterMark(new Timestamp({ t: 5, i: 1 }), 2),
      at(5, 1, 0),
      at(5, 1, 1),
      at(5, 1, 200),
      highWaterMark(new Timestamp({ t: 5, i: 2 }), 2),
      at(5, 2, 0),
      at(6, 0, 0)
    ];
    assert.deepEqual([...ordered].sort(), ordered);
  });
});
