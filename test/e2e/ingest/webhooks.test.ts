/**
 * Admission and notification webhooks with real ffmpeg publishers (SRT and RTMP) and a real HTTP receiver in
 * the test: an allowed publish goes live with its media (what SRT sent while the webhook was asked included)
 * and is told as publish → publisher.connected → channel.live → publisher.disconnected → channel.idle, every
 * delivery signed and none carrying the key; a refused one is cut with the webhook's reason and code in the
 * channel status while another channel publishing at the same time is untouched; a webhook that hangs gives
 * the configured default (deny here) within the timeout, and one that is down (another ingest process,
 * default allow) lets the publish in.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { publishRtmp, publishSrt, type Publisher } from '../../helpers/publishers';
import { waitFor } from '../../helpers/process';
import { startWebhookReceiver, type Received, type WebhookReceiver } from '../../helpers/webhook-receiver';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { webhooksPlugin } from '../../../engine/api/webhooks';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createChannelStore, type ChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { createIngestMetrics } from '../../../ingest/ingest-metrics';
import { createWebhooks, type Webhooks } from '../../../core/webhooks/webhooks';
import { verifySignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../../core/webhooks/signature';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';

const SECRET = 'e2e-server-secret-0123456789';
const TIMEOUT_MS = 1000;

let redis: TestRedis;
let rx: WebhookReceiver;
let app: FastifyInstance;
let store: OwnedStore;
let live: LiveStore;
let channels: ChannelStore;
/** Ingest with the receiver as the server webhook, default deny. */
let ingest: IngestService;
let hooks: Webhooks;
/** A second ingest process whose server webhook is down, default allow. */
let ingestDown: IngestService;
let hooksDown: Webhooks;
const registry = new Registry();
const publishers: Publisher[] = [];
const keys = new Map<string, string>();

/** The receiver's policy: channels named refused-* are refused, slow-* never answered, the rest allowed. */
function policy(r: Received) {
  const channel = String(r.body.channel ?? '');
  if (r.body.event !== 'publish') return { status: 204 };
  if (channel.startsWith('refused-')) return { status: 200, body: JSON.stringify({ allow: false, reason: `no slot booked for ${channel}` }) };
  if (channel.startsWith('slow-')) return 'hang' as const;
  // Allowed after a while: what an SRT caller sends meanwhile is held, and must reach the store.
  if (channel.startsWith('allowed-')) return { status: 200, body: '{"allow":true}', delayMs: 700 };
  return { status: 200, body: '{"allow":true}' };
}

async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  redis = await startTestRedis();
  rx = await startWebhookReceiver(policy);
  const client = redis.connect();
  store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  channels = createChannelStore({ redis: client, keys: store.keys });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  const log = pino({ level: 'silent' });
  const wcfg = { timeoutMs: TIMEOUT_MS, retries: 2, retryDelayMs: 200, queueLimit: 100, logSize: 200 };
  hooks = createWebhooks({ log, registry }, { url: rx.url('/server'), secret: SECRET, admissionDefault: 'deny', ...wcfg });
  hooksDown = createWebhooks({ log }, { url: `http://127.0.0.1:${await closedPort()}/down`, secret: SECRET, admissionDefault: 'allow', ...wcfg });
  const tuning = { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } };
  ingest = createIngestService({ store, live, channels, subscriber: redis.connect(), log, metrics: createIngestMetrics(registry), webhooks: hooks }, tuning);
  ingestDown = createIngestService({ store, live, channels: createChannelStore({ redis: redis.connect(), keys: store.keys }), subscriber: redis.connect(), log, webhooks: hooksDown }, tuning);
  await ingest.start();
  await ingestDown.start();
  app = withTestToken(await buildApp(
    {
      store, metrics: createEngineMetrics(undefined, false),
      plugins: [
        (s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: null, srtPort: ingest.srtPort() as number, rtmpPort: ingest.rtmpPort() as number } }),
        (s) => webhooksPlugin(s, { webhooks: hooks }),
      ],
    },
    TEST_APP_CONFIG,
  ));
});

