/**
 * Catch-up storage end to end, run once per archive backend (archive.test.ts: a local folder;
 * archive-s3.test.ts: S3 on a server the test starts): ffmpeg publishes over SRT into a real ingest with an
 * archiver whose hot window is the minimum (10 s). A segment fetched from /live while hot and again once archived
 * (then streamed from the archive, whole and in byte ranges) has the same sha256 and ETag,
 * video and audio; a packet's payload from the Content Beam API is identical across the boundary; the
 * channel's payload keys stop growing once payloads move to the archive, and its Redis memory and key count stay
 * flat (archived segments leave the index for the cold index); a segment whose payloads were evicted before it
 * was archived is an EXT-X-GAP in catch-up.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { waitFor } from '../../helpers/process';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import type { ArchiveBackend } from '../../../core/archive/archive-backend';
import { createArchiver, type Archiver } from '../../../core/archive/archiver';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { livePlugin } from '../../../packager/live-plugin';
import { loadConfig } from '../../../core/config/config';
import { archiverTuning } from '../../../beamline';
import { httpGet, createRigChannel } from '../packager/rig';
import type { RedisClient } from '../../../core/store/redis-connection';

/** The suite against one archive backend, opened (in `dir`, a temporary folder) before the publisher starts. */
export interface SuiteBackend {
  archive: ArchiveBackend;
  close(): Promise<void>;
  /** A real outage of the backend (begin, end), when the backend can have one in a test. */
  outage?: { begin(): Promise<void>; end(): Promise<void> };
}

