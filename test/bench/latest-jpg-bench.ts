/**
 * latest.jpg latency on a live channel: ffmpeg publishes 1280x720 25 fps (1 s GOP) over SRT into an
 * in-process Beamline (ingest + engine + a media_workers worker with the JIT functions, real HTTP on
 * loopback); rounds of 20 concurrent GET …/latest.jpg are timed, and how far the returned frame is behind
 * the newest packet in the store. Reference: one ffmpeg process decoding the newest GOP of the same
 * kind of stream to a JPEG (what a naive per-request thumbnailer would spend).
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { publishSrt } from '../helpers/publishers';
import { startLiveRig, waitFor } from '../e2e/transcoders/live-rig';
import type { Bench, BenchRow } from './harness';

const CONCURRENT = 20;
const ROUNDS = 25;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function referenceMs(dir: string): number {
  const file = join(dir, 'gop.ts');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=25', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '25', '-pix_fmt', 'yuv420p', '-f', 'mpegts', file]);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = process.hrtime.bigint();
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-i', file, '-update', '1', '-q:v', '2', join(dir, 'ref.jpg')]);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times.sort((a, b) => a - b)[2] as number;
}

export const latestJpgBench: Bench = {
  name: 'latest-jpg',
  description: `latest.jpg latency, ${CONCURRENT} concurrent requests × ${ROUNDS} rounds on a live 720p25 SRT channel`,
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-latest-bench-'));
    const rig = await startLiveRig();
    const pub = publishSrt(await rig.createChannel('bench'), { seconds: 40, size: '1280x720', fps: 25, gopFrames: 25, bitrate: '3M' });
    try {
      await waitFor('the channel is live', async () => (await rig.live.lastSegments('bench', 5)).length >= 1, 20000);
      await rig.app.listen({ host: '127.0.0.1', port: 0 });
      const base = `http://127.0.0.1:${(rig.app.server.address() as AddressInfo).port}`;
      const lat: number[] = [];
      const lags: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const results = await Promise.all(
          Array.from({ length: CONCURRENT }, async () => {
            const t0 = process.hrtime.bigint();
            const res = await fetch(`${base}/beams/bench/video/latest.jpg`, { signal: AbortSignal.timeout(15000) });
            const body = Buffer.from(await res.arrayBuffer());
            if (res.status !== 200 || body[0] !== 0xff || body[1] !== 0xd8) throw new Error(`latest.jpg answered ${res.status}: ${body.toString().slice(0, 200)}`);
            lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
            return Number(res.headers.get('beam-frame-pts'));
          }),
        );
        const newest = (await rig.store.query('bench', 0, { mode: 'rank', from: -1, to: -1, offset: 0, limit: 1 }))[0]?.meta.pts as number;
        lags.push((newest - Math.min(...results)) / 90);
        await new Promise((res) => setTimeout(res, 200));
      }
      lat.sort((a, b) => a - b);
      lags.sort((a, b) => a - b);
      const ref = referenceMs(dir);
      return [
        { bench: 'latest-jpg', metric: `latency p50 (${CONCURRENT} concurrent)`, ours: percentile(lat, 50), reference: ref, referenceName: 'ffmpeg CLI: 1 s GOP 720p → JPEG', unit: 'ms', note: 'lower is better' },
        { bench: 'latest-jpg', metric: `latency p99 (${CONCURRENT} concurrent)`, ours: percentile(lat, 99), reference: ref, referenceName: 'ffmpeg CLI: 1 s GOP 720p → JPEG', unit: 'ms', note: 'lower is better' },
        { bench: 'latest-jpg', metric: 'frame behind newest packet p50', ours: percentile(lags, 50), unit: 'ms', note: 'at request time + answer' },
        { bench: 'latest-jpg', metric: 'frame behind newest packet max', ours: lags[lags.length - 1] as number, unit: 'ms' },
      ];
    } finally {
      pub.stop();
      await pub.exited;
      await rig.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
