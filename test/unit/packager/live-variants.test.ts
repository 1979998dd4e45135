/** Measured variants, alone: which segments are measured, bandwidth from packet sizes, fallbacks, one measurement per segment; and the MPD's choice of rungs. */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { Channel } from '../../../core/model/channel';
import type { SegmentRecord } from '../../../core/model/live';
import type { Format } from '../../../core/model/media';
import type { Frontier, ResolvedTrack } from '../../../packager/channel-reader';
import type { AacConfig, AvcConfig } from '../../../packager/model';
import { mpdRungs } from '../../../packager/live/manifests';
import { canMuxAudio, hasCompleteSegment, renditionReports, trackOf, type Snapshot } from '../../../packager/live/snapshot';
import { livePlaylist } from '../../../packager/live/media-playlists';
import {
  AUDIO_FALLBACK_BANDWIDTH, audioVariant, bandwidthOf, createVariants, measuredSegments, videoVariant, type VariantReader, type VideoVariant,
} from '../../../packager/live/variants';
import { segmentWindow } from '../../../packager/live/windows';

const seg = (index: number, seconds = 2): SegmentRecord => ({
  index, startPts: index * 180000, startDts: index * 180000 - 3600, durationPts: seconds * 90000, wallClockMs: index * 2000, discontinuity: false,
});
const videoFormat = (frameRate: [number, number], bitRate?: number): Format => ({
  type: 'format', url: 'ch', streams: [{ index: 0, time_base: [1, 90000], avg_frame_rate: frameRate, codecpar: { codec_type: 'video', name: 'h264', ...(bitRate ? { bit_rate: bitRate } : {}) } }],
});
/** The channel's format with its main AAC track (stream 1), as ingest writes it when there is audio. */
const withAudio = (f: Format, audio: boolean): Format => (audio ? { ...f, streams: [...f.streams, { index: 1, time_base: [1, 90000], codecpar: { codec_type: 'audio', name: 'aac' } }] } : f);
const channel: Channel = {
  name: 'ch', streamKey: 'k', passphrase: null, dvrWindowSeconds: 3600, reconnectWindowSeconds: 30, lowLatency: true, createdAt: '', updatedAt: '',
  ladder: [{ name: '360p', width: 640, height: 360, videoBitrate: 700000, maxBitrate: 800000 }, { name: '720p', width: 1280, height: 720, videoBitrate: 2500000 }],
};

function snapshot(closed: SegmentRecord[], rungs: Record<string, Frontier> = {}, hasAudio = true): Snapshot {
  return {
    channel, format: withAudio(videoFormat([25, 1], 3_000_000), hasAudio), hasAudio, closed, open: null, parts: [], markers: [],
    renditions: Object.keys(rungs).map((rung) => ({ rung, content: `ch.${rung}`, format: videoFormat([30000, 1001]) })),
    rungFrontiers: new Map(Object.entries(rungs)), takenAt: 0, version: null, memo: new Map(),
  };
}

const avc = (frameRate?: number): AvcConfig => ({ codec: 'h264', avcC: Buffer.alloc(0), nalLengthSize: 4, width: 640, height: 360, codecString: 'avc1.64001f', ...(frameRate ? { frameRate } : {}) });
const aac: AacConfig = { codec: 'aac', asc: Buffer.alloc(0), objectType: 2, sampleRate: 48000, channels: 2, frameLength: 1024, codecString: 'mp4a.40.2' };

/** Packets of `size` bytes every 3600 ticks over each segment's dts window. */
function packetsOver(segs: SegmentRecord[], size: (s: SegmentRecord) => number): { dts: number; size: number }[] {
  return segs.flatMap((s) => {
    const w = segmentWindow(s, 'dts');
    return Array.from({ length: Math.floor((w.to - w.from) / 3600) }, (_, i) => ({ dts: w.from + i * 3600, size: size(s) }));
  });
}

