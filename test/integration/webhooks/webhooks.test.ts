/**
 * The webhooks component against a real HTTP receiver: admissions (allow, refuse, the default within the
 * timeout for a receiver that hangs, refuses connections, answers too much or redirects; server and channel
 * webhooks asked at once), notifications (signed, retried on the backoff schedule with the same delivery id,
 * not retried on a 4xx, given up after the retries, the queue bound dropping the oldest, notify never waiting),
 * the delivery log, the metrics and close().
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { createWebhooks, type Webhooks, type WebhooksConfig } from '../../../core/webhooks/webhooks';
import { verifySignature, SIGNATURE_HEADER, TIMESTAMP_HEADER, DELIVERY_HEADER } from '../../../core/webhooks/signature';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhook-receiver';
import { waitFor } from '../../helpers/process';

const SECRET = 'server-secret-0123456789';
const CHANNEL_SECRET = 'channel-secret-9876543210';
const silent = { info() {}, warn() {} };
const peer = { address: '198.51.100.9', port: 41000 };

let rx: WebhookReceiver;
const made: Webhooks[] = [];

beforeAll(async () => {
  rx = await startWebhookReceiver();
});
afterAll(async () => {
  await Promise.allSettled(made.map((w) => w.close()));
  await rx.close();
});

function hooks(over: Partial<WebhooksConfig> = {}, registry?: Registry): Webhooks {
  const w = createWebhooks(
    { log: silent, registry },
    { url: rx.url('/server'), secret: SECRET, timeoutMs: 400, admissionDefault: 'allow', retries: 3, retryDelayMs: 100, queueLimit: 100, logSize: 50, ...over },
  );
  made.push(w);
  return w;
}

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function assertSigned(r: { raw: string; headers: Record<string, string | string[] | undefined> }, secret = SECRET): void {
  const v = verifySignature({ secret, body: r.raw, timestamp: r.headers[TIMESTAMP_HEADER] as string, signature: r.headers[SIGNATURE_HEADER] as string, nowMs: Date.now() });
  assert.deepEqual(v, { ok: true }, r.raw);
}

describe('admission', () => {
  it('a 2xx allows; the body is signed, names channel, protocol, peer and a request id, never a key', async () => {
    rx.respond(() => ({ status: 204 }));
    const w = hooks();
    const before = rx.received.length;
    const d = await w.admit({ channel: 'adm-ok', protocol: 'srt', peer });
    assert.deepEqual({ allow: d.allow, reason: d.reason, by: d.decidedBy }, { allow: true, reason: null, by: 'webhook' });
    const r = rx.received.slice(before);
    assert.equal(r.length, 1);
    const got = r[0]!;
    assert.equal(got.path, '/server');
    assertSigned(got);
    assert.deepEqual(Object.keys(got.body).sort(), ['channel', 'event', 'id', 'peer', 'protocol', 'requestId', 'timestamp']);
    assert.equal(got.body.event, 'publish');
    assert.equal(got.body.requestId, d.requestId);
    assert.equal(got.body.id, got.headers[DELIVERY_HEADER]);
    assert.deepEqual(got.body.peer, peer);
    const rec = w.deliveries(1)[0]!;
    assert.equal(rec.event, 'publish');
    assert.equal(rec.outcome, 'delivered');
    assert.equal(rec.decision, 'allow');
    assert.equal(rec.status, 204);
    assert.equal(rec.host, new URL(rx.url()).host);
  });

  it('{"allow": false, "reason"} and a non-2xx refuse, with the reason', async () => {
    const w = hooks();
    rx.respond(() => ({ status: 200, body: JSON.stringify({ allow: false, reason: 'account suspended' }) }));
    const a = await w.admit({ channel: 'adm-no', protocol: 'rtmp', peer });
    assert.equal(a.allow, false);
    assert.match(a.reason ?? '', /^refused by the admission webhook \(127\.0\.0\.1:\d+\): account suspended$/);
    assert.equal(a.clientReason, 'refused: account suspended', 'what the publisher reads names no host');
    rx.respond(() => ({ status: 403 }));
    const b = await w.admit({ channel: 'adm-no', protocol: 'rtmp', peer });
    assert.equal(b.allow, false);
    assert.match(b.reason ?? '', /HTTP 403$/);
    assert.equal(w.deliveries(1)[0]!.decision, 'deny');
  });

  it('a webhook that hangs: the configured default, within the timeout', async () => {
    rx.respond(() => 'hang');
    for (const admissionDefault of ['allow', 'deny'] as const) {
      const w = hooks({ admissionDefault, timeoutMs: 300 });
      const t0 = Date.now();
      const d = await w.admit({ channel: 'adm-slow', protocol: 'srt', peer });
      const took = Date.now() - t0;
      assert.ok(took >= 280 && took < 800, `decided after ${took} ms`);
      assert.equal(d.allow, admissionDefault === 'allow');
      assert.equal(d.decidedBy, 'default');
      if (admissionDefault === 'deny') {
        assert.match(d.reason ?? '', /gave no answer \(no answer within 300 ms\) and BEAM_WEBHOOK_ADMISSION_DEFAULT is deny/);
        assert.equal(d.clientReason, 'refused: admission unavailable');
      } else assert.equal(d.clientReason, null);
      const rec = w.deliveries(1)[0]!;
      assert.equal(rec.outcome, 'failed');
      assert.equal(rec.status, null);
      assert.equal(rec.error, 'no answer within 300 ms');
    }
  });

  it('a webhook that is down (connection refused): the default at once', async () => {
    const w = createWebhooks({ log: silent }, { url: `http://127.0.0.1:${await closedPort()}/x`, secret: SECRET, timeoutMs: 2000, admissionDefault: 'deny', retries: 0, retryDelayMs: 100, queueLimit: 10, logSize: 10 });
    made.push(w);
    const t0 = Date.now();
    const d = await w.admit({ channel: 'adm-down', protocol: 'srt', peer });
    assert.ok(Date.now() - t0 < 1000, 'a refused connection does not wait for the timeout');
    assert.equal(d.allow, false);
    assert.match(d.reason ?? '', /connection refused/);
  });

  it('an answer over the size bound is no answer (the default decides); a redirect is not followed', async () => {
    const w = hooks({ admissionDefault: 'deny', maxResponseBytes: 1024 });
    rx.respond(() => ({ status: 200, body: `{"allow":true,"pad":"${'x'.repeat(100_000)}"}` }));
    const big = await w.admit({ channel: 'adm-big', protocol: 'srt', peer });
    assert.equal(big.allow, false);
    assert.equal(big.decidedBy, 'default');
    assert.match(big.reason ?? '', /larger than the size bound/);

    const before = rx.received.length;
    rx.respond((r) => (r.path === '/server' ? { status: 302, body: '' } : { status: 204 }));
    const moved = await w.admit({ channel: 'adm-moved', protocol: 'srt', peer });
    assert.equal(moved.allow, false);
    assert.match(moved.reason ?? '', /HTTP 302/);
    assert.equal(rx.received.length - before, 1, 'nothing followed the redirect');
  });

  it("the server's and the channel's webhooks are asked at once; either refusal refuses; the channel's is signed with its own secret", async () => {
    const w = hooks({ timeoutMs: 1000 });
    const channelHook = { url: rx.url('/channel'), secret: CHANNEL_SECRET };
    rx.respond((r) => (r.path === '/channel' ? { status: 200, body: '{"allow":false,"reason":"not on the rota"}', delayMs: 250 } : { status: 204, delayMs: 250 }));
    const before = rx.received.length;
    const t0 = Date.now();
    const d = await w.admit({ channel: 'adm-both', protocol: 'srt', peer }, channelHook);
    const took = Date.now() - t0;
    assert.equal(d.allow, false);
    assert.match(d.reason ?? '', /not on the rota/);
    assert.ok(took >= 240 && took < 480, `both asked at once: ${took} ms for two answers of 250 ms each`);
    const got = rx.received.slice(before);
    assert.deepEqual(got.map((r) => r.path).sort(), ['/channel', '/server']);
    assertSigned(got.find((r) => r.path === '/server')!, SECRET);
    assertSigned(got.find((r) => r.path === '/channel')!, CHANNEL_SECRET);
    assert.equal(got[0]!.body.requestId, got[1]!.body.requestId);
    // Both hang: one timeout, not two.
    rx.respond(() => 'hang');
    const t1 = Date.now();
    const e = await w.admit({ channel: 'adm-both', protocol: 'srt', peer }, channelHook);
    assert.ok(Date.now() - t1 < 1800, `two hanging webhooks took ${Date.now() - t1} ms (one timeout is 1000)`);
    assert.equal(e.allow, true);
    assert.equal(e.decidedBy, 'default');
  });

  it('no webhook at all: allowed without asking', async () => {
    const w = createWebhooks({ log: silent }, { url: null, secret: null, timeoutMs: 400, admissionDefault: 'deny', retries: 0, retryDelayMs: 100, queueLimit: 10, logSize: 10 });
    made.push(w);
    assert.equal(w.admits(null), false);
    assert.equal(w.admits({ url: rx.url('/channel'), secret: CHANNEL_SECRET }), true);
    const d = await w.admit({ channel: 'adm-none', protocol: 'srt', peer }, null);
    assert.deepEqual({ allow: d.allow, by: d.decidedBy }, { allow: true, by: 'none' });
    assert.deepEqual(w.deliveries(), []);
  });
});

describe('notifications', () => {
  it('retried on 503 after 100 then 200 ms, with the same delivery id and a fresh signature each time', async () => {
    const registry = new Registry();
    const w = hooks({ retryDelayMs: 100 }, registry);
    let n = 0;
    rx.respond((r) => (r.body.channel === 'retry-me' && ++n <= 2 ? { status: 503 } : { status: 204 }));
    const t0 = Date.now();
    w.notify({ event: 'channel.live', channel: 'retry-me', requestId: 'r', protocol: 'srt' });
    assert.ok(Date.now() - t0 < 20, 'notify does not wait');
    await waitFor('the third attempt', async () => rx.of('channel.live', 'retry-me').length === 3, 5000, 10);
    const got = rx.of('channel.live', 'retry-me');
    const gaps = [got[1]!.at - got[0]!.at, got[2]!.at - got[1]!.at];
    assert.ok(gaps[0]! >= 90 && gaps[0]! < 400, `first retry after ${gaps[0]} ms`);
    assert.ok(gaps[1]! >= 190 && gaps[1]! < 600, `second retry after ${gaps[1]} ms`);
    assert.equal(new Set(got.map((r) => r.body.id)).size, 1, 'one delivery id');
    for (const r of got) assertSigned(r);
    await waitFor('the delivery log', async () => w.deliveries().some((d) => d.channel === 'retry-me'), 2000, 10);
    const rec = w.deliveries().find((d) => d.channel === 'retry-me')!;
    assert.deepEqual({ outcome: rec.outcome, attempts: rec.attempts, status: rec.status }, { outcome: 'delivered', attempts: 3, status: 204 });
    assert.match(await registry.metrics(), /beam_webhook_deliveries_total\{event="channel.live",outcome="delivered"\} 1/);
  });

  it('a 4xx is final; retries run out on a 5xx', async () => {
    const w = hooks({ retries: 2, retryDelayMs: 30 });
    rx.respond((r) => (r.body.channel === 'final-400' ? { status: 400 } : { status: 500 }));
    w.notify({ event: 'channel.idle', channel: 'final-400', reason: null, code: null });
    w.notify({ event: 'channel.idle', channel: 'always-500', reason: 'x', code: 'INGEST_ENDED' });
    await waitFor('both settled', async () => w.deliveries().filter((d) => d.channel === 'final-400' || d.channel === 'always-500').length === 2, 5000, 10);
    const byChannel = Object.fromEntries(w.deliveries().map((d) => [d.channel, d]));
    assert.deepEqual({ o: byChannel['final-400']!.outcome, a: byChannel['final-400']!.attempts, s: byChannel['final-400']!.status }, { o: 'failed', a: 1, s: 400 });
    assert.deepEqual({ o: byChannel['always-500']!.outcome, a: byChannel['always-500']!.attempts, s: byChannel['always-500']!.status }, { o: 'failed', a: 3, s: 500 });
    assert.equal(rx.of('channel.idle', 'always-500').length, 3);
  });

  it('a full queue drops the oldest and counts it; notify never waits for a receiver that hangs', async () => {
    const registry = new Registry();
    const w = hooks({ queueLimit: 3, concurrency: 1, timeoutMs: 300, retries: 0 }, registry);
    rx.respond(() => 'hang');
    const t0 = Date.now();
    for (let i = 1; i <= 6; i++) w.notify({ event: 'channel.idle', channel: `q-${i}`, reason: null, code: null });
    assert.ok(Date.now() - t0 < 50, `six notifies took ${Date.now() - t0} ms`);
    // q-1 is in flight; q-2..q-6 wanted the 3 places: q-2 and q-3, the oldest, were dropped.
    assert.deepEqual(w.queue(), { queued: 3, inFlight: 1, dropped: 2 });
    const dropped = w.deliveries().filter((d) => d.outcome === 'dropped').map((d) => d.channel);
    assert.deepEqual(dropped.sort(), ['q-2', 'q-3']);
    assert.match(await registry.metrics(), /beam_webhook_deliveries_total\{event="channel.idle",outcome="dropped"\} 2/);
    assert.match(await registry.metrics(), /beam_webhook_queue_length 3/);
    await waitFor('the rest to time out, one at a time', async () => w.queue().queued === 0 && w.queue().inFlight === 0, 5000, 20);
    assert.deepEqual(w.deliveries().filter((d) => d.outcome === 'failed').map((d) => d.channel).sort(), ['q-1', 'q-4', 'q-5', 'q-6']);
  });

  it("a channel's own webhook gets the channel's notifications, signed with its secret", async () => {
    const w = createWebhooks({ log: silent }, { url: null, secret: null, timeoutMs: 400, admissionDefault: 'allow', retries: 0, retryDelayMs: 100, queueLimit: 10, logSize: 10 });
    made.push(w);
    rx.respond(() => ({ status: 204 }));
    w.notify({ event: 'publisher.connected', channel: 'own', requestId: 'r', protocol: 'rtmp', peer }, { url: rx.url('/channel'), secret: CHANNEL_SECRET });
    w.notify({ event: 'channel.idle', channel: 'nobody', reason: null, code: null });
    await waitFor('the delivery', async () => rx.of('publisher.connected', 'own').length === 1, 3000, 10);
    const r = rx.of('publisher.connected', 'own')[0]!;
    assert.equal(r.path, '/channel');
    assertSigned(r, CHANNEL_SECRET);
    assert.equal(rx.of('channel.idle', 'nobody').length, 0, 'no webhook concerns that channel');
  });

  it('close() gives what is queued one last attempt, then drops the rest', async () => {
    const w = hooks({ retryDelayMs: 60_000, timeoutMs: 300 });
    rx.respond((r) => (r.body.channel === 'closing-a' ? { status: 503 } : { status: 204 }));
    w.notify({ event: 'channel.idle', channel: 'closing-a', reason: null, code: null });
    await waitFor('the first attempt', async () => rx.of('channel.idle', 'closing-a').length === 1, 3000, 10);
    // Its retry is a minute away; close() sends it now (once), and a new notification is refused.
    rx.respond(() => ({ status: 204 }));
    const t0 = Date.now();
    await w.close();
    assert.ok(Date.now() - t0 < 1000, `close took ${Date.now() - t0} ms`);
    assert.equal(rx.of('channel.idle', 'closing-a').length, 2);
    assert.equal(w.deliveries().find((d) => d.channel === 'closing-a')?.outcome, 'delivered');
    w.notify({ event: 'channel.idle', channel: 'after-close', reason: null, code: null });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(rx.of('channel.idle', 'after-close').length, 0);
  });
});
