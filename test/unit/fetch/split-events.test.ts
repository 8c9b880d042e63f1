import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { UnsupportedOplogEntryError } from '../../../src/errors.js';
import { SplitEventAssembler } from '../../../src/fetch/split-events.js';

const fragment = (n: number, of: number, fields: Record<string, unknown>) => ({
  _id: { _data: `token-${n}` },
  splitEvent: { fragment: n, of },
  ...fields
});

describe('SplitEventAssembler', () => {
  it('passes whole events through', () => {
    const assembler = new SplitEventAssembler();
    const event = { _id: { _data: 't' }, operationType: 'insert' };
    assert.equal(assembler.add(event), event);
    assert.equal(assembler.pending, false);
  });

  it('joins fragments into one event that resumes after the last fragment', () => {
    const assembler = new SplitEventAssembler();
    assert.equal(
      assembler.add(fragment(1, 3, { operationType: 'update', ns: { db: 'a', coll: 'b' } })),
      undefined
    );
    assert.equal(assembler.pending, true);
    assert.equal(
      assembler.add(fragment(2, 3, { fullDocumentBeforeChange: { big: 1 } })),
      undefined
    );
    const whole = assembler.add(fragment(3, 3, { fullDocument: { big: 2 } }));
    assert.deepEqual(whole, {
      _id: { _data: 'token-3' },
      operationType: 'update',
      ns: { db: 'a', coll: 'b' },
      fullDocumentBeforeChange: { big: 1 },
      fullDocument: { big: 2 }
    });
    assert.equal(assembler.pending, false);
  });

  it('refuses fragments out of order, or a whole event between fragments', () => {
    const assembler = new SplitEventAssembler();
    assert.throws(() => assembler.add(fragment(2, 2, {})), UnsupportedOplogEntryError);
    assembler.add(fragment(1, 2, {}));
    assert.throws(() => assembler.add({ _id: { _data: 'x' } }), UnsupportedOplogEntryError);
    assert.equal(assembler.pending, false);
  });

  it('forgets a partial event when the stream is re-opened', () => {
    const assembler = new SplitEventAssembler();
    assembler.add(fragment(1, 2, { a: 1 }));
    assembler.discard();
    assert.equal(assembler.pending, false);
    assert.deepEqual(assembler.add(fragment(1, 1, { b: 2 })), { _id: { _data: 'token-1' }, b: 2 });
  });
});