function fakeReader(packets: { dts: number; size: number }[]) {
  const sizeReads: string[] = [];
  const reader: VariantReader = {
    track: async (content, stream) => ({ track: { config: stream === 1 ? aac : avc(25) }, formatKey: content } as unknown as ResolvedTrack),
    packetSizes: async (content, stream, from, to) => {
      sizeReads.push(`${content}/${stream} ${from}-${to}`);
      return packets.filter((p) => p.dts >= from && p.dts < to);
    },
  };
  return { reader, sizeReads };
}

describe('measured segments and bandwidth (pure)', () => {
  it('measures the newest three closed segments the rendition has made', () => {
    const snap = snapshot([1, 2, 3, 4, 5, 6].map((i) => seg(i)), { '360p': { lastMsn: 4, pendingParts: 0 } });
    assert.deepEqual(measuredSegments(snap, trackOf(snap, { kind: 'video', rung: 'source' })).map((s) => s.index), [4, 5, 6]);
    assert.deepEqual(measuredSegments(snap, trackOf(snap, { kind: 'video', rung: '360p' })).map((s) => s.index), [2, 3, 4]);
    assert.deepEqual(measuredSegments(snapshot([]), trackOf(snapshot([]), { kind: 'audio' })), []);
  });

  it('peak is the busiest segment, average all bits over all seconds', () => {
    const segs = [seg(1), seg(2), seg(3, 4)];
    const windows = segs.map((s) => segmentWindow(s, 'dts'));
    // 50 packets in 2 s at 1000 / 2000 bytes, then 100 packets in 4 s at 1000 bytes.
    const bw = bandwidthOf(segs, windows, packetsOver(segs, (s) => (s.index === 2 ? 2000 : 1000)));
    assert.deepEqual(bw, { peak: 400000, average: Math.ceil(((50 * 1000 + 50 * 2000 + 100 * 1000) * 8) / 8) });
  });

  it('nothing measured: null', () => {
    const segs = [seg(1)];
    assert.equal(bandwidthOf(segs, segs.map((s) => segmentWindow(s, 'dts')), []), null);
  });

  it('a rung without a measurement falls back to its ladder bit rate, and takes its frame rate from its format', () => {
    const snap = snapshot([seg(1)], { '360p': { lastMsn: 1, pendingParts: 0 }, '720p': { lastMsn: 1, pendingParts: 0 } });
    const v360 = videoVariant(snap, { kind: 'video', rung: '360p' }, trackOf(snap, { kind: 'video', rung: '360p' }), avc(), null);
    assert.equal(v360.peak, 800000);
    assert.equal(v360.average, 800000);
    assert.equal(v360.frameRate, 30000 / 1001);
    const v720 = videoVariant(snap, { kind: 'video', rung: '720p' }, trackOf(snap, { kind: 'video', rung: '720p' }), avc(), null);
    assert.equal(v720.peak, 2500000, 'no maxBitrate: the video bit rate');
    const source = videoVariant(snap, { kind: 'video', rung: 'source' }, trackOf(snap, { kind: 'video', rung: 'source' }), avc(50), { peak: 5, average: 4 });
    assert.deepEqual([source.peak, source.average, source.frameRate, source.codecs, source.width, source.height], [5, 4, 25, 'avc1.64001f', 640, 360]);
  });

  it('audio without a measurement: 128 kb/s', () => {
    assert.deepEqual(audioVariant(aac, null), { codecs: 'mp4a.40.2', channels: 2, sampleRate: 48000, peak: AUDIO_FALLBACK_BANDWIDTH, average: AUDIO_FALLBACK_BANDWIDTH });
    assert.equal(AUDIO_FALLBACK_BANDWIDTH, 128000);
    assert.deepEqual(audioVariant(aac, { peak: 1, average: 2 }).average, 2);
  });
});