afterAll(async () => {
  for (const p of publishers) p.stop();
  await ingest?.close();
  await ingestDown?.close();
  await hooks?.close();
  await hooksDown?.close();
  await app?.close();
  await rx?.close();
  await redis?.close();
});

function track(p: Publisher): Publisher {
  publishers.push(p);
  return p;
}

async function create(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/api/channels', payload: { name, ladder: [], reconnectWindowSeconds: 0, ...extra } });
  assert.equal(res.statusCode, 201, res.body);
  const key = (res.json() as { streamKey: string }).streamKey;
  keys.set(name, key);
  return key;
}

const srtUrl = (port: number, key: string) => `srt://127.0.0.1:${port}?streamid=${encodeURIComponent(key)}&pkt_size=1316`;
const rtmpUrl = (port: number, key: string) => `rtmp://127.0.0.1:${port}/live/${key}`;

function publish(protocol: 'srt' | 'rtmp', name: string, seconds: number, via: IngestService = ingest): Publisher {
  const key = keys.get(name) as string;
  return track(protocol === 'srt' ? publishSrt(srtUrl(via.srtPort() as number, key), { seconds }) : publishRtmp(rtmpUrl(via.rtmpPort() as number, key), { seconds }));
}

interface Status { state: string; lastConnectedAt: string | null; lastDisconnectReason: string | null; lastDisconnectCode: string | null }
async function status(name: string): Promise<Status> {
  return (await app.inject(`/api/channels/${name}`)).json().status as Status;
}

function assertSigned(r: Received): void {
  const v = verifySignature({ secret: SECRET, body: r.raw, timestamp: r.headers[TIMESTAMP_HEADER] as string, signature: r.headers[SIGNATURE_HEADER] as string, nowMs: Date.now() });
  assert.deepEqual(v, { ok: true }, `${r.body.event}: ${r.raw}`);
}

/** Exit code, or 'running' when the publisher is still up after `ms`. */
function exitWithin(p: Publisher, ms: number): Promise<number | null | 'running'> {
  return Promise.race([p.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), ms))]);
}

