/**
 * The in-process stack the packager's e2e tests share: a real redis-server, store, channels, live store,
 * ingest (SRT/RTMP on port 0), the channel API (with ad markers) and the /live plugin on a real loopback listener, and one
 * channel published over SRT by ffmpeg until it has three closed segments.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pino from 'pino';
import type { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { waitFor } from '../../helpers/process';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { markersPlugin } from '../../../engine/api/markers';
import { createStore, type Store } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createMarkerStreams } from '../../../core/store/marker-stream';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { createLivePackager, livePlugin, type LivePackager } from '../../../packager/live-plugin';
import { createSrtPull, type SrtPull } from '../../../packager/srt/srt-pull';

export const run = promisify(execFile);

export interface PackagerRig {
  redis: TestRedis;
  app: FastifyInstance;
  store: Store;
  live: LiveStore;
  ingest: IngestService;
  base: string;
  srtUrl: string;
  publishers: Publisher[];
  /** The SRT pull (readers on the SRT port) when asked for. */
  pull: SrtPull | null;
  close(): Promise<void>;
}

export interface RigOptions {
  /** Serve SRT readers (m=request) with a packager of their own, as the ingest role does. */
  srtPull?: boolean;
  /** How long the rig's publisher runs, s (default 16). */
  publishSeconds?: number;
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  body: Buffer;
}

export async function httpGet(base: string, path: string): Promise<HttpResult> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(15000) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, text: body.toString('utf8'), body };
}

/** Decode video and audio of a URL with ffmpeg; the kB of each it decoded, and its stderr's tail. */
export async function ffmpegDecode(url: string, seconds: number): Promise<{ video: number; audio: number; stderr: string }> {
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-i', url, '-t', String(seconds), '-map', '0:v:0', '-map', '0:a:0', '-f', 'null', '-'], { timeout: 30000 })
    .catch((e: { stderr?: string; message: string }) => ({ stderr: e.stderr ?? e.message }));
  const m = /video:(\d+)[kK]i?B audio:(\d+)[kK]i?B/.exec(r.stderr);
  return { video: Number(m?.[1] ?? 0), audio: Number(m?.[2] ?? 0), stderr: r.stderr.slice(-1500) };
}

export async function closedSegments(live: LiveStore, channel: string): Promise<number> {
  return (await live.lastSegments(channel, 100)).filter((s) => s.durationPts !== null).length;
}

/** Creates a source-only channel through the channel API; resolves with its SRT URL on loopback (publishable at once). */
export async function createRigChannel(app: FastifyInstance, ingest: IngestService, name: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/channels', payload: { name, ladder: [] } });
  assert.equal(res.statusCode, 201, res.body);
  return (res.json() as { ingest: { srt: string } }).ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${ingest.srtPort() as number}`);
}

export async function startPackagerRig(channel: string, registry: Registry, options: RigOptions = {}): Promise<PackagerRig> {
  const redis = await startTestRedis();
  const client = redis.connect();
  const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  let pullPackager: LivePackager | null = null;
  let pull: SrtPull | null = null;
  if (options.srtPull) {
    pullPackager = createLivePackager({ store, live, channels, connect: () => redis.connect() }, { followerBlockMs: 1000 });
    pull = createSrtPull({ live: pullPackager.service, ts: pullPackager.ts, followers: pullPackager.followers });
  }
  const onReader = pull ? pull.attach : undefined;
  const ingest = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }), ...(onReader ? { onReader } : {}) },
    { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } },
  );
  await ingest.start();
  const srtPort = ingest.srtPort() as number;
  const app = withTestToken(await buildApp({
    store, metrics: createEngineMetrics(undefined, false), markers: createMarkerStreams({ live }),
    plugins: [
      (s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: 'http://127.0.0.1:8080', srtPort, rtmpPort: ingest.rtmpPort() as number } }),
      (s) => markersPlugin(s, { channels, live }),
      (s) => livePlugin(s, { deps: { store, live, channels, connect: () => redis.connect(), registry }, config: { followerBlockMs: 1000 } }),
    ],
  }, TEST_APP_CONFIG));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const srtUrl = await createRigChannel(app, ingest, channel);
  const publishers = [publishSrt(srtUrl, { seconds: options.publishSeconds ?? 16, fps: 25, gopFrames: 50 })];
  await waitFor('3 closed segments', async () => (await closedSegments(live, channel)) >= 3, 30000);
  return {
    redis, app, store, live, ingest, base, srtUrl, publishers, pull,
    async close() {
      for (const p of publishers) p.stop();
      await ingest.close();
      await pull?.close();
      await pullPackager?.close();
      await app.close();
      await redis.close();
    },
  };
}
