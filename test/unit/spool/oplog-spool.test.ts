import assert from 'node:assert/strict';
import { appendFile, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Timestamp } from 'mongodb';

import { InvalidConfigError, ReplicationError, SpoolError } from '../../../src/errors.js';
import { OplogSpool } from '../../../src/spool/oplog-spool.js';
import { withTimeout } from '../../support/timeout-signal.js';
import {
  collect,
  entries,
  entriesAfter,
  entryAt,
  optimes,
  recordingLogger,
  removeDirectory,
  segmentPaths,
  tempDirectory
} from './spool-fixtures.js';

const HEADER = 16;
let root: string;
let counter = 0;

before(async () => {
  root = await tempDirectory();
});
after(async () => {
  await removeDirectory(root);
});

/** A spool directory that does not exist yet. */
function freshDirectory(): string {
  return join(root, `spool-${++counter}`);
}

/** A spool with `count` entries in segments of `segmentBytes`, closed again. */
async function closedSpool(count: number, segmentBytes: number) {
  const directory = freshDirectory();
  const written = entries(count);
  const spool = await OplogSpool.open(directory, { segmentBytes });
  await spool.append(written);
  await spool.close();
  return { directory, written };
}

function assertSameEntries(
  actual: readonly { raw: Uint8Array; ts: Timestamp }[],
  expected: readonly { raw: Uint8Array; ts: Timestamp }[]
): void {
  assert.deepEqual(optimes(actual), optimes(expected));
  for (const [index, entry] of actual.entries()) {
    assert.ok(Buffer.from(entry.raw).equals(Buffer.from(expected[index]!.raw)), `raw of ${index}`);
  }
}

