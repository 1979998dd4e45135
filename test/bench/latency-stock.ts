/**
 * The stock hls.js page of the glass-to-glass bench (latency-bench.ts runs it beside our player and nginx-rtmp,
 * on the same channel and publisher): hls.js exactly as an embed uses it, `new Hls()` (its default config,
 * lowLatencyMode on) or `new Hls({ lowLatencyMode: false })`, nothing of player/. The page reads the painted
 * frame number back from every presented frame (latency-code.ts) and records what a stock client does at
 * start-up: when its first media playlist came, when it started playing, the buffer stalls it reported before
 * and after that (each stall adds a second to a stock hls.js's target latency, never won back), and its own
 * `latency` / `targetLatency` at the end. Rows: glass-to-glass p50 over 20 s after an 8 s warm-up, source and
 * a transcoded rung with LL-HLS, the source with plain HLS; and the server side, `beam_part_ready_delay_seconds`
 * (a part's first frame at ingest to its announcement) p50/p99 over the same window, from the ingest metrics.
 * GPL-3.0-or-later.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { Registry } from 'prom-client';
import type { TestBrowser } from '../helpers/browser';
import { waitFor } from '../e2e/player/stack';
import { findPagesDirs } from '../../engine/api/pages';
import type { BenchRow } from './harness';
import { decodeLumas, latencies, percentile, samplePoints, type BlockCode } from './latency-code';

export const STOCK_WARMUP_MS = 8000;
export const STOCK_COLLECT_MS = 20000;
const START_TIMEOUT_MS = 15000;

export interface StockPage {
  src: string;
  /** hls.js's own default (true) or `{ lowLatencyMode: false }`. */
  lowLatency: boolean;
  /** Pin the level of this height (a stock embed that offers a quality menu); null: hls.js chooses. */
  height: number | null;
  code: BlockCode;
}

export interface StockMeasurement {
  /** Glass-to-glass latencies of the frames read back in the collection window, ms. */
  ms: number[];
  /** Page script start → first media playlist loaded, → first `playing`, ms. */
  firstPlaylistMs: number | null;
  playingMs: number | null;
  /** Buffer stalls before the collection window (start-up and warm-up) and in it. */
  startupStalls: number;
  stalls: number;
  /** hls.js's `latency` and `targetLatency` at the end, s. */
  hlsLatencyS: number | null;
  targetLatencyS: number | null;
}

