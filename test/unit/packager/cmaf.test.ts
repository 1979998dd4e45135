/** The CMAF writer: golden box dumps, byte-level invariants, input conversion and bad input. */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { buildAsc } from '../../../packager/codecs/aac';
import { buildAvcC, splitLengthPrefixed, toLengthPrefixed } from '../../../packager/codecs/h264';
import { buildInitSegment, buildMediaSegment } from '../../../packager/cmaf/boxes';
import { buildMuxedSegment } from '../../../packager/cmaf/segments';
import { dumpBoxes } from '../../../packager/cmaf/dump';
import { rescale, resolveTrack, toCmafSamples } from '../../../packager/cmaf/prepare';
import type { CmafSample, Sample, TrackInfo } from '../../../packager/model';
import { expectGolden } from './golden';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const SPS = hex('6764001facd940a02ff97011000003000100000300640f183196');
const PPS = hex('68ebe3cb22c0');
const START = hex('00000001');
const AUD = hex('09f0');

/** An Annex-B access unit as MPEG-TS carries it: AUD, parameter sets on keyframes, one slice. */
function annexB(key: boolean, sliceBytes: number): Buffer {
  const slice = Buffer.concat([Buffer.from([key ? 0x65 : 0x41]), Buffer.alloc(sliceBytes, 0xab)]);
  return Buffer.concat([START, AUD, ...(key ? [START, SPS, START, PPS] : []), START, slice]);
}

/** A 25 fps GOP with two B-frames in decode order: I P B B P B B (pts - dts = composition offset). */
function gop(startDts: number): Sample[] {
  const order = [[0, 2, true], [3, 2, false], [1, 2, false], [2, 2, false], [6, 2, false], [4, 2, false], [5, 2, false]] as const;
  return order.map(([ptsFrame, delay, key], i) => ({
    dts: startDts + i * 3600,
    pts: startDts + (ptsFrame + delay) * 3600,
    duration: 3600,
    keyframe: key,
    data: annexB(key, 8 + i),
  }));
}

const videoInfo: TrackInfo = { id: 1, kind: 'video', codec: 'h264', timescale: 90000 };

/** ADTS frame for mono 44.1 kHz AAC-LC. */
function adts(payload: Buffer): Buffer {
  const len = payload.length + 7;
  return Buffer.concat([Buffer.from([0xff, 0xf1, 0x50, 0x40 | (len >> 11), (len >> 3) & 0xff, ((len & 7) << 5) | 0x1f, 0xfc]), payload]);
}

const audioInfo: TrackInfo = { id: 2, kind: 'audio', codec: 'aac', timescale: 90000 };
function audioSamples(n: number, start: number): Sample[] {
  return Array.from({ length: n }, (_, i) => ({
    pts: start + Math.round((i * 1024 * 90000) / 44100),
    dts: start + Math.round((i * 1024 * 90000) / 44100),
    duration: 2090,
    keyframe: true,
    data: adts(Buffer.alloc(4 + i, 0x21)),
  }));
}

describe('CMAF video (Annex-B input)', () => {
  const samples = gop(126000);
  const track = resolveTrack(videoInfo, samples);
  const cmaf = toCmafSamples(videoInfo, track, samples);

  test('init segment golden', () => {
    expectGolden('video-init.golden.txt', dumpBoxes(buildInitSegment([track])));
  });

  test('media segment golden (version 1 trun, sync/non-sync flags, composition offsets)', () => {
    expectGolden('video-segment.golden.txt', dumpBoxes(buildMediaSegment(track, cmaf, 7)));
  });

  test('an LL-HLS part is a smaller fragment without styp', () => {
    const part = buildMediaSegment(track, cmaf.slice(4), 8, undefined, { styp: false });
    expectGolden('video-part.golden.txt', dumpBoxes(part));
    assert.equal(part.toString('latin1', 4, 8), 'moof');
  });

  test('payloads lose AUD/SPS/PPS and gain 4-byte lengths', () => {
    const first = cmaf[0] as CmafSample;
    assert.deepEqual(splitLengthPrefixed(first.data, 4).map((n) => (n[0] as number) & 0x1f), [5]);
    assert.equal(first.compositionOffset, 7200);
    assert.deepEqual(cmaf.map((s) => s.compositionOffset), [7200, 14400, 3600, 3600, 14400, 3600, 3600]);
  });

  test('trun data_offset points at the first sample inside mdat', () => {
    const seg = buildMediaSegment(track, cmaf, 1, undefined, { styp: false });
    const trunAt = seg.indexOf('trun');
    const dataOffset = seg.readInt32BE(trunAt + 4 + 4 + 4);
    assert.deepEqual(seg.subarray(dataOffset, dataOffset + (cmaf[0] as CmafSample).data.length), (cmaf[0] as CmafSample).data);
    assert.equal(seg.toString('latin1', dataOffset - 4, dataOffset), 'mdat');
  });

  test('negative composition offsets are written signed', () => {
    const shifted = cmaf.map((s) => ({ ...s, compositionOffset: s.compositionOffset - 7200 }));
    const dump = dumpBoxes(buildMediaSegment(track, shifted, 1));
    assert.match(dump, /\[2\] duration=3600 size=\d+ flags=0x01010000 cto=-3600/);
  });

  test('AVCC input with avcC extradata packages identically to Annex-B input', () => {
    const avccInfo: TrackInfo = { ...videoInfo, extradata: buildAvcC([SPS], [PPS]) };
    const avccSamples = samples.map((s) => ({ ...s, data: toLengthPrefixed([s.data.subarray(s.data.lastIndexOf(START) + 4)]) }));
    const avccTrack = resolveTrack(avccInfo, []);
    assert.deepEqual(buildInitSegment([avccTrack]), buildInitSegment([track]));
    assert.deepEqual(buildMediaSegment(avccTrack, toCmafSamples(avccInfo, avccTrack, avccSamples), 7),
      buildMediaSegment(track, cmaf, 7));
  });

  test('Annex-B extradata (as FFmpeg reports for MPEG-TS) is accepted', () => {
    const t = resolveTrack({ ...videoInfo, extradata: Buffer.concat([START, SPS, START, PPS]) });
    assert.equal(t.config.codecString, 'avc1.64001f');
  });
});

