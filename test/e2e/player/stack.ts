/**
 * The in-process stack the browser tests talk to: a real redis-server, store, channels, live store,
 * ingest (SRT + RTMP on port 0), the channel API, the pages plugin, and (on request) the packager's
 * /live plugin and the ABR transcoders (ingest enqueues each segment on the transcode queue, one
 * transcode worker with sandboxed children makes the channel's ladder), all on one fastify app
 * listening on 127.0.0.1 port 0. /healthz reports the redis-server's memory use (the dashboard warns from it).
 */

import pino from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_API_TOKEN, TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { transcodeProcessorFile } from '../../helpers/paths';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { findPagesDirs, pagesPlugin } from '../../../engine/api/pages';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createChannelStore, type ChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { createIngestMetrics } from '../../../ingest/ingest-metrics';
import type { RedundancyConfig } from '../../../ingest/redundancy';
import type { Webhooks } from '../../../core/webhooks/webhooks';
import { livePlugin } from '../../../packager/live-plugin';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { createJobDispatcher } from '../../../engine/jobs/dispatcher';
import { createJobWorker } from '../../../engine/jobs/worker';
import { createJitFunctions } from '../../../transcoders/jit/jit-functions';
import { DEFAULTS } from '../../../core/config/config';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../../core/store/redis-connection';
import { createTranscodeQueue } from '../../../transcoders/queue';
import { createTranscodeWorker } from '../../../transcoders/worker';
import { DEFAULT_SEGMENT_JOB_CONFIG } from '../../../transcoders/segment-job';
import { JIT_QUEUE } from '../../../core/store/keys';
import { readRedisMemory } from '../../../core/store/redis-memory';

export interface Stack {
  baseUrl: string;
  srtPort: number;
  rtmpPort: number;
  app: FastifyInstance;
  store: OwnedStore;
  live: LiveStore;
  channels: ChannelStore;
  /** A new connection to the stack's Redis (the latency bench reads the channel's events); the caller closes it. */
  connect(): RedisClient;
  /** The ingest metrics' registry (the latency bench reads beam_part_ready_delay_seconds). */
  ingestRegistry: Registry;
  close(): Promise<void>;
}

export interface StackOptions {
  /** BEAM_API_TOKEN for the app (default TEST_API_TOKEN): writes and secret reads need it. */
  apiToken?: string;
  /** Compose the packager's /live plugin (HLS, LL-HLS, DASH, catch-up). */
  live?: boolean;
  /** Run the transcode queue (fed by ingest) and one transcode worker, so channels get their ladder. */
  transcode?: boolean;
  /** Redundant publishers' stall bound and return time (default DEFAULT_REDUNDANCY_CONFIG). */
  redundancy?: RedundancyConfig;
  /** Admission and notification webhooks for ingest (the caller closes them). */
  webhooks?: Webhooks;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const redis = await startTestRedis();
  const closers: (() => Promise<unknown>)[] = [() => redis.close()];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const client = redis.connect();
    const prefix = uniquePrefix();
    const store = createStore({ redis: client }, { prefix, packetTtlMs: 600000, frameTtlMs: 60000 });
    const channels = createChannelStore({ redis: client, keys: store.keys });
    const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
    const connect = () => connectRedis(parseRedisUrl(redis.url), { maxRetriesPerRequest: null });
    let enqueueSegment: ((channel: string, segment: number) => Promise<string>) | undefined;
    if (opts.transcode) {
      const bullPrefix = store.keys.transcodeQueuePrefix;
      const queueConnection = connect();
      const queue = createTranscodeQueue({ connection: queueConnection }, { prefix: bullPrefix });
      closers.push(async () => {
        await queue.close();
        await queueConnection.quit();
      });
      enqueueSegment = (ch, seg) => queue.enqueueSegment(ch, seg);
      const workerConnection = connect();
      const transcoder = createTranscodeWorker(
        { connection: workerConnection, log: pino({ level: 'silent' }) },
        {
          prefix: bullPrefix,
          concurrency: 3,
          processorFile: transcodeProcessorFile(),
          child: { redisUrl: redis.url, storePrefix: prefix, packetTtlMs: 600000, frameTtlMs: 60000, eventsMaxLen: 10000, job: DEFAULT_SEGMENT_JOB_CONFIG },
        },
      );
      await transcoder.start();
      closers.push(async () => {
        await transcoder.close();
        await workerConnection.quit();
      });
    }
    const ingestRegistry = new Registry();
    const ingest: IngestService = createIngestService(
      { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }), metrics: createIngestMetrics(ingestRegistry), ...(enqueueSegment ? { enqueueSegment } : {}), ...(opts.webhooks ? { webhooks: opts.webhooks } : {}) },
      { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 }, ...(opts.redundancy ? { redundancy: opts.redundancy } : {}) },
    );
    await ingest.start();
    closers.push(() => ingest.close());
    const srtPort = ingest.srtPort() as number;
    const rtmpPort = ingest.rtmpPort() as number;
    // The rules' media workers, so thumbnails (latest.jpg) are real.
    const jobPrefix = store.keys.jobQueuePrefix;
    const jobs = createJobDispatcher({ redis: client, connect }, { rules: DEFAULTS.jobs, prefix: jobPrefix, timeoutMs: 15000 });
    const worker = createJobWorker({ store, connect }, { queue: JIT_QUEUE, prefix: jobPrefix, functions: { ...createJitFunctions() }, concurrency: 2, ephemeralTtlMs: 10000 });
    await worker.start();
    closers.push(() => worker.close());
    closers.push(() => jobs.close());
    const app = withTestToken(await buildApp(
      {
        store,
        metrics: createEngineMetrics(undefined, false),
        redisMemory: () => readRedisMemory(client),
        jobs,
        privateMedia: { channel: (name) => channels.get(name) },
        plugins: [
          (s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: null, srtPort, rtmpPort } }),
          (s) => pagesPlugin(s, findPagesDirs(__dirname)),
          ...(opts.live ? [(s: FastifyInstance) => livePlugin(s, { deps: { store, live, channels, connect: () => redis.connect() } })] : []),
        ],
      },
      { ...TEST_APP_CONFIG, apiToken: opts.apiToken ?? TEST_API_TOKEN },
    ), opts.apiToken ?? TEST_API_TOKEN);
    closers.push(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    return { baseUrl: `http://127.0.0.1:${port}`, srtPort, rtmpPort, app, store, live, channels, connect: () => redis.connect(), ingestRegistry, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
