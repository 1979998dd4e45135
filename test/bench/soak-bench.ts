/**
 * Soak: many 1080p30 channels (empty ladders) published over SRT in real time into one Beamline process
 * (`--roles engine,ingest`, its embedded redis-server) for minutes. Every 5 s: the process's CPU and RSS,
 * Redis `used_memory`, and each channel's live media playlist (segments lost: a media sequence number
 * skipped between samples; late: the newest segment ends more than two target durations before now, by
 * its PROGRAM-DATE-TIME). Channels keep a 60 s DVR window, so memory should be flat once it is full (from
 * 90 s on, the slope is fitted). `SOAK_SECONDS` (default 600) and `SOAK_SETS` (default `20x6,40x3`:
 * channels × Mbps) choose the runs. Not in the test suite: it loads the machine for the whole run.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exitOf, freePort, waitForOutput } from '../helpers/process';
import { AUTH, TEST_API_TOKEN } from '../helpers/app';
import type { Bench, BenchRow } from './harness';

const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const SAMPLE_MS = 5000;
const DVR_SECONDS = 60;
/** Memory is judged from here on: the DVR window full, plus margin. */
const FLAT_FROM_S = 90;

export interface SoakSet {
  channels: number;
  mbps: number;
}

/** `20x6,40x3` → sets; throws on anything else. */
export function parseSoakSets(text: string): SoakSet[] {
  return text.split(',').map((part) => {
    const m = /^\s*(\d+)x(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!m) throw new Error(`SOAK_SETS: "${part}" is not <channels>x<Mbps>`);
    const set = { channels: Number(m[1]), mbps: Number(m[2]) };
    if (set.channels < 1 || set.channels > 200 || !(set.mbps > 0 && set.mbps <= 50)) throw new Error(`SOAK_SETS: "${part}" is out of range (1-200 channels, 0-50 Mbps)`);
    return set;
  });
}

/** Least-squares slope of y over x (per unit of x); 0 with fewer than two points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const num = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

/** The newest media sequence number of a media playlist and when its last segment ends (ms, by PDT); null without segments. */
export function playlistEdge(text: string): { lastMsn: number; endMs: number; firstMsn: number } | null {
  const seq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? NaN);
  let msn = seq - 1;
  let pdt: number | null = null;
  let endMs = NaN;
  for (const line of text.split('\n')) {
    const d = /^#EXT-X-PROGRAM-DATE-TIME:(.+)$/.exec(line);
    if (d) pdt = Date.parse(d[1] as string);
    const inf = /^#EXTINF:([\d.]+),/.exec(line);
    if (inf) {
      msn++;
      if (pdt !== null) endMs = pdt + Number(inf[1]) * 1000;
      pdt = null;
    }
  }
  return Number.isFinite(seq) && msn >= seq ? { lastMsn: msn, endMs, firstMsn: seq } : null;
}

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

function makeSource(dir: string, mbps: number): string {
  const file = join(dir, `src-1080p30-${mbps}M.ts`);
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', `${mbps}M`, '-maxrate', `${mbps}M`, '-bufsize', `${mbps}M`, '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', file,
  ]);
  return file;
}

interface ChannelWatch {
  name: string;
  lastMsn: number | null;
  seen: number;
  lost: number;
  lateSamples: number;
  maxEdgeAgeMs: number;
}

