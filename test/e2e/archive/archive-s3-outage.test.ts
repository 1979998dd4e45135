/**
 * An S3 outage in the middle of a publish. ffmpeg publishes over SRT into a real ingest; the archiver (hot
 * window 10 s, a pass a second) writes to fauxqs (in memory, on loopback) through a TCP proxy the test controls
 * (test/helpers/tcp-proxy.ts), with the S3 client's default time limits. Mid-publish S3 is first unreachable
 * (12 s: every connection reset), then black-holed (20 s: connections accepted, never answered); each fault
 * heals itself if the test does not get to heal it. Throughout, live playback goes on (the newest segment is
 * served every 2 s, the playlist advances), archive failures are counted, the backlog grows, the payloads stay
 * in Redis, and a reader of an already archived payload or segment gets a 503 JSON in bounded time. Once S3 is
 * back the backlog is worked off and every segment fetched hot during the outage is served from S3 with the
 * same bytes.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { waitFor } from '../../helpers/process';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createS3Archive, DEFAULT_S3_TIMEOUTS, type S3Archive } from '../../../core/archive/s3-archive';
import { createArchiver, type Archiver } from '../../../core/archive/archiver';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { livePlugin } from '../../../packager/live-plugin';
import { loadConfig } from '../../../core/config/config';
import { archiverTuning } from '../../../beamline';
import { httpGet, createRigChannel, type HttpResult } from '../packager/rig';
import type { RedisClient } from '../../../core/store/redis-connection';

type Fauxqs = { address: string; createBucket(name: string): unknown; stop(): Promise<void> };

const CH = 'outage';
/** The outage: unreachable, then black-holed; each phase this long (ms). */
const PHASES = [['reset', 12_000], ['blackhole', 20_000]] as const;

let redis: TestRedis;
let admin: RedisClient;
let server: Fauxqs;
let proxy: TcpProxy;
let archive: S3Archive;
let store: OwnedStore;
let live: LiveStore;
let ingest: IngestService;
let app: FastifyInstance;
let archiver: Archiver;
let base = '';
const registry = new Registry();
const publishers: Publisher[] = [];
const warnings: string[] = [];

beforeAll(async () => {
  const { startFauxqs } = (await import('fauxqs')) as unknown as { startFauxqs(o: object): Promise<Fauxqs> };
  server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  server.createBucket('beam-outage');
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const { hostname, port } = new URL(server.address);
  proxy = await startTcpProxy({ host: hostname, port: Number(port) });
  // The product's default time limits: what an operator gets.
  archive = createS3Archive({ bucket: 'beam-outage', prefix: 'live/', endpoint: proxy.url, region: 'us-east-1' });

  redis = await startTestRedis();
  admin = redis.connect();
  const client = redis.connect();
  store = createStore({ redis: client, archive }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  ingest = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }) },
    { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } },
  );
  await ingest.start();
  app = withTestToken(await buildApp({
    store, metrics: createEngineMetrics(undefined, false),
    plugins: [
      (s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: 'http://127.0.0.1:8080', srtPort: ingest.srtPort() as number, rtmpPort: ingest.rtmpPort() as number } }),
      // No segment cache: every fetch of a segment is built again, from Redis or from the archive.
      (s) => livePlugin(s, { deps: { store, live, channels, connect: () => redis.connect(), registry }, config: { followerBlockMs: 1000, cacheBytes: 1 } }),
    ],
  }, TEST_APP_CONFIG));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const log = { info: () => undefined, warn: (o: object) => void warnings.push(String((o as { err?: string }).err)) };
  archiver = createArchiver({ store, live, channels, log, registry }, { ...archiverTuning(loadConfig(null, { BEAM_HOT_WINDOW_SECONDS: '10' })), intervalMs: 1000 });
  archiver.start();
  const srtUrl = await createRigChannel(app, ingest, CH);
  publishers.push(publishSrt(srtUrl, { seconds: 110, fps: 25, gopFrames: 50, size: '640x360', bitrate: '2M' }));
});