describe('CMAF audio (ADTS input)', () => {
  const samples = audioSamples(6, 131110);
  const track = resolveTrack(audioInfo, samples);
  const cmaf = toCmafSamples(audioInfo, track, samples);

  test('timescale is the sample rate and durations tile at 1024 samples', () => {
    assert.equal(track.timescale, 44100);
    assert.equal(track.config.codecString, 'mp4a.40.2');
    assert.equal((cmaf[0] as CmafSample).dts, rescale(131110, 90000, 44100));
    assert.deepEqual(cmaf.map((s) => s.duration), [1024, 1024, 1024, 1024, 1024, 1024]);
  });

  test('init segment golden', () => {
    expectGolden('audio-init.golden.txt', dumpBoxes(buildInitSegment([track])));
  });

  test('media segment golden', () => {
    expectGolden('audio-segment.golden.txt', dumpBoxes(buildMediaSegment(track, cmaf, 3)));
  });

  test('a packet with several ADTS frames becomes several samples', () => {
    const joined: Sample = { ...(samples[0] as Sample), data: Buffer.concat([adts(hex('aa')), adts(hex('bbcc'))]) };
    const out = toCmafSamples(audioInfo, track, [joined]);
    assert.deepEqual(out.map((s) => s.data.toString('hex')), ['aa', 'bbcc']);
    assert.deepEqual(out.map((s) => s.dts - (out[0] as CmafSample).dts), [0, 1024]);
  });

  test('raw AAC with an AudioSpecificConfig (48 kHz stereo)', () => {
    const info: TrackInfo = { ...audioInfo, extradata: buildAsc(2, 48000, 2) };
    const t = resolveTrack(info);
    assert.equal(t.timescale, 48000);
    const out = toCmafSamples(info, t, [{ pts: 90000, dts: 90000, duration: 1920, keyframe: true, data: hex('0102') }]);
    assert.deepEqual(out.map((s) => [s.dts, s.duration]), [[48000, 1024]]);
  });

  test('init with two tracks has two traks and two trex', () => {
    const video = resolveTrack(videoInfo, gop(0));
    const dump = dumpBoxes(buildInitSegment([video, track]));
    assert.equal(dump.match(/^ {2}trak /gm)?.length, 2);
    assert.equal(dump.match(/trex /g)?.length, 2);
    assert.match(dump, /next_track_ID=3/);
  });
});

describe('CMAF bad input', () => {
  const cases: Array<{ name: string; run: () => unknown; error: RegExp }> = [
    { name: 'no SPS anywhere', run: () => resolveTrack(videoInfo, [{ ...(gop(0)[1] as Sample) }]), error: /no SPS\/PPS/ },
    { name: 'AAC without ASC or ADTS', run: () => resolveTrack(audioInfo, [{ pts: 0, dts: 0, duration: 1, keyframe: true, data: hex('0102') }]), error: /no AudioSpecificConfig/ },
    { name: 'video track with aac codec', run: () => resolveTrack({ ...audioInfo, kind: 'video' }), error: /must be an audio track/ },
    { name: 'extradata that is neither avcC nor Annex-B', run: () => resolveTrack({ ...videoInfo, extradata: hex('ff00') }), error: /neither avcC nor Annex-B/ },
    { name: 'empty fragment', run: () => buildMediaSegment(resolveTrack(videoInfo, gop(0)), [], 1), error: /has no samples/ },
    { name: 'negative base decode time', run: () => buildMediaSegment(resolveTrack(videoInfo, gop(0)), toCmafSamples(videoInfo, resolveTrack(videoInfo, gop(0)), gop(0)), 1, -5), error: /non-negative/ },
    { name: 'decode times going backwards', run: () => { const g = gop(0); return toCmafSamples(videoInfo, resolveTrack(videoInfo, g), [g[1] as Sample, g[0] as Sample]); }, error: /backwards/ },
    { name: 'an access unit with only an AUD', run: () => toCmafSamples(videoInfo, resolveTrack(videoInfo, gop(0)), [{ ...(gop(0)[1] as Sample), data: Buffer.concat([START, AUD]) }]), error: /no picture data/ },
    { name: 'no tracks in an init segment', run: () => buildInitSegment([]), error: /at least one track/ },
    { name: 'truncated box in a dump', run: () => dumpBoxes(buildInitSegment([resolveTrack(videoInfo, gop(0))]).subarray(0, 40)), error: /claims \d+ bytes/ },
  ];
  for (const c of cases) test(c.name, () => assert.throws(c.run, c.error));
});

