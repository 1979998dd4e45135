/**
 * A live channel composed in-process for JIT tests and the latest.jpg bench: redis-server, store, channel
 * API, ingest (SRT/RTMP on port 0), the rules dispatcher on the app and a media_workers worker with the JIT
 * functions, all on loopback.
 */

import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { DEFAULTS } from '../../../core/config/config';
import { createJobDispatcher, type JobDispatcher } from '../../../engine/jobs/dispatcher';
import { createJobWorker, type JobWorker } from '../../../engine/jobs/worker';
import { connectRedis, parseRedisUrl } from '../../../core/store/redis-connection';
import { createStore, type Store } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { createJitFunctions } from '../../../transcoders/jit/jit-functions';
import { jitNormalizers } from '../../../transcoders/jit/jit-paths';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { waitFor } from '../../helpers/process';
import { JIT_QUEUE } from '../../../core/store/keys';
export { waitFor };

export interface LiveRig {
  app: FastifyInstance;
  store: Store;
  live: LiveStore;
  srtPort: number;
  /** Create a channel through the API; returns its SRT URL on loopback. */
  createChannel(name: string): Promise<string>;
  close(): Promise<void>;
}

/** `ratePerMinute`: the job routes' per-client limit; default none (the latest.jpg bench makes 500 requests from one address). */
export async function startLiveRig(o: { concurrency?: number; ratePerMinute?: number } = {}): Promise<LiveRig> {
  const redis: TestRedis = await startTestRedis();
  const client = redis.connect();
  const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  const ingest: IngestService = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }) },
    { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } },
  );
  await ingest.start();
  const srtPort = ingest.srtPort() as number;
  const connect = () => connectRedis(parseRedisUrl(redis.url), { maxRetriesPerRequest: null });
  const prefix = store.keys.jobQueuePrefix;
  const dispatcher: JobDispatcher = createJobDispatcher({ redis: client, connect, normalizers: jitNormalizers() }, { rules: DEFAULTS.jobs, prefix, timeoutMs: 15000, ratePerMinute: o.ratePerMinute ?? 0 });
  const worker: JobWorker = createJobWorker({ store, connect }, { queue: JIT_QUEUE, prefix, functions: { ...createJitFunctions() }, concurrency: o.concurrency ?? 4, ephemeralTtlMs: 10000 });
  await worker.start();
  const app = withTestToken(await buildApp(
    {
      store, metrics: createEngineMetrics(undefined, false), jobs: dispatcher,
      plugins: [(s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: 'http://127.0.0.1:8080', srtPort, rtmpPort: ingest.rtmpPort() as number } })],
    },
    TEST_APP_CONFIG,
  ));
  await app.ready();
  return {
    app, store, live, srtPort,
    async createChannel(name) {
      const res = await app.inject({ method: 'POST', url: '/api/channels', payload: { name } });
      if (res.statusCode !== 201) throw new Error(`cannot create channel ${name}: ${res.body}`);
      return (res.json() as { ingest: { srt: string } }).ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`);
    },
    async close() {
      await app.close();
      await dispatcher.close();
      await worker.close();
      await ingest.close();
      await redis.close();
    },
  };
}

/** Wait until `fn` gives a truthy value, polling every 100 ms, or fail after `ms`. */
