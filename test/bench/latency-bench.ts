/**
 * Glass-to-glass latency in Chromium with hls.js, measured independently of Beamline's timestamps: the
 * publisher (ffmpeg, 640x360 25 fps, 1 s GOP, `-re`) paints each frame's number into the picture as a row
 * of black/white blocks (see latency-code.ts) and reports its progress, from which the wall time frame 0 was
 * sent is recovered; a bench page (served on the measured origin through a Playwright route, hls.js from
 * our node_modules) draws every presented frame (requestVideoFrameCallback) to a canvas, reads the number
 * back and notes Date.now(). Latency = shown - sent; p50 over 20 s of playback after an 8 s warm-up, with
 * the buffer stalls hls.js reported in that window.
 * Two pages: ours (hls.js configured and kept near the live edge as the player does: player/util.js
 * hlsConfig and followLiveEdge) and a stock
 * page (`new Hls()`, hls.js's default config, lowLatencyMode on), which is what most embeds do.
 * The SRT publisher uses the URL the channel API hands out, so its latency is BEAM_SRT_LATENCY (200 ms).
 * Measured: the source rung and a transcoded rung (240p) with LL-HLS on both pages, the source with plain
 * HLS (lowLatencyMode off, the player's `ll=0`) on both, and nginx-rtmp (libnginx-mod-rtmp, HLS with 1 s
 * fragments) fed the same kind of stream over RTMP, played by the stock page: the reference. A first page
 * is opened and discarded so that no row carries Chromium's cold start.
 * Server side, from the channel's event stream (XADD ids are Redis's clock in ms): last frame of a part
 * sent → part:ready, and part:ready → the transcoded rung's rendition:ready for the same part.
 * GPL-3.0-or-later.
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser';
import { freePort } from '../helpers/process';
import { AUTH } from '../helpers/app';
import { startStack, waitFor, type Stack } from '../e2e/player/stack';
import type { Bench, BenchRow } from './harness';
import { startNginxRtmp } from './nginx-rtmp';
import { bucketsBetween, measureStock, partReadyRows, readBuckets, stockRow } from './latency-stock';
import { findPagesDirs } from '../../engine/api/pages';
import { decodeEvent } from '../../core/model/live';
import {
  decodeLumas, defaultCode, latencies, partReadyDelays, streamIdMs, type TimedEvent, paintFilter, percentile, progressOutMs, samplePoints, sendClockStart, type BlockCode,
} from './latency-code';

export const WIDTH = 640;
export const HEIGHT = 360;
export const FPS = 25;
export const FRAME_MS = 1000 / FPS;
/** hls.js starts near its target and our page may need a few seconds at up to 1.25× to reach it (player/util.js followLiveEdge). */
const WARMUP_MS = 8000;
const COLLECT_MS = 20000;
const START_TIMEOUT_MS = 10000;
const RUNG = { name: '240p', width: 426, height: 240, videoBitrate: 400000 };
/** LATENCY_BENCH_GOP=<seconds> sets the publisher's keyframe interval (default 1 s; OBS's default is 2 s). */
const GOP_SECONDS = process.env.LATENCY_BENCH_GOP ? Number(process.env.LATENCY_BENCH_GOP) : 1;
if (!(GOP_SECONDS > 0 && GOP_SECONDS <= 10)) throw new Error(`LATENCY_BENCH_GOP: ${process.env.LATENCY_BENCH_GOP} is not a number of seconds in (0, 10]`);
/** LATENCY_BENCH_PART_TARGET=<seconds> sets the bench channel's part target (else the server's default). */
const PART_TARGET = process.env.LATENCY_BENCH_PART_TARGET ? Number(process.env.LATENCY_BENCH_PART_TARGET) : null;
/**
 * The rows a run measures (all when unset): LATENCY_BENCH_ROWS=stock-ll,stock-sep,stock-rung,stock-hls,ours-ll,ours-rung,ours-hls,nginx
 * (`stock-sep`: the stock page on `master.m3u8?audio=separate`, video and audio as separate renditions).
 */