export function archiveSuite(label: string, openBackend: (dir: string) => Promise<SuiteBackend>, opts: { outage?: boolean } = {}): void {
  const CH = 'arch';
  let redis: TestRedis;
  let admin: RedisClient;
  let dir: string;
  let store: OwnedStore;
  let live: LiveStore;
  let ingest: IngestService;
  let app: FastifyInstance;
  let archiver: Archiver;
  let base = '';
  let backend: SuiteBackend | undefined;
  const registry = new Registry();
  const publishers: Publisher[] = [];
  /** The rig's settings as an operator would give them. */
  const config = loadConfig(null, { BEAM_HOT_WINDOW_SECONDS: '10' });

  beforeAll(async () => {
    redis = await startTestRedis();
    admin = redis.connect();
    dir = mkdtempSync(join(tmpdir(), 'beamline-archive-e2e-'));
    backend = await openBackend(dir);
    const client = redis.connect();
    store = createStore({ redis: client, archive: backend.archive }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
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
        // No segment cache: the second fetch of a segment is built again, from the archive.
        (s) => livePlugin(s, { deps: { store, live, channels, connect: () => redis.connect(), registry }, config: { followerBlockMs: 1000, cacheBytes: 1 } }),
      ],
    }, TEST_APP_CONFIG));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    archiver = createArchiver({ store, live, channels, log: pino({ level: 'silent' }), registry }, { ...archiverTuning(config), intervalMs: 1000 });
    archiver.start();
    const srtUrl = await createRigChannel(app, ingest, CH);
    publishers.push(publishSrt(srtUrl, { seconds: 100, fps: 25, gopFrames: 50, size: '640x360', bitrate: '2M' }));
  });

  afterAll(async () => {
    for (const p of publishers) p.stop();
    await archiver?.close();
    await ingest?.close();
    await app?.close();
    await redis?.close();
    await backend?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  async function dataKeys(): Promise<number> {
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${store.keys.prefix}:{${CH}}:*:data`, 'COUNT', 1000);
      n += keys.length;
      cursor = next;
    } while (cursor !== '0');
    return n;
  }

  async function usedMemory(): Promise<number> {
    return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
  }

  /**
   * The channel's keys by kind, with their memory (MEMORY USAGE, every element counted): payloads, the hot
   * index (index and expiry sets, element hashes), the cold index, and the live records (segments, parts, events…).
   */
  async function channelMemory(): Promise<Record<'payload' | 'hot' | 'cold' | 'events' | 'parts' | 'records', { keys: number; bytes: number }>> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await admin.scan(cursor, 'MATCH', `${store.keys.prefix}:{${CH}}:*`, 'COUNT', 1000);
      keys.push(...found);
      cursor = next;
    } while (cursor !== '0');
    const p = admin.pipeline();
    for (const k of keys) p.memory('USAGE', k, 'SAMPLES', 0);
    const sizes = ((await p.exec()) ?? []).map(([, v]) => Number(v ?? 0));
    const out = { payload: { keys: 0, bytes: 0 }, hot: { keys: 0, bytes: 0 }, cold: { keys: 0, bytes: 0 }, events: { keys: 0, bytes: 0 }, parts: { keys: 0, bytes: 0 }, records: { keys: 0, bytes: 0 } };
    keys.forEach((k, i) => {
      const kind = k.endsWith(':data') ? 'payload' : /:s\d+:(cold|coldrank)$/.test(k) ? 'cold' : /:s\d+:/.test(k) ? 'hot' : k.endsWith(':events') ? 'events' : k.endsWith(':parts') ? 'parts' : 'records';
      out[kind].keys++;
      out[kind].bytes += sizes[i] ?? 0;
    });
    return out;
  }

  describe(`catch-up storage with a live publisher (${label})`, () => {
    it('a segment and a packet read the same bytes hot and archived; payload keys stop growing', { timeout: 110_000 }, async () => {
      const segment = await waitFor('segment 2 closed', async () => (await live.segments(CH, 2, 2)).find((s) => s.durationPts !== null), 30000);
      const t0 = Date.now();
      const mem0 = await usedMemory();
      const keys0 = await dataKeys();
      // Hot: the payloads are in Redis.
      const packets = await store.readPackets(CH, 0, segment.startDts, segment.startDts + (segment.durationPts as number));
      assert.ok(packets.length >= 40, String(packets.length));
      const pts = (packets[3] as { meta: { pts: number } }).meta.pts;
      const member = `packet_${pts}`;
      assert.equal(await admin.exists(store.keys.data(CH, 0, member)), 1);
      const hot = {
        video: await httpGet(base, `/live/${CH}/v-source-2.m4s`),
        audio: await httpGet(base, `/live/${CH}/audio-2.m4s`),
        payload: await httpGet(base, `/beams/${CH}/stream_0/${member}/data`),
      };
      for (const r of Object.values(hot)) assert.equal(r.status, 200, r.text);
      assert.ok(hot.video.body.length > 10000 && hot.audio.body.length > 1000);

      // Archived: the packet leaves the hot index (payload, element hash), the cold index names its object; the
      // same bytes come back.
      await waitFor('segment 2 archived', async () => (await admin.exists(store.keys.element(CH, 0, member))) === 0, 40000, 250);
      assert.equal(await admin.exists(store.keys.data(CH, 0, member)), 0);
      assert.ok((await admin.zcard(store.keys.cold(CH, 0))) >= 2);
      const cold = {
        video: await httpGet(base, `/live/${CH}/v-source-2.m4s`),
        audio: await httpGet(base, `/live/${CH}/audio-2.m4s`),
        payload: await httpGet(base, `/beams/${CH}/stream_0/${member}/data`),
      };
      assert.equal(sha(cold.video.body), sha(hot.video.body), 'video segment');
      assert.equal(sha(cold.audio.body), sha(hot.audio.body), 'audio segment');
      // Archived segments are streamed from the archive (not built, not cached), Range-capable, with the ETag they had hot.
      const streamed = (await registry.getMetricsAsJSON()).find((m) => m.name === 'beam_packager_archived_streams_total')?.values[0]?.value ?? 0;
      assert.ok(streamed >= 2, `streamed from the archive (${streamed})`);
      for (const [name, path] of [['video', `/live/${CH}/v-source-2.m4s`], ['audio', `/live/${CH}/audio-2.m4s`]] as const) {
        const want = hot[name].body;
        assert.equal(cold[name].headers.get('etag'), hot[name].headers.get('etag'), `${name} ETag`);
        assert.equal(cold[name].headers.get('cache-control'), 'public, max-age=31536000, immutable');
        assert.equal(cold[name].headers.get('accept-ranges'), 'bytes');
        for (const [range, a, b] of [['bytes=0-99', 0, 100], ['bytes=1000-', 1000, want.length], ['bytes=-777', want.length - 777, want.length], [`bytes=${want.length >> 1}-${(want.length >> 1) + 4321}`, want.length >> 1, (want.length >> 1) + 4322]] as const) {
          const res = await fetch(`${base}${path}`, { headers: { range }, signal: AbortSignal.timeout(15000) });
          assert.equal(res.status, 206, `${name} ${range}`);
          assert.equal(res.headers.get('content-range'), `bytes ${a}-${b - 1}/${want.length}`);
          assert.deepEqual(Buffer.from(await res.arrayBuffer()), want.subarray(a, b), `${name} ${range}`);
        }
        const past = await fetch(`${base}${path}`, { headers: { range: `bytes=${want.length}-` }, signal: AbortSignal.timeout(15000) });
        assert.equal(past.status, 416);
        assert.equal(past.headers.get('content-range'), `bytes */${want.length}`);
        const head = await fetch(`${base}${path}`, { method: 'HEAD', signal: AbortSignal.timeout(15000) });
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-length'), String(want.length));
      }
      const hotRange = await fetch(`${base}/live/${CH}/v-source-${(await live.lastSegments(CH, 1))[0]?.index}.m4s`, { headers: { range: 'bytes=0-9' }, signal: AbortSignal.timeout(15000) });
      assert.equal(hotRange.status, 206, 'a hot segment answers ranges too');
      assert.equal(Buffer.from(await hotRange.arrayBuffer()).length, 10);
      assert.equal(sha(cold.payload.body), sha(hot.payload.body), 'Content Beam API payload');
      assert.equal(cold.payload.headers.get('content-type'), 'application/octet-stream');
      assert.deepEqual(cold.payload.body, packets[3]?.data);

      // Steady state: payload keys hold about the hot window; memory grows by metadata only.
      await new Promise((r) => setTimeout(r, Math.max(0, 14_000 - (Date.now() - t0))));
      const mem1 = await usedMemory();
      const keys1 = await dataKeys();
      const closed1 = (await live.lastSegments(CH, 1))[0]?.index ?? 0;
      await new Promise((r) => setTimeout(r, 14_000));
      const mem2 = await usedMemory();
      const keys2 = await dataKeys();
      const closed2 = (await live.lastSegments(CH, 1))[0]?.index ?? 0;
      const archived = await live.archiveProgress(CH);
      console.log(`archive e2e: payload keys ${keys0} at segment 2 closed, ${keys1} at +14 s, ${keys2} at +28 s; used_memory ${mem0} → ${mem1} → ${mem2} bytes; segments ${closed1} → ${closed2}; archived up to ${archived[CH]}`);
      assert.ok(closed2 - closed1 >= 5, `the publish went on (${closed1} → ${closed2})`);
      assert.ok(keys2 <= keys1 * 1.3 + 60, `payload keys stopped growing (${keys1} → ${keys2})`);
      // 14 s of a 2 Mb/s publish is ~3.5 MB of payloads: memory grows by far less once they leave Redis.
      assert.ok(mem2 - mem1 < 1_200_000, `used_memory grew ${mem2 - mem1} bytes in 14 s`);
      assert.ok((archived[CH] ?? 0) >= closed2 - 8, `the archive keeps up (${archived[CH]} of ${closed2})`);
      const metrics = await registry.getMetricsAsJSON();
      assert.equal(metrics.find((m) => m.name === 'beam_archive_failures_total')?.values[0]?.value ?? 0, 0);
      assert.ok((metrics.find((m) => m.name === 'beam_archive_backlog_seconds')?.values[0]?.value ?? 99) < 5);
    });

    it('Redis memory stays flat once the hot window is full: the channel keeps its hot window and a small index', { timeout: 90_000 }, async () => {
      await waitFor('the hot window full and archived behind it', async () => ((await live.archiveProgress(CH))[CH] ?? 0) >= 5, 60_000, 500);
      const a = await channelMemory();
      const mem0 = await usedMemory();
      const t0 = Date.now();
      const seg0 = (await live.lastSegments(CH, 1))[0]?.index ?? 0;
      const counts: number[] = [];
      while (Date.now() - t0 < 24_000) {
        await new Promise((r) => setTimeout(r, 4000));
        const m = await channelMemory();
        counts.push(Object.values(m).reduce((n, k) => n + k.keys, 0));
      }
      const b = await channelMemory();
      const mem1 = await usedMemory();
      const seconds = (Date.now() - t0) / 1000;
      const seg1 = (await live.lastSegments(CH, 1))[0]?.index ?? 0;
      const perHour = (bytes: number) => (bytes / seconds) * 3600 / 1e6;
      const grew = (k: keyof typeof a) => b[k].bytes - a[k].bytes;
      const keysA = Object.values(a).reduce((n, k) => n + k.keys, 0);
      // What the previous release kept per archived packet (index and expiry members, element hash): the hot
      // index's bytes per packet, at the packet rate of the window.
      const hotPackets = (await admin.zcard(store.keys.index(CH, 0))) + (await admin.zcard(store.keys.index(CH, 1)));
      const archivedPackets = (await admin.zrange(store.keys.cold(CH, 0), 0, -1)).concat(await admin.zrange(store.keys.cold(CH, 1), 0, -1)).reduce((n, e) => n + Number(e.split('|')[3]), 0);
      const packetRate = archivedPackets / Math.max(1, (await live.archiveProgress(CH))[CH] ?? 1) / 2;
      const metaPerPacket = b.hot.bytes / Math.max(1, hotPackets);
      console.log(`archive e2e memory over ${seconds.toFixed(1)} s (segments ${seg0} → ${seg1}): ${JSON.stringify({ before: a, after: b })}; channel keys ${keysA} → ${counts.join(' → ')}; used_memory ${mem0} → ${mem1}; ` +
        `growth per channel-hour: cold index ${perHour(grew('cold')).toFixed(2)} MB, part records ${perHour(grew('parts')).toFixed(2)} MB, other records ${perHour(grew('records')).toFixed(2)} MB, events ${perHour(grew('events')).toFixed(2)} MB (capped); ` +
        `the previous release's per-packet metadata: ${metaPerPacket.toFixed(0)} B × ${packetRate.toFixed(1)} packets/s = ${((metaPerPacket * packetRate * 3600) / 1e6).toFixed(1)} MB per channel-hour`);
      assert.ok(seg1 - seg0 >= 8, `the publish went on (${seg0} → ${seg1})`);
      // The number of keys stays flat: payload keys and element hashes of the hot window only.
      for (const c of counts) assert.ok(Math.abs(c - keysA) <= keysA * 0.2 + 40, `channel keys ${keysA} → ${counts.join(', ')}`);
      // Index and records: well under 50 MB per channel-hour (the events stream is capped, MAXLEN ~ 10000).
      assert.ok(perHour(grew('cold') + grew('parts') + grew('records')) < 50, 'index and records growth');
      assert.ok(b.hot.bytes < a.hot.bytes * 1.3 + 200_000, `hot index ${a.hot.bytes} → ${b.hot.bytes}`);
      // 24 s of a 2 Mb/s publish is ~6 MB of payloads: what Redis holds grows by far less than that.
      assert.ok(mem1 - mem0 < 1_000_000, `used_memory grew ${mem1 - mem0} bytes in ${seconds} s`);
    });

    it('a segment whose payloads were evicted before it was archived is an EXT-X-GAP in catch-up, video and audio', { timeout: 60_000 }, async () => {
      const seg = (await live.lastSegments(CH, 2)).find((r) => r.durationPts !== null);
      assert.ok(seg && seg.durationPts !== null);
      assert.ok(((await live.archiveProgress(CH))[CH] ?? 0) < seg.index, 'still hot');
      // What an eviction (or a time-to-live shorter than the hot window) does: the video payloads are gone.
      const members = await admin.zrangebyscore(store.keys.index(CH, 0), seg.startDts, seg.startDts + seg.durationPts + 90000);
      let evicted = 0;
      for (const m of members) {
        const meta = JSON.parse((await admin.hget(store.keys.element(CH, 0, m), 'json')) ?? '{}') as { dts?: number };
        if (meta.dts !== undefined && meta.dts >= seg.startDts && meta.dts < seg.startDts + seg.durationPts) evicted += await admin.del(store.keys.data(CH, 0, m));
      }
      assert.ok(evicted > 20, String(evicted));
      await waitFor(`segment ${seg.index} archived`, async () => ((await live.archiveProgress(CH))[CH] ?? 0) >= seg.index + 1, 40_000, 500);
      const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'beam_archive_gaps_total')?.values[0]?.value ?? 0;
      assert.ok(metric >= 1, 'counted');
      const iso = (ms: number) => new Date(ms).toISOString();
      const range = `start=${iso(seg.wallClockMs - 4000)}&end=${iso(seg.wallClockMs + 6000)}`;
      for (const [playlist, uri] of [['v-source', `v-source-${seg.index}.m4s`], ['audio', `audio-${seg.index}.m4s`]] as const) {
        const pl = await httpGet(base, `/live/${CH}/${playlist}.m3u8?${range}`);
        assert.equal(pl.status, 200, pl.text);
        const lines = pl.text.split('\n');
        const at = lines.indexOf(uri);
        assert.ok(at > 0, pl.text);
        assert.deepEqual(lines.slice(at - 2, at), ['#EXT-X-GAP', lines[at - 1]], pl.text);
        assert.equal(pl.text.split('#EXT-X-GAP').length - 1, 1, `one gap: ${pl.text}`);
      }
    });

    if (opts.outage) it('an archive outage in the middle of the publish: live playback goes on, failures are counted, the backlog grows and is worked off once the archive is back', { timeout: 120_000 }, async () => {
      const outage = backend?.outage;
      assert.ok(outage, 'the backend can have an outage');
      const metric = async (name: string) => (await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values[0]?.value ?? 0;
      const failures0 = await metric('beam_archive_failures_total');
      const before = (await live.archiveProgress(CH))[CH] ?? 0;
      await outage.begin();
      let outageOver = false;
      try {
        // Live playback goes on: the newest listed segment is served every 2 s for 14 s.
        const end = Date.now() + 14_000;
        while (Date.now() < end) {
          const pl = await httpGet(base, `/live/${CH}/v-source.m3u8`);
          assert.equal(pl.status, 200);
          const newest = pl.text.split('\n').filter((l) => l && !l.startsWith('#')).pop() as string;
          const seg = await httpGet(base, `/live/${CH}/${newest}`);
          assert.equal(seg.status, 200, `${newest} during the outage: ${seg.text.slice(0, 200)}`);
          await new Promise((r) => setTimeout(r, 2000));
        }
        assert.ok((await metric('beam_archive_failures_total')) > failures0, 'failures counted');
        assert.ok((await metric('beam_archive_backlog_seconds')) > 3, `backlog grows (${await metric('beam_archive_backlog_seconds')} s)`);
        assert.ok(((await live.archiveProgress(CH))[CH] ?? 0) <= before + 1, 'nothing archived while the archive is down');
        await outage.end();
        outageOver = true;
        await waitFor('the backlog worked off', async () => (await metric('beam_archive_backlog_seconds')) < 5 && ((await live.archiveProgress(CH))[CH] ?? 0) > before + 4, 40_000, 500);
        const last = (await live.archiveProgress(CH))[CH] as number;
        const seg = await httpGet(base, `/live/${CH}/v-source-${last}.m4s`);
        assert.equal(seg.status, 200, 'a segment archived after the outage is served');
      } finally {
        if (!outageOver) await outage.end();
      }
    });
  });
}
