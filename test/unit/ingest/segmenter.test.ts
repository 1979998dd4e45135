import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import {
  createSegmenterState,
  segmenterFinish,
  segmenterStep,
  SegmenterConfigError,
  type PartReadyEvent,
  type SegmentClosedEvent,
  type SegmenterConfig,
  type SegmenterEvent,
  type SegmenterPacket,
  type SegmentOpenedEvent,
} from '../../../ingest/segmenter';

const V = 0;
const A = 1;

interface VideoSpec {
  frames: number;
  /** dts step, 90 kHz. */
  step: number;
  /** keyframe every N frames. */
  gop: number;
  /** pts - dts (B-frame reorder delay), 0 for none. */
  delay?: number;
  start?: number;
  discontinuityAt?: number;
  keyframesAt?: number[];
}

/** Video packets (plus one audio packet per video frame) in decode order. */
function av(spec: VideoSpec, withAudio = true): SegmenterPacket[] {
  const out: SegmenterPacket[] = [];
  const start = spec.start ?? 0;
  for (let i = 0; i < spec.frames; i++) {
    const dts = start + i * spec.step;
    const key = spec.keyframesAt ? spec.keyframesAt.includes(i) : i % spec.gop === 0;
    // B-frame-like pts: keyframes show `delay` after decode, others shuffled within the reorder window.
    const pts = spec.delay ? dts + spec.delay + (key ? 0 : ((i % 3) - 1) * spec.step) : dts;
    out.push({ streamIndex: V, dts, pts: Math.max(pts, dts), duration: spec.step, keyframe: key, discontinuity: i === spec.discontinuityAt });
    if (withAudio) out.push({ streamIndex: A, dts: dts + 100, pts: dts + 100, duration: 1920, keyframe: true });
  }
  return out;
}

function audioOnly(n: number, step = 1920): SegmenterPacket[] {
  return Array.from({ length: n }, (_, i) => ({ streamIndex: A, dts: i * step, pts: i * step, duration: step, keyframe: true }));
}

function runAll(config: Partial<SegmenterConfig> & Pick<SegmenterConfig, 'videoStreamIndex' | 'audioStreamIndex'>, packets: SegmenterPacket[], finish = true): SegmenterEvent[] {
  let s = createSegmenterState(config);
  const events: SegmenterEvent[] = [];
  packets.forEach((p, i) => {
    const r = segmenterStep(s, p, 1_700_000_000_000 + i);
    s = r.state;
    events.push(...r.events);
  });
  if (finish) events.push(...segmenterFinish(s).events);
  return events;
}

const opened = (e: SegmenterEvent[]) => e.filter((x): x is SegmentOpenedEvent => x.type === 'segment:opened');
const closed = (e: SegmenterEvent[]) => e.filter((x): x is SegmentClosedEvent => x.type === 'segment:closed');
const parts = (e: SegmenterEvent[]) => e.filter((x): x is PartReadyEvent => x.type === 'part:ready');
const warnings = (e: SegmenterEvent[]) => e.filter((x) => x.type === 'warning');

/** Every segment's parts tile it exactly; segments follow each other without gap or overlap. */
function assertTiling(events: SegmenterEvent[]): void {
  const segs = closed(events);
  for (let i = 1; i < segs.length; i++) {
    const prev = segs[i - 1] as SegmentClosedEvent;
    const cur = segs[i] as SegmentClosedEvent;
    assert.equal(cur.index, prev.index + 1, 'segment indexes are consecutive');
    assert.equal(cur.startPts, prev.startPts + prev.durationPts, 'segments are contiguous');
  }
  for (const seg of segs) {
    assert.ok(seg.durationPts > 0, `segment ${seg.index} has a positive duration`);
    const ps = parts(events).filter((p) => p.segmentIndex === seg.index);
    assert.equal(ps.length, seg.partCount);
    assert.equal(ps[0]?.startPts, seg.startPts);
    assert.equal(ps[0]?.independent, true, 'a segment starts with an independent part');
    let t = seg.startPts;
    ps.forEach((p, i) => {
      assert.equal(p.partIndex, i);
      assert.equal(p.startPts, t, `part ${seg.index}.${i} starts where the previous ended`);
      assert.ok(p.durationPts > 0);
      t += p.durationPts;
    });
    assert.equal(t, seg.startPts + seg.durationPts, `parts of segment ${seg.index} end with it`);
  }
}

