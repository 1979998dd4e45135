/**
 * The sandboxed processor: BullMQ forks this file into a child process per concurrent job slot, so a native
 * crash inside FFmpeg (our codec addon, av-codec.ts) kills only the child (the job fails and its retry records a gap). The
 * child's settings come from the environment variable named by CHILD_CONFIG_ENV (set by the worker), its
 * connections and stores are made once per child and reused by every job it runs, and it exits when the
 * worker that forked it goes away (a SIGKILLed worker must not leave a child writing packets).
 */

import type { SandboxedJob } from 'bullmq';
import { connectRedis, parseRedisUrl, type RedisClient } from '../core/store/redis-connection';
import { createStore } from '../core/store/store';
import { createLiveStore } from '../core/store/live-store';
import { createChannelStore } from '../core/store/channel-store';
import { openArchive, type ArchiveTarget } from '../core/archive/open-archive';
import { parseJobData } from './segment-plan';
import { runSegmentJob, type SegmentJobConfig, type SegmentJobDeps, type SegmentJobResult } from './segment-job';
import { loadAvCodec } from './av-codec';

export const CHILD_CONFIG_ENV = 'BEAM_TRANSCODE_CHILD_CONFIG';

/** What the worker hands its sandboxed children. */
export interface TranscodeChildConfig {
  /** The store's Redis (a redis://, rediss://, unix:// URL or a comma-separated cluster list). */
  redisUrl: string;
  storePrefix: string;
  packetTtlMs: number;
  frameTtlMs: number;
  eventsMaxLen: number;
  job: SegmentJobConfig;
  /** The archive, so source packets already archived still read (absent: payloads in Redis only). */
  archive?: ArchiveTarget;
}

export function parseChildConfig(raw: string | undefined): TranscodeChildConfig {
  if (!raw) throw new Error(`${CHILD_CONFIG_ENV} is not set: this file runs only as a BullMQ sandboxed processor started by createTranscodeWorker`);
  const c = JSON.parse(raw) as TranscodeChildConfig;
  if (typeof c.redisUrl !== 'string' || typeof c.storePrefix !== 'string' || typeof c.job !== 'object') throw new Error(`${CHILD_CONFIG_ENV} is malformed`);
  return c;
}

function createChildRuntime(c: TranscodeChildConfig): SegmentJobDeps {
  const target = parseRedisUrl(c.redisUrl);
  const redis: RedisClient = connectRedis(target, { connectionName: 'beamline-transcode' });
  const reader: RedisClient = connectRedis(target, { connectionName: 'beamline-transcode-events', maxRetriesPerRequest: null });
  const archive = c.archive ? openArchive(c.archive) : undefined;
  const store = createStore({ redis, ...(archive ? { archive } : {}) }, { prefix: c.storePrefix, packetTtlMs: c.packetTtlMs, frameTtlMs: c.frameTtlMs });
  return {
    store,
    live: createLiveStore({ redis, keys: store.keys }, { eventsMaxLen: c.eventsMaxLen }),
    channels: createChannelStore({ redis, keys: store.keys }),
    reader,
  };
}

let runtime: { deps: SegmentJobDeps; config: SegmentJobConfig } | null = null;

function childRuntime(): { deps: SegmentJobDeps; config: SegmentJobConfig } {
  if (runtime) return runtime;
  const c = parseChildConfig(process.env[CHILD_CONFIG_ENV]);
  loadAvCodec().setLogLevel('error');
  process.once('disconnect', () => process.exit(1));
  runtime = { deps: createChildRuntime(c), config: c.job };
  return runtime;
}

export default async function transcodeSegment(job: SandboxedJob): Promise<SegmentJobResult> {
  const { deps, config } = childRuntime();
  return runSegmentJob(deps, config, parseJobData(job.data), { enqueuedAtMs: job.timestamp });
}
