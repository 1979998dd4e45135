import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { keepFrame, keyframeCarry, maxRateOf, profileOf, rungFrameRate, scaleGraph, sourceFrameRate, x264CliArgs, x264Options, DEFAULT_ENCODER_CONFIG } from '../../../transcoders/encoder-settings';
import { decideRung, isLate, parseJobData, partWindows, queueLagSeconds, transcodeJobId } from '../../../transcoders/segment-plan';
import { checkAlignment } from '../../../transcoders/alignment';
import { renditionChanged, renditionFormat, renditionName } from '../../../transcoders/rendition-format';
import { planLadder, DEFAULT_LADDER } from '../../../transcoders/ladder';

const [r720, r480, r360] = planLadder(DEFAULT_LADDER, 1920, 1080) as [ReturnType<typeof planLadder>[number], ReturnType<typeof planLadder>[number], ReturnType<typeof planLadder>[number]];

describe('encoder settings', () => {
  it('low latency x264 from a rung: zerolatency, no B-frames, VBV from the bitrates, 90 kHz time base', () => {
    const o = x264Options(r720, [30, 1], DEFAULT_ENCODER_CONFIG);
    assert.equal(o.priv_data.tune, 'zerolatency');
    assert.equal(o.priv_data.preset, 'veryfast');
    assert.equal(o.max_b_frames, 0);
    assert.deepEqual([o.width, o.height, o.bit_rate, o.rc_max_rate, o.rc_buffer_size], [1280, 720, 3_000_000, 3_300_000, 3_300_000]);
    assert.deepEqual(o.time_base, [1, 90000]);
    assert.equal(o.gop_size, 300);
    assert.match(o.priv_data['x264-params'], /scenecut=0/);
    assert.equal(o.flags.GLOBAL_HEADER, true);
  });
  it('profile: the rung’s, else high from 720 lines and main below', () => {
    assert.equal(profileOf({ outHeight: 720 }), 'high');
    assert.equal(profileOf({ outHeight: 360 }), 'main');
    assert.equal(profileOf({ outHeight: 360, profile: 'baseline' }), 'baseline');
  });
  it('max rate defaults to 110 % of the bitrate', () => assert.equal(maxRateOf({ videoBitrate: 1_000_000 }), 1_100_000));
  it('an unknown preset is refused with the list', () => assert.throws(() => x264Options(r360, [25, 1], { ...DEFAULT_ENCODER_CONFIG, preset: 'warp' }), /not an x264 preset/));
  it('the ffmpeg CLI reference uses the same settings', () => {
    const args = x264CliArgs(x264Options(r480, [30, 1], DEFAULT_ENCODER_CONFIG)).join(' ');
    assert.match(args, /-preset veryfast -tune zerolatency -profile:v main -b:v 1200000 -maxrate 1320000 -bufsize 1320000 -g 300 -bf 0/);
  });
  it('rung frame rate: never above the source; fractional rates kept exact', () => {
    assert.deepEqual(rungFrameRate([30, 1], undefined), [30, 1]);
    assert.deepEqual(rungFrameRate([30, 1], 60), [30, 1]);
    assert.deepEqual(rungFrameRate([30, 1], 15), [15, 1]);
    assert.deepEqual(rungFrameRate([60, 1], 29.97), [29970, 1000]);
  });
  it('source frame rate from avg, then r, else the fallback', () => {
    assert.deepEqual(sourceFrameRate({ avg_frame_rate: [25, 1] }), [25, 1]);
    assert.deepEqual(sourceFrameRate({ avg_frame_rate: [0, 0], r_frame_rate: [30000, 1001] }), [30000, 1001]);
    assert.deepEqual(sourceFrameRate({}), [30, 1]);
  });
  it('one decode split to every rung', () => {
    assert.equal(scaleGraph([r720]), '[in0:v]scale=1280:720:flags=bicubic,setsar=1[out0:v]');
    assert.equal(scaleGraph([r720, r360]), '[in0:v]split=2[s0][s1];[s0]scale=1280:720:flags=bicubic,setsar=1[out0:v];[s1]scale=640:360:flags=bicubic,setsar=1[out1:v]');
    assert.throws(() => scaleGraph([]), /at least one rung/);
  });
  it('frame thinning keeps the first frame of each slot, and always the segment start', () => {
    const kept: number[] = [];
    let slot: number | null = null;
    for (let i = 0; i < 10; i++) {
      const pts = 1000 + i * 3600; // 25 fps
      const s = keepFrame(pts, 1000, slot, [15, 1]);
      if (s !== null) {
        slot = s;
        kept.push(i);
      }
    }
    assert.deepEqual(kept, [0, 2, 4, 5, 7, 9]);
    assert.equal(keepFrame(5, 0, 7, null), 8, 'no thinning keeps every frame');
  });
});

