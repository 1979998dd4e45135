/**
 * Redis refusing writes is an incident, not a crash: with `maxmemory` below what Redis holds (every write
 * refused with OOM), two live SRT publishes end with a clear reason, counted in
 * beam_ingest_store_errors_total; the process and the HTTP API stay up; once Redis accepts writes again the
 * reason is in the channel status and a new publish works.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { waitFor } from '../../helpers/process';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import type { RedisClient } from '../../../core/store/redis-connection';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { createIngestMetrics } from '../../../ingest/ingest-metrics';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';

let redis: TestRedis;
let admin: RedisClient;
let app: FastifyInstance;
let store: OwnedStore;
let live: LiveStore;
let ingest: IngestService;
let srtPort = 0;
const registry = new Registry();
const publishers: Publisher[] = [];
const escaped: unknown[] = [];
const onEscape = (err: unknown) => escaped.push(err);

beforeAll(async () => {
  process.on('unhandledRejection', onEscape);
  redis = await startTestRedis();
  admin = redis.connect();
  const client = redis.connect();
  store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  ingest = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }), metrics: createIngestMetrics(registry) },
    { ...DEFAULT_INGEST_CONFIG, refreshMs: 500, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: null },
  );
  await ingest.start();
  srtPort = ingest.srtPort() as number;
  app = withTestToken(await buildApp(
    {
      store, metrics: createEngineMetrics(undefined, false),
      plugins: [(s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: null, srtPort, rtmpPort: 1935 } })],
    },
    TEST_APP_CONFIG,
  ));
});

afterAll(async () => {
  process.off('unhandledRejection', onEscape);
  for (const p of publishers) p.stop();
  await admin?.config('SET', 'maxmemory', '0').catch(() => undefined);
  await ingest?.close();
  await app?.close();
  await redis?.close();
});

async function create(name: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/channels', payload: { name, ladder: [] } });
  assert.equal(res.statusCode, 201, res.body);
  return (res.json() as { streamKey: string }).streamKey;
}

const srtUrl = (key: string) => `srt://127.0.0.1:${srtPort}?streamid=${encodeURIComponent(key)}&pkt_size=1316`;

async function storeErrors(kind: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'beam_ingest_store_errors_total');
  const v = (m?.values ?? []) as { labels: { reason?: string }; value: number }[];
  return v.filter((x) => x.labels.reason === kind).reduce((a, x) => a + x.value, 0);
}

describe('Redis refusing writes', () => {
  it('ends the affected publishes with a reason and a metric, keeps the process and API up, recovers', { timeout: 90000 }, async () => {
    const keys = [await create('oom-a'), await create('oom-b')];
    const pubs = keys.map((k) => publishers[publishers.push(publishSrt(srtUrl(k), { seconds: 60 })) - 1] as Publisher);
    for (const name of ['oom-a', 'oom-b']) {
      await waitFor(`a segment on ${name}`, async () => (await live.lastSegments(name, 10)).length >= 1, 20000);
    }
    const used = Number(/used_memory:(\d+)/.exec(String(await admin.info('memory')))?.[1]);
    await admin.config('SET', 'maxmemory', String(Math.min(1024 * 1024, Math.floor(used / 2))));

    // Both publishes end (ingest closes the connections), the process lives on.
    for (const p of pubs) {
      const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('running'), 20000))]);
      assert.notEqual(code, 'running', 'the publisher was disconnected');
    }
    assert.ok((await storeErrors('oom')) >= 2, 'beam_ingest_store_errors_total{reason="oom"} counts the refusals');
    const list = await app.inject('/api/channels');
    assert.equal(list.statusCode, 200, 'the HTTP API answers reads while Redis refuses writes');
    assert.equal(ingest.sessions().length, 0);

    // Redis accepts writes again: the stored reason says what happened, a new publish works.
    await admin.config('SET', 'maxmemory', '0');
    for (const name of ['oom-a', 'oom-b']) {
      const reason = await waitFor(`the disconnect reason of ${name}`, async () => {
        const r = await admin.hget(store.keys.status(name), 'lastDisconnectReason');
        return r && /out of memory/.test(r) ? r : null;
      }, 10000);
      assert.match(reason, /Redis refused writes: out of memory/);
      assert.equal(await admin.hget(store.keys.status(name), 'lastDisconnectCode'), 'STORE_OOM');
    }
    const before = (await live.lastSegments('oom-a', 100)).length;
    const again = publishers[publishers.push(publishSrt(srtUrl(keys[0] as string), { seconds: 4 })) - 1] as Publisher;
    assert.equal(await again.exited, 0, again.stderr());
    await waitFor('new segments after recovery', async () => (await live.lastSegments('oom-a', 100)).length > before, 10000);
    assert.deepEqual(escaped, [], 'no promise rejection escaped');
  });
});