export const ROW_KEYS = ['stock-ll', 'stock-sep', 'stock-rung', 'stock-hls', 'ours-ll', 'ours-rung', 'ours-hls', 'nginx'] as const;
export type RowKey = (typeof ROW_KEYS)[number];
/** The rows named in `value` (comma-separated), all when empty; throws on a name not in ROW_KEYS. Pure. */
export function selectedRows(value: string | undefined): Set<RowKey> {
  const names = (value ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  for (const n of names) if (!(ROW_KEYS as readonly string[]).includes(n)) throw new Error(`LATENCY_BENCH_ROWS: no row '${n}' (rows: ${ROW_KEYS.join(', ')})`);
  return new Set((names.length ? names : ROW_KEYS) as RowKey[]);
}
/** followLiveEdge options of our page (player/util.js). */
export interface FollowOptions { edgeParts?: number; slack?: number; relax?: boolean }
/** Our player's settings before 2026-12-03 (2.5 parts behind, 0.1 s slack, a stall's target increase kept), for A/B runs. */
const PREVIOUS_FOLLOW: FollowOptions = { edgeParts: 2.5, slack: 0.1, relax: false };
/**
 * Our page's variants named in `value` (pure): `now` (the player's defaults), `previous` (PREVIOUS_FOLLOW) or a
 * number (parts behind, else the defaults); [now] when empty.
 */
export function followVariants(value: string | undefined): { name: string; options: FollowOptions }[] {
  const names = (value ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  return (names.length ? names : ['now']).map((name) => {
    if (name === 'now') return { name, options: {} };
    if (name === 'previous') return { name, options: PREVIOUS_FOLLOW };
    const parts = Number(name);
    if (!(parts >= 2)) throw new Error(`LATENCY_BENCH_OURS: '${name}' is not now, previous or a number of parts (≥ 2)`);
    return { name: `${parts} parts`, options: { edgeParts: parts } };
  });
}
/**
 * LATENCY_BENCH_OURS=previous,now,previous,now: our player's LL-HLS rows (source, then the rung) measured once
 * per variant, in that order (an A/B on one channel); else once, with the player's settings.
 */
const OURS = followVariants(process.env.LATENCY_BENCH_OURS);

export interface ClockedPublisher {
  /** Wall time (ms) frame 0 was sent, null before the first progress report. */
  start(): number | null;
  stderr(): string;
  stop(): Promise<void>;
  /** Ends it with `signal` (SIGTERM: ffmpeg closes its output cleanly) and waits for it. */
  end?(signal: NodeJS.Signals): Promise<void>;
}

/** ffmpeg publishing the painted test picture (and a tone) to `url` in `format`, with progress reports. */
export function publishPainted(url: string, format: 'mpegts' | 'flv', code: BlockCode, seconds: number): ClockedPublisher {
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=${WIDTH}x${HEIGHT}:rate=${FPS}`,
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-vf', paintFilter(code),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', String(Math.round(FPS * GOP_SECONDS)), '-pix_fmt', 'yuv420p', '-b:v', '1000k',
    '-c:a', 'aac', '-b:a', '64k', '-progress', 'pipe:1', '-stats_period', '0.1',
    // As the README tells ffmpeg users: one AAC frame per PES, not ~0.3 s of them (FLV sends each frame anyway).
    ...(format === 'mpegts' ? ['-pes_payload_size', '0'] : []),
    '-f', format, url,
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
    async end(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export interface PageConfig {
  src: string;
  lowLatency: boolean;
  /** Pin this rendition height (hls.js level); null: the first level, ABR off. */
  height: number | null;
  code: BlockCode;
  /** hls.js with its default config (`new Hls()`, or only lowLatencyMode off), not the player's. */
  stock: boolean;
  /** Our page: followLiveEdge's options (none: the player's). */
  follow?: FollowOptions;
}

/** The bench page: hls.js plays `src` muted; every presented frame is read back into window.__bench.samples. */
function benchPage(cfg: PageConfig): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>latency bench</title>
<script src="/__latency-bench/hls.min.js"></script></head><body style="margin:0;background:#000">
<video id="v" muted autoplay playsinline></video>
<script type="module">
import { followLiveEdge, hlsConfig } from '/__latency-bench/util.js';
const samplePoints = ${samplePoints.toString()};
const decodeLumas = ${decodeLumas.toString()};
const cfg = ${JSON.stringify(cfg)};
const v = document.getElementById('v');
const canvas = document.createElement('canvas');
const ctx = canvas.getContext('2d', { willReadFrequently: true });
const bench = window.__bench = { samples: [], fatal: [], playing: false, stalls: 0 };
const hls = window.__hls = cfg.stock
  ? (cfg.lowLatency ? new Hls() : new Hls({ lowLatencyMode: false }))
  : new Hls(hlsConfig({ lowLatency: cfg.lowLatency }));
if (!cfg.stock && cfg.lowLatency) followLiveEdge(hls, v, Hls, cfg.follow || {}); // as player.js does
hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => {
  const i = cfg.height === null ? 0 : d.levels.findIndex((l) => l.height === cfg.height);
  if (i < 0) { bench.fatal.push('no level of height ' + cfg.height); return; }
  hls.startLevel = i;
  hls.currentLevel = i;
});
hls.on(Hls.Events.ERROR, (_e, d) => {
  if (d.fatal) bench.fatal.push(d.details);
  else if (d.details === 'bufferStalledError') bench.stalls++;
});
v.addEventListener('playing', () => { bench.playing = true; });
hls.loadSource(cfg.src);
hls.attachMedia(v);
v.play().catch(() => undefined);
const onFrame = () => {
  const at = Date.now();
  const w = v.videoWidth, h = v.videoHeight;
  if (w > 0) {
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.drawImage(v, 0, 0, w, h);
    const pts = samplePoints(cfg.code, w);
    const lumas = pts.map((p) => {
      const d = ctx.getImageData(p.x - 1, p.y - 1, 3, 3).data;
      let s = 0;
      for (let i = 0; i < d.length; i += 4) s += (d[i] + d[i + 1] + d[i + 2]) / 3;
      return s / 9;
    });
    bench.samples.push({ n: decodeLumas(lumas), at, height: h });
    if (bench.samples.length > 2000) bench.samples.shift();
  }
  v.requestVideoFrameCallback(onFrame);
};
v.requestVideoFrameCallback(onFrame);
</script></body></html>`;
}

interface PageSample { n: number; at: number; height: number }

/** One measurement (≤ 40 s): open the page on `origin`, wait for playback, warm up, collect; latencies in ms. */
export interface Measurement {
  /** Glass-to-glass latencies of the frames read back (ms). */
  ms: number[];
  /** Date.now() - hls.playingDate at the end (null without PROGRAM-DATE-TIME): the stream's own claim. */
  pdtLagMs: number | null;
  /** hls.js's target latency at the end (s): the playlist's hold-back plus what stalls added. */
  targetLatencyS: number | null;
  /** Buffer stalls hls.js reported in the collection window, and before it (start-up and warm-up). */
  stalls: number;
  startupStalls: number;
}

/** `label` names the screenshot kept in test-artifacts/latency-<label>.png. */
export async function measure(
  browser: TestBrowser, label: string, origin: string, cfg: PageConfig, sentStart: () => number | null, warmupMs = WARMUP_MS, collectMs = COLLECT_MS,
): Promise<Measurement> {
  const page: Page = await browser.newPage({ width: 800, height: 500 });
  try {
    const dirs = findPagesDirs(__dirname);
    const hlsJs = readFileSync(join(dirs.hlsJsDir, 'hls.min.js'));
    const util = readFileSync(join(dirs.playerDir, 'util.js'));
    await page.route((u) => u.pathname.startsWith('/__latency-bench/'), (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path.endsWith('/hls.min.js')) return route.fulfill({ status: 200, contentType: 'text/javascript', body: hlsJs });
      if (path.endsWith('/util.js')) return route.fulfill({ status: 200, contentType: 'text/javascript', body: util });
      return route.fulfill({ status: 200, contentType: 'text/html', body: benchPage(cfg) });
    });
    await page.goto(`${origin}/__latency-bench/page.html`);
    const state = () => page.evaluate<{ playing: boolean; fatal: string[]; count: number }>(
      '({ playing: window.__bench.playing, fatal: window.__bench.fatal, count: window.__bench.samples.length })');
    await waitFor(`playback of ${cfg.src}`, async () => {
      const s = await state();
      if (s.fatal.length) throw new Error(`hls.js fatal error on ${cfg.src}: ${s.fatal.join(', ')}`);
      return s.playing && s.count > 0;
    }, START_TIMEOUT_MS);
    await new Promise((r) => setTimeout(r, warmupMs));
    const startupStalls = await page.evaluate<number>('(() => { const n = window.__bench.stalls; window.__bench.stalls = 0; window.__bench.samples.length = 0; return n; })()');
    await new Promise((r) => setTimeout(r, collectMs));
    const samples = await page.evaluate<PageSample[]>('window.__bench.samples');
    await browser.screenshot(page, `latency-${label}`).catch(() => undefined);
    // hls.js's own view, for comparison only: how far the playing PROGRAM-DATE-TIME is behind the clock.
    const pdtLagMs = await page.evaluate<number | null>('window.__hls.playingDate ? Date.now() - window.__hls.playingDate.getTime() : null');
    const view = await page.evaluate<{ target: number | null; stalls: number }>('({ target: window.__hls.targetLatency, stalls: window.__bench.stalls })');
    const start = sentStart();
    if (start === null) throw new Error('the publisher reported no progress');
    const wanted = cfg.height === null ? samples : samples.filter((s) => s.height === cfg.height);
    const ms = latencies(wanted, start, FRAME_MS, cfg.code.bits);
    if (ms.length < collectMs / FRAME_MS / 4) throw new Error(`only ${ms.length} frames read back from ${cfg.src} (${samples.length} samples)`);
    return { ms, pdtLagMs, targetLatencyS: view.target, stalls: view.stalls, startupStalls };
  } finally {
    await page.close().catch(() => undefined);
  }
}

async function createChannel(stack: Stack, name: string): Promise<string> {
  const res = await fetch(`${stack.baseUrl}/api/channels`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name, ladder: [RUNG], ...(PART_TARGET ? { partTargetSeconds: PART_TARGET } : {}) }),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`cannot create the bench channel: ${res.status} ${body}`);
  await new Promise((r) => setTimeout(r, 100)); // the ingest registry hears about it over pub/sub
  return (JSON.parse(body) as { ingest: { srt: string } }).ingest.srt;
}