describe('segmenter: segment boundaries', () => {
  const cases: {
    name: string;
    spec: VideoSpec;
    config?: Partial<SegmenterConfig>;
    durations: number[];
    firstIndex?: number;
    warnings?: number;
  }[] = [
    { name: '2 s GOP at 30 fps gives 2 s segments', spec: { frames: 180, step: 3000, gop: 60 }, durations: [180000, 180000, 180000] },
    { name: '1 s GOP cuts at the first keyframe after 2 s', spec: { frames: 150, step: 3000, gop: 30 }, durations: [180000, 180000, 90000] },
    {
      name: 'long GOP (5 s) gives longer segments and one warning',
      spec: { frames: 375, step: 3000, gop: 150 },
      durations: [450000, 450000, 225000],
      warnings: 1,
    },
    {
      name: 'FLV-rounded 29.97 fps keyframes just under 2 s still cut (half-frame tolerance)',
      spec: { frames: 120, step: 3003, gop: 60, start: -90 },
      durations: [180180, 180180],
    },
    {
      name: 'first index continues after previously published segments',
      spec: { frames: 120, step: 3000, gop: 60 },
      config: { firstIndex: 42 },
      durations: [180000, 180000],
      firstIndex: 42,
    },
    {
      name: 'B-frames (pts != dts, pts out of order): segments start at keyframe pts and parts still tile',
      spec: { frames: 180, step: 3000, gop: 60, delay: 6000 },
      durations: [180000, 180000, 180000],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const events = runAll({ videoStreamIndex: V, audioStreamIndex: A, ...c.config }, av(c.spec));
      assert.deepEqual(closed(events).map((s) => s.durationPts), c.durations);
      assert.equal(opened(events)[0]?.index, c.firstIndex ?? 0);
      assert.equal(warnings(events).length, c.warnings ?? 0);
      assertTiling(events);
    });
  }

  it('long GOP warning text tells the operator what to set', () => {
    const w = warnings(runAll({ videoStreamIndex: V, audioStreamIndex: A }, av({ frames: 451, step: 3000, gop: 150 })));
    assert.equal(w.length, 1);
    assert.match((w[0] as { message: string }).message, /set keyframe interval to 2 s/);
  });

  it('packets before the first keyframe belong to no segment', () => {
    let s = createSegmenterState({ videoStreamIndex: V, audioStreamIndex: A });
    const r1 = segmenterStep(s, { streamIndex: V, dts: 0, pts: 0, duration: 3000, keyframe: false }, 1);
    s = r1.state;
    assert.equal(r1.placement, null);
    assert.deepEqual(r1.events, []);
    const r2 = segmenterStep(s, { streamIndex: V, dts: 3000, pts: 3000, duration: 3000, keyframe: true }, 2);
    assert.deepEqual(r2.placement, { segmentIndex: 0, partIndex: 0 });
    assert.equal(opened(r2.events)[0]?.startPts, 3000);
    assert.equal(opened(r2.events)[0]?.wallClockMs, 2, 'wall clock is captured at the segment\'s first packet');
  });

  it('never cuts on an out-of-order or repeated dts (no zero-length or backwards segment)', () => {
    const packets: SegmenterPacket[] = [
      ...av({ frames: 61, step: 3000, gop: 60 }, false),
      { streamIndex: V, dts: 180000, pts: 180000, duration: 3000, keyframe: true },
      { streamIndex: V, dts: 170000, pts: 170000, duration: 3000, keyframe: true },
    ];
    const events = runAll({ videoStreamIndex: V, audioStreamIndex: null }, packets);
    assert.deepEqual(closed(events).map((s) => s.startPts), [0, 180000]);
    assertTiling(events);
  });
});

