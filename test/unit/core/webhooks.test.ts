/**
 * The webhooks' pure parts: signing and verifying, the bodies (no key in them), reading an admission answer,
 * the retry schedule, the bounded queue (the oldest goes), the delivery log ring, URL and secret rules, the
 * channel setting and the configuration.
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { DEFAULT_TOLERANCE_S, SIGNATURE_HEADER, TIMESTAMP_HEADER, signBody, signedHeaders, verifySignature } from '../../../core/webhooks/signature';
import { bodyText, cleanReason, parseAdmissionAnswer, REASON_MAX, type WebhookNotice } from '../../../core/webhooks/bodies';
import { backoffMs, isRetryable, retrySchedule, MAX_RETRY_DELAY_MS } from '../../../core/webhooks/retry';
import { createBoundedQueue } from '../../../core/webhooks/delivery-queue';
import { createDeliveryLog, type DeliveryRecord } from '../../../core/webhooks/delivery-log';
import { failureText } from '../../../core/webhooks/http-post';
import { webhookHost, webhookSecretProblem, webhookUrlProblem, WEBHOOK_EVENTS } from '../../../core/model/webhook';
import { applyPatch, createChannel } from '../../../core/model/channel';
import { ConfigError, loadConfig } from '../../../core/config/config';
import { settingsView } from '../../../engine/api/channels';
import { webhookLine, webhooksTuning } from '../../../beamline';
import { deliveriesLimit } from '../../../engine/api/webhooks';
import { holdSource, peerAddress } from '../../../ingest/admission';
import { refusalLabel } from '../../../ingest/ingest-metrics';
import type { PublishSource } from '../../../ingest/session/types';
import { BeamError } from '../../../core/model/errors';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';

const SECRET = 'a-shared-secret-0123456789';

describe('signature', () => {
  it('is HMAC-SHA256 over <timestamp>.<body>, hex, as openssl computes it', () => {
    // printf '1700000000.{"event":"publish"}' | openssl dgst -sha256 -hmac 'a-shared-secret-0123456789'
    assert.equal(signBody(SECRET, 1700000000, '{"event":"publish"}'), 'sha256=d79d33decbf41f6dc7f9d80059385e519defb2197449cdca9748db8cab89d175');
  });

  it('headers carry the timestamp in seconds and the signature of that timestamp', () => {
    const body = '{"event":"channel.live"}';
    const h = signedHeaders(SECRET, body, 1700000000999, 'channel.live', 'id-1');
    assert.equal(h[TIMESTAMP_HEADER], '1700000000');
    assert.equal(h[SIGNATURE_HEADER], signBody(SECRET, 1700000000, body));
    assert.equal(h['content-type'], 'application/json');
    assert.equal(h['x-beamline-event'], 'channel.live');
    assert.equal(h['x-beamline-delivery'], 'id-1');
  });

  it('a receiver accepts the delivery as sent, and refuses a changed body, another secret, an old timestamp, missing headers', () => {
    const body = '{"event":"publish","channel":"main"}';
    const at = 1700000000000;
    const h = signedHeaders(SECRET, body, at, 'publish', 'x');
    const base = { secret: SECRET, body, timestamp: h[TIMESTAMP_HEADER], signature: h[SIGNATURE_HEADER], nowMs: at + 1000 };
    assert.deepEqual(verifySignature(base), { ok: true });
    assert.equal(verifySignature({ ...base, body: body.replace('main', 'other') }).ok, false);
    assert.equal(verifySignature({ ...base, secret: 'another-secret-0123456789' }).ok, false);
    assert.match((verifySignature({ ...base, nowMs: at + (DEFAULT_TOLERANCE_S + 1) * 1000 }) as { reason: string }).reason, /replay/);
    assert.equal(verifySignature({ ...base, nowMs: at + (DEFAULT_TOLERANCE_S - 1) * 1000 }).ok, true);
    assert.equal(verifySignature({ ...base, timestamp: undefined }).ok, false);
    assert.equal(verifySignature({ ...base, timestamp: '17e8' }).ok, false);
    assert.equal(verifySignature({ ...base, signature: undefined }).ok, false);
    assert.equal(verifySignature({ ...base, signature: 'sha256=00' }).ok, false);
    // A replayed body under a fresher timestamp does not match its old signature.
    assert.equal(verifySignature({ ...base, timestamp: String(Number(h[TIMESTAMP_HEADER]) + 60), nowMs: at + 60000 }).ok, false);
  });
});

describe('bodies', () => {
  const peer = { address: '203.0.113.7', port: 40000 };
  const notices: WebhookNotice[] = [
    { event: 'publish', channel: 'main', requestId: 'r1', protocol: 'srt', peer },
    { event: 'publisher.connected', channel: 'main', requestId: 'r1', protocol: 'srt', peer },
    { event: 'publisher.disconnected', channel: 'main', requestId: 'r1', protocol: 'rtmp', peer, reason: 'publisher ended the stream', code: 'INGEST_ENDED' },
    { event: 'channel.live', channel: 'main', requestId: 'r1', protocol: 'rtmp' },
    { event: 'channel.idle', channel: 'main', reason: null, code: null },
    { event: 'backup.switch', channel: 'main', from: 'primary', to: 'backup', reason: 'primary-stalled' },
  ];

  it('every event has a body with event, id, timestamp and channel first, then its own fields', () => {
    assert.deepEqual(notices.map((n) => n.event), [...WEBHOOK_EVENTS]);
    for (const n of notices) {
      const text = bodyText(n, 'delivery-1', Date.UTC(2026, 0, 2, 3, 4, 5, 6));
      const b = JSON.parse(text) as Record<string, unknown>;
      assert.deepEqual(Object.keys(b).slice(0, 4), ['event', 'id', 'timestamp', 'channel'], text);
      assert.equal(b.event, n.event);
      assert.equal(b.id, 'delivery-1');
      assert.equal(b.timestamp, '2026-01-02T03:04:05.006Z');
      assert.deepEqual({ ...b, id: undefined, timestamp: undefined }, { ...n, id: undefined, timestamp: undefined });
    }
    const publish = JSON.parse(bodyText(notices[0] as WebhookNotice, 'd', 0)) as Record<string, unknown>;
    assert.deepEqual(publish.peer, peer);
    assert.equal(publish.protocol, 'srt');
    assert.equal(publish.requestId, 'r1');
  });

  it('an admission answer: 2xx allows unless allow is false; any other status refuses; an answer cut at the bound is unreadable', () => {
    const cases: [number, string, boolean, ReturnType<typeof parseAdmissionAnswer>][] = [
      [200, '', false, { kind: 'answer', allow: true, reason: null }],
      [204, '', false, { kind: 'answer', allow: true, reason: null }],
      [200, '{"allow":true}', false, { kind: 'answer', allow: true, reason: null }],
      [200, 'ok', false, { kind: 'answer', allow: true, reason: null }],
      [200, '[false]', false, { kind: 'answer', allow: true, reason: null }],
      [200, '{"allow":"no"}', false, { kind: 'answer', allow: true, reason: null }],
      [200, '{"allow":false,"reason":"account suspended"}', false, { kind: 'answer', allow: false, reason: 'account suspended' }],
      [200, '{"allow":false}', false, { kind: 'answer', allow: false, reason: 'allow: false' }],
      [403, '', false, { kind: 'answer', allow: false, reason: 'HTTP 403' }],
      [500, '{"reason":"db down"}', false, { kind: 'answer', allow: false, reason: 'db down' }],
      [302, '', false, { kind: 'answer', allow: false, reason: 'HTTP 302' }],
      [200, '{"allow":false', true, { kind: 'unreadable', reason: 'the answer was larger than the size bound' }],
      [403, 'x'.repeat(10), true, { kind: 'answer', allow: false, reason: 'HTTP 403' }],
    ];
    for (const [status, text, truncated, want] of cases) assert.deepEqual(parseAdmissionAnswer(status, text, truncated), want, `${status} ${text}`);
  });

  it("a receiver's reason is one bounded line", () => {
    assert.equal(cleanReason('  no\r\nway\u0000 \u2028now '), 'no way now');
    assert.equal(cleanReason(''), null);
    assert.equal(cleanReason(42), null);
    const long = cleanReason('y'.repeat(1000)) as string;
    assert.equal(long.length, REASON_MAX);
    assert.ok(long.endsWith('…'));
  });
});

describe('retries', () => {
  it('the backoff doubles from the configured delay, capped', () => {
    assert.deepEqual(retrySchedule(4, 1000), [1000, 2000, 4000, 8000]);
    assert.deepEqual(retrySchedule(0, 1000), []);
    assert.equal(backoffMs(10, 1000), MAX_RETRY_DELAY_MS);
    assert.equal(backoffMs(200, 1), MAX_RETRY_DELAY_MS, 'no overflow for large attempts');
    assert.deepEqual(retrySchedule(3, 50, 120), [50, 100, 120]);
  });

  it('retried: no answer, 408, 429, 5xx; final: 2xx, 3xx, other 4xx', () => {
    for (const s of [null, 408, 429, 500, 502, 503, 599]) assert.equal(isRetryable(s), true, String(s));
    for (const s of [200, 204, 301, 302, 400, 401, 403, 404, 410, 422]) assert.equal(isRetryable(s), false, String(s));
  });

  it('a failure is described without the URL', () => {
    assert.equal(failureText(Object.assign(new Error('x'), { name: 'TimeoutError' }), 2000), 'no answer within 2000 ms');
    assert.equal(failureText(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' } }), 1), 'connection refused');
    assert.equal(failureText(new Error('bad thing at https://h.example/secret-path?token=1'), 1), 'bad thing at <url>');
    assert.equal(failureText(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), 1), 'connection refused');
    assert.equal(failureText(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 1), 'connection reset');
  });
});

describe('the notification queue is bounded: the oldest goes', () => {
  const item = (seq: number, dueAt = 0) => ({ seq, dueAt });

  it('pushing past the limit drops the oldest by creation, retries included', () => {
    const q = createBoundedQueue<{ seq: number; dueAt: number }>(3);
    assert.equal(q.push(item(1)), null);
    assert.equal(q.push(item(2)), null);
    assert.equal(q.push(item(3)), null);
    assert.deepEqual(q.push(item(4)), item(1));
    assert.equal(q.size, 3);
    // A retry of an old item put back is still the oldest, so it is the one dropped next.
    const d2 = q.takeDue(0);
    assert.equal(d2?.seq, 2);
    q.push(item(5));
    assert.deepEqual(q.push({ seq: 2, dueAt: 100 }), { seq: 2, dueAt: 100 });
    assert.deepEqual(q.drain().map((x) => x.seq), [3, 4, 5]);
    assert.equal(q.size, 0);
  });

  it('takes only what is due, oldest first, and knows the next due time', () => {
    const q = createBoundedQueue<{ seq: number; dueAt: number }>(10);
    q.push(item(1, 500));
    q.push(item(2, 100));
    q.push(item(3, 100));
    assert.equal(q.nextDueAt(), 100);
    assert.equal(q.takeDue(50), null);
    assert.equal(q.takeDue(100)?.seq, 2);
    assert.equal(q.takeDue(100)?.seq, 3);
    assert.equal(q.takeDue(499), null);
    assert.equal(q.takeDue(Infinity)?.seq, 1);
    assert.equal(q.nextDueAt(), null);
  });

  it('refuses a limit below 1', () => assert.throws(() => createBoundedQueue(0), /limit/));
});

describe('the delivery log keeps the newest N', () => {
  const rec = (id: string): DeliveryRecord => ({
    id, event: 'channel.live', channel: 'main', target: 'server', host: 'h:1', outcome: 'delivered', status: 200, error: null,
    attempts: 1, durationMs: 3, at: '', finishedAt: '',
  });
  it('newest first, bounded', () => {
    const log = createDeliveryLog(3);
    assert.deepEqual(log.list(), []);
    log.add(rec('a'));
    log.add(rec('b'));
    assert.deepEqual(log.list().map((r) => r.id), ['b', 'a']);
    for (const id of ['c', 'd', 'e']) log.add(rec(id));
    assert.deepEqual(log.list().map((r) => r.id), ['e', 'd', 'c']);
    assert.deepEqual(log.list(2).map((r) => r.id), ['e', 'd']);
    assert.equal(log.capacity, 3);
  });
  it('the API limit: default and at most the capacity; bad values are 400', () => {
    assert.equal(deliveriesLimit(undefined, 200), 200);
    assert.equal(deliveriesLimit('5', 200), 5);
    assert.equal(deliveriesLimit('5000', 200), 200);
    for (const bad of ['0', '-1', 'x', '1.5', '99999999999']) assert.throws(() => deliveriesLimit(bad, 200), (e: unknown) => e instanceof BeamError && e.statusCode === 400, bad);
  });
});

describe('webhook URLs and secrets (SSRF: the scheme is the rule)', () => {
  it('http and https URLs only, no credentials, no fragment, bounded', () => {
    for (const ok of ['http://127.0.0.1:9/x', 'https://hooks.example.com/beamline?token=abc', 'HTTP://EXAMPLE.COM', 'http://[::1]:8080/']) assert.equal(webhookUrlProblem(ok), null, ok);
    for (const bad of ['', 'ftp://x/y', 'file:///etc/passwd', 'data:text/plain,hi', 'javascript:alert(1)', 'gopher://h/', 'http://user:pw@h/', 'http://h/#frag', 'not a url', 'http://', `http://h/${'a'.repeat(2100)}`, 7, null]) {
      assert.notEqual(webhookUrlProblem(bad), null, String(bad));
    }
    assert.equal(webhookHost('https://hooks.example.com:8443/p?token=secret'), 'hooks.example.com:8443');
  });
  it('secrets: 16-256 printable characters', () => {
    assert.equal(webhookSecretProblem('0123456789abcdef'), null);
    for (const bad of ['short', 'has a space in it!!', 'x'.repeat(257), 'tab\there-0123456789', 12345678901234567]) assert.notEqual(webhookSecretProblem(bad), null, String(bad));
  });
});

describe("a channel's webhook setting", () => {
  const is400 = (e: unknown) => e instanceof BeamError && e.statusCode === 400;
  const ch = createChannel({ name: 'main', ladder: [] }, validateLadder, DEFAULT_LADDER);

  it('is set with url and secret, keeps its secret when only the URL changes, and is removed with null', () => {
    assert.equal(ch.webhook, undefined);
    const a = applyPatch(ch, { webhook: { url: 'https://hooks.example.com/a', secret: SECRET } }, validateLadder);
    assert.deepEqual(a.webhook, { url: 'https://hooks.example.com/a', secret: SECRET });
    const b = applyPatch(a, { webhook: { url: 'https://hooks.example.com/b' } }, validateLadder);
    assert.deepEqual(b.webhook, { url: 'https://hooks.example.com/b', secret: SECRET });
    assert.equal(applyPatch(b, { webhook: null }, validateLadder).webhook, null);
    const created = createChannel({ name: 'other', webhook: { url: 'http://127.0.0.1:9/h', secret: SECRET } }, validateLadder, DEFAULT_LADDER);
    assert.equal(created.webhook?.url, 'http://127.0.0.1:9/h');
  });

  it('is refused with a 400 naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [{ url: 'https://h/x' }, /webhook\.secret' is required/],
      [{ url: 'ftp://h/x', secret: SECRET }, /webhook\.url' must use http/],
      [{ url: 'https://u:p@h/x', secret: SECRET }, /credentials/],
      [{ url: 'https://h/x', secret: 'short' }, /webhook\.secret' must be 16/],
      [{ url: 'https://h/x', secret: SECRET, events: [] }, /Unknown webhook field/],
      ['https://h/x', /must be an object/],
    ];
    for (const [v, re] of cases) {
      assert.throws(() => applyPatch(ch, { webhook: v }, validateLadder), (e: unknown) => is400(e) && re.test((e as Error).message), JSON.stringify(v));
    }
  });

  it('the token holder reads the URL, never the secret', () => {
    const withHook = applyPatch(ch, { webhook: { url: 'https://hooks.example.com/a', secret: SECRET } }, validateLadder);
    const view = settingsView(withHook);
    assert.deepEqual(view.webhook, { url: 'https://hooks.example.com/a' });
    assert.ok(!JSON.stringify(view).includes(SECRET));
    assert.equal(settingsView(ch).webhook, null);
  });
});

describe('configuration', () => {
  it('defaults: no server webhook, 2 s, allow, 4 retries from 1 s, 1000 queued, 200 logged', () => {
    assert.deepEqual(loadConfig(null, {}).webhook, { url: null, secret: null, timeout: 2000, admissionDefault: 'allow', retries: 4, retryDelay: 1000, queueLimit: 1000, logSize: 200 });
  });
  it('from the environment', () => {
    const w = loadConfig(null, {
      BEAM_WEBHOOK_URL: 'https://hooks.example.com/x', BEAM_WEBHOOK_SECRET: SECRET, BEAM_WEBHOOK_TIMEOUT: '500', BEAM_WEBHOOK_ADMISSION_DEFAULT: 'deny',
      BEAM_WEBHOOK_RETRIES: '0', BEAM_WEBHOOK_RETRY_DELAY: '250', BEAM_WEBHOOK_QUEUE_LIMIT: '10', BEAM_WEBHOOK_LOG_SIZE: '5',
    }).webhook;
    assert.deepEqual(w, { url: 'https://hooks.example.com/x', secret: SECRET, timeout: 500, admissionDefault: 'deny', retries: 0, retryDelay: 250, queueLimit: 10, logSize: 5 });
  });
  it('from the file; reaches the webhooks through the composition root; the banner names the host only', () => {
    const c = loadConfig({ webhook: { url: 'https://hooks.example.com:8443/p?token=t0k', secret: SECRET, retryDelay: 250 } }, {});
    assert.deepEqual(webhooksTuning(c), { url: 'https://hooks.example.com:8443/p?token=t0k', secret: SECRET, timeoutMs: 2000, admissionDefault: 'allow', retries: 4, retryDelayMs: 250, queueLimit: 1000, logSize: 200 });
    const line = webhookLine(c);
    assert.match(line, /^hooks\.example\.com:8443 \(admission timeout 2000 ms, then allow/);
    assert.ok(!line.includes('t0k') && !line.includes(SECRET));
    assert.match(webhookLine(loadConfig(null, {})), /^none/);
  });
  const bad: [string, NodeJS.ProcessEnv, RegExp][] = [
    ['a URL without a secret', { BEAM_WEBHOOK_URL: 'https://h/x' }, /without webhook\.secret/],
    ['a file: URL', { BEAM_WEBHOOK_URL: 'file:///etc/passwd', BEAM_WEBHOOK_SECRET: SECRET }, /webhook\.url/],
    ['a short secret (not echoed)', { BEAM_WEBHOOK_URL: 'https://h/x', BEAM_WEBHOOK_SECRET: 'tiny-secret' }, /webhook\.secret = \(a secret, not shown\)/],
    ['an admission default other than allow/deny', { BEAM_WEBHOOK_ADMISSION_DEFAULT: 'maybe' }, /allow or deny/],
    ['a timeout at the RTMP publish deadline', { BEAM_WEBHOOK_TIMEOUT: '10000' }, /below rtmp\.publishTimeout/],
    ['a timeout over 30 s', { BEAM_WEBHOOK_TIMEOUT: '60000', BEAM_RTMP_PUBLISH_TIMEOUT: '120000' }, /from 100 to 30000/],
    ['11 retries', { BEAM_WEBHOOK_RETRIES: '11' }, /from 0 to 10/],
    ['an empty queue', { BEAM_WEBHOOK_QUEUE_LIMIT: '0' }, /from 1 to 100000/],
  ];
  for (const [name, env, re] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => loadConfig(null, env), (e: unknown) => e instanceof ConfigError && re.test((e as Error).message) && !(e as Error).message.includes('tiny-secret')));
  }
});

describe('the admission point (ingest)', () => {
  function fakeSource() {
    let data: ((c: Buffer) => void) | null = null;
    let close: ((r: string) => void) | null = null;
    const src: PublishSource = {
      protocol: 'srt', peer: '198.51.100.2:5000', format: 'mpegts',
      onData: (fn) => (data = fn), onClose: (fn) => (close = fn), close: () => undefined,
    };
    return { src, send: (b: Buffer) => data?.(b), end: (r: string) => close?.(r) };
  }

  it('what an SRT caller sends while admission is asked reaches the session in order, then the live data', () => {
    const f = fakeSource();
    const held = holdSource(f.src, 1000);
    f.send(Buffer.from('ab'));
    f.send(Buffer.from('cd'));
    const got: string[] = [];
    held.source.onData((c) => got.push(c.toString()));
    f.send(Buffer.from('ef'));
    assert.deepEqual(got, ['ab', 'cd', 'ef']);
    assert.equal(held.closedReason(), null);
  });

  it('holds at most the bound (the oldest chunks go), and remembers a close', () => {
    const f = fakeSource();
    const held = holdSource(f.src, 10);
    for (const s of ['aaaa', 'bbbb', 'cccc', 'dddd']) f.send(Buffer.from(s));
    assert.equal(held.droppedBytes(), 8);
    f.end('closed by peer');
    assert.equal(held.closedReason(), 'closed by peer');
    const got: string[] = [];
    held.source.onData((c) => got.push(c.toString()));
    assert.deepEqual(got, ['cccc', 'dddd']);
    const reasons: string[] = [];
    held.source.onClose((r) => reasons.push(r));
    assert.deepEqual(reasons, ['closed by peer'], 'a close before the session registered is still told');
  });

  it('a released hold keeps nothing', () => {
    const f = fakeSource();
    const held = holdSource(f.src, 100);
    f.send(Buffer.from('x'));
    held.release();
    f.send(Buffer.from('y'));
    const got: string[] = [];
    held.source.onData((c) => got.push(c.toString()));
    assert.deepEqual(got, []);
  });

  it('peer addresses (IPv4 and IPv6) and the refusal metric label', () => {
    assert.deepEqual(peerAddress('203.0.113.7:40000'), { address: '203.0.113.7', port: 40000 });
    assert.deepEqual(peerAddress('::ffff:127.0.0.1:5000'), { address: '::ffff:127.0.0.1', port: 5000 });
    assert.deepEqual(peerAddress('?'), { address: '?', port: 0 });
    assert.equal(refusalLabel('refused by the admission webhook (h:1): unknown stream key'), 'webhook');
    assert.equal(refusalLabel('the admission webhook (h:1) gave no answer (x) and BEAM_WEBHOOK_ADMISSION_DEFAULT is deny'), 'webhook');
    assert.equal(refusalLabel('no such channel (or it is not readable over SRT)'), 'not-readable');
    assert.equal(refusalLabel("the channel has no rendition '999p'"), 'not-readable');
    assert.equal(refusalLabel('the channel is private: give its playback token as s=<token>'), 'bad-token');
    assert.equal(refusalLabel('unknown stream key'), 'bad-key');
  });
});