describe('variants of a snapshot', () => {
  const segs = [1, 2, 3, 4, 5].map((i) => seg(i));

  it('lists source, rungs with a frontier, then audio; reads packet sizes over the measured windows', async () => {
    const { reader, sizeReads } = fakeReader(packetsOver(segs, () => 1000));
    const snap = snapshot(segs, { '360p': { lastMsn: 5, pendingParts: 0 } });
    const v = await createVariants({ reader }).variants(snap);
    assert.deepEqual(v.video.map((x) => (x.ref.kind === 'video' ? x.ref.rung : '')), ['source', '360p']);
    assert.deepEqual([v.video[0]?.peak, v.video[0]?.average], [200000, 200000]);
    assert.equal(v.audio?.codecs, 'mp4a.40.2');
    const from = segmentWindow(seg(3), 'dts').from;
    const to = segmentWindow(seg(5), 'dts').to;
    assert.deepEqual(sizeReads.sort(), [`ch/0 ${from}-${to}`, `ch/1 ${seg(3).startPts}-${seg(5).startPts + 180000}`, `ch.360p/0 ${seg(3).startPts}-${seg(5).startPts + 180000}`].sort());
  });

  it('is memoised on the snapshot, and measures a track once per newest segment whatever the snapshot', async () => {
    const { reader, sizeReads } = fakeReader(packetsOver(segs, () => 1000));
    const variants = createVariants({ reader });
    const first = snapshot(segs, {}, false);
    assert.equal(await variants.variants(first), await variants.variants(first));
    await variants.variants(snapshot(segs, {}, false));
    assert.equal(sizeReads.length, 1, 'a new snapshot with the same newest segment reuses the measurement');
    await variants.variants(snapshot([...segs, seg(6)], {}, false));
    assert.equal(sizeReads.length, 2, 'a new segment is measured');
  });

  it('a rung that is not H.264 is a 400', async () => {
    const { reader } = fakeReader([]);
    const notAvc: VariantReader = { ...reader, track: async () => ({ track: { config: aac } } as unknown as ResolvedTrack) };
    await assert.rejects(createVariants({ reader: notAvc }).variants(snapshot(segs, {}, false)), (e: unknown) => (e as { statusCode?: number }).statusCode === 400);
  });
});

describe('rungs of the MPD (pure)', () => {
  const variant = (rung: string): VideoVariant => ({ ref: { kind: 'video', rung }, track: { ref: { kind: 'video', rung }, content: rung, stream: 0, mode: 'pts' }, codecs: '', width: 0, height: 0, peak: 0, average: 0 });

  it('lists the rungs at most two segments behind the source, over the segments all of them have', () => {
    const snap = snapshot([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => seg(i)), { a: { lastMsn: 8, pendingParts: 0 }, b: { lastMsn: 7, pendingParts: 3 }, c: { lastMsn: 12, pendingParts: 0 } });
    const { included, cap } = mpdRungs(snap, ['source', 'a', 'b', 'c', 'none'].map(variant));
    assert.deepEqual(included.map((x) => (x.ref.kind === 'video' ? x.ref.rung : '')), ['source', 'a', 'c']);
    assert.equal(cap, 8, 'a rung ahead of the source counts as the source');
  });

  it('nothing listed: no cap', () => {
    assert.equal(mpdRungs(snapshot([seg(1)]), []).cap, Infinity);
  });
});

describe('whether a live playlist would list a whole segment (pure)', () => {
  it('parts of the first segment alone are not enough, for the source, the audio and a rung', () => {
    const first = { ...seg(1), durationPts: null };
    const opening: Snapshot = { ...snapshot([], { '360p': { lastMsn: 0, pendingParts: 2 } }), open: first, parts: [{ segment: 1, part: 0 } as Snapshot['parts'][number]] };
    for (const ref of [{ kind: 'video', rung: 'source' }, { kind: 'audio' }, { kind: 'video', rung: '360p' }] as const) assert.equal(hasCompleteSegment(opening, ref), false);
    const closed = snapshot([seg(1)], { '360p': { lastMsn: 0, pendingParts: 3 }, '720p': { lastMsn: 1, pendingParts: 0 } });
    assert.equal(hasCompleteSegment(closed, { kind: 'video', rung: 'source' }), true);
    assert.equal(hasCompleteSegment(closed, { kind: 'audio' }), true);
    assert.equal(hasCompleteSegment(closed, { kind: 'video', rung: '360p' }), false, 'the source closed segment 1, the rung has not made it');
    assert.equal(hasCompleteSegment(closed, { kind: 'video', rung: '720p' }), true);
    assert.equal(hasCompleteSegment(closed, { kind: 'video', rung: 'unknown' }), false);
  });
});

