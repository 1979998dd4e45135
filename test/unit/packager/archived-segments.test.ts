/**
 * Archived segments streamed: the head built from metadata and payload sizes is the built segment's prefix, and
 * head ++ the archived payloads converted one packet at a time (Annex-B H.264, ADTS AAC with several frames in
 * a packet) are the bytes buildFragment makes from the same packets, whole and in every range; same ETag.
 */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { packetMetaOf } from '../../../core/model/media';
import type { ArchivedSpan, PacketRead } from '../../../core/store/store';
import { resolveTrack, toCmafSamples } from '../../../packager/cmaf/prepare';
import { buildFragmentHead, buildMediaSegment } from '../../../packager/cmaf/segments';
import type { ResolvedTrack } from '../../../packager/channel-reader';
import { buildFragment, fragmentSequence, samplesOf } from '../../../packager/live/fragment-builder';
import { builtFragmentEtag, createArchivedSegments, fragmentHeadLength, packetsOf, planBody, planSegment } from '../../../packager/live/archived-segments';
import type { TrackInfo } from '../../../packager/model';
import { BeamError } from '../../../core/model/errors';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const SPS = hex('6764001facd940a02ff97011000003000100000300640f183196');
const PPS = hex('68ebe3cb22c0');
const START = hex('00000001');
const AUD = hex('09f0');
const annexB = (key: boolean, n: number) => Buffer.concat([START, AUD, ...(key ? [START, SPS, START, PPS] : []), START, Buffer.from([key ? 0x65 : 0x41]), Buffer.alloc(n, 0xab)]);
const adts = (payload: Buffer) => {
  const len = payload.length + 7;
  return Buffer.concat([Buffer.from([0xff, 0xf1, 0x50, 0x40 | (len >> 11), (len >> 3) & 0xff, ((len & 7) << 5) | 0x1f, 0xfc]), payload]);
};

const videoInfo: TrackInfo = { id: 1, kind: 'video', codec: 'h264', timescale: 90000 };
const audioInfo: TrackInfo = { id: 1, kind: 'audio', codec: 'aac', timescale: 90000 };

function videoPackets(): PacketRead[] {
  return Array.from({ length: 30 }, (_, i) => {
    const data = annexB(i % 10 === 0, 200 + ((i * 37) % 500));
    const dts = 180000 + i * 3600;
    return { meta: packetMetaOf({ streamIndex: 0, pts: dts + (i % 3) * 3600, dts, duration: 3600, keyframe: i % 10 === 0, data }), data };
  });
}
function audioPackets(): PacketRead[] {
  return Array.from({ length: 20 }, (_, i) => {
    // Some packets carry two ADTS frames.
    const data = i % 4 === 1 ? Buffer.concat([adts(Buffer.alloc(30 + i, 0x21)), adts(Buffer.alloc(25, 0x22))]) : adts(Buffer.alloc(40 + i, 0x21));
    const dts = 180000 + i * 4180;
    return { meta: packetMetaOf({ streamIndex: 1, pts: dts, dts, duration: 4180, keyframe: true, data }), data };
  });
}

/** An archived object holding `packets` after `lead` other bytes, read back in small chunks. */
function spanOf(packets: PacketRead[], opts: { chunk?: number; cut?: number } = {}): ArchivedSpan & { opened: [number, number][] } {
  const lead = Buffer.alloc(123, 0x55);
  const object = Buffer.concat([lead, ...packets.map((p) => p.data), Buffer.alloc(50, 0x66)]);
  const stored = opts.cut ? object.subarray(0, object.length - opts.cut - 50) : object;
  const opened: [number, number][] = [];
  const end = lead.length + packets.reduce((n, p) => n + p.data.length, 0);
  return {
    object: 'x/s0/1.seg', start: lead.length, end, opened,
    packets: packets.map((p) => ({ meta: p.meta, size: p.data.length })),
    async open(from, to) {
      opened.push([from, to]);
      const bytes = stored.subarray(from, to);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += opts.chunk ?? 7) chunks.push(bytes.subarray(i, i + (opts.chunk ?? 7)));
      return Readable.from(chunks);
    },
  };
}

async function collect(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out);
}

async function built(track: ResolvedTrack, packets: PacketRead[], window: { from: number; to: number }): Promise<Buffer> {
  return (await buildFragment({ readWindow: async () => packets, waitForMore: async () => false }, { track, window, segment: 7, part: null, audioWaitMs: 0 })).body;
}

