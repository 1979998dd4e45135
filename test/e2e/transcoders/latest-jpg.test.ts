/**
 * latest.jpg on a live channel: ffmpeg publishes over SRT into ingest composed in-process; while it is
 * live, latest.jpg returns a real JPEG (ffprobe) of the newest decodable frame, at most about one second
 * behind the newest packet in the store, and frame_<pts>.jpg works on the live timeline too.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { startLiveRig, waitFor, type LiveRig } from './live-rig';

let rig: LiveRig;
let pub: Publisher | null = null;
let dir: string;

beforeAll(async () => {
  rig = await startLiveRig();
  dir = mkdtempSync(join(tmpdir(), 'beamline-latest-'));
});

afterAll(async () => {
  pub?.stop();
  await rig?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function probeJpeg(body: Buffer): string {
  const f = join(dir, `l-${Date.now()}.jpg`);
  writeFileSync(f, body);
  return execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', f]).toString().trim();
}

describe('latest.jpg on a live channel', () => {
  it('is a JPEG of a frame at most ~1 s behind live, while the publisher runs', { timeout: 45000 }, async () => {
    const url = await rig.createChannel('cam');
    pub = publishSrt(url, { seconds: 12, size: '320x240', fps: 25, gopFrames: 25 });
    await waitFor('the channel is live with a segment', async () => (await rig.live.lastSegments('cam', 5)).length >= 1, 15000);
    const lags: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      const res = await rig.app.inject('/beams/cam/video/latest.jpg');
      const ms = Date.now() - t0;
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'image/jpeg');
      assert.equal(probeJpeg(res.rawPayload), 'mjpeg,320,240');
      const newest = (await rig.store.query('cam', 0, { mode: 'rank', from: -1, to: -1, offset: 0, limit: 1 }))[0]?.meta.pts as number;
      const lag = (newest - Number(res.headers['beam-frame-pts'])) / 90000;
      lags.push(lag);
      assert.ok(ms < 1500, `answered in ${ms} ms`);
      await new Promise((r) => setTimeout(r, 400));
    }
    assert.ok(Math.max(...lags) <= 1.2, `frames were at most ~1 s behind the newest packet: ${lags.map((l) => l.toFixed(2)).join(', ')} s`);
    const small = await rig.app.inject('/beams/cam/video/latest.jpg?width=160');
    assert.equal(probeJpeg(small.rawPayload), 'mjpeg,160,120');
    const some = (await rig.store.query('cam', 0, { mode: 'rank', from: 10, to: 10, offset: 0, limit: 1 }))[0]?.meta.pts as number;
    const frame = await rig.app.inject(`/beams/cam/video/frame_${some}.jpg`);
    assert.equal(frame.statusCode, 200, frame.body);
    assert.equal(probeJpeg(frame.rawPayload), 'mjpeg,320,240');
  });
});