describe('admission and notification webhooks, real publishers', () => {
  for (const protocol of ['srt', 'rtmp'] as const) {
    it(`${protocol}: an allowed publish goes live with its media and is told start to end, signed, without the key`, { timeout: 60000 }, async () => {
      const name = `allowed-${protocol}`;
      const key = await create(name);
      const p = publish(protocol, name, 3);
      await waitFor(`a segment on ${name}`, async () => (await live.lastSegments(name, 10)).length >= 1, 15000);
      assert.equal(await p.exited, 0, p.stderr());
      await waitFor(`channel.idle of ${name}`, async () => rx.of('channel.idle', name).length === 1, 10000);
      const events = rx.received.filter((r) => r.body.channel === name).map((r) => r.body.event);
      assert.deepEqual(events, ['publish', 'publisher.connected', 'channel.live', 'publisher.disconnected', 'channel.idle']);
      const mine = rx.received.filter((r) => r.body.channel === name);
      for (const r of mine) {
        assertSigned(r);
        assert.ok(!r.raw.includes(key), `${r.body.event} carries no stream key`);
      }
      const [ask, connected, , gone, idle] = mine as [Received, Received, Received, Received, Received];
      assert.equal(ask.body.protocol, protocol);
      assert.equal((ask.body.peer as { address: string }).address, '127.0.0.1');
      assert.equal(connected.body.requestId, ask.body.requestId, 'one request id from admission to disconnect');
      assert.equal(gone.body.requestId, ask.body.requestId);
      assert.equal(gone.body.code, 'INGEST_ENDED');
      assert.equal(idle.body.code, 'INGEST_ENDED');
      // The whole stream reached the store, its first 0.7 s too (held while the webhook took its time to answer).
      const segments = await live.segments(name, 1, 100);
      const seconds = segments.reduce((sum, x) => sum + (x.durationPts ?? 0), 0) / 90000;
      assert.ok(seconds >= 2.7 && seconds <= 3.3, `${seconds.toFixed(2)} s of the 3 s published are stored`);
      assert.equal((await status(name)).state, 'idle');
    });

    it(`${protocol}: a refused publisher is cut with the webhook's reason in the channel status, while another channel publishes untouched`, { timeout: 60000 }, async () => {
      const name = `refused-${protocol}`;
      const other = `bystander-${protocol}`;
      await create(name);
      await create(other);
      const ok = publish(protocol, other, 6);
      await waitFor(`${other} live`, async () => (await live.lastSegments(other, 10)).length >= 1, 15000);
      const refused = publish(protocol, name, 20);
      const code = await exitWithin(refused, 10000);
      assert.notEqual(code, 'running', 'the refused publisher was cut');
      assert.notEqual(code, 0);
      if (protocol === 'rtmp') assert.match(refused.stderr(), new RegExp(`refused: no slot booked for ${name}`), 'the RTMP publisher reads the receiver\'s reason');
      const s = await waitFor('the refusal in the channel status', async () => {
        const v = await status(name);
        return v.lastDisconnectCode ? v : null;
      }, 5000);
      assert.equal(s.lastDisconnectCode, 'INGEST_REFUSED_BY_WEBHOOK');
      assert.match(s.lastDisconnectReason ?? '', new RegExp(`^refused by the admission webhook \\(127\\.0\\.0\\.1:\\d+\\): no slot booked for ${name}$`));
      assert.equal(s.state, 'idle');
      assert.equal(s.lastConnectedAt, null, 'never connected');
      assert.deepEqual(await live.lastSegments(name, 10), [], 'nothing of it was written');
      assert.deepEqual(rx.received.filter((r) => r.body.channel === name).map((r) => r.body.event), ['publish'], 'no connected/live notifications');
      // The other channel went on: live all along, its publisher finished normally.
      assert.equal((await status(other)).state, 'live');
      assert.equal(await ok.exited, 0, ok.stderr());
      assert.equal(ingest.sessions().some((x) => x.channel === name), false);
    });
  }

  it('a webhook that hangs: the default (deny) within the timeout, and other channels are not held up', { timeout: 60000 }, async () => {
    await create('slow-srt');
    await create('quick-srt');
    // A first caller waits for its admission; a second on the same channel replaces it at once (one waits per channel).
    const first = publish('srt', 'slow-srt', 20);
    const firstExit = first.exited.then(() => Date.now());
    await waitFor('the first admission request', async () => rx.of('publish', 'slow-srt').length === 1, 15000, 20);
    const slow = publish('srt', 'slow-srt', 20);
    const quick = publish('srt', 'quick-srt', 4);
    await waitFor('the second admission request', async () => rx.of('publish', 'slow-srt').length === 2, 15000, 20);
    const secondAsked = rx.of('publish', 'slow-srt')[1]!.at;
    const replacedAfter = (await Promise.race([firstExit, new Promise<number>((r) => setTimeout(() => r(Infinity), 5000))])) - secondAsked;
    assert.ok(replacedAfter < TIMEOUT_MS - 300, `the waiting caller was replaced ${replacedAfter} ms after the second was asked about, not refused by the default`);
    const s = await waitFor('the default decision in the status', async () => {
      const v = await status('slow-srt');
      return v.lastDisconnectCode ? v : null;
    }, 10000, 50);
    // From the moment the webhook received the request (ffmpeg's own start-up excluded) to the refusal stored. The
    // product's clock starts when it opens the connection, a little before the request arrives here (connection
    // set-up and this loaded loop: 60+ ms seen on CI), so the full wait is checked on the product's own record below.
    const asked = secondAsked;
    const decidedAfter = Date.now() - asked;
    assert.ok(decidedAfter >= TIMEOUT_MS - 300 && decidedAfter < TIMEOUT_MS + 1000, `refused ${decidedAfter} ms after the webhook was asked (timeout ${TIMEOUT_MS} ms)`);
    assert.equal(s.lastDisconnectCode, 'INGEST_REFUSED_BY_WEBHOOK');
    assert.match(s.lastDisconnectReason ?? '', /gave no answer \(no answer within 1000 ms\) and BEAM_WEBHOOK_ADMISSION_DEFAULT is deny/);
    assert.notEqual(await exitWithin(slow, 10000), 'running');
    await waitFor('quick-srt live', async () => (await live.lastSegments('quick-srt', 10)).length >= 1, 15000);
    assert.equal(await quick.exited, 0, quick.stderr());
    const log = (await app.inject('/api/webhooks/deliveries?limit=200')).json() as { deliveries: { channel: string; event: string; outcome: string; error: string | null; decision?: string; durationMs: number }[] };
    const slowLog = log.deliveries.find((d) => d.channel === 'slow-srt' && d.event === 'publish');
    assert.equal(log.deliveries.filter((d) => d.channel === 'slow-srt' && d.event === 'publish').length, 2);
    assert.deepEqual(slowLog && { outcome: slowLog.outcome, error: slowLog.error, decision: slowLog.decision }, { outcome: 'failed', error: 'no answer within 1000 ms', decision: 'deny' });
    const waited = log.deliveries.filter((d) => d.channel === 'slow-srt' && d.event === 'publish' && d.error === 'no answer within 1000 ms');
    assert.ok(waited.length >= 1 && waited.every((d) => d.durationMs >= TIMEOUT_MS - 5), `the webhook got its whole timeout: ${waited.map((d) => d.durationMs).join(', ')} ms`);
    const metrics = await registry.metrics();
    assert.match(metrics, /beam_webhook_admission_decisions_total\{decision="deny",by="default"\} 2/);
    assert.match(metrics, /beam_webhook_admission_seconds_bucket\{le="2"\} [1-9]/, 'admission latency is measured');
    assert.match(metrics, /beam_pipeline_errors_total\{component="ingest",code="INGEST_REFUSED_BY_WEBHOOK"\} [1-9]/);
    assert.match(metrics, /beam_ingest_refusals_total\{protocol="srt",reason="webhook"\} [1-9]/);
  });

  it('a webhook that is down, with the default allow (another ingest process): the publish goes live at once', { timeout: 60000 }, async () => {
    await create('down-rtmp');
    const p = publish('rtmp', 'down-rtmp', 3, ingestDown);
    await waitFor('down-rtmp connected', async () => (await status('down-rtmp')).lastConnectedAt !== null, 10000, 50);
    await waitFor('a segment on down-rtmp', async () => (await live.lastSegments('down-rtmp', 10)).length >= 1, 15000);
    assert.equal(await p.exited, 0, p.stderr());
    const d = hooksDown.deliveries().find((x) => x.channel === 'down-rtmp' && x.event === 'publish');
    assert.deepEqual(d && { outcome: d.outcome, error: d.error, decision: d.decision }, { outcome: 'failed', error: 'connection refused', decision: 'allow' });
    assert.ok((d?.durationMs ?? Infinity) < TIMEOUT_MS / 2, `a refused connection decides without waiting for the timeout (${d?.durationMs} ms)`);
  });

  it("a channel's own webhook is asked too, and its refusal refuses even when the server's allows", { timeout: 60000 }, async () => {
    const own = await startWebhookReceiver(() => ({ status: 403, body: '{"reason":"channel owner says no"}' }));
    try {
      await create('own-hook', { webhook: { url: own.url('/own'), secret: 'own-secret-0123456789' } });
      const p = publish('srt', 'own-hook', 20);
      assert.notEqual(await exitWithin(p, 10000), 'running');
      const s = await waitFor('the refusal', async () => {
        const v = await status('own-hook');
        return v.lastDisconnectCode ? v : null;
      }, 5000);
      assert.match(s.lastDisconnectReason ?? '', /channel owner says no/);
      assert.equal(own.of('publish', 'own-hook').length, 1);
      const ownAsk = own.of('publish', 'own-hook')[0]!;
      assert.deepEqual(verifySignature({ secret: 'own-secret-0123456789', body: ownAsk.raw, timestamp: ownAsk.headers[TIMESTAMP_HEADER] as string, signature: ownAsk.headers[SIGNATURE_HEADER] as string, nowMs: Date.now() }), { ok: true });
      assert.equal(rx.of('publish', 'own-hook').length, 1, "the server's webhook was asked as well");
    } finally {
      await own.close();
    }
  });
});