/** The page: hls.js from our node_modules plays `src` muted, nothing else configured. */
export function stockPageHtml(cfg: StockPage): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>stock hls.js</title>
<script src="/__latency-stock/hls.min.js"></script></head><body style="margin:0;background:#000">
<video id="v" muted autoplay playsinline></video>
<script>
const samplePoints = ${samplePoints.toString()};
const decodeLumas = ${decodeLumas.toString()};
const cfg = ${JSON.stringify(cfg)};
const t0 = Date.now();
const v = document.getElementById('v');
const canvas = document.createElement('canvas');
const ctx = canvas.getContext('2d', { willReadFrequently: true });
const bench = window.__bench = { t0, samples: [], fatal: [], stalls: [], firstPlaylist: null, playing: null, log: [], startLog: [] };
const hls = window.__hls = cfg.lowLatency ? new Hls() : new Hls({ lowLatencyMode: false });
// The newest events, for a failure's message.
// And the first ones (start-up), which LATENCY_BENCH_STOCK_LOG=1 prints.
const note = (...a) => {
  const line = [((Date.now() - t0) / 1000).toFixed(2), ...a].join(' ');
  bench.log.push(line);
  if (bench.log.length > 40) bench.log.shift();
  if (bench.startLog.length < 120) bench.startLog.push(line);
};
const lat = () => 'hls.js latency ' + (hls.latency || 0).toFixed(2) + ' sync ' + (hls.liveSyncPosition ?? -1).toFixed(2);
hls.on(Hls.Events.LEVEL_LOADED, (_e, d) => note('level', d.level, 'edge', d.details.edge.toFixed(2), 'parts', (d.details.partList || []).length, d.details.lastPartSn + '.' + d.details.lastPartIndex, lat()));
hls.on(Hls.Events.FRAG_LOADING, (_e, d) => note('loading', d.frag.type, d.frag.sn + (d.part ? '.' + d.part.index : ''), d.part ? d.part.start.toFixed(2) : d.frag.start.toFixed(2)));
for (const ev of ['MANIFEST_LOADED', 'MANIFEST_PARSED', 'LEVEL_LOADING', 'AUDIO_TRACK_LOADING', 'AUDIO_TRACK_LOADED', 'INIT_PTS_FOUND', 'BUFFER_CODECS', 'BUFFER_CREATED', 'FRAG_PARSED']) {
  hls.on(Hls.Events[ev], (_e, d) => note(ev.toLowerCase(), d && d.frag ? d.frag.type + ' ' + d.frag.sn + (d.part ? '.' + d.part.index : '') : '', d && d.url ? d.url.split('/').pop() : ''));
}
hls.on(Hls.Events.FRAG_BUFFERED, (_e, d) => note('buffered', d.frag.type, d.frag.sn + (d.part ? '.' + d.part.index : ''), 'buffer end', bufferEnd()));
v.addEventListener('playing', () => note('video playing', v.currentTime.toFixed(2), lat()));
const bufferEnd = () => (v.buffered.length ? v.buffered.end(v.buffered.length - 1).toFixed(2) : '-');
hls.on(Hls.Events.FRAG_LOADED, (_e, d) => note('loaded', d.frag.type, d.frag.sn + (d.part ? '.' + d.part.index : ''), 'buffer end', bufferEnd(), 'at', v.currentTime.toFixed(2)));
for (const ev of ['waiting', 'seeking', 'seeked', 'pause', 'ended', 'error']) v.addEventListener(ev, () => note('video', ev, v.currentTime.toFixed(2), 'buffer end', bufferEnd()));
hls.on(Hls.Events.MANIFEST_PARSED, (_e, d) => {
  if (cfg.height === null) return;
  const i = d.levels.findIndex((l) => l.height === cfg.height);
  if (i < 0) { bench.fatal.push('no level of height ' + cfg.height); return; }
  hls.startLevel = i;
  hls.currentLevel = i;
});
hls.on(Hls.Events.LEVEL_LOADED, () => { if (bench.firstPlaylist === null) bench.firstPlaylist = Date.now(); });
hls.on(Hls.Events.ERROR, (_e, d) => {
  if (d.fatal) bench.fatal.push(d.details);
  else if (d.details === 'bufferStalledError') bench.stalls.push(Date.now());
  note('error', d.details, d.fatal ? 'fatal' : '');
});
v.addEventListener('playing', () => { if (bench.playing === null) bench.playing = Date.now(); });
hls.loadSource(cfg.src);
hls.attachMedia(v);
v.play().catch(() => undefined);
const onFrame = () => {
  const at = Date.now();
  const w = v.videoWidth, h = v.videoHeight;
  if (w > 0) {
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.drawImage(v, 0, 0, w, h);
    const lumas = samplePoints(cfg.code, w).map((p) => {
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

interface PageState {
  t0: number;
  samples: { n: number; at: number; height: number }[];
  fatal: string[];
  stalls: number[];
  firstPlaylist: number | null;
  playing: number | null;
  latency: number | null;
  target: number | null;
  log: string[];
  startLog: string[];
  currentTime: number;
}

const readState = (page: Page) => page.evaluate<PageState>(
  '({ ...window.__bench, latency: window.__hls.latency || null, target: window.__hls.targetLatency, currentTime: document.getElementById("v").currentTime })');

/**
 * Opens the stock page on `origin` (same-origin with the stream: a Playwright route serves it), waits for
 * playback, warms up, collects. `sentStart` is when frame 0 left the publisher; `frameMs` its frame interval.
 * `label` names the screenshot kept in test-artifacts/latency-stock-<label>.png.
 */
export async function measureStock(
  browser: TestBrowser, label: string, origin: string, cfg: StockPage, sentStart: () => number | null, frameMs: number,
  warmupMs = STOCK_WARMUP_MS, collectMs = STOCK_COLLECT_MS,
): Promise<StockMeasurement> {
  const page = await browser.newPage({ width: 800, height: 500 });
  try {
    const hlsJs = readFileSync(join(findPagesDirs(__dirname).hlsJsDir, 'hls.min.js'));
    await page.route((u) => u.pathname.startsWith('/__latency-stock/'), (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path.endsWith('/hls.min.js')) return route.fulfill({ status: 200, contentType: 'text/javascript', body: hlsJs });
      return route.fulfill({ status: 200, contentType: 'text/html', body: stockPageHtml(cfg) });
    });
    await page.goto(`${origin}/__latency-stock/page.html`);
    await waitFor(`stock hls.js playing ${cfg.src}`, async () => {
      const s = await readState(page);
      if (s.fatal.length) throw new Error(`hls.js fatal error on ${cfg.src}: ${s.fatal.join(', ')}`);
      return s.playing !== null && s.samples.length > 0;
    }, START_TIMEOUT_MS);
    await new Promise((r) => setTimeout(r, warmupMs));
    const windowStart = Date.now();
    await new Promise((r) => setTimeout(r, collectMs));
    const s = await readState(page);
    if (process.env.LATENCY_BENCH_STOCK_LOG) process.stderr.write(`stock hls.js ${label} start-up:\n${s.startLog.join('\n')}\n`);
    await browser.screenshot(page, `latency-stock-${label}`).catch(() => undefined);
    const start = sentStart();
    if (start === null) throw new Error('the publisher reported no progress');
    const wanted = s.samples.filter((x) => x.at >= windowStart && (cfg.height === null || x.height === cfg.height));
    const ms = latencies(wanted, start, frameMs, cfg.code.bits);
    if (ms.length < collectMs / frameMs / 4) {
      throw new Error(`only ${ms.length} frames read back from ${cfg.src} (${s.samples.length} samples; currentTime ${s.currentTime}, `
        + `${s.stalls.length} stalls, fatal: ${s.fatal.join(', ') || 'none'}); hls.js's last events:\n${s.log.join('\n')}`);
    }
    return {
      ms,
      firstPlaylistMs: s.firstPlaylist === null ? null : s.firstPlaylist - s.t0,
      playingMs: s.playing === null ? null : s.playing - s.t0,
      startupStalls: s.stalls.filter((t) => t < windowStart).length,
      stalls: s.stalls.filter((t) => t >= windowStart).length,
      hlsLatencyS: s.latency,
      targetLatencyS: s.target,
    };
  } finally {
    await page.close().catch(() => undefined);
  }
}

/** One row: glass-to-glass p50 against the reference's, with what hls.js said and did in the note. */
export function stockRow(metric: string, m: StockMeasurement, reference: { ms: number; name: string }, note: string): BenchRow {
  const f = (v: number | null, digits = 0) => (v === null ? '-' : v.toFixed(digits));
  return {
    bench: 'latency', metric, ours: percentile(m.ms, 50), ...(Number.isFinite(reference.ms) ? { reference: reference.ms, referenceName: reference.name } : {}), unit: 'ms',
    note: `${note}; p10 ${percentile(m.ms, 10).toFixed(0)} p90 ${percentile(m.ms, 90).toFixed(0)}, ${m.ms.length} frames; `
      + `hls.js latency ${f(m.hlsLatencyS, 2)} s, target ${f(m.targetLatencyS, 2)} s; ${m.stalls} stall(s) in the window, ${m.startupStalls} before; `
      + `first playlist ${f(m.firstPlaylistMs)} ms, playing ${f(m.playingMs)} ms after the page started; lower is better`,
  };
}

/** Cumulative bucket counts of a histogram: `le` (Infinity last) → observations at or below it. */
export type Buckets = { le: number; count: number }[];

/** The histogram's cumulative buckets now, from a prom-client registry; null when it is not there. */
export async function readBuckets(registry: Registry, name: string): Promise<Buckets | null> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return null;
  const got = await metric.get();
  return (got.values as { value: number; labels: Record<string, string | number>; metricName?: string }[])
    .filter((v) => v.metricName === `${name}_bucket`)
    .map((v) => ({ le: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), count: v.value }))
    .sort((a, b) => a.le - b.le);
}

/** What was observed between two readings of the same histogram. */
export function bucketsBetween(before: Buckets | null, after: Buckets): Buckets {
  return after.map((b) => ({ le: b.le, count: b.count - (before?.find((x) => x.le === b.le)?.count ?? 0) }));
}

/**
 * The q-quantile (0..1) of a histogram, interpolated linearly inside its bucket as Prometheus's
 * histogram_quantile does (the first bucket from 0; a quantile in the +Inf bucket is the last finite bound).
 * NaN with no observations.
 */
export function histogramQuantile(buckets: Buckets, q: number): number {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (!(total > 0)) return NaN;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lowerLe;
      const inBucket = b.count - lowerCount;
      return inBucket > 0 ? lowerLe + ((b.le - lowerLe) * (rank - lowerCount)) / inBucket : b.le;
    }
    lowerLe = b.le;
    lowerCount = b.count;
  }
  return lowerLe;
}

/** Rows of `beam_part_ready_delay_seconds` observed in a window: p50 and p99, ms. */
export function partReadyRows(window: Buckets, partTargetS: number | null): BenchRow[] {
  const n = window[window.length - 1]?.count ?? 0;
  const note = `beam_part_ready_delay_seconds (a part's first frame at ingest → part:ready written; the part's own duration${partTargetS ? ` of ~${partTargetS} s` : ''} plus ingest's delay), ${n} parts in the window, bucket-interpolated`;
  return [50, 99].map((p) => ({
    bench: 'latency', metric: `server: first frame of a part → part:ready, p${p}`, ours: histogramQuantile(window, p / 100) * 1000, unit: 'ms', note,
  }));
}
