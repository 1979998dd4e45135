/** Splice points (ad markers) cut segments: the first keyframe at or after one opens a new segment whatever the duration. */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createSegmenterState, segmenterFinish, segmenterStep, spliceDue, type SegmentClosedEvent, type SegmenterEvent, type SegmentOpenedEvent } from '../../../ingest/segmenter';
import { createMarker, spliceCues } from '../../../core/model/marker';

const WALL0 = 1_800_000_000_000;
const STEP = 3600; // 25 fps

/** 25 fps video, keyframe every `gop` frames, arriving in real time from WALL0; cues given per packet. */
function run(frames: number, gop: number, cues: number[]): SegmenterEvent[] {
  let s = createSegmenterState({ videoStreamIndex: 0, audioStreamIndex: null });
  const events: SegmenterEvent[] = [];
  for (let i = 0; i < frames; i++) {
    const r = segmenterStep(s, { streamIndex: 0, dts: i * STEP, pts: i * STEP, duration: STEP, keyframe: i % gop === 0 }, WALL0 + i * 40, cues);
    s = r.state;
    events.push(...r.events);
  }
  events.push(...segmenterFinish(s).events);
  return events;
}

const opened = (e: SegmenterEvent[]) => e.filter((x): x is SegmentOpenedEvent => x.type === 'segment:opened');
const closed = (e: SegmenterEvent[]) => e.filter((x): x is SegmentClosedEvent => x.type === 'segment:closed');

describe('segments cut at splice points', () => {
  it('without cues: segments at the first keyframe 2 s on, on a 0.48 s GOP', () => {
    assert.deepEqual(opened(run(150, 12, [])).map((o) => o.startPts / 90000), [0, 2.4, 4.8]);
  });

  it('a cue at 3.0 s opens a segment at the first keyframe at or after it (3.36 s), then 2 s segments go on', () => {
    const events = run(150, 12, [WALL0 + 3000]);
    assert.deepEqual(opened(events).map((o) => o.startPts / 90000), [0, 2.4, 3.36, 5.76]);
    // Within half a frame of a keyframe: that keyframe starts it, and only one segment is cut.
    assert.deepEqual(opened(run(150, 12, [WALL0 + 2900])).map((o) => o.startPts / 90000), [0, 2.4, 2.88, 5.28]);
    const c = closed(events);
    // Segments still tile the timeline, and the splice segment's PROGRAM-DATE-TIME is at or after the cue.
    for (let i = 1; i < c.length; i++) assert.equal(c[i]?.startPts, (c[i - 1]?.startPts ?? 0) + (c[i - 1]?.durationPts ?? 0));
    const splice = opened(events)[2] as SegmentOpenedEvent;
    assert.ok(splice.wallClockMs >= WALL0 + 3000 && splice.wallClockMs < WALL0 + 3000 + 12 * 40, String(splice.wallClockMs - WALL0));
  });

  it('a cue on a keyframe cuts there; a cue before the open segment or in the future cuts nothing yet', () => {
    assert.deepEqual(opened(run(150, 12, [WALL0 + 12 * 40 * 2])).map((o) => o.startPts / 90000), [0, 0.96, 3.36, 5.76]);
    assert.deepEqual(opened(run(150, 12, [WALL0 - 5000, WALL0 + 60_000])).map((o) => o.startPts / 90000), [0, 2.4, 4.8]);
    assert.equal(spliceDue([10], 10, 20), false, 'a cue at the segment start is already a segment start');
    assert.equal(spliceDue([25], 10, 20), false, 'not yet');
    assert.equal(spliceDue([15], 10, 20), true);
  });

  it('reports the cues a cut was for, with the segment it opened', () => {
    let s = createSegmenterState({ videoStreamIndex: 0, audioStreamIndex: null });
    const hits: { spliced: number[]; opened: number }[] = [];
    for (let i = 0; i < 150; i++) {
      const r = segmenterStep(s, { streamIndex: 0, dts: i * STEP, pts: i * STEP, duration: STEP, keyframe: i % 12 === 0 }, WALL0 + i * 40, [WALL0 + 3000, WALL0 + 3100]);
      s = r.state;
      const o = r.events.find((e): e is SegmentOpenedEvent => e.type === 'segment:opened');
      if (r.spliced) hits.push({ spliced: r.spliced, opened: (o?.startPts ?? NaN) / 90000 });
    }
    assert.deepEqual(hits, [{ spliced: [WALL0 + 3000, WALL0 + 3100], opened: 3.36 }]);
  });

  it('spliceCues: both ends of a break with a duration, within [now - 10 s, now + 1 h]', () => {
    const now = WALL0;
    const m = [
      createMarker({ type: 'ad-break', startMs: now + 1000, durationSeconds: 30 }, now, 1),
      createMarker({ type: 'ad-end', startMs: now - 20_000, durationSeconds: null }, now, 2),
      createMarker({ type: 'ad-break', startMs: now - 5000, durationSeconds: null }, now, 3),
    ];
    assert.deepEqual(spliceCues(m, now), [now - 5000, now + 1000, now + 31_000]);
  });
});