async function runSet(set: SoakSet, seconds: number, dir: string): Promise<BenchRow[]> {
  const file = makeSource(dir, set.mbps);
  const [http, srt, rtmp] = [await freePort(), await freePort(), await freePort()];
  const data = join(dir, `beam-${set.channels}x${set.mbps}`);
  // SOAK_NODE_ARGS: extra node arguments for the measured process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
  const nodeArgs = (process.env.SOAK_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const beam = spawn(process.execPath, [...nodeArgs, resolve(__dirname, '../../beamline.js'), '--roles', 'engine,ingest'], {
    env: {
      PATH: process.env.PATH ?? '', BEAM_APP_PORT: String(http), BEAM_APP_HOST: '127.0.0.1', BEAM_SRT_PORT: String(srt), BEAM_SRT_HOST: '127.0.0.1',
      BEAM_RTMP_PORT: String(rtmp), BEAM_RTMP_HOST: '127.0.0.1', BEAM_DATA_DIR: data, BEAM_LOG_LEVEL: 'warn', BEAM_API_TOKEN: TEST_API_TOKEN,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const senders: ChildProcess[] = [];
  // The process's warnings and errors, for the rows' notes (a publish that ends says why in the log).
  const problems: string[] = [];
  let logTail = '';
  const onLog = (d: Buffer) => {
    logTail += d.toString();
    const lines = logTail.split('\n');
    logTail = lines.pop() ?? '';
    for (const line of lines) if (/"level":(40|50|60)/.test(line)) problems.push(line.slice(0, 300));
    if (problems.length > 200) problems.splice(0, problems.length - 200);
  };
  try {
    await waitForOutput(beam, /Beamline is running/, 30000);
    beam.stdout?.on('data', onLog);
    beam.stderr?.on('data', onLog);
    const base = `http://127.0.0.1:${http}`;
    const watches: ChannelWatch[] = [];
    const keys: string[] = [];
    for (let i = 0; i < set.channels; i++) {
      const name = `soak${i}`;
      const res = await fetch(`${base}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name, ladder: [], dvrWindowSeconds: DVR_SECONDS }) });
      if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${await res.text()}`);
      keys.push(((await res.json()) as { streamKey: string }).streamKey);
      watches.push({ name, lastMsn: null, seen: 0, lost: 0, lateSamples: 0, maxEdgeAgeMs: 0 });
    }
    const redisPid = Number(execFileSync('pgrep', ['-f', `^redis-server unixsocket:${join(data, 'redis.sock')}`]).toString().trim().split('\n')[0]);
    const redisMemMb = (): number => Number(/used_memory:(\d+)/.exec(execFileSync('redis-cli', ['-s', join(data, 'redis.sock'), 'info', 'memory']).toString())?.[1] ?? 0) / 1e6;
    for (const key of keys) {
      const s = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-stream_loop', '-1', '-i', file, '-t', String(seconds), '-c', 'copy', '-f', 'mpegts', `srt://127.0.0.1:${srt}?streamid=${key}&pkt_size=1316`], { stdio: 'ignore' });
      senders.push(s);
    }
    const t0 = Date.now();
    const n0 = cpuSeconds(beam.pid as number);
    const r0 = cpuSeconds(redisPid);
    // Each sender's CPU as last read (a sender that exited keeps its last reading).
    const senderCpu = senders.map((s) => cpuSeconds(s.pid as number));
    const senders0 = senderCpu.reduce((a, b) => a + b, 0);
    const rss: { x: number; y: number }[] = [];
    const redisMem: { x: number; y: number }[] = [];
    let sendersCpu = 0;
    while (Date.now() - t0 < seconds * 1000) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      const at = (Date.now() - t0) / 1000;
      rss.push({ x: at, y: rssMb(beam.pid as number) });
      redisMem.push({ x: at, y: redisMemMb() });
      senders.forEach((s, i) => {
        try {
          senderCpu[i] = cpuSeconds(s.pid as number);
        } catch {
          // exited: its last reading stands
        }
      });
      sendersCpu = senderCpu.reduce((a, b) => a + b, 0) - senders0;
      await Promise.all(watches.map(async (w) => {
        const res = await fetch(`${base}/live/${w.name}/v-source.m3u8`).catch(() => null);
        if (!res?.ok) return;
        const edge = playlistEdge(await res.text());
        if (!edge) return;
        if (w.lastMsn !== null && edge.firstMsn > w.lastMsn + 1) w.lost += edge.firstMsn - w.lastMsn - 1;
        if (w.lastMsn === null || edge.lastMsn > w.lastMsn) {
          w.seen += w.lastMsn === null ? edge.lastMsn - edge.firstMsn + 1 : edge.lastMsn - w.lastMsn;
          w.lastMsn = edge.lastMsn;
        }
        const age = Date.now() - edge.endMs;
        if (at > 10) {
          w.maxEdgeAgeMs = Math.max(w.maxEdgeAgeMs, age);
          if (age > 4000) w.lateSamples++;
        }
      }));
    }
    const elapsed = (Date.now() - t0) / 1000;
    // How each channel ended up: live, or idle with the reason its publish ended.
    const states = new Map<string, number>();
    for (const w of watches) {
      const st = (await (await fetch(`${base}/api/channels/${w.name}`, { headers: AUTH })).json().catch(() => null)) as { state?: string; status?: { reason?: string | null } } | null;
      const k = `${st?.state ?? '?'}${st?.status?.reason ? ` (${st.status.reason.slice(0, 80)})` : ''}`;
      states.set(k, (states.get(k) ?? 0) + 1);
    }
    if (problems.length) process.stderr.write(`soak ${set.channels}x${set.mbps}: ${problems.length} warnings/errors logged, the last:\n${problems.slice(-5).join('\n')}\n`);
    const node = cpuSeconds(beam.pid as number) - n0;
    const redis = cpuSeconds(redisPid) - r0;
    const flat = (pts: { x: number; y: number }[]) => pts.filter((p) => p.x >= FLAT_FROM_S);
    const label = `${set.channels} × ${set.mbps} Mbps, ${Math.round(elapsed)} s`;
    const expected = Math.floor(elapsed / 2);
    const seen = watches.reduce((a, w) => a + w.seen, 0);
    const lost = watches.reduce((a, w) => a + w.lost, 0);
    const late = watches.reduce((a, w) => a + w.lateSamples, 0);
    const worst = Math.max(...watches.map((w) => w.maxEdgeAgeMs));
    const last = (pts: { y: number }[]) => pts[pts.length - 1]?.y ?? 0;
    const firstFlat = (pts: { x: number; y: number }[]) => flat(pts)[0]?.y ?? 0;
    return [
      { bench: 'soak', metric: `${label}: CPU per channel (process + redis-server)`, ours: (node + redis) / elapsed / set.channels, unit: 'CPU s/s', note: `process ${(node / elapsed).toFixed(2)} + redis ${(redis / elapsed).toFixed(2)} cores in all; the ${set.channels} ffmpeg senders used ${(sendersCpu / elapsed).toFixed(2)} more` },
      { bench: 'soak', metric: `${label}: segments listed / lost / late samples`, ours: seen, unit: 'segments', note: `about ${expected} per channel expected (${expected * set.channels} in all); lost ${lost}; ${late} samples with the newest segment > 4 s old (worst ${(worst / 1000).toFixed(1)} s); channels at the end: ${[...states].map(([k, n]) => `${n} ${k}`).join(', ')}; ${problems.length} warnings/errors logged` },
      { bench: 'soak', metric: `${label}: RSS from ${FLAT_FROM_S} s → end`, ours: last(rss), unit: 'MB', note: `${firstFlat(rss).toFixed(0)} → ${last(rss).toFixed(0)} MB; slope ${(slope(flat(rss)) * 60).toFixed(2)} MB/min` },
      { bench: 'soak', metric: `${label}: Redis used_memory from ${FLAT_FROM_S} s → end`, ours: last(redisMem), unit: 'MB', note: `${firstFlat(redisMem).toFixed(0)} → ${last(redisMem).toFixed(0)} MB; slope ${(slope(flat(redisMem)) * 60).toFixed(2)} MB/min (DVR window ${DVR_SECONDS} s)` },
    ];
  } finally {
    for (const s of senders) s.kill('SIGKILL');
    beam.kill('SIGTERM');
    await exitOf(beam, 15000);
  }
}

export const soakBench: Bench = {
  name: 'soak',
  onlyWhenNamed: true,
  description: 'many 1080p30 SRT channels into one process for minutes (SOAK_SECONDS, SOAK_SETS): CPU per channel, lost/late segments, RSS and Redis memory flat',
  async run(): Promise<BenchRow[]> {
    const seconds = Number(process.env.SOAK_SECONDS ?? 600);
    if (!(seconds >= 20 && seconds <= 7200)) throw new Error('SOAK_SECONDS must be 20-7200');
    const sets = parseSoakSets(process.env.SOAK_SETS ?? '20x6,40x3');
    const dir = mkdtempSync(join(tmpdir(), 'beamline-soak-'));
    try {
      const rows: BenchRow[] = [];
      for (const set of sets) rows.push(...(await runSet(set, seconds, dir)));
      return rows;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
