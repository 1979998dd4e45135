/**
 * WHIP → WHEP glass to glass, with the frame-number method of the latency bench: ffmpeg paints the frame number
 * into the picture and sends H.264 (libx264 baseline, zerolatency, no B-frames) and Opus as RTP, which a
 * node-datachannel WHIP client (test/helpers/whip-client.ts, built like OBS's WHIP output) publishes to
 * /whip/<channel> of an in-process stack; a Chromium page plays the channel over WHEP and reads every presented
 * frame's number back. The reference is the WHEP p50 from an SRT publisher (`npm run bench whep`) and, in the
 * same run, our LL-HLS player on the same channel. Figures only; nothing is asserted.
 */

import { spawn } from 'node:child_process';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser';
import { AUTH } from '../helpers/app';
import { waitFor } from '../helpers/process';
import { connectWhip, WHIP_AUDIO_PT, WHIP_VIDEO_PT, type WhipClient } from '../helpers/whip-client';
import { startRig } from '../e2e/webrtc/rig';
import type { Bench, BenchRow } from './harness';
import { defaultCode, latencies, paintFilter, percentile, progressOutMs, sendClockStart, type BlockCode } from './latency-code';
import { FPS, FRAME_MS, HEIGHT, measure, WIDTH, type ClockedPublisher } from './latency-bench';
import { openViewer } from './whep-bench';

const WARMUP_MS = 5000;
const COLLECT_MS = 15000;

/** ffmpeg painting frame numbers, as RTP to two loopback ports, with its progress clock. */
function publishPaintedRtp(videoPort: number, audioPort: number, code: BlockCode, seconds: number): ClockedPublisher {
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=${WIDTH}x${HEIGHT}:rate=${FPS}`,
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-progress', 'pipe:1', '-stats_period', '0.1',
    '-map', '0:v', '-vf', paintFilter(code), '-c:v', 'libx264', '-profile:v', 'baseline', '-bf', '0', '-preset', 'ultrafast', '-tune', 'zerolatency',
    '-g', String(FPS), '-pix_fmt', 'yuv420p', '-b:v', '1000k',
    '-f', 'rtp', '-payload_type', String(WHIP_VIDEO_PT), `rtp://127.0.0.1:${videoPort}?pkt_size=1200`,
    '-map', '1:a', '-t', String(seconds), '-c:a', 'libopus', '-b:a', '64k',
    '-f', 'rtp', '-payload_type', String(WHIP_AUDIO_PT), `rtp://127.0.0.1:${audioPort}?pkt_size=1200`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const reports: { outMs: number; arrivedMs: number }[] = [];
  let err = '';
  let pending = '';
  child.stdout?.on('data', (d: Buffer) => {
    const arrivedMs = Date.now();
    const lines = (pending + d.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const outMs = progressOutMs(line);
      if (outMs !== null) reports.push({ outMs, arrivedMs });
    }
  });
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-3000)));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    start: () => sendClockStart(reports),
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

async function run(): Promise<BenchRow[]> {
  const code = defaultCode(WIDTH);
  const browser = await launchBrowser();
  const rig = await startRig().catch(async (e: unknown) => {
    await browser.close();
    throw e;
  });
  const channel = 'whipbench';
  const pages: Page[] = [];
  let pub: ClockedPublisher | null = null;
  let clients: WhipClient[] = [];
  try {
    const res = await fetch(`${rig.baseUrl}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name: channel, ladder: [] }) });
    const body = await res.text();
    if (res.status !== 201) throw new Error(`cannot create the bench channel: ${res.status} ${body}`);
    const key = (JSON.parse(body) as { streamKey: string }).streamKey;
    const c = await connectWhip(rig.baseUrl, channel, key);
    clients = c.clients;
    const { videoPort, audioPort } = await c.client.forward();
    pub = publishPaintedRtp(videoPort, audioPort, code, 300);
    const p = pub;
    await waitFor('the channel to play', async () => (await fetch(`${rig.baseUrl}/live/${channel}/v-source.m3u8`)).ok, 30000)
      .catch((e: Error) => { throw new Error(`${e.message}; publisher: ${p.stderr()}`); });

    const viewer = await openViewer(browser, rig.baseUrl, channel, code, true);
    pages.push(viewer);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    await viewer.evaluate('window.__bench.samples.length = 0');
    await new Promise((r) => setTimeout(r, COLLECT_MS));
    const samples = await viewer.evaluate<{ n: number; at: number }[]>('window.__bench.samples');
    const start = p.start();
    if (start === null) throw new Error('the publisher reported no progress');
    const whipMs = latencies(samples, start, FRAME_MS, code.bits);
    if (whipMs.length < COLLECT_MS / FRAME_MS / 4) throw new Error(`only ${whipMs.length} frames read back over WHEP (${samples.length} samples)`);
    for (const pg of pages.splice(0)) await pg.close().catch(() => undefined);

    const ll = await measure(browser, 'whip-reference-ll', rig.baseUrl, { src: `${rig.baseUrl}/live/${channel}/master.m3u8`, lowLatency: true, height: HEIGHT, code, stock: false }, p.start);
    const p10 = (ms: number[]) => percentile(ms, 10).toFixed(0);
    const p90 = (ms: number[]) => percentile(ms, 90).toFixed(0);
    return [
      {
        bench: 'whip', metric: 'glass-to-glass p50, WHIP publisher → WHEP viewer', ours: percentile(whipMs, 50), reference: percentile(ll.ms, 50),
        referenceName: 'our player over LL-HLS, same channel, p50', unit: 'ms',
        note: `p10 ${p10(whipMs)} p90 ${p90(whipMs)}, ${whipMs.length} frames; LL-HLS p10 ${p10(ll.ms)} p90 ${p90(ll.ms)}, ${ll.stalls} stall(s)`,
      },
    ];
  } finally {
    for (const pg of pages) await pg.close().catch(() => undefined);
    await pub?.stop();
    for (const cl of clients) cl.close();
    await new Promise((r) => setTimeout(r, 500));
    await browser.close();
    await rig.close();
  }
}

export const whipBench: Bench = {
  name: 'whip',
  description: 'glass-to-glass latency from a WHIP publisher (ffmpeg RTP through a libdatachannel client) to a WHEP viewer in Chromium, vs our LL-HLS player',
  run,
};
