import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { MediaPacket, Rational } from '../../../core/model/media';
import {
  beginSession,
  createTimelineState,
  normalisePacket,
  parseTimeline,
  serialiseTimeline,
  TimelineError,
  type NormalisedPacket,
  type StreamTiming,
  type TimelineState,
} from '../../../ingest/timeline';

const TS: Rational = [1, 90000];
const FLV: Rational = [1, 1000];
const AV_TS: StreamTiming[] = [{ index: 0, time_base: TS }, { index: 1, time_base: TS }];
const EMPTY = Buffer.alloc(0);

function pkt(streamIndex: number, dts: number, pts = dts, duration = 0, keyframe = false): MediaPacket {
  return { streamIndex, pts, dts, duration, keyframe, data: EMPTY };
}

/** Feeds packets, returns the outputs (dropped packets as null) and the final state. */
function run(state: TimelineState, packets: MediaPacket[]): { out: (NormalisedPacket | null)[]; state: TimelineState } {
  const out: (NormalisedPacket | null)[] = [];
  let s = state;
  for (const p of packets) {
    const r = normalisePacket(s, p);
    s = r.state;
    out.push(r.packet);
  }
  return { out, state: s };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Buffer.isBuffer(o)) {
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** A video stream at 30 fps (3000 ticks) from `start` in stream ticks. */
function video(start: number, n: number, step = 3000): MediaPacket[] {
  return Array.from({ length: n }, (_, i) => pkt(0, start + i * step, start + i * step, step, i === 0));
}

describe('timeline: channel origin and sessions', () => {
  const cases: { name: string; origin: number; first: number; expect: number }[] = [
    { name: 'first packet of the channel lands at 0', origin: 0, first: 126000, expect: 0 },
    { name: 'first packet lands at a caller-given origin', origin: 5_000_000, first: 126000, expect: 5_000_000 },
    { name: 'first packet near the 33-bit wrap still lands at the origin', origin: 0, first: 2 ** 33 - 10, expect: 0 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const s = beginSession(createTimelineState(c.origin), AV_TS);
      const r = normalisePacket(s, pkt(0, c.first));
      assert.equal(r.packet?.dts, c.expect);
      assert.equal(r.packet?.discontinuity, false);
    });
  }

  it('reconnect near 0 (OBS): continues one frame after the last emitted packet, marks a discontinuity once', () => {
    let s = beginSession(createTimelineState(0), AV_TS);
    const first = run(s, video(900000, 60)); // 2 s of video starting at 10 s
    s = beginSession(first.state, AV_TS);
    const second = run(s, video(0, 3));
    const lastDts = first.out.at(-1)?.dts as number;
    assert.equal(lastDts, 59 * 3000);
    assert.deepEqual(second.out.map((p) => p?.dts), [lastDts + 3000, lastDts + 6000, lastDts + 9000]);
    assert.deepEqual(second.out.map((p) => p?.discontinuity), [true, false, false]);
  });

  it('reconnect whose new stream index order differs keeps every stream monotonic', () => {
    let s = beginSession(createTimelineState(0), AV_TS);
    const a = run(s, [pkt(0, 1000, 1000, 3000), pkt(1, 900, 900, 1920), pkt(0, 4000, 4000, 3000), pkt(1, 2820, 2820, 1920)]);
    s = beginSession(a.state, AV_TS);
    // New session: audio first, and video's first dts earlier than audio's.
    const b = run(s, [pkt(1, 5000, 5000, 1920), pkt(0, 100, 100, 3000)]);
    const lastVideo = a.out[2]?.dts as number;
    assert.ok((b.out[1]?.dts as number) > lastVideo, 'video continues after its last dts');
    assert.ok((b.out[0]?.dts as number) > (a.out[3]?.dts as number), 'audio continues after its last dts');
  });
});