describe('segmenter: LL-HLS parts', () => {
  const cases: { name: string; spec: VideoSpec; partTarget?: number; partDurations: number[]; independent: boolean[] }[] = [
    {
      name: '30 fps, 0.333 s target: 10-frame parts, only the first independent',
      spec: { frames: 60, step: 3000, gop: 60 },
      partDurations: [30000, 30000, 30000, 30000, 30000, 30000],
      independent: [true, false, false, false, false, false],
    },
    {
      name: 'part independence: a part that starts on a mid-segment keyframe is independent',
      spec: { frames: 60, step: 3000, gop: 60, keyframesAt: [0, 20] },
      partDurations: [30000, 30000, 30000, 30000, 30000, 30000],
      independent: [true, false, true, false, false, false],
    },
    {
      name: '25 fps, 0.5 s target: parts close on packet boundaries near the target',
      spec: { frames: 50, step: 3600, gop: 50 },
      partTarget: 45000,
      partDurations: [43200, 43200, 43200, 43200, 7200],
      independent: [true, false, false, false, false],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const config = { videoStreamIndex: V, audioStreamIndex: A, ...(c.partTarget ? { partTarget: c.partTarget } : {}) };
      const events = runAll(config, av(c.spec));
      const ps = parts(events).filter((p) => p.segmentIndex === 0);
      assert.deepEqual(ps.map((p) => p.durationPts), c.partDurations);
      assert.deepEqual(ps.map((p) => p.independent), c.independent);
      assertTiling(events);
    });
  }

  it('a part is announced on the frame that completes it, not on the next one', () => {
    let s = createSegmenterState({ videoStreamIndex: V, audioStreamIndex: null });
    const got: { frame: number; before: number; placement: unknown }[] = [];
    av({ frames: 21, step: 3000, gop: 60 }, false).forEach((p, i) => {
      const r = segmenterStep(s, p, i);
      s = r.state;
      if (parts(r.events).length) got.push({ frame: i, before: r.before, placement: r.placement });
    });
    // Frames 0-9 make part 0 (10 × 3000 ticks): it is ready on frame 9, which it holds (announced after it is written).
    assert.deepEqual(got, [
      { frame: 9, before: 0, placement: { segmentIndex: 0, partIndex: 0 } },
      { frame: 19, before: 0, placement: { segmentIndex: 0, partIndex: 1 } },
    ]);
  });

  it('the last part of a segment is ready on its last frame when the next keyframe is due (GOP learnt)', () => {
    // 25 fps, 1 s GOP, 0.5 s parts of 12 frames: each segment ends with a 2-frame part (frames 48-49).
    let s = createSegmenterState({ videoStreamIndex: V, audioStreamIndex: null, partTarget: 45000 });
    const readyOn: [number, number, number][] = [];
    av({ frames: 101, step: 3600, gop: 25 }, false).forEach((p, i) => {
      const r = segmenterStep(s, p, i);
      s = r.state;
      for (const e of parts(r.events)) readyOn.push([e.segmentIndex, e.partIndex, i]);
    });
    assert.deepEqual(readyOn.filter(([seg]) => seg === 0).map(([, part, frame]) => [part, frame]), [[0, 11], [1, 23], [2, 35], [3, 47], [4, 49]]);
  });

  const jitter: { name: string; step: (i: number) => number; shifts: number[] }[] = [
    // FLV millisecond timestamps at 30 fps: 33, 33, 34 ms. The estimate takes the smaller recent step.
    { name: 'FLV 33/33/34 ms steps: parts close early, no frame is ever moved', step: (i) => [2970, 2970, 3060][i % 3] as number, shifts: [] },
    // Frame 10 comes 2700 ticks after frame 9, which completed part 0 predicting 3000: frame 10 would land in
    // the published part, so it is moved to the part's predicted end.
    { name: 'a frame earlier than predicted is moved to the part\'s start', step: (i) => (i === 9 ? 2700 : 3000), shifts: [300] },
  ];
  for (const c of jitter) {
    it(c.name, () => {
      let s = createSegmenterState({ videoStreamIndex: V, audioStreamIndex: null });
      let dts = 0;
      const shifts: number[] = [];
      const all: SegmenterEvent[] = [];
      const written: number[] = [];
      for (let i = 0; i < 130; i++) {
        const r = segmenterStep(s, { streamIndex: V, dts, pts: dts, duration: 0, keyframe: i % 60 === 0 }, i);
        s = r.state;
        if (r.shift) shifts.push(r.shift);
        written.push(dts + r.shift);
        all.push(...r.events);
        dts += c.step(i);
      }
      all.push(...segmenterFinish(s).events);
      assert.deepEqual(shifts, c.shifts);
      // Every written frame lies in exactly one announced part of its segment (no overlap; holes allowed).
      const ps = parts(all);
      for (const t of written) {
        const owners = ps.filter((p) => t >= p.startDts && t < p.startDts + p.durationPts);
        assert.equal(owners.length, 1, `frame at ${t} is in ${owners.length} parts`);
      }
      for (let i = 1; i < ps.length; i++) {
        const a = ps[i - 1] as PartReadyEvent;
        const b = ps[i] as PartReadyEvent;
        assert.ok(b.startDts >= a.startDts + a.durationPts, `part ${b.segmentIndex}.${b.partIndex} does not overlap the one before`);
      }
    });
  }
});