for (const [kind, info, make] of [['video', videoInfo, videoPackets], ['audio', audioInfo, audioPackets]] as const) {
  describe(`a streamed archived ${kind} segment`, () => {
    const packets = make();
    const cmafTrack = resolveTrack(info, samplesOf(packets, { from: 0, to: 0 }, false));
    const track: ResolvedTrack = { info, track: cmafTrack, init: Buffer.alloc(0), formatKey: 'k' };
    const last = packets[packets.length - 1] as PacketRead;
    const window = { from: (packets[0] as PacketRead).meta.dts, to: last.meta.dts + last.meta.duration };

    it('the head from sizes alone is the built segment up to its first payload byte', () => {
      const samples = toCmafSamples(info, cmafTrack, samplesOf(packets, window, kind === 'video'));
      const whole = buildMediaSegment(cmafTrack, samples, fragmentSequence(7, null));
      const head = buildFragmentHead(cmafTrack, samples.map((s) => ({ ...s, data: { length: s.data.length } })), fragmentSequence(7, null));
      assert.deepEqual(whole.subarray(0, head.length), head);
      assert.equal(fragmentHeadLength(whole), head.length);
      assert.equal(whole.length, head.length + samples.reduce((n, s) => n + s.data.length, 0));
    });

    it('streamed: the same bytes and ETag as built, whole and in every range; only the packets a range needs are read', async () => {
      const want = await built(track, packets, window);
      const span = spanOf(packets);
      const plan = await planSegment(span, track, window, 7);
      assert.ok(plan);
      assert.equal(plan.length, want.length);
      assert.equal(plan.etag, builtFragmentEtag(want));
      const body = planBody(plan, track, 7);
      assert.deepEqual(await collect(await body.open(0, body.length)), want);
      const cuts = [0, 1, plan.head.length - 1, plan.head.length, plan.head.length + 1, plan.head.length + 500, Math.floor(want.length / 2), want.length - 3, want.length];
      for (const a of cuts) for (const b of cuts) if (b > a) assert.deepEqual(await collect(await body.open(a, b)), want.subarray(a, b), `${a}-${b}`);
      span.opened.length = 0;
      assert.deepEqual(await collect(await body.open(0, 10)), want.subarray(0, 10));
      assert.deepEqual(span.opened, [], 'a range inside the head reads nothing');
      await collect(await body.open(want.length - 3, want.length));
      const [from, to] = span.opened[0] ?? [0, 0] as const;
      assert.equal(to - from, last.data.length, 'the last bytes read only the last packet');
    });

    it('an object shorter than its header says fails the stream as the archive unavailable', async () => {
      await assert.rejects(planSegment(spanOf(packets, { cut: 10 }), track, window, 7), (e: unknown) => e instanceof BeamError && e.code === 'BEAM_ERR_UNAVAILABLE');
    });
  });
}

describe('streamed segments: splitting and plans', () => {
  it('packetsOf cuts a chunked stream into the packets, whatever the chunking', async () => {
    const sizes = [3, 0, 10, 1, 7];
    const bytes = Buffer.from(Array.from({ length: 21 }, (_, i) => i));
    for (const chunk of [1, 2, 5, 21, 100]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
      const got: Buffer[] = [];
      for await (const p of packetsOf(Readable.from(chunks), sizes)) got.push(p);
      assert.deepEqual(got.map((b) => b.length), sizes, `chunk ${chunk}`);
      assert.deepEqual(Buffer.concat(got), bytes);
    }
  });

  it('a plan is read once and kept; a window not archived is asked again; the plan LRU is bounded', async () => {
    const packets = videoPackets();
    const cmafTrack = resolveTrack(videoInfo, samplesOf(packets, { from: 0, to: 0 }, false));
    const track: ResolvedTrack = { info: videoInfo, track: cmafTrack, init: Buffer.alloc(0), formatKey: 'k' };
    const window = { from: 180000, to: 180000 + 30 * 3600 };
    let asks = 0;
    let archived = false;
    const spans = new Map<string, ReturnType<typeof spanOf>>();
    const segs = createArchivedSegments({ store: { readArchivedSpan: async (c) => { asks++; if (!archived) return null; const s = spanOf(packets); spans.set(c, s); return s; } } }, { maxPlans: 2 });
    const req = (content: string) => ({ key: content, content, stream: 0, track, window, segment: 7 });
    assert.equal(await segs.segment(req('a')), null);
    archived = true;
    const first = await segs.segment(req('a'));
    assert.ok(first);
    assert.equal(asks, 2, 'not archived yet: asked again');
    assert.deepEqual(await collect(await first.body.open(0, first.body.length)), await built(track, packets, window));
    await segs.segment(req('a'));
    assert.equal(asks, 2, 'the plan is kept');
    await segs.segment(req('b'));
    await segs.segment(req('c'));
    assert.equal(segs.plans, 2);
  });
});
