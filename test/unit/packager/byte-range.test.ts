import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { contentRange, parseRange, sliceParts } from '../../../packager/live/byte-range';

describe('byte ranges of media objects', () => {
  it('a-b, a- and -n give the slice, clamped to the object', () => {
    assert.deepEqual(parseRange('bytes=0-99', 1000), { kind: 'slice', slice: { start: 0, end: 99 } });
    assert.deepEqual(parseRange('bytes=900-', 1000), { kind: 'slice', slice: { start: 900, end: 999 } });
    assert.deepEqual(parseRange('bytes=-100', 1000), { kind: 'slice', slice: { start: 900, end: 999 } });
    assert.deepEqual(parseRange('bytes=-5000', 1000), { kind: 'slice', slice: { start: 0, end: 999 } });
    assert.deepEqual(parseRange('bytes=990-5000', 1000), { kind: 'slice', slice: { start: 990, end: 999 } });
    assert.deepEqual(parseRange('BYTES = 5 - 5', 1000), { kind: 'slice', slice: { start: 5, end: 5 } });
    assert.equal(contentRange({ start: 990, end: 999 }, 1000), 'bytes 990-999/1000');
  });

  it('past the end, or a zero suffix: unsatisfiable (416)', () => {
    for (const h of ['bytes=1000-', 'bytes=1000-2000', 'bytes=-0']) assert.deepEqual(parseRange(h, 1000), { kind: 'unsatisfiable' }, h);
    assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  });

  it('no header, another unit, several ranges, malformed or reversed: the whole object', () => {
    for (const h of [undefined, '', 'items=0-1', 'bytes=0-1,5-9', 'bytes=a-b', 'bytes=-', 'bytes=9-3', 'bytes 0-1', `bytes=${'1'.repeat(300)}-`, 'bytes=1234567890123456-']) {
      assert.deepEqual(parseRange(h, 1000), { kind: 'whole' }, String(h));
    }
  });

  it('a slice of parts laid end to end: which parts, and where inside each', () => {
    const lengths = [10, 0, 5, 20];
    assert.deepEqual(sliceParts(lengths, 0, 35), [{ index: 0, from: 0, to: 10 }, { index: 2, from: 0, to: 5 }, { index: 3, from: 0, to: 20 }]);
    assert.deepEqual(sliceParts(lengths, 3, 12), [{ index: 0, from: 3, to: 10 }, { index: 2, from: 0, to: 2 }]);
    assert.deepEqual(sliceParts(lengths, 16, 17), [{ index: 3, from: 1, to: 2 }]);
    assert.deepEqual(sliceParts(lengths, 35, 40), []);
    // Every slice of every part boundary equals the slice of the concatenation.
    const whole = Buffer.from(Array.from({ length: 35 }, (_, i) => i));
    const parts = [whole.subarray(0, 10), whole.subarray(10, 10), whole.subarray(10, 15), whole.subarray(15)];
    for (let a = 0; a <= 35; a++) {
      for (let b = a; b <= 35; b++) {
        const got = Buffer.concat(sliceParts(lengths, a, b).map((p) => (parts[p.index] as Buffer).subarray(p.from, p.to)));
        assert.deepEqual(got, whole.subarray(a, b), `${a}-${b}`);
      }
    }
  });
});
