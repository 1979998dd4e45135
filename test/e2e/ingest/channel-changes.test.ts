/**
 * Channel changes reach ingest at once, the way an encoder meets them: a publish started the moment the
 * channel API answers is accepted (SRT and RTMP, five times in a row), a channel created by another
 * process is accepted over pub/sub, the subscription survives a killed connection (PUBSUB NUMSUB), a
 * deleted channel stops ingesting and writes nothing more, and a rotated key is refused at once while the
 * publisher that used it is cut.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { publishRtmp, publishSrt, type Publisher } from '../../helpers/publishers';
import { waitFor } from '../../helpers/process';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createChannelStore, type ChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import type { RedisClient } from '../../../core/store/redis-connection';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { createIngestMetrics } from '../../../ingest/ingest-metrics';
import { Registry } from 'prom-client';
import { createChannel as newChannel } from '../../../core/model/channel';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';

let redis: TestRedis;
let admin: RedisClient;
let app: FastifyInstance;
let store: OwnedStore;
let live: LiveStore;
/** Another process's channel store: its changes reach ingest over pub/sub only. */
let otherProcess: ChannelStore;
let ingest: IngestService;
let srtPort = 0;
let rtmpPort = 0;
let prefix = '';
const publishers: Publisher[] = [];
const registry = new Registry();

beforeAll(async () => {
  redis = await startTestRedis();
  admin = redis.connect();
  const client = redis.connect();
  prefix = uniquePrefix();
  store = createStore({ redis: client }, { prefix, packetTtlMs: 600000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  otherProcess = createChannelStore({ redis: redis.connect(), keys: store.keys });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  ingest = createIngestService(
    // refreshMs is long on purpose: only notifications (local or pub/sub) can explain a prompt change.
    { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }), metrics: createIngestMetrics(registry) },
    { ...DEFAULT_INGEST_CONFIG, refreshMs: 60000, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } },
  );
  await ingest.start();
  srtPort = ingest.srtPort() as number;
  rtmpPort = ingest.rtmpPort() as number;
  app = withTestToken(await buildApp(
    {
      store, metrics: createEngineMetrics(undefined, false),
      plugins: [(s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: null, srtPort, rtmpPort } })],
    },
    TEST_APP_CONFIG,
  ));
});

afterAll(async () => {
  for (const p of publishers) p.stop();
  await ingest?.close();
  await app?.close();
  await redis?.close();
});

function track(p: Publisher): Publisher {
  publishers.push(p);
  return p;
}

async function create(name: string): Promise<{ streamKey: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/channels', payload: { name, ladder: [] } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as { streamKey: string };
}

const srtUrl = (key: string) => `srt://127.0.0.1:${srtPort}?streamid=${encodeURIComponent(key)}&pkt_size=1316`;
const rtmpUrl = (key: string) => `rtmp://127.0.0.1:${rtmpPort}/live/${key}`;

async function numsub(): Promise<number> {
  const r = (await admin.pubsub('NUMSUB', store.keys.channelsChanged)) as [string, number];
  return Number(r[1]);
}

async function ownKeys(name: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*${name}*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

/** beam_pipeline_errors_total for one ingest code. */
async function ingestFaults(code: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'beam_pipeline_errors_total');
  const v = (m?.values ?? []) as { labels: { component?: string; code?: string }; value: number }[];
  return v.filter((x) => x.labels.code === code).reduce((a, x) => a + x.value, 0);
}

async function status(name: string): Promise<{ lastDisconnectReason: string | null; lastDisconnectCode: string | null }> {
  const res = await app.inject(`/api/channels/${name}`);
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { status: { lastDisconnectReason: string | null; lastDisconnectCode: string | null } }).status;
}

async function connectedAt(name: string): Promise<string | null> {
  return (await admin.hget(store.keys.status(name), 'lastConnectedAt')) ?? null;
}

