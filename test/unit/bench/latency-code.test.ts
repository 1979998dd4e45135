/** The latency bench's picture code and clock recovery (pure). */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import {
  decodeLumas, defaultCode, latencies, paintFilter, partReadyDelays, percentile, progressOutMs, samplePoints, sendClockStart, streamIdMs,
} from '../../bench/latency-code';

describe('block code', () => {
  const code = defaultCode(640);

  it('fits 20 blocks in the picture, one drawbox per bit after the black strip', () => {
    assert.equal(code.bits, 20);
    assert.ok(code.x0 + code.bits * code.pitch <= 640);
    const parts = paintFilter(code).split(',drawbox');
    assert.equal(parts.length, 21);
    assert.match(parts[0] as string, /^drawbox=x=0:y=0:w=iw:h=\d+:color=black:t=fill$/);
    assert.match(parts[3] as string, /enable='eq\(mod\(floor\(n\/4\),2\),1\)'$/);
  });

  it('scales the sample points to a smaller rendition', () => {
    const full = samplePoints(code, 640);
    const half = samplePoints(code, 320);
    assert.equal(full.length, 20);
    assert.deepEqual(full[0], { x: Math.round(8 + code.block / 2), y: Math.round(8 + code.block / 2) });
    assert.ok(Math.abs((half[19]?.x ?? 0) - (full[19]?.x ?? 0) / 2) <= 1);
  });

  it('decodes lumas least significant bit first with a mid-grey threshold', () => {
    assert.equal(decodeLumas([255, 0, 200, 10]), 5);
    assert.equal(decodeLumas(Array.from({ length: 20 }, () => 250)), 2 ** 20 - 1);
    assert.equal(decodeLumas([127, 128]), 2);
  });

  it('refuses a picture too narrow for the code', () => {
    assert.throws(() => defaultCode(100), /too narrow/);
  });
});

describe('send clock', () => {
  it('parses out_time_us and ignores N/A and other keys', () => {
    assert.equal(progressOutMs('out_time_us=1520000'), 1520);
    assert.equal(progressOutMs('out_time_us=N/A'), null);
    assert.equal(progressOutMs('frame=12'), null);
  });

  it('takes the tightest bound of frame 0 from the progress reports', () => {
    assert.equal(sendClockStart([]), null);
    assert.equal(sendClockStart([{ outMs: 0, arrivedMs: 50 }]), null);
    assert.equal(sendClockStart([{ outMs: 100, arrivedMs: 1180 }, { outMs: 200, arrivedMs: 1230 }, { outMs: 300, arrivedMs: 1390 }]), 1030);
  });

  it('turns samples into latencies, unwrapping the frame number and dropping misreads', () => {
    const start = 1_000_000;
    // frame 50 (sent at +2000 ms) shown at +3500 ms; frame 66 with a 6-bit code (wraps every 64 frames) shown 1.5 s later
    assert.deepEqual(latencies([{ n: 50, at: start + 3500 }], start, 40, 20), [1500]);
    assert.deepEqual(latencies([{ n: 66 % 64, at: start + 66 * 40 + 1500 }], start, 40, 6), [1500]);
    assert.deepEqual(latencies([{ n: 130 % 64, at: start + 130 * 40 + 20 }], start, 40, 6), [20]);
    assert.deepEqual(latencies([{ n: 900000, at: start + 3500 }], start, 40, 20), []);
  });

  it('percentiles', () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([5, 1, 3, 2, 4], 0), 1);
    assert.throws(() => percentile([], 50), /no values/);
  });
});

describe('server-side part delays', () => {
  it('times each part from its last frame sent, and each rung part from its source part', () => {
    // 25 fps (3600 ticks, 40 ms a frame), frame 0 at pts 1000 sent at t=10000 ms; parts of 8 frames.
    const events = [
      { ms: 10_500, event: { type: 'part:ready', segment: 1, part: 0, startPts: 1000, durationPts: 28800 } },
      { ms: 10_560, event: { type: 'rendition:ready', rendition: '240p', segment: 1, part: 0 } },
      { ms: 10_900, event: { type: 'part:ready', segment: 1, part: 1, startPts: 29800, durationPts: 28800 } },
      { ms: 11_000, event: { type: 'rendition:ready', rendition: '240p', segment: 1, part: 1 } },
      { ms: 11_001, event: { type: 'segment:closed', segment: 1 } },
    ];
    // Part 0 holds frames 0-7 (frame 7 sent at 10280), part 1 frames 8-15 (frame 15 sent at 10600).
    assert.deepEqual(partReadyDelays(events, 1000, 10_000, 3600, 40, 0), { ready: [220, 300], rung: [60, 100] });
    assert.deepEqual(partReadyDelays(events, 1000, 10_000, 3600, 40, 10_600), { ready: [300], rung: [100] });
    assert.equal(streamIdMs('1701234567890-3'), 1701234567890);
  });
});