describe('segmenter: audio-only and discontinuities', () => {
  it('audio-only input: segments and parts cut on audio packets by duration, all independent', () => {
    const events = runAll({ videoStreamIndex: null, audioStreamIndex: A }, audioOnly(300));
    const durations = closed(events).map((s) => s.durationPts);
    assert.deepEqual(durations, [180480, 180480, 180480, 34560]);
    assert.ok(parts(events).every((p) => p.independent));
    assertTiling(events);
  });

  it('publisher reconnect forces a new segment at the next keyframe, marked discontinuity', () => {
    const spec: VideoSpec = { frames: 120, step: 3000, gop: 60, keyframesAt: [0, 60, 75], discontinuityAt: 70 };
    const events = runAll({ videoStreamIndex: V, audioStreamIndex: A }, av(spec));
    assert.deepEqual(opened(events).map((s) => [s.startPts, s.discontinuity]), [[0, false], [180000, false], [225000, true]]);
    assert.deepEqual(closed(events).map((s) => s.discontinuity), [false, false, true]);
    assertTiling(events);
  });

  it('a discontinuity on a keyframe cuts right there, even before the target duration', () => {
    const spec: VideoSpec = { frames: 40, step: 3000, gop: 30, discontinuityAt: 30 };
    const events = runAll({ videoStreamIndex: V, audioStreamIndex: null }, av(spec, false));
    assert.deepEqual(closed(events).map((s) => s.durationPts), [90000, 30000]);
    assert.equal(opened(events)[1]?.discontinuity, true);
  });

  it('finish closes the open part and segment once; later packets are ignored', () => {
    let s = createSegmenterState({ videoStreamIndex: V, audioStreamIndex: null });
    for (const p of av({ frames: 15, step: 3000, gop: 60 }, false)) s = segmenterStep(s, p, 0).state;
    const f = segmenterFinish(s);
    assert.deepEqual(closed(f.events).map((x) => x.durationPts), [45000]);
    assert.deepEqual(parts(f.events).map((x) => x.durationPts), [15000]);
    assert.deepEqual(segmenterFinish(f.state).events, []);
    assert.deepEqual(segmenterStep(f.state, { streamIndex: V, dts: 1e6, pts: 1e6, duration: 0, keyframe: true }, 0).events, []);
  });

  it('state is JSON-safe and never mutated', () => {
    let s = Object.freeze(createSegmenterState({ videoStreamIndex: V, audioStreamIndex: A }));
    for (const p of av({ frames: 70, step: 3000, gop: 60 })) s = Object.freeze(segmenterStep(s, p, 5).state);
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });
});

