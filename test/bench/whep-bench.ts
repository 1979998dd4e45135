/**
 * WebRTC (WHEP) glass-to-glass latency and server CPU per viewer, with the frame-number method of the latency
 * bench: ffmpeg publishes the painted picture over SRT with a 120 ms SRT latency into an in-process stack with
 * the WebRTC plugin (ICE on loopback), and a Chromium page plays the channel over WHEP (RTCPeerConnection,
 * recvonly), reading every presented frame's number back. The reference is the same channel, in the same run,
 * played over LL-HLS by our player's settings. CPU per viewer: this process's CPU (ingest, packager and
 * WebRTC sessions all run in it) over 10 s with one viewer, then with six, the difference per added viewer.
 * Goal (issue): WHEP p50 ≤ 400 ms from an SRT publisher with 120 ms latency.
 */

import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser';
import { AUTH } from '../helpers/app';
import { waitFor } from '../helpers/process';
import { startRig, WHEP_VIEWER_JS } from '../e2e/webrtc/rig';
import type { Bench, BenchRow } from './harness';
import { decodeLumas, defaultCode, latencies, percentile, samplePoints, type BlockCode } from './latency-code';
import { FRAME_MS, HEIGHT, measure, publishPainted, WIDTH } from './latency-bench';

const WARMUP_MS = 5000;
const COLLECT_MS = 15000;
const CPU_WINDOW_MS = 10000;
const VIEWERS = 6;
/** SRT latency of the publisher (µs, as ffmpeg's srt protocol takes it). */
const SRT_LATENCY_US = 120000;

