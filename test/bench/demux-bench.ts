/**
 * Demux throughput and CPU: a 6 Mbps 1080p30 H.264 + AAC MPEG-TS (10 s, made once with ffmpeg and
 * cached in the temp dir) demuxed from memory through the Demuxer seam, against
 * `ffmpeg -i x.ts -c copy -f null -` on the same file (its CPU time from `-benchmark`).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createDemuxer, type DemuxTransport } from '../../ingest/demuxer';
import type { Bench, BenchRow } from './harness';

const run = promisify(execFile);
const NAME = 'demux';

async function sourceFile(): Promise<string> {
  const file = join(tmpdir(), 'beamline-bench-1080p30-6mbps.ts');
  if (existsSync(file)) return file;
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
    '-t', '10', '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '6M', '-maxrate', '6M', '-bufsize', '12M',
    '-g', '60', '-c:a', 'aac', '-b:a', '128k', '-f', 'mpegts', `${file}.part`,
  ], { timeout: 300000 });
  await run('mv', [`${file}.part`, file]);
  return file;
}

interface DemuxRun {
  seconds: number;
  cpuSeconds: number;
  packets: number;
}

async function demuxOnce(buf: Buffer, transport: DemuxTransport): Promise<DemuxRun> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const d = createDemuxer({ format: 'mpegts', transport });
  let packets = 0;
  try {
    const chunk = 1316 * 7; // what one SRT receive batch carries
    for (let off = 0; off < buf.length; off += chunk) d.push(buf.subarray(off, off + chunk));
    d.end();
    for await (const p of d.packets()) if (p.data.length >= 0) packets += 1;
  } finally {
    await d.close();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(cpu0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6, packets };
}

/** CPU (user + system, all threads) of `ffmpeg -c copy -f null` on the file, via bash's `times`. */
async function ffmpegCopyCpu(file: string): Promise<number> {
  const script = 'ffmpeg -hide_banner -nostats -loglevel error -i "$1" -c copy -f null - && times';
  const { stdout } = await run('bash', ['-c', script, 'bench', file], { timeout: 120000 });
  // `times` prints the shell's user/sys, then its children's: "0m0.071s 0m0.040s".
  const lines = stdout.trim().split('\n');
  const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(lines[lines.length - 1] ?? '');
  if (!m) throw new Error(`cannot read ffmpeg CPU time from: ${stdout}`);
  return Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
}

/** Runs the bench; prints a summary line per transport to stderr and returns the rows. */
export async function benchDemux(): Promise<BenchRow[]> {
  const file = await sourceFile();
  const buf = await readFile(file);
  const ffCpu = await ffmpegCopyCpu(file);
  const rows: BenchRow[] = [];
  for (const transport of ['socket', 'stream'] as const) {
    await demuxOnce(buf, transport); // warm-up (loads beamcoder, page cache)
    const r = await demuxOnce(buf, transport);
    const mbps = (buf.length * 8) / r.seconds / 1e6;
    process.stderr.write(
      `demux ${transport}: ${(buf.length / 1e6).toFixed(1)} MB, ${r.packets} packets in ${r.seconds.toFixed(3)} s ` +
        `(${mbps.toFixed(0)} Mbit/s, ${(mbps / 6).toFixed(0)} × a 6 Mbps stream), CPU ${r.cpuSeconds.toFixed(3)} s ` +
        `vs ffmpeg -c copy ${ffCpu.toFixed(3)} s\n`,
    );
    rows.push(
      { bench: NAME, metric: `${transport}: throughput`, ours: buf.length / r.seconds / 1e6, unit: 'MB/s', note: 'higher is better' },
      {
        bench: NAME,
        metric: `${transport}: CPU for 10 s of 6 Mbps 1080p30`,
        ours: r.cpuSeconds,
        reference: ffCpu,
        referenceName: 'ffmpeg -c copy -f null',
        unit: 's',
        note: 'lower is better',
      },
    );
  }
  return rows;
}

export const demuxBench: Bench = {
  name: NAME,
  description: 'beamcoder demux of a 6 Mbps 1080p30 TS from memory vs ffmpeg -c copy',
  run: benchDemux,
};
