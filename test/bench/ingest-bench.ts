/**
 * Ingest CPU: one 6 Mbps 1080p30 channel published over SRT in real time into a real Beamline process
 * (ingest + engine roles, embedded redis-server), side by side with ffmpeg receiving the same stream from
 * the same sender (`ffmpeg -i srt://…?mode=listener -c copy -f null -`). CPU is read from /proc for each
 * process over the same real-time publish, and reported per second of media; the channels one core
 * sustains follow from ours.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitForOutput, exitOf } from '../helpers/process';
import { AUTH, TEST_API_TOKEN } from '../helpers/app';
import type { Bench, BenchRow } from './harness';

const SECONDS = 12;
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU seconds a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

function makeSource(dir: string): string {
  const file = join(dir, 'src-1080p30-6M.ts');
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', String(SECONDS), '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '6M', '-maxrate', '6M', '-bufsize', '6M', '-g', '60', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', file,
  ]);
  return file;
}

function send(file: string, url: string): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-i', file, '-c', 'copy', '-f', 'mpegts', url], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function measureOurs(file: string, dir: string): Promise<{ node: number; redis: number }> {
  const [http, srt, rtmp] = [await freePort(), await freePort(), await freePort()];
  const beam = spawn(process.execPath, [resolve(__dirname, '../../beamline.js'), '--roles', 'engine,ingest'], {
    env: { PATH: process.env.PATH ?? '', BEAM_APP_PORT: String(http), BEAM_APP_HOST: '127.0.0.1', BEAM_SRT_PORT: String(srt), BEAM_SRT_HOST: '127.0.0.1', BEAM_RTMP_PORT: String(rtmp), BEAM_RTMP_HOST: '127.0.0.1', BEAM_DATA_DIR: join(dir, 'beam'), BEAM_LOG_LEVEL: 'warn', BEAM_API_TOKEN: TEST_API_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    await waitForOutput(beam, /Beamline is running/, 20000);
    // Not a terminal: the banner prints no stream key; the channel API gives it with the token.
    const key = ((await (await fetch(`http://127.0.0.1:${http}/api/channels/main`, { headers: AUTH })).json()) as { streamKey: string }).streamKey;
    const redisPid = Number(execFileSync('pgrep', ['-f', `^redis-server unixsocket:${join(dir, 'beam', 'redis.sock')}`]).toString().trim().split('\n')[0]);
    const n0 = cpuSeconds(beam.pid as number);
    const r0 = cpuSeconds(redisPid);
    const sender = send(file, `srt://127.0.0.1:${srt}?streamid=${key}&pkt_size=1316`);
    let senderErr = '';
    sender.stderr?.on('data', (d: Buffer) => (senderErr += d.toString()));
    const t0 = Date.now();
    const code = await exitOf(sender, (SECONDS + 20) * 1000);
    await new Promise((r) => setTimeout(r, 500));
    const used = { node: cpuSeconds(beam.pid as number) - n0, redis: cpuSeconds(redisPid) - r0 };
    const status = (await (await fetch(`http://127.0.0.1:${http}/api/channels/main`, { headers: AUTH })).json()) as { status: { ingest: { bytes: number } | null } };
    const bytes = status.status.ingest?.bytes ?? 0;
    if (code !== 0 || Date.now() - t0 < SECONDS * 900 || bytes < 1e6) {
      throw new Error(`the publish did not go through (sender exit ${code}, ${Date.now() - t0} ms, ${bytes} bytes ingested): ${senderErr.trim()}`);
    }
    return used;
  } finally {
    beam.kill('SIGTERM');
    await exitOf(beam, 10000);
  }
}

/** Parse bash `times` output: the second line is the children's user and system time. */
function childTimes(text: string): number {
  const line = text.trim().split('\n').pop() ?? '';
  const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return (secs[0] ?? 0) + (secs[1] ?? 0);
}

async function measureFfmpeg(file: string): Promise<number> {
  const port = await freePort();
  const script = `ffmpeg -hide_banner -loglevel error -nostdin -i 'srt://127.0.0.1:${port}?mode=listener' -c copy -f null - ; times`;
  const recv = spawn('bash', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  recv.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => setTimeout(r, 500));
  const sender = send(file, `srt://127.0.0.1:${port}?pkt_size=1316`);
  await exitOf(sender, (SECONDS + 20) * 1000);
  await exitOf(recv, 10000);
  return childTimes(out);
}

export const ingestBench: Bench = {
  name: 'ingest',
  description: `CPU of one 6 Mbps 1080p30 SRT channel (${SECONDS} s, real time) into Redis vs ffmpeg -c copy receiving it`,
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-ingest-bench-'));
    try {
      const file = makeSource(dir);
      const ours = await measureOurs(file, dir);
      const ref = await measureFfmpeg(file);
      const perSecond = ours.node / SECONDS;
      const refName = 'ffmpeg -i srt://…?mode=listener -c copy -f null -';
      return [
        { bench: 'ingest', metric: 'CPU s per media s (Beamline process)', ours: perSecond, reference: ref / SECONDS, referenceName: refName, unit: 'CPU s/s', note: 'lower is better; ours demuxes, segments and writes to Redis' },
        { bench: 'ingest', metric: 'CPU s per media s (+ its redis-server)', ours: (ours.node + ours.redis) / SECONDS, reference: ref / SECONDS, referenceName: refName, unit: 'CPU s/s', note: 'lower is better' },
        { bench: 'ingest', metric: '6 Mbps 1080p30 channels per core', ours: 1 / Math.max(perSecond + ours.redis / SECONDS, 1e-6), unit: 'channels', note: 'from the line above' },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
