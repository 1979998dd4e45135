/**
 * The webhook parts of the HTTP API against a real redis-server and a real receiver: the delivery log
 * (token required, limit), a channel's webhook setting (validated, its secret never answered nor readable
 * anonymously), and the OpenAPI document.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { assertError, TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { webhooksPlugin } from '../../../engine/api/webhooks';
import { createStore } from '../../../core/store/store';
import { createChannelStore, type ChannelStore } from '../../../core/store/channel-store';
import { createWebhooks, type Webhooks } from '../../../core/webhooks/webhooks';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';

const SECRET = 'channel-secret-0123456789';
let redis: TestRedis;
let rx: WebhookReceiver;
let app: FastifyInstance;
let channels: ChannelStore;
let hooks: Webhooks;

beforeAll(async () => {
  redis = await startTestRedis();
  rx = await startWebhookReceiver(() => ({ status: 204 }));
  const client = redis.connect();
  const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 60000, frameTtlMs: 60000 });
  channels = createChannelStore({ redis: client, keys: store.keys });
  hooks = createWebhooks({ log: { info() {}, warn() {} } }, { url: rx.url('/server'), secret: 'server-secret-0123456789', timeoutMs: 1000, admissionDefault: 'allow', retries: 0, retryDelayMs: 100, queueLimit: 10, logSize: 5 });
  app = withTestToken(await buildApp(
    {
      store, metrics: createEngineMetrics(undefined, false),
      plugins: [
        (s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: null, srtPort: 9000, rtmpPort: 1935 } }),
        (s) => webhooksPlugin(s, { webhooks: hooks }),
      ],
    },
    TEST_APP_CONFIG,
  ));
});

afterAll(async () => {
  await hooks?.close();
  await app?.close();
  await rx?.close();
  await redis?.close();
});

describe('GET /api/webhooks/deliveries', () => {
  it('needs the API token', async () => {
    assertError(await app.inject({ url: '/api/webhooks/deliveries', headers: { authorization: '' } }), 401, /API token/);
    assertError(await app.inject({ url: '/api/webhooks/deliveries', headers: { authorization: 'Bearer wrong' } }), 401);
  });

  it("answers this process's last deliveries, newest first, bounded by the log size", async () => {
    const empty = await app.inject('/api/webhooks/deliveries');
    assert.equal(empty.statusCode, 200, empty.body);
    assert.deepEqual(empty.json(), { deliveries: [], capacity: 5, queue: { queued: 0, inFlight: 0, dropped: 0 }, scope: `process ${process.pid}` });
    for (let i = 0; i < 7; i++) await hooks.admit({ channel: `log-${i}`, protocol: 'srt', peer: { address: '127.0.0.1', port: 1000 + i } });
    const all = (await app.inject('/api/webhooks/deliveries')).json() as { deliveries: { channel: string; event: string; outcome: string; status: number; attempts: number; host: string; decision: string }[] };
    assert.deepEqual(all.deliveries.map((d) => d.channel), ['log-6', 'log-5', 'log-4', 'log-3', 'log-2']);
    const d = all.deliveries[0]!;
    assert.deepEqual({ event: d.event, outcome: d.outcome, status: d.status, attempts: d.attempts, decision: d.decision }, { event: 'publish', outcome: 'delivered', status: 204, attempts: 1, decision: 'allow' });
    assert.equal(d.host, new URL(rx.url()).host, 'the host only, never the path');
    const two = (await app.inject('/api/webhooks/deliveries?limit=2')).json() as { deliveries: unknown[] };
    assert.equal(two.deliveries.length, 2);
    for (const bad of ['0', 'x', '-3']) assertError(await app.inject(`/api/webhooks/deliveries?limit=${bad}`), 400, /limit/);
  });
});

describe("a channel's webhook in the channel API", () => {
  it('is set, shown to the token holder without its secret, hidden from anonymous readers, and kept when only the URL changes', async () => {
    const created = await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'hooked', ladder: [], webhook: { url: rx.url('/channel'), secret: SECRET } } });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(created.json().webhook, { url: rx.url('/channel') });
    assert.ok(!created.body.includes(SECRET), 'the secret is write-only');
    const read = await app.inject('/api/channels/hooked');
    assert.deepEqual(read.json().webhook, { url: rx.url('/channel') });
    assert.ok(!read.body.includes(SECRET));
    const anonymous = await app.inject({ url: '/api/channels/hooked', headers: { authorization: '' } });
    assert.equal(anonymous.json().webhook, undefined);
    assert.ok(!anonymous.body.includes('/channel'));
    const list = await app.inject('/api/channels');
    assert.ok(!list.body.includes(SECRET));

    const moved = await app.inject({ method: 'PATCH', url: '/api/channels/hooked', payload: { webhook: { url: rx.url('/moved') } } });
    assert.equal(moved.statusCode, 200, moved.body);
    assert.deepEqual((await channels.get('hooked'))?.webhook, { url: rx.url('/moved'), secret: SECRET });
    const removed = await app.inject({ method: 'PATCH', url: '/api/channels/hooked', payload: { webhook: null } });
    assert.equal(removed.json().webhook, null);
    assert.equal((await channels.get('hooked'))?.webhook, null);
  });

  it('bad settings are 400 naming the field', async () => {
    await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'plain', ladder: [] } });
    const cases: [unknown, RegExp][] = [
      [{ url: 'file:///etc/passwd', secret: SECRET }, /webhook\.url' must use http/],
      [{ url: rx.url('/x') }, /webhook\.secret' is required/],
      [{ url: rx.url('/x'), secret: 'short' }, /webhook\.secret' must be 16/],
      [{ url: 'http://user:pw@127.0.0.1/x', secret: SECRET }, /credentials/],
    ];
    for (const [webhook, re] of cases) assertError(await app.inject({ method: 'PATCH', url: '/api/channels/plain', payload: { webhook } }), 400, re);
  });
});

describe('OpenAPI', () => {
  it('documents the delivery log (token required) and the channel webhook setting', async () => {
    const doc = (await app.inject('/api/openapi.json')).json() as { paths: Record<string, Record<string, { security?: unknown; parameters?: { name: string }[] }>>; components: { schemas: Record<string, unknown> } };
    const op = doc.paths['/api/webhooks/deliveries']?.get;
    assert.ok(op, Object.keys(doc.paths).join(', '));
    assert.deepEqual(op.security, [{ bearerAuth: [] }]);
    assert.deepEqual(op.parameters?.map((p) => p.name), ['limit']);
    const patch = JSON.stringify(doc.paths['/api/channels/{name}']?.patch);
    assert.match(patch, /"webhook"/);
    assert.match(patch, /write-only/i);
  });
});
