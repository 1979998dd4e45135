/**
 * The transcoder's codec addon (transcoders/av-native) on a real H.264 source made by ffmpeg (testsrc2 320x240 at
 * 25 fps, 2 s, a keyframe every second, no B-frames, CEA-608 captions in A/53 SEI on every picture): the decoder
 * gives every frame with its pts, keyframe marks and cc_data; the scale graph gives every frame at every rung's
 * size with the cc_data kept; libx264 gives one packet per frame with IDRs where the source has keyframes and where
 * a frame is given as 'I', global headers (SPS/PPS) in the extradata and the captions in its SEI; a segment
 * transcoder with a thinned rung carries keyframes and captions through it. Misuse rejects with a clear error, never
 * a crash: a closed decoder, a freed frame, two calls at once, undecodable bytes, unknown codecs, options and log
 * levels.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadAvCodec, type AvCodecBinding, type AvFrame, type AvPacketIn } from '../../../transcoders/av-codec';
import { FILTER_INPUT, DEFAULT_ENCODER_CONFIG, outputName, scaleGraph, x264Options } from '../../../transcoders/encoder-settings';
import { planLadder } from '../../../transcoders/ladder';
import { createSegmentTranscoder, type EncodedPacket } from '../../../transcoders/segment-transcoder';
import { captionSchedule, insertCaptions } from '../../helpers/captions';

const FPS = 25;
const FRAMES = 50;
const TICKS = 90000 / FPS;
const KEY_EVERY = 25;

let av: AvCodecBinding;
let dir: string;
/** The source's access units in decode order (= display order), pts on the 90 kHz timeline. */
let source: AvPacketIn[];

/** Annex-B NAL unit types of a buffer, in order. */
function nalTypes(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      out.push((buf[i + 3] ?? 0) & 0x1f);
      i += 2;
    }
  }
  return out;
}

/** Splits an Annex-B stream made with `aud=1` into access units (each starts at its AUD). */
function accessUnits(stream: Buffer): Buffer[] {
  const starts: number[] = [];
  for (let i = 0; i + 4 < stream.length; i++) {
    if (stream[i] === 0 && stream[i + 1] === 0 && stream[i + 2] === 0 && stream[i + 3] === 1 && ((stream[i + 4] ?? 0) & 0x1f) === 9) starts.push(i);
  }
  return starts.map((s, k) => stream.subarray(s, starts[k + 1] ?? stream.length));
}

beforeAll(async () => {
  av = loadAvCodec();
  dir = await mkdtemp(path.join(tmpdir(), 'beam-av-'));
  const h264 = path.join(dir, 'src.h264');
  await promisify(execFile)('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', `testsrc2=size=320x240:rate=${FPS}`, '-frames:v', String(FRAMES),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-g', String(KEY_EVERY), '-pix_fmt', 'yuv420p', '-x264-params', 'aud=1:scenecut=0', '-f', 'h264', h264,
  ], { timeout: 60_000 });
  const { stream } = insertCaptions(await readFile(h264), captionSchedule(['HELLO', 'WORLD'], 20));
  source = accessUnits(stream).map((data, i) => ({ pts: 90000 + i * TICKS, dts: 90000 + i * TICKS, keyframe: nalTypes(data).includes(5), data }));
}, 90_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function decodeAll(): Promise<AvFrame[]> {
  const dec = av.createDecoder({ name: 'h264', thread_count: 1, pkt_timebase: [1, 90000] });
  const frames: AvFrame[] = [];
  for (let i = 0; i < source.length; i += 2) frames.push(...(await av.decode(dec, source.slice(i, i + 2))));
  frames.push(...(await av.flushDecoder(dec)));
  av.close(dec);
  return frames;
}

const rungs = planLadder([
  { name: 'a', width: 240, height: 180, videoBitrate: 300_000 },
  { name: 'b', width: 160, height: 120, videoBitrate: 150_000, fps: 12.5 },
], 320, 240);

