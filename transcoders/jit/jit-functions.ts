/**
 * The built-in JIT job functions, for the `media_workers` queue (default rules `frameImage` and `clipMp4`
 * in core/config/config.ts):
 *   frameImage  /beams/<content>/<stream>/frame_<pts>.jpg|.jpeg|.png and …/latest.jpg  (?width=)
 *   clipMp4     /beams/<content>/all/<from>-<to>.mp4  (?accurate=1)
 * Results are cached in the content's slot with the ephemeral TTL, keyed by what they depend on (latest
 * frames by the newest packet's pts), so different requests never collide and repeats are free.
 * A job that fails for a reason of the server's (no status, or a 5xx one) is reported as the pipeline fault
 * JIT_FAILED; a refusal of the request (4xx: a bad path, an expired range) is the client's and is not.
 */

import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import { JobError, type JobResult } from '../../engine/jobs/job-types';
import { statusOfError } from '../../engine/jobs/answers';
import type { JobFunction, WorkerJob } from '../../engine/jobs/worker';
import { selectStream, parseStreamName } from '../../core/model/stream-name';
import type { Format } from '../../core/model/media';
import { faultOf } from '../../core/model/pipeline-errors';
import { createFaultReporter, type FaultLog } from '../../core/observe/fault-reporter';
import { loadBeamcoder, type Beamcoder } from './beamcoder-api';
import { makeClip, resolveRange, type ClipStats } from './clip-mp4';
import { encodeImage, frameAt, latestFrame, latestPacket } from './frame-image';
import { outputSize, parseClipRequest, parseImageRequest, sarOf } from './jit-paths';

export interface JitConfig {
  /** Longest clip a request may ask for, seconds. Default 600. */
  maxClipSeconds?: number;
}

export interface JitDeps {
  /** beamcoder; loaded on first use when not given. */
  beamcoder?: Beamcoder;
  /** Told how each clip was made (frames decoded, encoded, most held at once). */
  onClipStats?(stats: ClipStats): void;
  /** The role's metrics registry and log: failed jobs are reported there (beam_pipeline_errors_total, a log line). */
  registry?: Registry;
  log?: FaultLog;
}

export interface JitFunctions {
  frameImage: JobFunction;
  clipMp4: JobFunction;
}

function hash(parts: (string | number | boolean | null)[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

async function loadFormat(job: WorkerJob, content: string): Promise<Format> {
  const format = await job.store.getFormat(content);
  if (!format) throw new JobError(404, `Content item '${content}' was not found.`);
  return format;
}

async function cached(job: WorkerJob, key: string, type: string, headers: Record<string, string>): Promise<JobResult | null> {
  return (await job.store.hasJobResult(key)) ? { respond: true, status: 200, type, bodyKey: key, headers: { ...headers, 'beam-cache': 'hit' } } : null;
}

/** Pure: did the job fail for a reason of the server's (no HTTP status, or a 5xx one), not the client's? */
export function isServerFailure(err: unknown): boolean {
  const status = statusOfError(err);
  return status === null || status >= 500;
}

export function createJitFunctions(deps: JitDeps = {}, config: JitConfig = {}): JitFunctions {
  const bc = () => deps.beamcoder ?? loadBeamcoder();
  const maxClipSeconds = config.maxClipSeconds ?? 600;
  const faults = createFaultReporter({ registry: deps.registry, log: deps.log });

  /** `fn`, with its server-side failures reported as JIT_FAILED (the error still answers the request as before). */
  function reported(name: string, fn: JobFunction): JobFunction {
    return async (job) => {
      try {
        return await fn(job);
      } catch (e) {
        if (isServerFailure(e)) faults.report(faultOf(e, 'JIT_FAILED'), { fn: name, job: job.id, path: job.data.path });
        throw e;
      }
    };
  }

  const frameImage: JobFunction = async (job) => {
    const req = parseImageRequest(job.data.path, job.data.query);
    const format = await loadFormat(job, req.content);
    let selector;
    try {
      selector = parseStreamName(req.stream);
    } catch (e) {
      throw new JobError(400, (e as Error).message);
    }
    const stream = selectStream(format.streams, selector);
    if (!stream) throw new JobError(404, `Content item '${format.url}' has no stream '${req.stream}'.`);
    if (stream.codecpar.codec_type !== 'video') throw new JobError(400, `Stream '${req.stream}' of '${format.url}' is ${stream.codecpar.codec_type}: images need a video stream.`);
    // Refuse an image beyond the limits before decoding anything (the decoded frame is checked again).
    const cp = stream.codecpar;
    if (Number(cp.width) > 0 && Number(cp.height) > 0) outputSize(Number(cp.width), Number(cp.height), sarOf(cp.sample_aspect_ratio), req.width);
    const type = req.format === 'png' ? 'image/png' : 'image/jpeg';
    if (req.at.kind === 'pts') {
      const key = job.store.jitResultKey(format.url, hash(['frame', stream.index, req.at.pts, req.width, req.format]));
      const headers = { 'cache-control': 'public, max-age=60', 'beam-frame-pts': String(req.at.pts) };
      const hit = await cached(job, key, type, headers);
      if (hit) return hit;
      const frame = await frameAt(bc(), job.store, format.url, stream, req.at.pts);
      return job.respondWithBytes(await encodeImage(bc(), frame, req.format, req.width), type, { key, headers });
    }
    const newest = await latestPacket(job.store, format.url, stream);
    if (!newest) throw new JobError(404, `Stream ${stream.index} of '${format.url}' has no packets yet.`);
    const key = job.store.jitResultKey(format.url, hash(['latest', stream.index, newest.pts, req.width, req.format]));
    const hit = await cached(job, key, type, { 'cache-control': 'no-cache' });
    if (hit) return hit;
    const { frame } = await latestFrame(bc(), job.store, format.url, stream);
    return job.respondWithBytes(await encodeImage(bc(), frame, req.format, req.width), type, { key, headers: { 'cache-control': 'no-cache', 'beam-frame-pts': String(frame.pts) } });
  };

  const clipMp4: JobFunction = async (job) => {
    const req = parseClipRequest(job.data.path, job.data.query);
    const format = await loadFormat(job, req.content);
    const video = format.streams.find((s) => s.codecpar.codec_type === 'video');
    if (!video) throw new JobError(400, `'${format.url}' has no video stream to clip.`);
    const range = await resolveRange(job.store, format.url, video, req.range);
    const key = job.store.jitResultKey(format.url, hash(['clip', range[0], range[1], req.accurate]));
    const headers = { 'cache-control': 'public, max-age=60', 'content-disposition': `inline; filename="${format.url}-clip.mp4"` };
    const hit = await cached(job, key, 'video/mp4', headers);
    if (hit) return hit;
    const clip = await makeClip(bc(), job.store, format, range, { accurate: req.accurate, maxSeconds: maxClipSeconds });
    deps.onClipStats?.(clip.stats);
    return job.respondWithBytes(clip.mp4, 'video/mp4', { key, headers: { ...headers, 'beam-clip-start-pts': String(clip.startPts), 'beam-clip-end-pts': String(clip.to) } });
  };

  return { frameImage: reported('frameImage', frameImage), clipMp4: reported('clipMp4', clipMp4) };
}