describe('segmenter: configuration', () => {
  const bad: { name: string; config: Partial<SegmenterConfig> & Pick<SegmenterConfig, 'videoStreamIndex' | 'audioStreamIndex'>; message: RegExp }[] = [
    { name: 'part target below 0.1 s', config: { videoStreamIndex: 0, audioStreamIndex: null, partTarget: 8999 }, message: /partTarget/ },
    { name: 'part target above 1 s', config: { videoStreamIndex: 0, audioStreamIndex: null, partTarget: 90001 }, message: /partTarget/ },
    { name: 'no reference stream', config: { videoStreamIndex: null, audioStreamIndex: null }, message: /video or an audio/ },
    { name: 'negative first index', config: { videoStreamIndex: 0, audioStreamIndex: null, firstIndex: -1 }, message: /firstIndex/ },
    { name: 'target shorter than a part', config: { videoStreamIndex: 0, audioStreamIndex: null, targetDuration: 1000 }, message: /targetDuration/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name} with a clear error`, () => {
      assert.throws(() => createSegmenterState(c.config), (e: unknown) => e instanceof SegmenterConfigError && c.message.test(e.message));
    });
  }
});

describe('segmenter: PROGRAM-DATE-TIME', () => {
  it('segment wall clocks follow the media from the first segment, whatever the arrival jitter; a discontinuity or a drift over 1 s re-anchors', () => {
    let s = createSegmenterState({ videoStreamIndex: V, audioStreamIndex: null });
    const walls: number[] = [];
    const spec: VideoSpec = { frames: 300, step: 3000, gop: 60, discontinuityAt: 240, keyframesAt: [0, 60, 120, 180, 240] };
    av(spec, false).forEach((p, i) => {
      // Arrival: the first segment came 340 ms late (start-up burst), then jitter of ±30 ms; from frame 180 the
      // encoder's clock has drifted 1.5 s.
      const arrival = 1_000_000 + i * (1000 / 30) + (i < 60 ? 340 : i % 2 ? 30 : -30) + (i >= 180 ? 1500 : 0);
      const r = segmenterStep(s, p, arrival);
      s = r.state;
      walls.push(...opened(r.events).map((e) => e.wallClockMs));
    });
    assert.deepEqual(walls, [1_000_340, 1_002_340, 1_004_340, 1_007_470, 1_009_470]);
  });

  it('a start-up burst: the first segment settles its wall clock at its close on the least delayed frame, so later segments follow it without a re-anchor (PDT differences stay equal to EXTINF)', () => {
    // Seen live: the demuxer probes before it hands out the first packet, so the first frames come 1.2 s late in
    // a burst; from frame 20 they arrive on time (±30 ms). Anchored on the first frame alone, segment 1 came
    // 1.23 s before its derived PDT and was re-anchored: PDT 0.92 s apart for a 2 s EXTINF, and hls.js moved its
    // timeline by the difference on every playlist reload.
    let s = createSegmenterState({ videoStreamIndex: V, audioStreamIndex: null });
    const openedWalls: number[] = [];
    const closedWalls: number[] = [];
    av({ frames: 181, step: 3000, gop: 60 }, false).forEach((p, i) => {
      const arrival = i < 20 ? 1_001_200 + i * 5 : 1_000_000 + i * (1000 / 30) + (i % 2 ? 30 : -30);
      const r = segmenterStep(s, p, arrival);
      s = r.state;
      openedWalls.push(...opened(r.events).map((e) => e.wallClockMs));
      closedWalls.push(...closed(r.events).map((e) => e.wallClockMs));
    });
    closedWalls.push(...closed(segmenterFinish(s).events).map((e) => e.wallClockMs));
    assert.deepEqual(openedWalls, [1_001_200, 1_001_970, 1_003_970, 1_005_970], 'the first opening is provisional (its first frame\'s arrival)');
    assert.deepEqual(closedWalls, [999_970, 1_001_970, 1_003_970, 1_005_970]);
  });

  it('a keyframe held up for a moment is no drift: the segment it opens keeps the anchor once its least delayed frame shows it (no PDT jump)', () => {
    // Seen under load: segment 9's keyframe came 1.2 s late (a stalled publisher or ingest), the following frames
    // caught up within the segment; re-anchoring on it left PDT 1.867 s after segment 8's for a 2 s EXTINF.
    let s = createSegmenterState({ videoStreamIndex: V, audioStreamIndex: null });
    const openedWalls: number[] = [];
    const closedWalls: number[] = [];
    av({ frames: 241, step: 3000, gop: 60 }, false).forEach((p, i) => {
      const late = i >= 120 && i < 126 ? 1200 - (i - 120) * 150 : 0;
      const r = segmenterStep(s, p, 1_000_000 + i * (1000 / 30) + late);
      s = r.state;
      openedWalls.push(...opened(r.events).map((e) => e.wallClockMs));
      closedWalls.push(...closed(r.events).map((e) => e.wallClockMs));
    });
    closedWalls.push(...closed(segmenterFinish(s).events).map((e) => e.wallClockMs));
    assert.deepEqual(openedWalls, [1_000_000, 1_002_000, 1_005_200, 1_006_000, 1_008_000], 'segment 2 opened on its late keyframe (provisional)');
    assert.deepEqual(closedWalls, [1_000_000, 1_002_000, 1_004_000, 1_006_000, 1_008_000]);
  });
});
