/**
 * The transcode bench's child process: reads the source's video packets into memory, then (clock running) makes
 * the default ladder with SegmentTranscoder one 2 s segment at a time, fed two frames at a time as a live job is
 * (it reads what arrived every 25 ms; ingest writes every 50 ms, about 1.5 frames at 30 fps), and
 * prints `{cpu, wall, frames}` as one JSON line: CPU seconds (user + system, every thread) and wall seconds of
 * the transcoding alone, in a process that has loaded what a worker's sandboxed child loads. Run by
 * transcode-bench.ts; GPL-3.0-or-later.
 */

import { DEFAULT_LADDER, planLadder } from '../../transcoders/ladder';
import { DEFAULT_ENCODER_CONFIG } from '../../transcoders/encoder-settings';
import { createSegmentTranscoder, type SourcePacket } from '../../transcoders/segment-transcoder';
// What a transcode worker's sandboxed child loads (store, Redis client, job code): its heap, not a bare one.
import '../../transcoders/transcode-processor';

export const SECONDS = 10;
export const FPS = 30;
export const SEGMENT_FRAMES = 60;
/** Frames per push: what a live job's poll finds. */
const PUSH_FRAMES = 2;

interface BcDemuxer {
  read(): Promise<{ stream_index: number; pts: number; dts: number; size: number; data: Buffer; flags: { KEY: boolean } } | null>;
  streams: { time_base: [number, number] }[];
}

async function readPackets(file: string): Promise<SourcePacket[]> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const bc = require('beamcoder') as { demuxer(url: string): Promise<BcDemuxer>; logging(l: string): void };
  bc.logging('error');
  const dm = await bc.demuxer(`file:${file}`);
  const [num, den] = dm.streams[0]?.time_base ?? [1, 90000];
  const to90k = (t: number) => Math.round((t * num * 90000) / den);
  const out: SourcePacket[] = [];
  for (let p = await dm.read(); p; p = await dm.read()) {
    if (p.stream_index !== 0) continue;
    out.push({ pts: to90k(p.pts), dts: to90k(p.dts), keyframe: p.flags.KEY, data: Buffer.from(p.data.subarray(0, p.size)) });
  }
  return out;
}

export async function measureOurs(packets: SourcePacket[]): Promise<{ cpu: number; wall: number }> {
  const rungs = planLadder(DEFAULT_LADDER, 1920, 1080);
  // Segments start at keyframes, as ingest cuts them.
  const starts = packets.flatMap((p, i) => (p.keyframe ? [i] : []));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < starts.length; s++) {
    const seg = packets.slice(starts[s], starts[s + 1] ?? packets.length);
    const tx = createSegmentTranscoder({ rungs, source: { extradata: null, frameRate: [FPS, 1] }, startPts: Math.min(...seg.map((p) => p.pts)), encoder: DEFAULT_ENCODER_CONFIG });
    for (let i = 0; i < seg.length; i += PUSH_FRAMES) {
      await tx.push(seg.slice(i, i + PUSH_FRAMES), seg[i + PUSH_FRAMES]?.dts ?? Infinity);
    }
    await tx.finish();
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = process.cpuUsage(cpu0);
  return { cpu: (used.user + used.system) / 1e6, wall };
}

async function main(file: string): Promise<void> {
  const packets = await readPackets(file);
  const r = await measureOurs(packets);
  process.stdout.write(`${JSON.stringify({ ...r, frames: packets.length })}\n`);
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: transcode-child <source.ts>\n');
    process.exit(2);
  }
  main(file).catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