afterAll(async () => {
  proxy?.heal();
  for (const p of publishers) p.stop();
  await archiver?.close();
  await ingest?.close();
  await app?.close();
  await redis?.close();
  archive?.close();
  await proxy?.close();
  await server?.stop();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(name: string): Promise<number> {
  return (await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values[0]?.value ?? 0;
}

async function payloadKeys(): Promise<number> {
  let n = 0;
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${store.keys.prefix}:{${CH}}:*:data`, 'COUNT', 1000);
    n += keys.length;
    cursor = next;
  } while (cursor !== '0');
  return n;
}

/** Where segment `n`'s first video packet is: its payload key in Redis, or archived (its element hash gone, the segment in the cold index). */
async function firstVideoPacket(n: number): Promise<{ hot: boolean; archived: boolean }> {
  const seg = (await live.segments(CH, n, n))[0];
  assert.ok(seg, `segment ${n}`);
  const packets = await store.readPackets(CH, 0, seg.startDts, seg.startDts + (seg.durationPts ?? 0));
  assert.ok(packets[0], `segment ${n} has packets`);
  const member = `packet_${packets[0].meta.pts}`;
  return {
    hot: (await admin.exists(store.keys.data(CH, 0, member))) === 1,
    archived: (await admin.exists(store.keys.element(CH, 0, member))) === 0
      && (await admin.zrange(store.keys.cold(CH, 0), 0, -1)).some((e) => e.startsWith(`${n}|`)),
  };
}

/** A read that needs the archive: timed; it must answer, and quickly enough. */
async function timedGet(path: string): Promise<HttpResult & { ms: number }> {
  const t0 = Date.now();
  const r = await httpGet(base, path);
  return { ...r, ms: Date.now() - t0 };
}

describe('an S3 outage in the middle of a publish', () => {
  it('unreachable, then black-holed: live playback goes on, failures are counted, the backlog grows in Redis and is worked off once S3 is back, with the same bytes', { timeout: 170_000 }, async () => {
    // Before: segment 2 is archived (its payloads read from S3).
    const seg2 = await waitFor('segment 2 closed', async () => (await live.segments(CH, 2, 2)).find((s) => s.durationPts !== null), 30_000);
    const packets = await store.readPackets(CH, 0, seg2.startDts, seg2.startDts + (seg2.durationPts as number));
    const archivedMember = `packet_${(packets[3] as { meta: { pts: number } }).meta.pts}`;
    await waitFor('segment 2 archived', async () => (await admin.exists(store.keys.element(CH, 0, archivedMember))) === 0, 40_000, 250);
    const archivedPayload = `/beams/${CH}/stream_0/${archivedMember}/data`;
    assert.equal((await httpGet(base, archivedPayload)).status, 200);
    assert.equal((await httpGet(base, `/live/${CH}/v-source-2.m4s`)).status, 200);

    const progress0 = (await live.archiveProgress(CH))[CH] ?? 0;
    const keys0 = await payloadKeys();
    const hot = new Map<number, { video: string; audio: string }>();
    const report: string[] = [];
    let backlogMax = 0;
    let newestFirst = 0;
    let newestLast = 0;
    let slowestLiveMs = 0;
    let failures = await metric('beam_archive_failures_total');
    const outageBegan = Date.now();

    for (const [mode, ms] of PHASES) {
      const warned = warnings.length;
      proxy.fail(mode, { maxMs: ms + 10_000 });
      // Readers of archived media while S3 is down, beside the live viewer: a 503 JSON, in bounded time.
      const readers = Promise.all([timedGet(archivedPayload), timedGet(`/live/${CH}/v-source-2.m4s`)]);
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const t0 = Date.now();
        const pl = await httpGet(base, `/live/${CH}/v-source.m3u8`);
        assert.equal(pl.status, 200, `playlist during the ${mode} outage`);
        const newest = pl.text.split('\n').filter((l) => l && !l.startsWith('#')).pop() as string;
        const n = Number(/v-source-(\d+)\.m4s/.exec(newest)?.[1]);
        const [video, audio] = await Promise.all([httpGet(base, `/live/${CH}/${newest}`), httpGet(base, `/live/${CH}/audio-${n}.m4s`)]);
        assert.equal(video.status, 200, `${newest} during the ${mode} outage: ${video.text.slice(0, 200)}`);
        assert.equal(audio.status, 200, `audio-${n}.m4s during the ${mode} outage: ${audio.text.slice(0, 200)}`);
        slowestLiveMs = Math.max(slowestLiveMs, Date.now() - t0);
        hot.set(n, { video: sha(video.body), audio: sha(audio.body) });
        newestFirst ||= n;
        newestLast = n;
        backlogMax = Math.max(backlogMax, await metric('beam_archive_backlog_seconds'));
        await sleep(Math.max(0, 2000 - (Date.now() - t0)));
      }
      const limit = mode === 'reset' ? 3_000 : DEFAULT_S3_TIMEOUTS.readMs + 2_000;
      for (const r of await readers) {
        assert.equal(r.status, 503, `an archived read during the ${mode} outage: ${r.text.slice(0, 200)}`);
        assert.match(r.headers.get('content-type') ?? '', /application\/json/);
        assert.match((JSON.parse(r.text) as { message: string }).message, /^The archive is unavailable: the S3 server /);
        assert.ok(r.ms < limit, `answered in ${r.ms} ms`);
      }
      const now = await metric('beam_archive_failures_total');
      assert.ok(now > failures, `failures counted during the ${mode} outage`);
      report.push(`${mode} ${ms / 1000} s: failures counted ${now - failures} (${[...new Set(warnings.slice(warned))].join('; ')}), archived reads answered 503 in ${(await readers).map((r) => r.ms).join(' and ')} ms`);
      failures = now;
    }

    // Still during the outage: nothing new archived, the payloads wait in Redis, the backlog grew.
    const backlogAtEnd = await metric('beam_archive_backlog_seconds');
    const keys1 = await payloadKeys();
    assert.ok(newestLast - newestFirst >= 10, `the live playlist advanced (${newestFirst} → ${newestLast})`);
    assert.ok(((await live.archiveProgress(CH))[CH] ?? 0) <= progress0 + 1, 'nothing archived while S3 is down');
    const waiting = await firstVideoPacket(newestFirst);
    assert.deepEqual(waiting, { hot: true, archived: false }, `segment ${newestFirst}, past the hot window, still in Redis`);
    assert.ok(keys1 > keys0 + 500, `payload keys grew (${keys0} → ${keys1})`);
    assert.ok(backlogMax > 8, `the backlog grew (max ${backlogMax} s)`);

    // S3 back: the backlog is worked off.
    const healed = Date.now();
    proxy.heal();
    await waitFor('the backlog worked off', async () => ((await live.archiveProgress(CH))[CH] ?? 0) >= newestLast && (await metric('beam_archive_backlog_seconds')) < 3, 60_000, 250);
    const workOffMs = Date.now() - healed;
    const keys2 = await payloadKeys();
    // The S3 client gave up every black-holed connection itself (timed out or aborted: none kept, none pooled).
    await waitFor('no connection left in the black hole', async () => proxy.stats().held === 0, 10_000);

    // Every segment fetched hot during the outage is served from S3 now, with the same bytes.
    for (const [n, h] of hot) {
      const where = await firstVideoPacket(n);
      assert.equal(where.hot, false, `segment ${n}'s payloads left Redis`);
      assert.ok(where.archived, `segment ${n} is archived`);
      const [video, audio] = await Promise.all([httpGet(base, `/live/${CH}/v-source-${n}.m4s`), httpGet(base, `/live/${CH}/audio-${n}.m4s`)]);
      assert.equal(video.status, 200, video.text.slice(0, 200));
      assert.equal(sha(video.body), h.video, `video segment ${n}, hot vs archived`);
      assert.equal(sha(audio.body), h.audio, `audio segment ${n}, hot vs archived`);
    }
    assert.equal((await httpGet(base, archivedPayload)).status, 200, 'the reads that failed during the outage work again');
    console.log([
      `S3 outage e2e: ${report.join(' | ')}`,
      `live: newest segment ${newestFirst} → ${newestLast} served every 2 s, slowest playlist + segment ${slowestLiveMs} ms`,
      `backlog gauge max ${backlogMax.toFixed(1)} s (${backlogAtEnd.toFixed(1)} s at the heal, ${((healed - outageBegan) / 1000).toFixed(1)} s after the outage began); payload keys in Redis ${keys0} → ${keys1} during → ${keys2} after`,
      `worked off ${(workOffMs / 1000).toFixed(1)} s after the heal; ${hot.size} segments (video + audio) identical hot and from S3`,
    ].join('\n'));
  });
});