describe('muxed renditions in the snapshot (pure)', () => {
  it('a muxed rung is its video track; only a channel with exactly one audio track has them', () => {
    const snap = snapshot([seg(1), seg(2)], { '360p': { lastMsn: 2, pendingParts: 0 } });
    assert.equal(canMuxAudio(snap), true);
    assert.deepEqual(trackOf(snap, { kind: 'video', rung: '360p', muxed: true }), { ref: { kind: 'video', rung: '360p', muxed: true }, content: 'ch.360p', stream: 0, mode: 'pts' });
    const silent = snapshot([seg(1)], {}, false);
    assert.equal(canMuxAudio(silent), false);
    assert.throws(() => trackOf(silent, { kind: 'video', rung: 'source', muxed: true }), /no audio to mux/);
    const two: Snapshot = { ...snap, format: { ...snap.format, streams: [...snap.format.streams, { index: 2, time_base: [1, 90000], codecpar: { codec_type: 'audio', name: 'aac' } }] } };
    assert.equal(canMuxAudio(two), false);
    assert.throws(() => trackOf(two, { kind: 'video', rung: 'source', muxed: true }), /several audio tracks/);
  });

  it('rendition reports: a muxed playlist reports the other muxed rungs, a separate one the separate renditions', () => {
    const snap = snapshot([seg(1), seg(2)], { '360p': { lastMsn: 2, pendingParts: 0 } });
    assert.deepEqual(renditionReports(snap, { kind: 'video', rung: 'source', muxed: true }).map((r) => r.uri), ['av-360p.m3u8']);
    assert.deepEqual(renditionReports(snap, { kind: 'video', rung: '360p', muxed: true }).map((r) => r.uri), ['av-source.m3u8']);
    assert.deepEqual(renditionReports(snap, { kind: 'video', rung: 'source' }).map((r) => r.uri), ['v-360p.m3u8', 'audio.m3u8']);
  });
});

describe('rung parts\' independence (pure)', () => {
  it('a rung\'s parts are independent where the source\'s are (its encoder makes a keyframe of each source keyframe)', () => {
    const parts = [0, 1, 2, 3, 4, 5].map((part) => ({ segment: 2, part, startPts: 360000 + part * 18000, startDts: 360000 + part * 18000, durationPts: 18000, independent: part === 0 || part === 5 }));
    const snap = { ...snapshot([seg(1)], { '360p': { lastMsn: 1, pendingParts: 6 } }), parts, open: { ...seg(2), durationPts: null } };
    for (const ref of [{ kind: 'video' as const, rung: '360p' }, { kind: 'video' as const, rung: 'source' }, { kind: 'video' as const, rung: '360p', muxed: true }]) {
      const p = livePlaylist(snap, ref, { lastMsn: 1, pendingParts: 6 }, [seg(1)], new Set(), 0);
      assert.deepEqual(p.lowLatency?.pendingParts.map((x) => x.independent), [true, false, false, false, false, true], JSON.stringify(ref));
    }
    const audio = livePlaylist(snap, { kind: 'audio' }, { lastMsn: 1, pendingParts: 6 }, [seg(1)], new Set(), 0);
    assert.ok(audio.lowLatency?.pendingParts.every((x) => x.independent));
  });
});