describe('channel changes reach ingest at once', () => {
  it('the change subscription is live after start and after its connection is killed', { timeout: 20000 }, async () => {
    assert.equal(await numsub(), 1, 'PUBSUB NUMSUB after start');
    await admin.client('KILL', 'TYPE', 'pubsub');
    await waitFor('the subscriber to re-subscribe', async () => (await numsub()) === 1, 5000, 50);
    // A channel another process creates now is heard over pub/sub.
    const ch = newChannel({ name: 'from-elsewhere', ladder: [] }, validateLadder, DEFAULT_LADDER);
    await otherProcess.create(ch);
    await new Promise((r) => setTimeout(r, 300)); // one notification's way, with margin
    const p = track(publishSrt(srtUrl(ch.streamKey), { seconds: 1 }));
    assert.equal(await p.exited, 0, p.stderr());
  });

  it('a publish started the moment POST /api/channels answers is accepted, 5 times over SRT and over RTMP', { timeout: 60000 }, async () => {
    const lane = async (protocol: 'srt' | 'rtmp') => {
      for (let i = 0; i < 5; i++) {
        const name = `now-${protocol}-${i}`;
        const { streamKey } = await create(name);
        const p = track(protocol === 'srt' ? publishSrt(srtUrl(streamKey), { seconds: 1 }) : publishRtmp(rtmpUrl(streamKey), { seconds: 1 }));
        assert.equal(await p.exited, 0, `${name}: ${p.stderr()}`);
        assert.ok(await connectedAt(name), `${name} was live`);
      }
    };
    await Promise.all([lane('srt'), lane('rtmp')]);
  });

  it('a deleted channel stops ingesting within a second and writes nothing more', { timeout: 40000 }, async () => {
    const { streamKey } = await create('doomed');
    const p = track(publishSrt(srtUrl(streamKey), { seconds: 30 }));
    await waitFor('a segment on doomed', async () => (await live.lastSegments('doomed', 10)).length >= 1, 15000);
    const del = await app.inject({ method: 'DELETE', url: '/api/channels/doomed' });
    assert.equal(del.statusCode, 204);
    await new Promise((r) => setTimeout(r, 1000));
    const keysAfter1s = await ownKeys('doomed');
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(await ownKeys('doomed'), keysAfter1s, 'no key appeared or came back in the 2 s after');
    assert.deepEqual(keysAfter1s, [], 'nothing of the channel is left');
    assert.equal(ingest.sessions().some((s) => s.channel === 'doomed'), false);
    assert.equal(await ingestFaults('INGEST_CHANNEL_DELETED'), 1, 'the deleted channel\'s end is counted by its code');
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('running'), 8000))]);
    assert.notEqual(code, 'running', 'the publisher was disconnected');
    assert.notEqual(code, 0);
    const again = track(publishSrt(srtUrl(streamKey), { seconds: 1 }));
    assert.notEqual(await again.exited, 0, 'the deleted channel\'s key is refused');
  });

  it('a publisher that ends its stream leaves INGEST_ENDED beside the reason in the channel status', { timeout: 30000 }, async () => {
    const { streamKey } = await create('ends-itself');
    const p = track(publishRtmp(rtmpUrl(streamKey), { seconds: 2 }));
    assert.equal(await p.exited, 0, p.stderr());
    const s = await waitFor('the disconnect code', async () => {
      const v = await status('ends-itself');
      return v.lastDisconnectCode ? v : null;
    }, 5000);
    assert.equal(s.lastDisconnectCode, 'INGEST_ENDED');
    assert.match(s.lastDisconnectReason ?? '', /^(unpublished|disconnected): /, 'the RTMP layer\'s reason text is kept');
  });

  it('a rotated key is refused at once; the publisher that used it is cut; the new key works', { timeout: 40000 }, async () => {
    const { streamKey: oldKey } = await create('rotating');
    const p = track(publishSrt(srtUrl(oldKey), { seconds: 30 }));
    await waitFor('a segment on rotating', async () => (await live.lastSegments('rotating', 10)).length >= 1, 15000);
    const res = await app.inject({ method: 'POST', url: '/api/channels/rotating/key' });
    assert.equal(res.statusCode, 200, res.body);
    const newKey = (res.json() as { streamKey: string }).streamKey;
    const oldSrt = track(publishSrt(srtUrl(oldKey), { seconds: 1 }));
    const oldRtmp = track(publishRtmp(rtmpUrl(oldKey), { seconds: 1 }));
    assert.notEqual(await oldSrt.exited, 0, 'old key over SRT refused');
    assert.notEqual(await oldRtmp.exited, 0, 'old key over RTMP refused');
    const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('running'), 8000))]);
    assert.notEqual(code, 'running', 'the publisher with the old key was cut');
    await waitFor('the rotation as the disconnect reason', async () => (await admin.hget(store.keys.status('rotating'), 'lastDisconnectReason'))?.includes('rotated'), 5000);
    const rotated = await status('rotating');
    assert.equal(rotated.lastDisconnectReason, 'the stream key was rotated');
    assert.equal(rotated.lastDisconnectCode, 'INGEST_KEY_ROTATED', 'GET /api/channels/:name shows the code beside the reason');
    assert.ok((await ingestFaults('RTMP_REFUSED')) >= 1 && (await ingestFaults('SRT_REFUSED')) >= 1, 'the old key\'s refusals are counted by code');
    const fresh = track(publishSrt(srtUrl(newKey), { seconds: 1 }));
    assert.equal(await fresh.exited, 0, fresh.stderr());
  });
});
