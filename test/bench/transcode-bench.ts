/**
 * Transcode CPU: the default ladder (720p 3 Mbps, 480p 1.2 Mbps, 360p 0.8 Mbps) made from a 10 s 1080p30
 * 5 Mbps source by our SegmentTranscoder (one decode, one split+scale graph, one libx264 encoder per rung, fresh
 * per 2 s segment, fed two frames at a time as a live job is), side by side in the same run with ffmpeg's CLI doing the
 * same ladder in one process (split + scale + libx264 with the same settings, outputs to null). Reported: CPU
 * seconds per media second (user + system of the whole process, every thread) and the real-time factor.
 * Ours runs in a child process (transcode-child.ts), as in a worker; the source packets are read into memory
 * before its clock starts (demuxing is not the subject).
 *
 * Where ours spends more (perf cpu-clock samples of both, 2-core VM, 2026-11): libx264, libswscale and libavcodec
 * cost the same within a few per cent (our decoder is single-threaded, so it costs less than ffmpeg's); the
 * difference was V8 (full garbage collections, ~50 per 10 s run, paced by the old-space cost of beamcoder's
 * frame and packet objects) and the kernel (hand-offs between libuv's pool and x264's slice threads; page faults
 * of each segment's new encoders). Releasing frames as soon as they are used (segment-transcoder.ts `release`)
 * took ~5 % off; the codecs moving to our own addon (transcoders/av-native: plain frame and packet objects) took
 * the full collections from ~33 to 2 per run (2026-12-03; see the README's Benchmarks).
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LADDER, planLadder } from '../../transcoders/ladder';
import { DEFAULT_ENCODER_CONFIG, scaleGraph, outputName, x264CliArgs, x264Options } from '../../transcoders/encoder-settings';
import type { Bench, BenchRow } from './harness';
import { FPS, SECONDS, SEGMENT_FRAMES } from './transcode-child';

/**
 * Ours runs in a child process with only the transcoder loaded, as a transcode worker's sandboxed child does:
 * V8's collections cost in proportion to the heap, and this bench process holds Playwright and every other
 * bench's modules.
 */
function measureOurs(file: string): { cpu: number; wall: number; frames: number } {
  const r = spawnSync(process.execPath, ['--enable-source-maps', join(__dirname, 'transcode-child.js'), file], { encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`transcode bench child failed (${r.status ?? r.signal}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as { cpu: number; wall: number; frames: number };
}

function makeSource(dir: string): string {
  const file = join(dir, 'src-1080p30-5M.ts');
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=${FPS}`, '-t', String(SECONDS),
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '5M', '-maxrate', '5M', '-bufsize', '5M', '-g', String(SEGMENT_FRAMES), '-bf', '2', '-pix_fmt', 'yuv420p',
    '-f', 'mpegts', file,
  ]);
  return file;
}

/** Parse bash `times`: the second line is the children's user and system time. */
function childTimes(text: string): number {
  const line = text.trim().split('\n').pop() ?? '';
  const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return (secs[0] ?? 0) + (secs[1] ?? 0);
}

function measureFfmpeg(file: string): { cpu: number; wall: number } {
  const rungs = planLadder(DEFAULT_LADDER, 1920, 1080);
  const graph = scaleGraph(rungs).replace('[in0:v]', '[0:v]');
  // `-force_key_frames source`: keyframes where the source has them (its 2 s GOPs = our segment starts), as ours.
  const outputs = rungs.flatMap((r, i) => ['-map', `[${outputName(i)}]`, ...x264CliArgs(x264Options(r, [FPS, 1], DEFAULT_ENCODER_CONFIG)), '-force_key_frames', 'source', '-f', 'null', '-']);
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  const cmd = ['ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin', '-i', file, '-filter_complex', graph, ...outputs].map(quote).join(' ');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', `${cmd} && times`], { encoding: 'utf8', timeout: 300000 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ffmpeg reference failed: ${r.stderr}`);
  return { cpu: childTimes(r.stdout), wall };
}

export const transcodeBench: Bench = {
  name: 'transcode',
  description: `default ladder from a ${SECONDS} s 1080p30 5 Mbps source: our SegmentTranscoder vs ffmpeg split+scale+libx264 in one process`,
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-transcode-bench-'));
    try {
      const file = makeSource(dir);
      const first = measureOurs(file);
      const media = first.frames / FPS;
      if (media < SECONDS * 0.9) throw new Error(`the source has ${first.frames} frames, expected ${SECONDS * FPS}`);
      // Alternate, and keep the best of three runs each: other processes on the machine only ever add time.
      const ours: { cpu: number; wall: number }[] = [first];
      const ref: { cpu: number; wall: number }[] = [measureFfmpeg(file)];
      for (let i = 0; i < 2; i++) {
        ours.push(measureOurs(file));
        ref.push(measureFfmpeg(file));
      }
      const best = (xs: { cpu: number; wall: number }[]) => ({ cpu: Math.min(...xs.map((x) => x.cpu)), wall: Math.min(...xs.map((x) => x.wall)) });
      const o = best(ours);
      const f = best(ref);
      const bench = 'transcode';
      return [
        { bench, metric: 'CPU per media second, default ladder from 1080p30', ours: o.cpu / media, reference: f.cpu / media, referenceName: 'ffmpeg CLI, same ladder', unit: 'cpu-s/media-s', note: 'lower is better; goal ≤ 1.05×' },
        { bench, metric: 'real-time factor', ours: media / o.wall, reference: media / f.wall, referenceName: 'ffmpeg CLI, same ladder', unit: '× real time', note: 'higher is better' },
      ];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