function row(metric: string, m: Measurement, referenceMs: number, note: string): BenchRow {
  const pdt = (m.pdtLagMs === null ? '' : `, PDT says ${m.pdtLagMs.toFixed(0)}`) + (m.targetLatencyS === null ? '' : `, hls.js target ${m.targetLatencyS.toFixed(2)} s`) + `, ${m.stalls} stall(s) in the window, ${m.startupStalls} before`;
  return {
    bench: 'latency', metric, ours: percentile(m.ms, 50), ...(Number.isFinite(referenceMs) ? { reference: referenceMs, referenceName: 'nginx-rtmp HLS 1 s fragments, p50' } : {}), unit: 'ms',
    note: `${note}; p10 ${percentile(m.ms, 10).toFixed(0)} p90 ${percentile(m.ms, 90).toFixed(0)}, ${m.ms.length} frames${pdt}; lower is better`,
  };
}

function distributionRow(metric: string, ms: number[], note: string): BenchRow {
  if (ms.length === 0) return { bench: 'latency', metric, ours: NaN, unit: 'ms', note: `no samples; ${note}` };
  const p = (q: number) => percentile(ms, q).toFixed(0);
  return { bench: 'latency', metric, ours: percentile(ms, 50), unit: 'ms', note: `${note}; p10 ${p(10)} p90 ${p(90)} p99 ${p(99)}, ${ms.length} parts` };
}