describe('timeline: timestamps within a session', () => {
  it('33-bit PTS wrap: dts keeps increasing across the wrap', () => {
    const s = beginSession(createTimelineState(0), AV_TS);
    const start = 2 ** 33 - 6000;
    const packets = [0, 1, 2, 3, 4].map((i) => pkt(0, (start + i * 3000) % 2 ** 33, (start + i * 3000) % 2 ** 33, 3000));
    const { out } = run(s, packets);
    assert.deepEqual(out.map((p) => p?.dts), [0, 3000, 6000, 9000, 12000]);
  });

  it('33-bit wrap where pts has wrapped but dts not yet (B-frames at the edge)', () => {
    const s = beginSession(createTimelineState(0), AV_TS);
    const dts = 2 ** 33 - 3000;
    const { out } = run(s, [pkt(0, dts - 3000, dts - 3000, 3000), pkt(0, dts, (dts + 6000) % 2 ** 33, 3000)]);
    assert.equal(out[1]?.dts, 3000);
    assert.equal(out[1]?.pts, 9000);
  });

  it('B-frames: pts < later pts out of order is kept, dts strictly increases, pts >= dts', () => {
    const s = beginSession(createTimelineState(0), AV_TS);
    // decode order I P B B with dts lagging pts by two frames
    const packets = [pkt(0, 0, 6000), pkt(0, 3000, 15000), pkt(0, 6000, 9000), pkt(0, 9000, 12000)];
    const { out } = run(s, packets);
    assert.deepEqual(out.map((p) => p?.pts), [6000, 15000, 9000, 12000]);
    assert.deepEqual(out.map((p) => p?.dts), [0, 3000, 6000, 9000]);
  });

  it('small backwards jitter is clamped: dts never decreases per stream, pts >= dts', () => {
    const s = beginSession(createTimelineState(0), AV_TS);
    const { out } = run(s, [pkt(0, 9000), pkt(0, 12000), pkt(0, 11000, 11000), pkt(0, 15000)]);
    assert.deepEqual(out.map((p) => p?.dts), [0, 3000, 3001, 6000]);
    assert.ok(out.every((p) => (p?.pts as number) >= (p?.dts as number)));
  });

  it('audio/video offset is preserved within a session', () => {
    const s = beginSession(createTimelineState(0), AV_TS);
    const { out } = run(s, [pkt(0, 126000), pkt(1, 127800), pkt(0, 129000), pkt(1, 129720)]);
    assert.equal((out[1]?.dts as number) - (out[0]?.dts as number), 127800 - 126000);
    assert.equal((out[3]?.dts as number) - (out[2]?.dts as number), 129720 - 129000);
  });

  it('FLV milliseconds are rescaled to 90 kHz', () => {
    const s = beginSession(createTimelineState(0), [{ index: 0, time_base: FLV }, { index: 1, time_base: FLV }]);
    const { out } = run(s, [pkt(1, 0, 0, 23), pkt(0, 23, 23, 40), pkt(0, 63, 103, 40)]);
    assert.deepEqual(out.map((p) => [p?.dts, p?.pts, p?.duration]), [[0, 0, 2070], [2070, 2070, 3600], [5670, 9270, 3600]]);
  });

  it('a stream whose first packet precedes the anchor never lands before the channel origin', () => {
    const s = beginSession(createTimelineState(0), AV_TS);
    // MPEG-TS as ffmpeg writes it: the first video packet is read before an earlier audio packet.
    const { out } = run(s, [pkt(0, 128090, 128090, 3600), pkt(1, 126000, 126000, 2089), pkt(1, 128089, 128089, 2089)]);
    assert.deepEqual(out.map((p) => p?.dts), [0, 0, 2089]);
  });

  it('a large jump inside a session (encoder reset without reconnect) re-anchors with a discontinuity', () => {
    const s = beginSession(createTimelineState(0), AV_TS);
    const { out } = run(s, [...video(900000, 3), ...video(0, 2)]);
    assert.deepEqual(out.map((p) => p?.dts), [0, 3000, 6000, 9000, 12000]);
    assert.deepEqual(out.map((p) => p?.discontinuity), [false, false, false, true, false]);
  });

  it('after a jump, the other stream follows the same anchor (A/V stay aligned)', () => {
    const s = beginSession(createTimelineState(0), AV_TS);
    const { out } = run(s, [pkt(0, 900000, 900000, 3000), pkt(1, 900000, 900000, 1920), pkt(0, 0, 0, 3000), pkt(1, 0, 0, 1920)]);
    assert.equal(out[2]?.dts, out[3]?.dts);
  });

  it('packets before beginSession or for undeclared streams are dropped with a note', () => {
    const fresh = createTimelineState(0);
    assert.equal(normalisePacket(fresh, pkt(0, 0)).note?.code, 'no-session');
    const s = beginSession(fresh, AV_TS);
    const r = normalisePacket(s, pkt(7, 0));
    assert.equal(r.packet, null);
    assert.equal(r.note?.code, 'unknown-stream');
    assert.equal(normalisePacket(s, pkt(0, Number.NaN, Number.NaN)).note?.code, 'no-timestamp');
  });

  it('never mutates the state it was given (what was emitted cannot change)', () => {
    const s = deepFreeze(beginSession(createTimelineState(0), AV_TS));
    const r1 = normalisePacket(s, pkt(0, 1000));
    deepFreeze(r1.state);
    const r2 = normalisePacket(r1.state, pkt(0, 4000));
    assert.equal(r2.packet?.dts, 3000);
  });
});

