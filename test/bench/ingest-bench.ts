/**
 * Ingest CPU: one 6 Mbps 1080p30 channel published over SRT in real time into a real Beamline process
 * (ingest + engine roles, embedded redis-server), side by side with ffmpeg receiving the same stream from
 * the same sender (`ffmpeg -i srt://…?mode=listener -c copy -f null -`). CPU is sampled from /proc for each
 * process over the same real-time publish and reported per second of media, twice: the steady state (from 5 s
 * in: a channel runs for hours, its start-up once) and the whole publish; the channels one core sustains follow
 * from ours. (Until 2026-12 only the whole 12 s publish was reported, ffmpeg's process start-up included: ours
 * measured 2.9-3.6x, mostly the first seconds' probing and first segment; steady, 20 channels in one process
 * took 0.045 CPU s/s each, `npm run bench soak`.)
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, waitForOutput, exitOf } from '../helpers/process';
import { AUTH, TEST_API_TOKEN } from '../helpers/app';
import type { Bench, BenchRow } from './harness';

const SECONDS = 20;
/** The steady state starts this long after the publish began (start-up: probing, the first segment, lazy work). */
const STEADY_FROM_S = 5;
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

/** CPU seconds of the publish: whole (start-up included) and steady (from STEADY_FROM_S after it began to its end). */
interface PublishCpu { whole: number; steady: number }

/**
 * Samples `pids`' CPU every 200 ms while `running` resolves; the last sample of a process that exits is kept.
 * Returns, per pid, the CPU used over the whole run and from `steadyFromMs` on.
 */
async function sampleCpu(pids: number[], running: Promise<unknown>, steadyFromMs: number): Promise<PublishCpu[]> {
  const t0 = Date.now();
  const first = pids.map((p) => cpuSeconds(p));
  const last = [...first];
  const atSteady: (number | null)[] = pids.map(() => null);
  let done = false;
  void running.finally(() => { done = true; });
  while (!done) {
    await new Promise((r) => setTimeout(r, 200));
    pids.forEach((p, i) => {
      try {
        last[i] = cpuSeconds(p);
      } catch {
        // exited: its last sample stands
      }
      if (atSteady[i] === null && Date.now() - t0 >= steadyFromMs) atSteady[i] = last[i] as number;
    });
  }
  return pids.map((_, i) => ({ whole: (last[i] as number) - (first[i] as number), steady: (last[i] as number) - (atSteady[i] ?? (last[i] as number)) }));
}

async function measureOurs(file: string, dir: string): Promise<{ node: PublishCpu; redis: PublishCpu }> {
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
    const sender = send(file, `srt://127.0.0.1:${srt}?streamid=${key}&pkt_size=1316`);
    let senderErr = '';
    sender.stderr?.on('data', (d: Buffer) => (senderErr += d.toString()));
    const t0 = Date.now();
    const exit = exitOf(sender, (SECONDS + 20) * 1000);
    const [node, redis] = await sampleCpu([beam.pid as number, redisPid], exit.then(() => new Promise((r) => setTimeout(r, 500))), STEADY_FROM_S * 1000);
    const code = await exit;
    const status = (await (await fetch(`http://127.0.0.1:${http}/api/channels/main`, { headers: AUTH })).json()) as { status: { ingest: { bytes: number } | null } };
    const bytes = status.status.ingest?.bytes ?? 0;
    if (code !== 0 || Date.now() - t0 < SECONDS * 900 || bytes < 1e6) {
      throw new Error(`the publish did not go through (sender exit ${code}, ${Date.now() - t0} ms, ${bytes} bytes ingested): ${senderErr.trim()}`);
    }
    return { node: node as PublishCpu, redis: redis as PublishCpu };
  } finally {
    beam.kill('SIGTERM');
    await exitOf(beam, 10000);
  }
}

async function measureFfmpeg(file: string): Promise<PublishCpu> {
  const port = await freePort();
  const recv = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-i', `srt://127.0.0.1:${port}?mode=listener`, '-c', 'copy', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise((r) => setTimeout(r, 500));
  const sender = send(file, `srt://127.0.0.1:${port}?pkt_size=1316`);
  const [cpu] = await sampleCpu([recv.pid as number], exitOf(sender, (SECONDS + 20) * 1000).then(() => exitOf(recv, 10000)), STEADY_FROM_S * 1000);
  return cpu as PublishCpu;
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
      const steadyS = SECONDS - STEADY_FROM_S;
      const refName = 'ffmpeg -i srt://…?mode=listener -c copy -f null -';
      const steadyNote = `from ${STEADY_FROM_S} s in to the end of the ${SECONDS} s publish (start-up left out, for both)`;
      return [
        { bench: 'ingest', metric: 'CPU s per media s, steady (Beamline process)', ours: ours.node.steady / steadyS, reference: ref.steady / steadyS, referenceName: refName, unit: 'CPU s/s', note: `lower is better; ${steadyNote}; ours demuxes, segments and writes to Redis` },
        { bench: 'ingest', metric: 'CPU s per media s, steady (+ its redis-server)', ours: (ours.node.steady + ours.redis.steady) / steadyS, reference: ref.steady / steadyS, referenceName: refName, unit: 'CPU s/s', note: `lower is better; ${steadyNote}` },
        { bench: 'ingest', metric: 'CPU s per media s, whole publish (+ its redis-server)', ours: (ours.node.whole + ours.redis.whole) / SECONDS, reference: ref.whole / SECONDS, referenceName: refName, unit: 'CPU s/s', note: 'lower is better; start-up included (demuxer probing, first segment), for both' },
        { bench: 'ingest', metric: '6 Mbps 1080p30 channels per core (steady)', ours: steadyS / Math.max(ours.node.steady + ours.redis.steady, 1e-6), unit: 'channels', note: 'from the steady line with redis-server; `npm run bench soak` measures many channels at once' },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
