/** The archive bench's growth fit and back-dated copy (pure). */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { copySegments, lowerEnvelope, mbPerHour, slopePerSecond, type Sample } from '../../bench/archive-figures';
import type { PartRecord, SegmentRecord } from '../../../core/model/live';
import type { PacketRead } from '../../../core/store/store';

describe('growth of a sawtooth', () => {
  it('fits a straight line exactly, per second', () => {
    const line = Array.from({ length: 10 }, (_, i) => ({ t: 1000 + i * 500, v: 7 + i * 50 }));
    assert.equal(slopePerSecond(line), 100);
    assert.ok(Number.isNaN(slopePerSecond(line.slice(0, 1))));
    assert.ok(Number.isNaN(slopePerSecond([{ t: 5, v: 1 }, { t: 5, v: 2 }])));
  });

  it('keeps the lowest sample of each window, so a sawtooth on a slow ramp gives the ramp', () => {
    // 10 bytes/s of index growth under 1,000 bytes/s of payloads removed every 4 s, sampled every 0.5 s.
    const samples: Sample[] = [];
    for (let t = 0; t < 40_000; t += 500) samples.push({ t, v: 1e6 + 0.01 * t + (t % 4000) });
    const env = lowerEnvelope(samples, 4000);
    assert.equal(env.length, 10);
    assert.deepEqual(env.slice(0, 2), [{ t: 0, v: 1e6 }, { t: 4000, v: 1e6 + 40 }]);
    assert.ok(Math.abs(slopePerSecond(env) - 10) < 1e-9);
    // The plain fit of the same samples is thrown off by the teeth.
    assert.ok(slopePerSecond(samples) > 15, String(slopePerSecond(samples)));
    assert.deepEqual(lowerEnvelope([], 4000), []);
    assert.throws(() => lowerEnvelope(samples, 0), /positive/);
  });

  it('converts bytes per second to MB per hour', () => {
    assert.equal(mbPerHour(1e6 / 3600), 1);
    assert.equal(mbPerHour(1530000), 5508);
  });
});

describe('copySegments', () => {
  const seg = (index: number, startDts: number, wallClockMs: number): SegmentRecord => ({
    index, startPts: startDts + 3000, startDts, durationPts: 180000, wallClockMs, discontinuity: false, discontinuitySequence: 0,
  });
  const part = (segment: number, n: number, startDts: number): PartRecord => ({ segment, part: n, startPts: startDts + 3000, startDts, durationPts: 18000, independent: n === 0 });
  const pkt = (stream: number, dts: number, pts = dts): PacketRead => ({
    meta: { type: 'Packet', pts, dts, size: 1, stream_index: stream, flags: { KEY: false, CORRUPT: false, DISCARD: false, TRUSTED: false, DISPOSABLE: false }, duration: 3000, pos: -1 },
    data: Buffer.from([stream, dts % 256]),
  });
  const recorded = [
    { segment: seg(1, 0, 1_000_000), parts: [part(1, 0, 0), part(1, 1, 18000)] },
    { segment: seg(2, 180000, 1_002_000), parts: [part(2, 0, 180000)] },
  ];
  // Video cut by dts: 177000 belongs to segment 1; audio cut by pts (the segment's startPts window, 3000–183000 and
  // 183000–363000): 1000 falls before every segment, 182000 in segment 1, 183000 in segment 2, 400000 after them.
  const packets = new Map<number, PacketRead[]>([
    [0, [pkt(0, 0, 3000), pkt(0, 177000, 180000), pkt(0, 180000, 183000), pkt(0, 357000, 360000)]],
    [1, [pkt(1, 1000), pkt(1, 182000), pkt(1, 183000), pkt(1, 400000)]],
  ]);

  it('cuts each segment as the packager does and moves nothing when the shift is zero, but the wall clock', () => {
    const out = copySegments(recorded, packets, { indexOffset: 0, ptsOffset: 0, wallOffsetMs: -6 * 3600_000, newSession: false });
    assert.equal(out.length, 2);
    assert.deepEqual(out[0]?.packets.map((p) => [p.streamIndex, p.meta.dts]), [[0, 0], [0, 177000], [1, 182000]]);
    assert.deepEqual(out[1]?.packets.map((p) => [p.streamIndex, p.meta.dts]), [[0, 180000], [0, 357000], [1, 183000]]);
    assert.deepEqual(out[0]?.segment, { ...seg(1, 0, 1_000_000), wallClockMs: 1_000_000 - 6 * 3600_000 });
    assert.deepEqual(out[0]?.parts, recorded[0]?.parts);
    assert.deepEqual(out[0]?.packets[0]?.data, Buffer.from([0, 0]));
  });

  it('moves index, timestamps and parts, and starts a new session when asked', () => {
    const out = copySegments(recorded, packets, { indexOffset: 2, ptsOffset: 360000, wallOffsetMs: 0, newSession: true });
    assert.deepEqual(out.map((c) => [c.segment.index, c.segment.startDts, c.segment.startPts, c.segment.discontinuity, c.segment.discontinuitySequence]), [
      [3, 360000, 363000, true, 1],
      [4, 540000, 543000, false, 1],
    ]);
    assert.deepEqual(out[1]?.packets.map((p) => [p.meta.dts, p.meta.pts]), [[540000, 543000], [717000, 720000], [543000, 543000]]);
    assert.deepEqual(out[0]?.parts.map((p) => [p.segment, p.part, p.startDts, p.startPts]), [[3, 0, 360000, 363000], [3, 1, 378000, 381000]]);
    // The recording itself is left as it was.
    assert.equal(packets.get(0)?.[0]?.meta.dts, 0);
    assert.equal(recorded[0]?.segment.index, 1);
  });

  it('refuses an open segment', () => {
    assert.throws(() => copySegments([{ segment: { ...seg(3, 0, 0), durationPts: null }, parts: [] }], packets, { indexOffset: 0, ptsOffset: 0, wallOffsetMs: 0, newSession: false }), /open/);
  });
});