describe('job plan', () => {
  it('job ids are deterministic and BullMQ-safe (no colon)', () => {
    assert.equal(transcodeJobId('main', 42), 'main@42');
    assert.doesNotMatch(transcodeJobId('a-b_c', 1), /:/);
  });
  it('job data are references, checked', () => {
    assert.deepEqual(parseJobData({ channel: 'main', segment: 3 }), { channel: 'main', segment: 3 });
    for (const bad of [null, {}, { channel: 'Main', segment: 1 }, { channel: 'main', segment: 0 }, { channel: 'main', segment: 1.5 }]) assert.throws(() => parseJobData(bad), /bad transcode job data/);
  });
  it('part windows tile the segment by presentation time from its startPts', () => {
    const w = partWindows({ startPts: 1000 }, [{ part: 1, durationPts: 30000 }, { part: 0, durationPts: 30000 }, { part: 2, durationPts: 20000 }]);
    assert.deepEqual(w, [{ part: 0, start: 1000, end: 31000 }, { part: 1, start: 31000, end: 61000 }, { part: 2, start: 61000, end: 81000 }]);
    assert.deepEqual(partWindows({ startPts: 0 }, [{ part: 0, durationPts: 10 }, { part: 2, durationPts: 10 }]).length, 1, 'stops at a missing part');
  });
  const decisions: [string, Parameters<typeof decideRung>[0], boolean, string][] = [
    ['a fresh segment is made', { made: false, gap: false, published: false }, false, 'make'],
    ['a duplicate of a finished job leaves it alone', { made: true, gap: false, published: true }, false, 'skip'],
    ['a gap stays a gap', { made: false, gap: true, published: false }, true, 'skip'],
    ['a partly published segment (its worker was SIGKILLed) becomes a gap, never a rewrite', { made: false, gap: false, published: true }, false, 'gap'],
    ['a late segment becomes a gap rather than stalling', { made: false, gap: false, published: false }, true, 'gap'],
  ];
  for (const [name, state, late, want] of decisions) it(name, () => assert.equal(decideRung(state, late), want));
  it('late means the live edge is more than N segments ahead', () => {
    assert.equal(isLate(10, 11, 1), false);
    assert.equal(isLate(10, 12, 1), true);
  });
  it('queue lag is never negative', () => {
    assert.equal(queueLagSeconds(1000, 3500), 2.5);
    assert.equal(queueLagSeconds(1000, 900), 0);
  });
});

describe('alignment check', () => {
  const aligned = [0, 3600, 7200].map((d, i) => ({ pts: 9000 + d, dts: 9000 + d, duration: 3600, keyframe: i === 0 }));
  const w = { startPts: 9000, durationPts: 10800, maxTailTicks: 7200 };
  it('an aligned segment has no problems', () => assert.deepEqual(checkAlignment(w, aligned), []));
  const cases: [string, typeof aligned, RegExp][] = [
    ['empty', [], /no packets/],
    ['first not a keyframe', aligned.map((p) => ({ ...p, keyframe: false })), /not a keyframe/],
    ['first pts off the source start (the bug a shared encoder across segments would make)', aligned.map((p) => ({ ...p, pts: p.pts + 3600, dts: p.dts + 3600 })), /!= source segment start 9000/],
    ['dts != pts (B-frames)', [aligned[0]!, { ...aligned[1]!, dts: 1 }, aligned[2]!], /has dts/],
    ['not increasing', [aligned[0]!, aligned[2]!, aligned[1]!], /does not increase/],
    ['short: ends long before the segment', [aligned[0]!], /ticks before the segment end/],
    ['last duration does not reach the end', [aligned[0]!, aligned[1]!, { ...aligned[2]!, duration: 100 }], /not at the segment end/],
  ];
  for (const [name, packets, re] of cases) it(`flags ${name}`, () => assert.match(checkAlignment(w, packets).join('; '), re));
});

describe('rendition format', () => {
  it('a rung is the content item <channel>.<rung> with one H.264 stream and its extradata', () => {
    const f = renditionFormat('main', r480, Buffer.from([0, 0, 0, 1, 0x67]), [30, 1], 3600);
    assert.equal(renditionName('main', '480p'), 'main.480p');
    assert.equal(f.url, 'main.480p');
    assert.equal(f.streams.length, 1);
    assert.deepEqual(f.streams[0]?.time_base, [1, 90000]);
    assert.equal(f.streams[0]?.codecpar.extradata, 'AAAAAWc=');
    assert.deepEqual([f.streams[0]?.codecpar.width, f.streams[0]?.codecpar.height, f.streams[0]?.codecpar.bit_rate], [854, 480, 1_200_000]);
    assert.equal(renditionChanged(f, renditionFormat('main', r480, Buffer.from([0, 0, 0, 1, 0x67]), [30, 1], 3600)), false);
    assert.equal(renditionChanged(f, renditionFormat('main', { ...r480, videoBitrate: 1_000_000 }, Buffer.from([0, 0, 0, 1, 0x67]), [30, 1], 3600)), true);
  });
});

describe('keyframes of a rung', () => {
  it('a kept source keyframe stays one; one dropped by thinning passes to the next kept frame, once', () => {
    // frames: [sourceKey, kept]
    const run = (frames: [boolean, boolean][]) => {
      let due = false;
      return frames.map(([key, kept]) => {
        const c = keyframeCarry(due, key, kept);
        due = c.due;
        return kept ? (key || c.forceKey ? 'K' : 'p') : '-';
      }).join('');
    };
    assert.equal(run([[true, true], [false, true], [false, true]]), 'Kpp');
    assert.equal(run([[false, true], [true, false], [false, true], [false, true]]), 'p-Kp');
    assert.equal(run([[true, false], [false, false], [false, true], [false, true]]), '--Kp');
    assert.equal(run([[false, true], [false, false], [false, true]]), 'p-p');
  });
});
