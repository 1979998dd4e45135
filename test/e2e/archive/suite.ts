/**
 * Catch-up storage end to end, run once per archive backend (archive.test.ts: a local folder;
 * archive-s3.test.ts: S3 on a server the test starts): ffmpeg publishes over SRT into a real ingest with an
 * archiver whose hot window is the minimum (10 s). A segment fetched from /live while hot and again once archived has the same sha256,
 * video and audio; a packet's payload from the Content Beam API is identical across the boundary; and the
 * channel's payload keys (and Redis memory) stop growing once payloads move to the archive.
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
    publishers.push(publishSrt(srtUrl, { seconds: 60, fps: 25, gopFrames: 50, size: '640x360', bitrate: '2M' }));
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

      // Archived: the payload key goes, `arch` names the object; the same bytes come back.
      await waitFor('segment 2 archived', async () => (await admin.hget(store.keys.element(CH, 0, member), 'arch')) !== null, 40000, 250);
      assert.equal(await admin.exists(store.keys.data(CH, 0, member)), 0);
      const cold = {
        video: await httpGet(base, `/live/${CH}/v-source-2.m4s`),
        audio: await httpGet(base, `/live/${CH}/audio-2.m4s`),
        payload: await httpGet(base, `/beams/${CH}/stream_0/${member}/data`),
      };
      assert.equal(sha(cold.video.body), sha(hot.video.body), 'video segment');
      assert.equal(sha(cold.audio.body), sha(hot.audio.body), 'audio segment');
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