describe('timeline: persistence', () => {
  it('JSON round-trip of the state mid-stream continues exactly as without it', () => {
    const packets = [...video(126000, 5), pkt(1, 120000, 120000, 1920), ...video(141000, 3)];
    const straight = run(beginSession(createTimelineState(0), AV_TS), packets).out;
    let s = beginSession(createTimelineState(0), AV_TS);
    const out: (NormalisedPacket | null)[] = [];
    for (const p of packets) {
      s = parseTimeline(serialiseTimeline(s));
      const r = normalisePacket(s, p);
      s = r.state;
      out.push(r.packet);
    }
    assert.deepEqual(out, straight);
  });

  it('state persisted after a session lets the next process continue the channel timeline', () => {
    const a = run(beginSession(createTimelineState(0), AV_TS), video(0, 10));
    const restored = parseTimeline(serialiseTimeline(a.state));
    const b = run(beginSession(restored, AV_TS), video(0, 1));
    assert.equal(b.out[0]?.dts, 30000);
    assert.equal(b.out[0]?.discontinuity, true);
  });

  const bad: { name: string; json: string; message: RegExp }[] = [
    { name: 'not JSON', json: '{', message: /not JSON/ },
    { name: 'wrong version', json: '{"version":2}', message: /version/ },
    { name: 'bad origin', json: '{"version":1,"origin":"x","nextStart":null,"floors":{},"session":null}', message: /origin/ },
    { name: 'bad floors', json: '{"version":1,"origin":0,"nextStart":null,"floors":{"0":"x"},"session":null}', message: /floors/ },
    { name: 'bad session', json: '{"version":1,"origin":0,"nextStart":null,"floors":{},"session":{"id":1}}', message: /session/ },
  ];
  for (const c of bad) {
    it(`rejects a persisted state with ${c.name}`, () => {
      assert.throws(() => parseTimeline(c.json), (e: unknown) => e instanceof TimelineError && c.message.test(e.message));
    });
  }

  it('rejects bad stream declarations and origins with clear errors', () => {
    assert.throws(() => createTimelineState(-1), /origin/);
    assert.throws(() => beginSession(createTimelineState(0), [{ index: 0, time_base: [0, 0] }]), /time_base/);
    assert.throws(() => beginSession(createTimelineState(0), [{ index: -1, time_base: TS }]), /index/);
  });
});