/** The boxes directly inside `buf[from, to)`: type, start and end. */
function childBoxes(buf: Buffer, from: number, to: number): { type: string; start: number; end: number }[] {
  const out: { type: string; start: number; end: number }[] = [];
  for (let at = from; at + 8 <= to;) {
    const size = buf.readUInt32BE(at);
    out.push({ type: buf.toString('latin1', at + 4, at + 8), start: at, end: at + size });
    at += size;
  }
  return out;
}

describe('CMAF muxed fragment (video and audio in one moof and mdat)', () => {
  const vSamples = gop(900000);
  const video = resolveTrack(videoInfo, vSamples);
  const aSamples = audioSamples(5, 900000);
  const audio = { ...resolveTrack(audioInfo, aSamples), id: 2 };
  const vCmaf = toCmafSamples(videoInfo, video, vSamples);
  const aCmaf = toCmafSamples(audioInfo, audio, aSamples);

  test('one traf per track; each trun\'s data offset points at its own payloads in the one mdat', () => {
    const buf = buildMuxedSegment([{ track: video, samples: vCmaf }, { track: audio, samples: aCmaf }], 701);
    const top = childBoxes(buf, 0, buf.length);
    assert.deepEqual(top.map((b) => b.type), ['styp', 'moof', 'mdat']);
    const moofBox = top[1] as { start: number; end: number };
    const trafs = childBoxes(buf, moofBox.start + 8, moofBox.end).filter((b) => b.type === 'traf');
    assert.equal(trafs.length, 2);
    const expected = [vCmaf, aCmaf];
    trafs.forEach((traf, i) => {
      const kids = childBoxes(buf, traf.start + 8, traf.end);
      const tfhd = kids.find((b) => b.type === 'tfhd') as { start: number };
      assert.equal(buf.readUInt32BE(tfhd.start + 12), i + 1, 'track id');
      const tfdt = kids.find((b) => b.type === 'tfdt') as { start: number };
      assert.equal(Number(buf.readBigUInt64BE(tfdt.start + 12)), (expected[i]?.[0] as CmafSample).dts);
      const trun = kids.find((b) => b.type === 'trun') as { start: number };
      const count = buf.readUInt32BE(trun.start + 12);
      const offset = buf.readInt32BE(trun.start + 16);
      const sizes = Array.from({ length: count }, (_, k) => buf.readUInt32BE(trun.start + 20 + k * 16 + 4));
      const payload = Buffer.concat((expected[i] as CmafSample[]).map((s) => s.data));
      assert.deepEqual(sizes, (expected[i] as CmafSample[]).map((s) => s.data.length));
      assert.ok(buf.subarray(moofBox.start + offset, moofBox.start + offset + payload.length).equals(payload), `track ${i + 1} payloads`);
    });
    const mdatBox = top[2] as { start: number; end: number };
    assert.equal(mdatBox.end, buf.length);
    assert.equal(mdatBox.end - mdatBox.start - 8, [...vCmaf, ...aCmaf].reduce((n, s) => n + s.data.length, 0));
  });

  test('a track without samples is left out; none at all, or one id twice, is refused', () => {
    const buf = buildMuxedSegment([{ track: video, samples: vCmaf }, { track: audio, samples: [] }], 7, { styp: false });
    const top = childBoxes(buf, 0, buf.length);
    assert.deepEqual(top.map((b) => b.type), ['moof', 'mdat']);
    assert.equal(childBoxes(buf, (top[0] as { start: number }).start + 8, (top[0] as { end: number }).end).filter((b) => b.type === 'traf').length, 1);
    // One track: the same bytes as the single-track builder.
    assert.ok(buf.equals(buildMediaSegment(video, vCmaf, 7, undefined, { styp: false })));
    assert.throws(() => buildMuxedSegment([{ track: video, samples: [] }], 7), /no samples in any track/);
    assert.throws(() => buildMuxedSegment([{ track: video, samples: vCmaf }, { track: { ...audio, id: 1 }, samples: aCmaf }], 7), /unique/);
  });
});