describe('the codec addon', () => {
  it('decodes, scales and encodes a real segment: every frame, keyframes where the source has them and where forced, global headers, captions', async () => {
    assert.equal(source.length, FRAMES);
    assert.deepEqual(source.flatMap((p, i) => (p.keyframe ? [i] : [])), [0, KEY_EVERY]);

    const decoded = await decodeAll();
    assert.equal(decoded.length, FRAMES);
    assert.deepEqual(decoded.map((f) => f.pts), source.map((p) => p.pts));
    assert.deepEqual(decoded.flatMap((f, i) => (f.key_frame ? [i] : [])), [0, KEY_EVERY]);
    assert.equal(decoded[0]?.pict_type, 'I');
    assert.equal(decoded[1]?.pict_type, 'P');
    assert.deepEqual([decoded[0]?.width, decoded[0]?.height, decoded[0]?.format], [320, 240, 'yuv420p']);
    // Every picture carries one cc_data triplet (marker bits 0xfc: valid, field 1).
    for (const f of decoded) {
      assert.ok(f.a53_cc, `frame ${f.pts} has cc_data`);
      assert.equal(f.a53_cc.length % 3, 0);
      assert.equal(f.a53_cc[0], 0xfc);
    }

    const graph = av.createFilter({
      width: 320, height: 240, pixelFormat: 'yuv420p', timeBase: [1, 90000], pixelAspect: [1, 1], inputName: FILTER_INPUT,
      outputs: rungs.map((_, i) => ({ name: outputName(i), pixelFormat: 'yuv420p' })), filterSpec: scaleGraph(rungs),
    });
    const scaled: AvFrame[][] = rungs.map(() => []);
    for (let i = 0; i < decoded.length; i += 3) {
      const batch = decoded.slice(i, i + 3);
      const out = await av.filter(graph, batch);
      assert.equal(out.length, rungs.length);
      out.forEach((frames, k) => scaled[k]?.push(...frames));
      for (const f of batch) av.freeFrame(f);
    }
    av.close(graph);
    assert.deepEqual(scaled.map((s) => s.length), [FRAMES, FRAMES]);
    assert.deepEqual(scaled.map((s) => [s[0]?.width, s[0]?.height]), [[240, 180], [160, 120]]);
    assert.deepEqual(scaled[0]?.map((f) => f.pts), source.map((p) => p.pts));
    assert.deepEqual(scaled[0]?.map((f) => f.a53_cc), decoded.map((f) => f.a53_cc), 'cc_data kept through the scaler');
    assert.deepEqual(scaled[0]?.flatMap((f, i) => (f.pict_type === 'I' ? [i] : [])), [0, KEY_EVERY], 'picture types kept through the scaler');

    const rung = rungs[0];
    assert.ok(rung);
    const enc = av.createEncoder(x264Options(rung, [FPS, 1], DEFAULT_ENCODER_CONFIG));
    assert.equal(av.extradata(enc), null, 'not open before its first frame');
    const frames = scaled[0] ?? [];
    const forced = 10;
    (frames[forced] as AvFrame).pict_type = 'I';
    const packets = [];
    for (let i = 0; i < frames.length; i += 2) {
      const batch = frames.slice(i, i + 2);
      packets.push(...(await av.encode(enc, batch)));
      for (const f of batch) av.freeFrame(f);
    }
    packets.push(...(await av.flushEncoder(enc)));
    assert.equal(packets.length, FRAMES);
    assert.deepEqual(packets.map((p) => p.pts), source.map((p) => p.pts));
    assert.deepEqual(packets.map((p) => p.dts), source.map((p) => p.pts), 'no B-frames: dts == pts');
    assert.deepEqual(packets.flatMap((p, i) => (p.keyframe ? [i] : [])), [0, forced, KEY_EVERY]);
    for (const i of [0, forced, KEY_EVERY]) assert.ok(nalTypes(packets[i]?.data ?? Buffer.alloc(0)).includes(5), `packet ${i} is an IDR`);
    const extradata = av.extradata(enc);
    assert.ok(extradata && extradata.length > 8);
    assert.deepEqual(nalTypes(extradata).slice(0, 2), [7, 8], 'SPS and PPS');
    assert.ok(!nalTypes(packets[0]?.data ?? Buffer.alloc(0)).includes(7), 'global headers: no SPS in the packets');
    assert.ok(packets.every((p) => p.data.includes('GA94')), 'every picture carries its captions (A/53 SEI)');
    av.close(enc);
    for (const f of scaled[1] ?? []) av.freeFrame(f);
  }, 60_000);

  it('a segment transcoder with a thinned rung keeps every source keyframe and carries the dropped pictures\' captions', async () => {
    const tx = createSegmentTranscoder({ rungs, source: { extradata: null, frameRate: [FPS, 1] }, startPts: source[0]?.pts ?? 0, encoder: DEFAULT_ENCODER_CONFIG }, av);
    const got = new Map<string, EncodedPacket[]>();
    const take = (m: Map<string, EncodedPacket[]>) => m.forEach((ps, name) => got.set(name, [...(got.get(name) ?? []), ...ps]));
    for (let i = 0; i < source.length; i += 2) take((await tx.push(source.slice(i, i + 2), source[i + 2]?.dts ?? Infinity)).packets);
    take((await tx.finish()).packets);
    const full = got.get('a') ?? [];
    const thin = got.get('b') ?? [];
    assert.equal(full.length, FRAMES);
    assert.equal(thin.length, FRAMES / 2);
    assert.deepEqual(full.flatMap((p) => (p.keyframe ? [p.pts] : [])), [source[0]?.pts, source[KEY_EVERY]?.pts]);
    // Frame 25 (a source keyframe) is dropped by thinning to 12.5 fps: frame 26, in its place, is an IDR.
    assert.deepEqual(thin.flatMap((p) => (p.keyframe ? [p.pts] : [])), [source[0]?.pts, source[KEY_EVERY + 1]?.pts]);
    // Each kept picture of the thinned rung carries its own cc_data and the dropped one's: two triplets.
    const sei = thin[3]?.data ?? Buffer.alloc(0);
    const at = sei.indexOf('GA94');
    assert.ok(at > 0);
    assert.equal((sei[at + 5] ?? 0) & 0x1f, 2, 'cc_count 2 in a thinned picture');
    assert.ok(tx.extradata('a') && tx.extradata('b'));
  }, 60_000);

  it('rejects misuse with a clear error: a closed decoder, a freed frame, two calls at once, bad bytes, unknown codecs, options and log levels', async () => {
    const dec = av.createDecoder({ name: 'h264', thread_count: 1, pkt_timebase: [1, 90000] });
    await assert.rejects(av.decode(dec, [{ pts: 0, dts: 0, keyframe: true, data: Buffer.from('not h264 at all, no start code here') }]), /Invalid data/);
    await assert.rejects(av.decode(dec, [{ pts: 0, dts: 0, keyframe: true, data: Buffer.alloc(0) }]), /empty packet/);
    const first = av.decode(dec, source.slice(0, 1));
    await assert.rejects(av.decode(dec, source.slice(1, 2)), /busy/);
    const [frame] = await first;
    assert.ok(frame);
    av.close(dec);
    await assert.rejects(av.decode(dec, source.slice(1, 2)), /decoder has been closed/);
    await assert.rejects(av.flushDecoder(dec), /decoder has been closed/);
    av.close(dec); // twice is harmless

    const enc = av.createEncoder(x264Options(rungs[0] as never, [FPS, 1], DEFAULT_ENCODER_CONFIG));
    av.freeFrame(frame);
    av.freeFrame(frame); // twice is harmless
    await assert.rejects(av.encode(enc, [frame]), /frame has been freed/);
    await assert.rejects(av.encode(enc, [{ ...frame, handle: {} as never }]), /not a frame/);
    await assert.rejects(av.encode(dec as never, []), /not an encoder handle/);
    av.close(enc);

    assert.throws(() => av.setLogLevel('loud' as never), /unknown log level/);
    assert.throws(() => av.createDecoder({ name: 'no-such-codec', thread_count: 1, pkt_timebase: [1, 90000] }), /no decoder named/);
    assert.throws(() => av.createEncoder({ ...x264Options(rungs[0] as never, [FPS, 1], DEFAULT_ENCODER_CONFIG), priv_data: { 'no-such-option': '1' } }), /no-such-option/);
    assert.throws(
      () => av.createFilter({ width: 320, height: 240, pixelFormat: 'yuv420p', timeBase: [1, 90000], pixelAspect: [1, 1], inputName: FILTER_INPUT, outputs: [{ name: outputName(0), pixelFormat: 'yuv420p' }], filterSpec: '[in0:v]nosuchfilter[out0:v]' }),
      /Failed to parse filter graph/,
    );
  }, 60_000);
});
