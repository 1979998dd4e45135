// The segmenter's boundary events as store records: open segments and the discontinuity count carried across batches.
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { boundaryRecords, createBoundaryBook } from '../../../ingest/session/boundary-records';
import type { SegmenterEvent } from '../../../ingest/segmenter';

const opened = (index: number, startPts: number, discontinuity = false): SegmenterEvent => ({ type: 'segment:opened', index, startPts, startDts: startPts - 10, wallClockMs: 1000 + index, discontinuity });
const part = (segmentIndex: number, partIndex: number, startPts: number, durationPts: number): SegmenterEvent => ({ type: 'part:ready', segmentIndex, partIndex, startPts, startDts: startPts - 10, durationPts, independent: partIndex === 0 });
const closed = (index: number, startPts: number, durationPts: number, wallClockMs = 1000 + index): SegmenterEvent => ({ type: 'segment:closed', index, startPts, durationPts, wallClockMs, discontinuity: false, partCount: 1 });

describe('boundaryRecords', () => {
  it('an opened segment is completed at its close, in a later batch', () => {
    const a = boundaryRecords(createBoundaryBook(3), [opened(7, 900), part(7, 0, 900, 45)]);
    assert.deepEqual(a.write.segments, [{ index: 7, startPts: 900, startDts: 890, durationPts: null, wallClockMs: 1007, discontinuity: false, discontinuitySequence: 3 }]);
    assert.deepEqual(a.write.parts, [{ segment: 7, part: 0, startPts: 900, startDts: 890, durationPts: 45, independent: true }]);
    assert.deepEqual(a.write.opened, [7]);
    assert.equal(a.write.lastPartEnd, 945);
    assert.deepEqual(a.write.events.map((e) => e.type), ['segment:opened', 'part:ready']);
    assert.equal(a.book.open.size, 1);

    const b = boundaryRecords(a.book, [closed(7, 900, 180)]);
    assert.deepEqual(b.write.segments, [{ index: 7, startPts: 900, startDts: 890, durationPts: 180, wallClockMs: 1007, discontinuity: false, discontinuitySequence: 3 }]);
    assert.deepEqual(b.write.events, [{ type: 'segment:closed', segment: 7, startPts: 900, durationPts: 180 }]);
    assert.equal(b.write.lastPartEnd, null);
    assert.equal(b.book.open.size, 0);
    assert.equal(a.book.open.size, 1, 'the earlier book is not changed');
  });

  it('a closed segment takes the wall clock it closed with (an epoch\'s first segment settles its PDT at its close)', () => {
    const a = boundaryRecords(createBoundaryBook(0), [opened(1, 0)]);
    assert.equal(a.write.segments[0]?.wallClockMs, 1001);
    const b = boundaryRecords(a.book, [closed(1, 0, 180, 660)]);
    assert.equal(b.write.segments[0]?.wallClockMs, 660);
  });

  it('a discontinuity counts up; a close whose opening was not seen keeps the close\'s fields', () => {
    const r = boundaryRecords(createBoundaryBook(0), [closed(1, 0, 180, 4242), opened(2, 180, true)]);
    assert.deepEqual(r.write.segments[0], { index: 1, startPts: 0, startDts: 0, durationPts: 180, wallClockMs: 4242, discontinuity: false, discontinuitySequence: 0 });
    assert.equal(r.write.segments[1]?.discontinuitySequence, 1);
    assert.equal(r.book.discontinuitySequence, 1);
  });

  it('warnings go to the events and to the log list, in order', () => {
    const r = boundaryRecords(createBoundaryBook(0), [{ type: 'warning', code: 'long-gop', message: 'keyframes 6 s apart' }]);
    assert.deepEqual(r.write.events, [{ type: 'warning', message: 'keyframes 6 s apart' }]);
    assert.deepEqual(r.write.warnings, ['keyframes 6 s apart']);
  });
});