/** A page that plays over WHEP and reads each presented frame's number back into window.__bench.samples. */
export function whepPage(code: BlockCode, sample: boolean): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>whep bench</title></head><body style="margin:0;background:#000">
<video id="v" muted autoplay playsinline></video>
<script>${WHEP_VIEWER_JS}</script>
<script>
const samplePoints = ${samplePoints.toString()};
const decodeLumas = ${decodeLumas.toString()};
const code = ${JSON.stringify(code)};
const v = document.getElementById('v');
const canvas = document.createElement('canvas');
const ctx = canvas.getContext('2d', { willReadFrequently: true });
window.__bench = { samples: [] };
const onFrame = () => {
  const at = Date.now();
  const w = v.videoWidth, h = v.videoHeight;
  if (w > 0 && ${sample}) {
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.drawImage(v, 0, 0, w, h);
    const lumas = samplePoints(code, w).map((p) => {
      const d = ctx.getImageData(p.x - 1, p.y - 1, 3, 3).data;
      let s = 0;
      for (let i = 0; i < d.length; i += 4) s += (d[i] + d[i + 1] + d[i + 2]) / 3;
      return s / 9;
    });
    window.__bench.samples.push({ n: decodeLumas(lumas), at });
    if (window.__bench.samples.length > 2000) window.__bench.samples.shift();
  }
  v.requestVideoFrameCallback(onFrame);
};
v.requestVideoFrameCallback(onFrame);
</script></body></html>`;
}

export async function openViewer(browser: TestBrowser, origin: string, channel: string, code: BlockCode, sample: boolean): Promise<Page> {
  const page = await browser.newPage({ width: 800, height: 500 });
  await page.route((u) => u.pathname === '/__whep-bench/page.html', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: whepPage(code, sample) }));
  await page.goto(`${origin}/__whep-bench/page.html`);
  await page.evaluate(`window.startWhep('/live/${channel}/whep')`);
  await waitFor(`a WHEP viewer of ${channel} to decode frames`, async () => {
    const st = await page.evaluate<{ status: number; error: string | null; frames: number }>(
      '(async () => ({ status: window.whep.status, error: window.whep.error, frames: ((await window.whepStats()) || { framesDecoded: 0 }).framesDecoded }))()');
    if (st.error) throw new Error(`WHEP offer answered ${st.status}: ${st.error}`);
    return st.frames > 10;
  }, 20000, 250);
  return page;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function cpuOver(ms: number): Promise<number> {
  const c0 = cpuMs();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return (cpuMs() - c0) / (Date.now() - t0);
}

async function run(): Promise<BenchRow[]> {
  const code = defaultCode(WIDTH);
  const browser = await launchBrowser();
  const rig = await startRig().catch(async (e: unknown) => {
    await browser.close();
    throw e;
  });
  const channel = 'whepbench';
  const pages: Page[] = [];
  let pub: ReturnType<typeof publishPainted> | null = null;
  try {
    const res = await fetch(`${rig.baseUrl}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name: channel, ladder: [] }) });
    const body = await res.text();
    if (res.status !== 201) throw new Error(`cannot create the bench channel: ${res.status} ${body}`);
    const srt = (JSON.parse(body) as { ingest: { srt: string } }).ingest.srt
      .replace(/^srt:\/\/[^?]+/, `srt://127.0.0.1:${rig.srtPort}`)
      .replace(/([?&])latency=\d+/, `$1latency=${SRT_LATENCY_US}`);
    await new Promise((r) => setTimeout(r, 150)); // the ingest registry hears of the channel over pub/sub
    pub = publishPainted(srt.includes('latency=') ? srt : `${srt}&latency=${SRT_LATENCY_US}`, 'mpegts', code, 300);
    const p = pub;
    await waitFor('the channel to play', async () => (await fetch(`${rig.baseUrl}/live/${channel}/v-source.m3u8`)).ok, 30000)
      .catch((e: Error) => { throw new Error(`${e.message}; publisher: ${p.stderr()}`); });

    // Glass to glass over WHEP.
    const viewer = await openViewer(browser, rig.baseUrl, channel, code, true);
    pages.push(viewer);
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    await viewer.evaluate('window.__bench.samples.length = 0');
    await new Promise((r) => setTimeout(r, COLLECT_MS));
    const samples = await viewer.evaluate<{ n: number; at: number }[]>('window.__bench.samples');
    const start = p.start();
    if (start === null) throw new Error('the publisher reported no progress');
    const whepMs = latencies(samples, start, FRAME_MS, code.bits);
    if (whepMs.length < COLLECT_MS / FRAME_MS / 4) throw new Error(`only ${whepMs.length} frames read back over WHEP (${samples.length} samples)`);
    const stats = await viewer.evaluate<{ nacks: number; plis: number } | null>('window.whepStats()');

    // Server CPU per viewer: one viewer (not sampling, to keep Chromium's load alike), then six.
    await viewer.evaluate('window.__bench.samples.length = 0');
    const one = await cpuOver(CPU_WINDOW_MS);
    for (let i = 1; i < VIEWERS; i++) pages.push(await openViewer(browser, rig.baseUrl, channel, code, false));
    const many = await cpuOver(CPU_WINDOW_MS);
    const perViewer = Math.max(0, (many - one) / (VIEWERS - 1));
    for (const pg of pages.splice(0)) await pg.close().catch(() => undefined);

    // The reference: our LL-HLS player on the same channel, in the same run.
    const ll = await measure(browser, 'whep-reference-ll', rig.baseUrl, { src: `${rig.baseUrl}/live/${channel}/master.m3u8`, lowLatency: true, height: HEIGHT, code, stock: false }, p.start);
    const ref = percentile(ll.ms, 50);
    const p10 = (ms: number[]) => percentile(ms, 10).toFixed(0);
    const p90 = (ms: number[]) => percentile(ms, 90).toFixed(0);
    return [
      {
        bench: 'whep', metric: 'glass-to-glass p50, source over WHEP (SRT publisher, 120 ms latency)', ours: percentile(whepMs, 50), reference: ref,
        referenceName: 'our player over LL-HLS, same channel, p50', unit: 'ms',
        note: `goal ≤ 400 ms; p10 ${p10(whepMs)} p90 ${p90(whepMs)}, ${whepMs.length} frames; NACKs ${stats?.nacks ?? '-'}, PLIs ${stats?.plis ?? '-'}; LL-HLS p10 ${p10(ll.ms)} p90 ${p90(ll.ms)}, ${ll.stalls} stall(s)`,
      },
      { bench: 'whep', metric: 'server CPU per WHEP viewer', ours: perViewer, unit: 'CPU s/s', note: `this process (ingest + packager + WebRTC) with 1 viewer ${one.toFixed(3)}, with ${VIEWERS} ${many.toFixed(3)} CPU s/s` },
      { bench: 'whep', metric: 'WHEP viewers per core', ours: perViewer > 0 ? 1 / perViewer : Infinity, unit: 'viewers', note: 'from the line above (640×360 25 fps, 1 Mbps + Opus)' },
    ];
  } finally {
    for (const pg of pages) await pg.close().catch(() => undefined);
    await pub?.stop();
    await browser.close();
    await rig.close();
  }
}

export const whepBench: Bench = {
  name: 'whep',
  description: 'glass-to-glass latency over WebRTC (WHEP) from an SRT publisher with 120 ms latency vs our LL-HLS player; server CPU per WHEP viewer',
  run,
};