/** The channel's events so far (XRANGE), with their XADD times. */
async function channelEvents(stack: Stack, channel: string): Promise<TimedEvent[]> {
  const redis = stack.connect();
  try {
    const entries = (await redis.xrange(stack.store.keys.events(channel), '-', '+')) as [string, string[]][];
    return entries.flatMap(([id, fields]) => {
      const event = decodeEvent(fields);
      return event ? [{ ms: streamIdMs(id), event: event as TimedEvent['event'] }] : [];
    });
  } finally {
    redis.disconnect();
  }
}

async function run(): Promise<BenchRow[]> {
  const code = defaultCode(WIDTH);
  const browser = await launchBrowser();
  const stack = await startStack({ live: true, transcode: true }).catch(async (e: unknown) => {
    await browser.close();
    throw e;
  });
  const channel = 'latency';
  let ours: ClockedPublisher | null = null;
  let ref: ClockedPublisher | null = null;
  let nginx: Awaited<ReturnType<typeof startNginxRtmp>> | null = null;
  try {
    ours = publishPainted(await createChannel(stack, channel), 'mpegts', code, 400);
    const pub = ours;
    const master = `${stack.baseUrl}/live/${channel}/master.m3u8`;
    await waitFor('the master to list the source and the transcoded rung', async () => {
      const res = await fetch(master);
      return res.ok && (await res.text()).split('#EXT-X-STREAM-INF').length - 1 >= 2;
    }, 30000).catch((e: Error) => { throw new Error(`${e.message}; publisher: ${pub.stderr()}`); });
    // One discarded page first: Chromium's cold start (compiling hls.js on a busy machine) would otherwise slow
    // the first row's start-up, which a stock hls.js never wins back.
    await measure(browser, 'warm-up', stack.baseUrl, { src: master, lowLatency: true, height: HEIGHT, code, stock: true }, pub.start, 3000, 1000).catch(() => undefined);
    // Measured once the live window is full (as for most viewers, and past the transcoder's start): before, a
    // stock hls.js does not seek to its start point (the playlist still starts at media time 0) and the first
    // row met the channel's busiest seconds, which a stock player, never speeding up, keeps in its latency.
    await waitFor('a full live window', async () => (await stack.live.lastSegments(channel, 10)).filter((s) => s.durationPts !== null).length >= 7, 40000);
    const measuredFrom = Date.now();
    const page = (lowLatency: boolean, height: number, stock: boolean, follow: FollowOptions = {}): PageConfig => ({ src: master, lowLatency, height, code, stock, follow });
    const want = selectedRows(process.env.LATENCY_BENCH_ROWS);
    const partsBefore = await readBuckets(stack.ingestRegistry, 'beam_part_ready_delay_seconds');
    const stock = (label: string, lowLatency: boolean, height: number, src = master) => measureStock(browser, label, stack.baseUrl, { src, lowLatency, height, code }, pub.start, FRAME_MS);
    const stockLl = want.has('stock-ll') ? await stock('source-ll', true, HEIGHT) : null;
    const stockSeparate = want.has('stock-sep') ? await stock('source-ll-separate', true, HEIGHT, `${master}?audio=separate`) : null;
    const stockRungLl = want.has('stock-rung') ? await stock('rung-ll', true, RUNG.height) : null;
    const stockHls = want.has('stock-hls') ? await stock('source-hls', false, HEIGHT) : null;
    const oursLl: { variant: string; source: Measurement | null; rung: Measurement | null }[] = [];
    for (const [i, { name, options }] of OURS.entries()) {
      const tag = OURS.length > 1 ? `-${i}` : '';
      const source = want.has('ours-ll') ? await measure(browser, `source-ll${tag}`, stack.baseUrl, page(true, HEIGHT, false, options), pub.start) : null;
      const rung = want.has('ours-rung') ? await measure(browser, `rung-ll${tag}`, stack.baseUrl, page(true, RUNG.height, false, options), pub.start) : null;
      oursLl.push({ variant: OURS.length > 1 ? name : '', source, rung });
    }
    const sourceHls = want.has('ours-hls') ? await measure(browser, 'source-hls', stack.baseUrl, page(false, HEIGHT, false), pub.start) : null;
    const partsAfter = await readBuckets(stack.ingestRegistry, 'beam_part_ready_delay_seconds');
    const events = await channelEvents(stack, channel);
    const first = (await stack.live.segments(channel, 0, 1))[0];
    const start = pub.start();
    const delays = first && start !== null
      ? partReadyDelays(events, first.startPts, start, 90000 / FPS, FRAME_MS, measuredFrom)
      : { ready: [], rung: [] };
    await ours.stop(); // the reference runs on a machine without our publisher and transcoder busy

    let reference = NaN;
    if (want.has('nginx')) {
      nginx = await startNginxRtmp(await freePort(), await freePort());
      ref = publishPainted(nginx.rtmpUrl('bench'), 'flv', code, 60);
      const refPub = ref;
      const playlist = nginx.hlsUrl('bench');
      await waitFor('the nginx-rtmp playlist to have 3 fragments', async () => {
        const res = await fetch(playlist).catch(() => null);
        return res?.ok && (await res.text()).split('#EXTINF').length - 1 >= 3;
      }, 15000).catch((e: Error) => { throw new Error(`${e.message}; publisher: ${refPub.stderr()}`); });
      const nginxRun = await measureStock(browser, 'nginx-rtmp', nginx.origin, { src: playlist, lowLatency: true, height: null, code }, refPub.start, FRAME_MS);
      reference = percentile(nginxRun.ms, 50);
      process.stderr.write(`nginx-rtmp glass-to-glass p50 ${reference.toFixed(0)} ms (p10 ${percentile(nginxRun.ms, 10).toFixed(0)}, p90 ${percentile(nginxRun.ms, 90).toFixed(0)}, ${nginxRun.ms.length} frames, ${nginxRun.stalls} stall(s))\n`);
    }
    const stockRef = { ms: reference, name: 'nginx-rtmp HLS 1 s fragments, p50' };
    const aim = (variant: string) => (variant ? ` (${variant})` : '');
    return [
      ...(stockLl ? [stockRow('glass-to-glass p50, source rung, LL-HLS, stock hls.js', stockLl, stockRef, '`new Hls()` defaults; target ≤ 1500 ms')] : []),
      ...(stockSeparate ? [stockRow('glass-to-glass p50, source rung, LL-HLS, stock hls.js, audio as a separate rendition', stockSeparate, stockRef, '`new Hls()` defaults on master.m3u8?audio=separate (the form before 2026-12-03)')] : []),
      ...(stockRungLl ? [stockRow(`glass-to-glass p50, ${RUNG.name} rung, LL-HLS, stock hls.js`, stockRungLl, stockRef, '`new Hls()` defaults, rung pinned; target ≤ 2000 ms')] : []),
      ...(stockHls ? [stockRow('glass-to-glass p50, source rung, HLS, stock hls.js', stockHls, stockRef, '`new Hls({ lowLatencyMode: false })`')] : []),
      ...oursLl.flatMap(({ variant, source, rung }) => [
        ...(source ? [row(`glass-to-glass p50, source rung, LL-HLS, our player${aim(variant)}`, source, reference, 'player/util.js hlsConfig; target ≤ 1000 ms')] : []),
        ...(rung ? [row(`glass-to-glass p50, ${RUNG.name} rung, LL-HLS, our player${aim(variant)}`, rung, reference, 'transcoded rung pinned; target ≤ 1300 ms')] : []),
      ]),
      ...(sourceHls ? [row('glass-to-glass p50, source rung, HLS (ll=0), our player', sourceHls, reference, 'hlsConfig with lowLatencyMode off')] : []),
      distributionRow('server: last frame of a part sent → part:ready, p50', delays.ready, 'encoder + SRT latency + ingest, from the event stream'),
      distributionRow(`server: source part:ready → ${RUNG.name} rendition:ready, p50`, delays.rung, 'target ≤ 300 ms'),
      ...(partsAfter ? partReadyRows(bucketsBetween(partsBefore, partsAfter), PART_TARGET) : []),
    ];
  } finally {
    await ours?.stop();
    await ref?.stop();
    await nginx?.close();
    await browser.close();
    await stack.close();
  }
}

export const latencyBench: Bench = {
  name: 'latency',
  description: 'glass-to-glass latency in Chromium + hls.js (frame number painted by ffmpeg, read back from a canvas) vs nginx-rtmp HLS',
  run,
};
