/**
 * SRT pull CPU: a real Beamline process (ingest + engine roles, embedded redis-server) takes one 6 Mbps
 * 1080p30 channel over SRT in real time; its CPU (from /proc) is read over the same wall time with no SRT
 * reader, then with READERS ffmpeg readers (`#!::r=main,m=request`, `-c copy -f null`). Ours: the Beamline
 * CPU each reader adds; the reference: the CPU of one of those ffmpeg readers (libsrt receive + TS demux),
 * i.e. what the far end of one reader costs. Refuses to print figures unless every reader was fed.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitForOutput, exitOf } from '../helpers/process';
import { AUTH, TEST_API_TOKEN } from '../helpers/app';
import type { Bench, BenchRow } from './harness';

const SOURCE_SECONDS = 45;
const WINDOW_SECONDS = 10;
const READERS = 8;
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function makeSource(dir: string): string {
  const file = join(dir, 'src-1080p30-6M.ts');
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', String(SOURCE_SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '6M', '-maxrate', '6M', '-bufsize', '6M', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', file,
  ]);
  return file;
}

/** A Prometheus sample's value (first match) from the exposition text. */
function sample(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

export const srtPullBench: Bench = {
  name: 'srt-pull',
  description: `Beamline CPU per SRT reader (${READERS} ffmpeg readers of one 6 Mbps 1080p30 channel) vs the CPU of one such reader`,
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-srt-pull-bench-'));
    const children: ChildProcess[] = [];
    const [http, srt, rtmp] = [await freePort(), await freePort(), await freePort()];
    const beam = spawn(process.execPath, [resolve(__dirname, '../../beamline.js'), '--roles', 'engine,ingest'], {
      env: { PATH: process.env.PATH ?? '', BEAM_APP_PORT: String(http), BEAM_APP_HOST: '127.0.0.1', BEAM_SRT_PORT: String(srt), BEAM_SRT_HOST: '127.0.0.1', BEAM_RTMP_PORT: String(rtmp), BEAM_RTMP_HOST: '127.0.0.1', BEAM_DATA_DIR: join(dir, 'beam'), BEAM_LOG_LEVEL: 'warn', BEAM_API_TOKEN: TEST_API_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const file = makeSource(dir);
      await waitForOutput(beam, /Beamline is running/, 20000);
      const key = ((await (await fetch(`http://127.0.0.1:${http}/api/channels/main`, { headers: AUTH })).json()) as { streamKey: string }).streamKey;
      const sender = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-i', file, '-c', 'copy', '-f', 'mpegts', `srt://127.0.0.1:${srt}?streamid=${key}&pkt_size=1316`], { stdio: ['ignore', 'ignore', 'pipe'] });
      children.push(sender);
      await sleep(8000); // a few segments closed
      const pid = beam.pid as number;
      const a0 = cpuSeconds(pid);
      await sleep(WINDOW_SECONDS * 1000);
      const idle = cpuSeconds(pid) - a0;

      const url = `srt://127.0.0.1:${srt}?streamid=${encodeURIComponent('#!::r=main,m=request')}`;
      const readers = Array.from({ length: READERS }, () => {
        const c = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', url, '-c', 'copy', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
        children.push(c);
        return c;
      });
      await sleep(4000); // connected, probed, following the pacing
      const b0 = cpuSeconds(pid);
      const r0 = readers.map((r) => cpuSeconds(r.pid as number));
      await sleep(WINDOW_SECONDS * 1000);
      const withReaders = cpuSeconds(pid) - b0;
      const readerCpu = readers.map((r, i) => cpuSeconds(r.pid as number) - (r0[i] as number));
      const metrics = await (await fetch(`http://127.0.0.1:${http}/metrics`, { headers: AUTH })).text();
      const fed = sample(metrics, 'beam_srt_readers');
      const bytes = sample(metrics, 'beam_srt_reader_bytes_total');
      if (sender.exitCode !== null || fed !== READERS || bytes < READERS * 1e6) {
        throw new Error(`the readers were not fed (sender exit ${sender.exitCode}, ${fed} readers, ${bytes} bytes sent)`);
      }
      const perReader = (withReaders - idle) / READERS / WINDOW_SECONDS;
      const refPerReader = readerCpu.reduce((n, x) => n + x, 0) / READERS / WINDOW_SECONDS;
      return [
        { bench: 'srt-pull', metric: 'Beamline CPU per SRT reader (6 Mbps)', ours: perReader * 100, reference: refPerReader * 100, referenceName: 'one ffmpeg -i srt://…m=request -c copy -f null - reader', unit: '% of a core', note: 'lower is better; ours paces the shared TS mux out over SRT' },
        { bench: 'srt-pull', metric: 'Beamline CPU, channel ingest alone', ours: (idle / WINDOW_SECONDS) * 100, unit: '% of a core', note: `with ${READERS} readers: ${((withReaders / WINDOW_SECONDS) * 100).toFixed(1)}` },
      ];
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
      beam.kill('SIGTERM');
      await exitOf(beam, 10000);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
