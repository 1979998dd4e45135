/**
 * A channel-shaped content item for JIT tests: ffmpeg encodes testsrc2 + sine to MPEG-TS (H.264 with
 * B-frames, 1 s GOP, AAC in ADTS), beamcoder demuxes it and the packets go into the store as ingest would
 * write them (stream 0 video, stream 1 audio, time base 1/90000, extradata base64). Also the jobs
 * machinery composed in-process: dispatcher + app hooks + a media_workers worker with the JIT functions.
 */

import { execFileSync } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { DEFAULTS, type JobRule } from '../../../core/config/config';
import { createJobDispatcher, type JobDispatcher } from '../../../engine/jobs/dispatcher';
import { createJobWorker, type JobFunction, type JobWorker } from '../../../engine/jobs/worker';
import { jitNormalizers } from '../../../transcoders/jit/jit-paths';
import type { Format, PacketMeta } from '../../../core/model/media';
import { connectRedis, parseRedisUrl } from '../../../core/store/redis-connection';
import type { OwnedStore, PacketWrite } from '../../../core/store/store';
import { streamToJson } from '../../../ingest/demuxer';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import type { TestRedis } from '../../helpers/redis';
import { JIT_QUEUE } from '../../../core/store/keys';

/** `vf`: an ffmpeg video filter, e.g. `setsar=1/36` for a source with a tall sample aspect ratio. */
export function makeSourceTs(file: string, seconds: number, o: { vf?: string } = {}): void {
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), ...(o.vf ? ['-vf', o.vf] : []), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-bf', '2', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', file,
  ]);
}

interface BcDemuxer {
  streams: unknown[];
  read(): Promise<{ stream_index: number; pts: number; dts: number; size: number; data: Buffer; duration: number; flags: { KEY: boolean } } | null>;
}

/** Load a TS file into the store as content `name`; returns the video pts in presentation order. */
export async function loadTs(store: OwnedStore, name: string, file: string): Promise<{ videoPts: number[]; keyPts: number[] }> {
  const bc = require('beamcoder') as { demuxer(url: string): Promise<BcDemuxer> };
  const dm = await bc.demuxer(`file:${file}`);
  const streams = dm.streams.map((s, i) => streamToJson(s, i));
  const format: Format = { type: 'format', url: name, streams };
  await store.createContent(format);
  const writes: PacketWrite[] = [];
  const videoPts: number[] = [];
  const keyPts: number[] = [];
  for (let p = await dm.read(); p; p = await dm.read()) {
    const meta: PacketMeta = {
      type: 'Packet', pts: p.pts, dts: p.dts, size: p.size, stream_index: p.stream_index, duration: p.duration, pos: -1,
      flags: { KEY: p.flags.KEY, CORRUPT: false, DISCARD: false, TRUSTED: false, DISPOSABLE: false },
    };
    writes.push({ streamIndex: p.stream_index, meta, data: Buffer.from(p.data.subarray(0, p.size)) });
    if (p.stream_index === 0) {
      videoPts.push(p.pts);
      if (p.flags.KEY) keyPts.push(p.pts);
    }
  }
  for (let i = 0; i < writes.length; i += 200) await store.writePackets(name, writes.slice(i, i + 200), 600000);
  return { videoPts: videoPts.sort((a, b) => a - b), keyPts };
}

export interface JobsRig {
  app: FastifyInstance;
  dispatcher: JobDispatcher;
  worker: JobWorker;
  close(): Promise<void>;
}

export interface JobsRigOptions {
  rules?: Record<string, JobRule>;
  functions: Record<string, JobFunction>;
  timeoutMs?: number;
  queue?: string;
  concurrency?: number;
  /** Dispatcher limits (defaults: the dispatcher's, except a rate limit high enough for a test file). */
  maxWaiting?: number;
  ratePerMinute?: number;
  /** Key prefix of the job queues; default the store's. */
  prefix?: string;
}

/** App with the rules installed (and the JIT request normalizers) + one worker on `queue` with `functions`. */
export async function startJobsRig(redis: TestRedis, store: OwnedStore, o: JobsRigOptions): Promise<JobsRig> {
  const connect = () => connectRedis(parseRedisUrl(redis.url), { maxRetriesPerRequest: null });
  const prefix = o.prefix ?? store.keys.jobQueuePrefix;
  const dispatcher = createJobDispatcher(
    { redis: redis.connect(), connect, normalizers: jitNormalizers() },
    { rules: o.rules ?? DEFAULTS.jobs, prefix, timeoutMs: o.timeoutMs ?? 20000, maxWaiting: o.maxWaiting, ratePerMinute: o.ratePerMinute ?? 10000 },
  );
  const worker = createJobWorker({ store, connect }, { queue: o.queue ?? JIT_QUEUE, prefix, functions: o.functions, concurrency: o.concurrency ?? 4, ephemeralTtlMs: 10000 });
  await worker.start();
  const app = withTestToken(await buildApp({ store, metrics: createEngineMetrics(undefined, false), jobs: dispatcher }, TEST_APP_CONFIG));
  await app.ready();
  return {
    app, dispatcher, worker,
    async close() {
      await app.close();
      await dispatcher.close();
      await worker.close();
    },
  };
}

/** Top-level MP4 box types in order. */
export function topBoxes(b: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at + 8 <= b.length) {
    let size = b.readUInt32BE(at);
    const type = b.toString('latin1', at + 4, at + 8);
    if (size === 1) size = Number(b.readBigUInt64BE(at + 8));
    if (size < 8) break;
    out.push(type);
    at += size;
  }
  return out;
}

/** ffprobe a file: streams (codec, size) and the format duration. */
export function probe(file: string): { streams: { codec_name: string; codec_type: string; width?: number; height?: number }[]; format: { duration?: string } } {
  return JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_type,width,height:format=duration', '-of', 'json', file]).toString());
}

/** Decode an image or video frame file to 8-bit gray pixels at w×h. */
export function grayPixels(file: string, w: number, h: number, frameIndex = 0): Buffer {
  return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', file, '-vf', `select=eq(n\\,${frameIndex}),scale=${w}:${h}`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], { maxBuffer: 64 << 20 });
}

export function meanAbsDiff(a: Buffer, b: Buffer): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`pixel buffers differ in size: ${a.length} vs ${b.length}`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}
