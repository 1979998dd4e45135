/**
 * JIT functions through the rules, end to end in-process: HTTP request → pre-route rule → BullMQ job →
 * worker decoding/remuxing the store's packets → the bytes back through Redis. Images are checked with
 * ffprobe and against ffmpeg's own decode of the source; clips for duration, codecs and box order.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createJitFunctions } from '../../../transcoders/jit/jit-functions';
import type { JobFunction } from '../../../engine/jobs/worker';
import { grayPixels, loadTs, makeSourceTs, meanAbsDiff, probe, startJobsRig, topBoxes, type JobsRig } from './jit-fixture';

let redis: TestRedis;
let store: OwnedStore;
let rig: JobsRig;
let dir: string;
let src: string;
let videoPts: number[];
let keyPts: number[];
const calls = { frameImage: 0, clipMp4: 0 };

beforeAll(async () => {
  redis = await startTestRedis();
  store = createStore({ redis: redis.connect() }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  dir = mkdtempSync(join(tmpdir(), 'beamline-jit-'));
  src = join(dir, 'src.ts');
  makeSourceTs(src, 8);
  ({ videoPts, keyPts } = await loadTs(store, 'cam', src));
  const jit = createJitFunctions();
  const counted = (name: keyof typeof calls, fn: JobFunction): JobFunction => async (job) => {
    calls[name]++;
    return fn(job);
  };
  rig = await startJobsRig(redis, store, { functions: { frameImage: counted('frameImage', jit.frameImage), clipMp4: counted('clipMp4', jit.clipMp4) } });
});

afterAll(async () => {
  await rig?.close();
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function save(name: string, body: Buffer): string {
  const f = join(dir, name);
  writeFileSync(f, body);
  return f;
}

describe('frame images', () => {
  it('frame_<pts>.jpg at ?width= keeps the aspect; png too', { timeout: 20000 }, async () => {
    const pts = keyPts[1] as number;
    const jpg = await rig.app.inject(`/beams/cam/video/frame_${pts}.jpg?width=160`);
    assert.equal(jpg.statusCode, 200, jpg.body);
    assert.equal(jpg.headers['content-type'], 'image/jpeg');
    const p = probe(save('k.jpg', jpg.rawPayload));
    assert.deepEqual(p.streams.map((s) => [s.codec_name, s.width, s.height]), [['mjpeg', 160, 120]]);
    const png = await rig.app.inject(`/beams/cam/stream_0/frame_${pts}.png`);
    assert.equal(png.statusCode, 200, png.body);
    assert.deepEqual(probe(save('k.png', png.rawPayload)).streams.map((s) => [s.codec_name, s.width, s.height]), [['png', 320, 240]]);
  });

  it('a non-keyframe pts yields that very frame (compared with ffmpeg decoding the source)', { timeout: 30000 }, async () => {
    const n = 37; // frame 37: 12 frames after the keyframe at 25, a B- or P-frame
    const pts = videoPts[n] as number;
    assert.ok(!keyPts.includes(pts), 'the chosen frame is not a keyframe');
    const res = await rig.app.inject(`/beams/cam/video/frame_${pts}.png`);
    assert.equal(res.statusCode, 200, res.body);
    const ours = grayPixels(save('n.png', res.rawPayload), 320, 240);
    const same = meanAbsDiff(ours, grayPixels(src, 320, 240, n));
    const neighbour = meanAbsDiff(ours, grayPixels(src, 320, 240, n - 1));
    assert.ok(same < 1, `mean pixel difference with ffmpeg's frame ${n} is ${same.toFixed(3)}`);
    assert.ok(neighbour > same * 3 + 1, `the neighbouring frame differs more (${neighbour.toFixed(3)} vs ${same.toFixed(3)})`);
    const jpg = await rig.app.inject(`/beams/cam/video/frame_${pts}.jpeg`);
    assert.ok(meanAbsDiff(grayPixels(save('n.jpg', jpg.rawPayload), 320, 240), grayPixels(src, 320, 240, n)) < 3, 'the JPEG is that frame too');
  });

  it('errors: unknown pts 404, audio stream 400, bad width 400, unknown content 404 — all JSON', { timeout: 20000 }, async () => {
    for (const [url, status] of [
      ['/beams/cam/video/frame_1.jpg', 404],
      ['/beams/cam/audio/latest.jpg', 400],
      [`/beams/cam/video/frame_${videoPts[3]}.jpg?width=5`, 400],
      ['/beams/nothing/video/latest.jpg', 404],
    ] as const) {
      const res = await rig.app.inject(url);
      assert.equal(res.statusCode, status, `${url}: ${res.body}`);
      const body = res.json() as { statusCode: number; error: string; message: string };
      assert.equal(body.statusCode, status);
      assert.ok(body.message.length > 10);
    }
  });

  it('latest.jpg is the newest frame', { timeout: 20000 }, async () => {
    const res = await rig.app.inject('/beams/cam/video/latest.jpg?width=320');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(Number(res.headers['beam-frame-pts']), videoPts[videoPts.length - 1]);
    const last = videoPts.length - 1;
    assert.ok(meanAbsDiff(grayPixels(save('l.jpg', res.rawPayload), 320, 240), grayPixels(src, 320, 240, last)) < 3);
  });
});

describe('clips', () => {
  const sec = 90000;
  function checkClip(name: string, body: Buffer, expectSeconds: number, tolerance: number): void {
    const boxes = topBoxes(body);
    assert.ok(boxes.indexOf('moov') >= 0 && boxes.indexOf('moov') < boxes.indexOf('mdat'), `faststart: moov before mdat (${boxes.join(',')})`);
    const p = probe(save(name, body));
    assert.deepEqual(p.streams.map((s) => s.codec_name).sort(), ['aac', 'h264']);
    const d = Number(p.format.duration);
    assert.ok(Math.abs(d - expectSeconds) <= tolerance, `${name}: duration ${d} s vs ${expectSeconds} s requested (±${tolerance})`);
  }

  it('remux from the keyframe before <from>: duration within one GOP; accurate=1 cuts exactly', { timeout: 30000 }, async () => {
    const from = videoPts[37] as number;
    const to = from + 3 * sec;
    const res = await rig.app.inject(`/beams/cam/all/${from}-${to}.mp4`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['content-type'], 'video/mp4');
    checkClip('c1.mp4', res.rawPayload, 3, 1.05);
    const acc = await rig.app.inject(`/beams/cam/all/${from}-${to}.mp4?accurate=1`);
    assert.equal(acc.statusCode, 200, acc.body);
    checkClip('c1a.mp4', acc.rawPayload, 3, 0.15);
  });

  it('five different clips at once never collide (pts and seconds forms)', { timeout: 40000 }, async () => {
    const t0 = videoPts[0] as number;
    const ranges = [
      [t0 + 0.5 * sec, t0 + 2 * sec], [t0 + 1 * sec, t0 + 4 * sec], [t0 + 2.2 * sec, t0 + 3.2 * sec], [t0 + 3 * sec, t0 + 7 * sec],
    ].map(([a, b]) => [Math.round(a as number), Math.round(b as number)] as const);
    const urls = ranges.map(([a, b]) => `/beams/cam/all/${a}-${b}.mp4`);
    urls.push(`/beams/cam/all/${((t0 + sec) / sec).toFixed(2)}s-${((t0 + 3.5 * sec) / sec).toFixed(2)}s.mp4`);
    const expect = [...ranges.map(([a, b]) => (b - a) / sec), 2.5];
    const res = await Promise.all(urls.map((u) => rig.app.inject(u)));
    res.forEach((r, i) => {
      assert.equal(r.statusCode, 200, `${urls[i]}: ${r.body}`);
      checkClip(`five-${i}.mp4`, r.rawPayload, expect[i] as number, 1.05);
    });
    assert.equal(new Set(res.map((r) => r.rawPayload.toString('base64'))).size, 5, 'five different files');
  });

  it('identical concurrent requests share one job', { timeout: 30000 }, async () => {
    const from = videoPts[60] as number;
    const url = `/beams/cam/all/${from}-${from + 2 * sec}.mp4`;
    const before = calls.clipMp4;
    const res = await Promise.all(Array.from({ length: 6 }, () => rig.app.inject(url)));
    for (const r of res) assert.equal(r.statusCode, 200, r.body);
    assert.equal(calls.clipMp4 - before, 1, 'one job ran for six identical requests');
    assert.equal(new Set(res.map((r) => r.rawPayload.toString('base64'))).size, 1);
    const again = await rig.app.inject(url);
    assert.equal(again.headers['beam-cache'], 'hit', 'a later request is served from the ephemeral cache');
  });

  it('bad ranges answer 400/404 JSON', { timeout: 20000 }, async () => {
    assert.equal((await rig.app.inject('/beams/cam/all/latest.mp4')).statusCode, 400);
    assert.equal((await rig.app.inject('/beams/cam/all/5-3.mp4')).statusCode, 400);
    assert.equal((await rig.app.inject('/beams/cam/all/1-2.mp4')).statusCode, 404);
    assert.equal((await rig.app.inject('/beams/cam/all/0s-100000s.mp4')).statusCode, 400);
  });
});