describe('OplogSpool', () => {
  it('round-trips many entries across small segments, read in small chunks', async () => {
    const directory = freshDirectory();
    const spool = await OplogSpool.open(directory, { segmentBytes: 1024, readChunkBytes: 100 });
    assert.equal(spool.firstOptime, undefined);
    assert.equal(spool.lastOptime, undefined);
    assert.equal(spool.bytes, 0);
    const written = entries(300);
    // One entry larger than a segment and a read chunk gets a segment of its own.
    const large = entryAt(1_800_000_000, 1, 5000);
    for (let at = 0; at < written.length; at += 37) await spool.append(written.slice(at, at + 37));
    await spool.append([large]);
    await spool.sync();

    const files = await segmentPaths(directory);
    assert.ok(files.length > 10, `expected many segments, got ${files.length}`);
    const sizes = await Promise.all(files.map(async file => (await stat(file)).size));
    assert.equal(
      spool.bytes,
      sizes.reduce((a, b) => a + b, 0)
    );
    assert.ok(sizes.slice(0, -1).every(size => size <= 1024));
    assert.equal(sizes.at(-1), HEADER + large.raw.byteLength);
    assert.ok(spool.firstOptime!.equals(written[0]!.ts));
    assert.ok(spool.lastOptime!.equals(large.ts));

    assertSameEntries(await collect(spool.read()), [...written, large]);
    await spool.destroy();
    await assert.rejects(stat(directory), { code: 'ENOENT' });
  });

  it('gives the same first and last optime and bytes after reopening a closed spool', async () => {
    const { directory, written } = await closedSpool(50, 700);
    const logger = recordingLogger();
    const spool = await OplogSpool.open(directory, { segmentBytes: 700, logger });
    assert.deepEqual(logger.warnings, []);
    assert.ok(spool.firstOptime!.equals(written[0]!.ts));
    assert.ok(spool.lastOptime!.equals(written.at(-1)!.ts));
    const files = await segmentPaths(directory);
    const sizes = await Promise.all(files.map(async file => (await stat(file)).size));
    assert.equal(
      spool.bytes,
      sizes.reduce((a, b) => a + b, 0)
    );
    assertSameEntries(await collect(spool.read()), written);
    // Appending continues in order after the reopened last optime.
    const more = entriesAfter(spool.lastOptime!, 5);
    await spool.append(more);
    assertSameEntries(await collect(spool.read()), [...written, ...more]);
    await spool.close();
  });

  it('drops a torn tail of the newest segment on open, keeps every whole record, and appends again', async () => {
    const { directory, written } = await closedSpool(40, 800);
    const newest = (await segmentPaths(directory)).at(-1)!;
    const size = (await stat(newest)).size;
    const lastStart = size - (HEADER + written.at(-1)!.raw.byteLength);
    // A crash mid-write: the last record is cut short, and the rest of the block holds garbage.
    await truncate(newest, size - 7);
    await appendFile(newest, Buffer.alloc(50, 0xab));

    const logger = recordingLogger();
    const spool = await OplogSpool.open(directory, { segmentBytes: 800, logger });
    assert.equal(logger.warnings.length, 1);
    assert.equal(logger.warnings[0]!.fields?.droppedBytes, size - 7 + 50 - lastStart);
    assert.equal((await stat(newest)).size, lastStart);
    const kept = written.slice(0, -1);
    assert.ok(spool.lastOptime!.equals(kept.at(-1)!.ts));
    assertSameEntries(await collect(spool.read()), kept);

    // The dropped entry can be appended again (the fetcher re-reads from lastOptime).
    const more = [written.at(-1)!, ...entriesAfter(written.at(-1)!.ts, 30)];
    await spool.append(more);
    await spool.close();
    const again = await OplogSpool.open(directory, { segmentBytes: 800, logger });
    assert.equal(logger.warnings.length, 1, 'a cleanly closed spool needs no repair');
    assertSameEntries(await collect(again.read()), [...kept, ...more]);
    await again.close();
  });

  it('drops a torn header that is all a new segment holds', async () => {
    const { directory, written } = await closedSpool(30, 600);
    const files = await segmentPaths(directory);
    const next = join(directory, `${String(files.length + 1).padStart(16, '0')}.spool`);
    await writeFile(next, Buffer.from([1, 2, 3, 4, 5]));
    const logger = recordingLogger();
    const spool = await OplogSpool.open(directory, { segmentBytes: 600, logger });
    assert.equal(logger.warnings[0]!.fields?.droppedBytes, 5);
    assert.ok(spool.lastOptime!.equals(written.at(-1)!.ts));
    const more = entriesAfter(spool.lastOptime!, 3);
    await spool.append(more);
    assertSameEntries(await collect(spool.read()), [...written, ...more]);
    assert.equal((await segmentPaths(directory)).length, files.length + 1);
    await spool.close();
  });

  it('refuses to open a spool whose older segment is corrupt', async () => {
    const { directory } = await closedSpool(40, 800);
    const [oldest] = await segmentPaths(directory);
    const bytes = await readFile(oldest!);
    bytes[HEADER + 10] = bytes[HEADER + 10]! ^ 0xff;
    await writeFile(oldest!, bytes);
    const error = await OplogSpool.open(directory, { segmentBytes: 800 }).then(
      () => assert.fail('open should fail'),
      (failure: unknown) => failure
    );
    assert.ok(error instanceof SpoolError);
    assert.ok(ReplicationError.is(error));
    assert.equal(error.code, 'MR_SPOOL');
    assert.equal(error.retryable, false);
    assert.equal(error.path, oldest);
    assert.match(error.message, /corrupt at byte 0: checksum mismatch/);
    assert.match(error.message, /Delete the spool directory .* and restart the full copy/);
  });

  it('refuses to open a spool with a segment missing in the middle', async () => {
    const { directory } = await closedSpool(40, 500);
    const files = await segmentPaths(directory);
    assert.ok(files.length >= 3);
    await rm(files[1]!);
    await assert.rejects(OplogSpool.open(directory, { segmentBytes: 500 }), (error: unknown) => {
      assert.ok(error instanceof SpoolError);
      assert.match(error.message, /segment 2 is missing/);
      return true;
    });
  });

  it('reads only the entries after a given optime', async () => {
    const { directory, written } = await closedSpool(60, 500);
    const spool = await OplogSpool.open(directory, { segmentBytes: 500, readChunkBytes: 64 });
    const cases: [string, Timestamp, number][] = [
      ['before the first entry', new Timestamp({ t: 1, i: 0 }), 0],
      ['the first entry', written[0]!.ts, 1],
      ['an entry in the middle of a segment', written[25]!.ts, 26],
      ['between two entries', new Timestamp({ t: written[31]!.ts.t, i: 99 }), 33],
      ['the next-to-last entry', written[58]!.ts, 59],
      ['the last entry', written[59]!.ts, 60],
      ['past the end', new Timestamp({ t: 2_000_000_000, i: 1 }), 60]
    ];
    for (const [what, after, from] of cases) {
      const read = await collect(spool.read(after));
      assert.deepEqual(optimes(read), optimes(written.slice(from)), what);
    }
    await spool.close();
  });

  it('follows appends made after the read started and ends after endFollow()', async () => {
    const directory = freshDirectory();
    const spool = await OplogSpool.open(directory, { segmentBytes: 400 });
    const first = entries(5);
    await spool.append(first);
    const reader = spool.read(undefined, { follow: true });
    for (const expected of first) {
      const { value } = await reader.next();
      assert.ok(value!.ts.equals(expected.ts));
    }
    // The reader is at the end and waits; the next appends (across a segment roll) reach it.
    const waiting = reader.next();
    const later = entriesAfter(first.at(-1)!.ts, 12);
    await spool.append(later.slice(0, 1));
    const { value: one } = await withTimeout(waiting, 5000, 'the first later entry');
    assert.ok(one!.ts.equals(later[0]!.ts));
    const rest = reader.next();
    await spool.append(later.slice(1, 11));
    assert.ok(
      (await withTimeout(rest, 5000, 'the second later entry')).value!.ts.equals(later[1]!.ts)
    );
    for (const expected of later.slice(2, 11)) {
      assert.ok((await reader.next()).value!.ts.equals(expected.ts));
    }
    // An append still in progress when endFollow() is called is delivered before the end.
    const ending = reader.next();
    const lastAppend = spool.append(later.slice(11));
    spool.endFollow();
    await lastAppend;
    assert.ok((await withTimeout(ending, 5000, 'the last entry')).value!.ts.equals(later[11]!.ts));
    assert.deepEqual(await withTimeout(reader.next(), 5000, 'the end'), {
      done: true,
      value: undefined
    });
    await spool.close();
  });

  it('follows an empty spool from its first append', async () => {
    const spool = await OplogSpool.open(freshDirectory());
    const reader = spool.read(new Timestamp({ t: 4, i: 2 }), { follow: true });
    const waiting = reader.next();
    // Entries 4:1, 4:2 and 4:3: only the last one is after 4:2.
    await spool.append(entries(3, 4));
    assert.deepEqual(optimes([(await withTimeout(waiting, 5000, 'an entry')).value!]), ['4:3']);
    spool.endFollow();
    assert.equal((await reader.next()).done, true);
    await spool.close();
  });

  it('ends a following read when its signal aborts', async () => {
    const spool = await OplogSpool.open(freshDirectory());
    await spool.append(entries(2));
    const controller = new AbortController();
    const reader = spool.read(undefined, { follow: true, signal: controller.signal });
    await reader.next();
    await reader.next();
    const waiting = reader.next();
    const reason = new Error('stop reading');
    controller.abort(reason);
    await assert.rejects(withTimeout(waiting, 5000, 'the abort'), reason);
    await spool.close();
  });

  it('makes a following read throw when the spool is closed under it', async () => {
    const spool = await OplogSpool.open(freshDirectory());
    const reader = spool.read(undefined, { follow: true });
    const waiting = reader.next();
    // Handled before the close: the reader may fail while close() still releases the lock.
    const failed = assert.rejects(withTimeout(waiting, 5000, 'the close'), SpoolError);
    await spool.close();
    await failed;
    await assert.rejects(spool.append(entries(1)), /is closed/);
  });

  it('discards whole segments a checkpoint has passed, keeping the newest', async () => {
    const { directory, written } = await closedSpool(60, 500);
    const spool = await OplogSpool.open(directory, { segmentBytes: 500 });
    const before = await segmentPaths(directory);
    const bytesBefore = spool.bytes;

    await spool.discardThrough(new Timestamp({ t: 1, i: 0 }));
    assert.equal((await segmentPaths(directory)).length, before.length);

    const checkpoint = written[30]!.ts;
    await spool.discardThrough(checkpoint);
    const remaining = await segmentPaths(directory);
    assert.ok(remaining.length < before.length && remaining.length > 1);
    assert.deepEqual(remaining, before.slice(before.length - remaining.length));
    const first = spool.firstOptime!;
    assert.ok(first.lessThanOrEqual(written[31]!.ts) && first.greaterThan(written[0]!.ts));
    // Everything after the checkpoint is still there; the segment holding it was not deleted.
    assertSameEntries(await collect(spool.read(checkpoint)), written.slice(31));
    const sizes = await Promise.all(remaining.map(async file => (await stat(file)).size));
    assert.equal(
      spool.bytes,
      sizes.reduce((a, b) => a + b, 0)
    );
    assert.ok(spool.bytes < bytesBefore);
    // Entries before the first kept one are gone: reading from there would miss some.
    await assert.rejects(collect(spool.read(written[0]!.ts)), SpoolError);

    await spool.discardThrough(written.at(-1)!.ts);
    assert.deepEqual(await segmentPaths(directory), [before.at(-1)]);
    assert.ok(spool.lastOptime!.equals(written.at(-1)!.ts));
    await spool.close();

    const reopened = await OplogSpool.open(directory, { segmentBytes: 500 });
    assert.ok(reopened.lastOptime!.equals(written.at(-1)!.ts));
    await reopened.close();
  });

  it('remembers what it discarded across a restart (or a crash) and refuses to read before it', async () => {
    const { directory, written } = await closedSpool(60, 500);
    const spool = await OplogSpool.open(directory, { segmentBytes: 500 });
    await spool.discardThrough(written[30]!.ts);
    const first = spool.firstOptime!;
    // Not closed: a crash right after the discard.
    const reopened = await OplogSpool.open(directory, { segmentBytes: 500, lock: false });
    assert.ok(reopened.firstOptime!.equals(first));
    await assert.rejects(collect(reopened.read(written[0]!.ts)), (error: unknown) => {
      assert.ok(error instanceof SpoolError);
      assert.match(error.message, /were discarded/);
      return true;
    });
    assertSameEntries(await collect(reopened.read(written[30]!.ts)), written.slice(31));
    await reopened.destroy();
    await spool.close();
    const empty = await OplogSpool.open(directory);
    assertSameEntries(await collect(empty.read(written[0]!.ts)), []);
    await empty.destroy();
  });

  it('fails a reader that has not reached a discarded segment', async () => {
    const { directory, written } = await closedSpool(60, 500);
    const spool = await OplogSpool.open(directory, { segmentBytes: 500 });
    const reader = spool.read();
    assert.ok((await reader.next()).value!.ts.equals(written[0]!.ts));
    await spool.discardThrough(written[40]!.ts);
    await assert.rejects(collect({ [Symbol.asyncIterator]: () => reader }), SpoolError);
    await spool.close();
  });

  it('rejects entries out of order, repeated, or not BSON, and writes none of the batch', async () => {
    const spool = await OplogSpool.open(freshDirectory());
    const [a, b, c] = entries(3);
    await spool.append([a!, b!]);
    const bytes = spool.bytes;
    for (const batch of [[b!], [a!], [c!, c!], [entryAt(2_000_000_000, 1), c!]]) {
      await assert.rejects(spool.append(batch), (error: unknown) => {
        assert.ok(error instanceof SpoolError);
        assert.match(error.message, /is not after/);
        assert.ok(error.optime);
        return true;
      });
    }
    await assert.rejects(
      spool.append([{ raw: new Uint8Array([1, 2, 3]), ts: c!.ts }]),
      /not one BSON document/
    );
    assert.equal(spool.bytes, bytes);
    await spool.append([c!]);
    assertSameEntries(await collect(spool.read()), [a!, b!, c!]);
    await spool.close();
    const reopened = await OplogSpool.open(spool.directory);
    await assert.rejects(reopened.append([b!]), /is not after/);
    await reopened.close();
  });

  it('checks its options before touching the file system', async () => {
    const directory = freshDirectory();
    await assert.rejects(OplogSpool.open(directory, { segmentBytes: 0 }), InvalidConfigError);
    await assert.rejects(OplogSpool.open(directory, { readChunkBytes: 8 }), InvalidConfigError);
    await assert.rejects(OplogSpool.open(''), InvalidConfigError);
    await assert.rejects(stat(directory), { code: 'ENOENT' });
  });

  it('keeps a directory that holds files of others on destroy', async () => {
    const directory = freshDirectory();
    const spool = await OplogSpool.open(directory);
    await spool.append(entries(3));
    await writeFile(join(directory, 'notes.txt'), 'keep me');
    await spool.destroy();
    assert.deepEqual(await segmentPaths(directory), []);
    assert.equal(await readFile(join(directory, 'notes.txt'), 'utf8'), 'keep me');
  });
});
