/**
 * The S3 archive backend when S3 misbehaves: fauxqs (in memory, on loopback) behind a TCP proxy the test
 * controls (test/helpers/tcp-proxy.ts). Unreachable (connections reset) and black-holed (accepted, never
 * answered) servers fail every call within its time limits with a 503 that says why, retries are bounded, no
 * connection is left held once a call gave up, and the client works again as soon as the server does. A
 * reader of an archived payload gets that 503 as JSON from the Content Beam API.
 */

import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createS3Archive, DEFAULT_S3_TIMEOUTS, type S3Archive, type S3Timeouts } from '../../../core/archive/s3-archive';
import { createArchiver } from '../../../core/archive/archiver';
import { BeamError } from '../../../core/model/errors';
import { createChannel } from '../../../core/model/channel';
import { validateFormat } from '../../../core/model/content';
import { packetMetaOf } from '../../../core/model/media';
import { createStore } from '../../../core/store/store';
import { createLiveStore } from '../../../core/store/live-store';
import { createChannelStore } from '../../../core/store/channel-store';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { assertError, TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { waitFor } from '../../helpers/process';

type Fauxqs = { address: string; createBucket(name: string): unknown; stop(): Promise<void> };
let server: Fauxqs;
let proxy: TcpProxy;
let redis: TestRedis | undefined;
const opened: S3Archive[] = [];

beforeAll(async () => {
  const { startFauxqs } = (await import('fauxqs')) as unknown as { startFauxqs(o: object): Promise<Fauxqs> };
  server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  server.createBucket('beam-faults');
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const { hostname, port } = new URL(server.address);
  proxy = await startTcpProxy({ host: hostname, port: Number(port) });
});

// Each test's clients go with it: the proxy's counts are then of the current test's connections.
afterEach(() => {
  for (const a of opened.splice(0)) a.close();
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await redis?.close();
});

/** An archive on the bucket through the proxy (or `endpoint`), closed after the test. */
function archiveVia(timeouts: Partial<S3Timeouts> = {}, endpoint = proxy.url): S3Archive {
  const a = createS3Archive({ bucket: 'beam-faults', prefix: 'f/', endpoint, region: 'us-east-1', timeouts });
  opened.push(a);
  return a;
}

/** The call's failure and how long it took to fail. */
async function failure(p: Promise<unknown>): Promise<{ err: BeamError; ms: number }> {
  const t0 = Date.now();
  try {
    await p;
  } catch (err) {
    return { err: err as BeamError, ms: Date.now() - t0 };
  }
  throw new Error('the call succeeded');
}

function assertUnavailable(err: BeamError, reason: RegExp): void {
  assert.ok(err instanceof BeamError, `a BeamError, not ${String(err)}`);
  assert.equal(err.statusCode, 503);
  assert.match(err.message, /^The archive is unavailable: /);
  assert.match(err.message, reason);
  assert.doesNotMatch(err.message, /beam-faults|127\.0\.0\.1/, 'no bucket or host in a message a client reads');
}

const body = Buffer.from(Array.from({ length: 40_000 }, (_, i) => (i * 7) % 251));

describe('the S3 archive when S3 misbehaves', () => {
  it('unreachable (every connection reset): each call fails fast after its few attempts, and works again once S3 is back', { timeout: 30_000 }, async () => {
    const a = archiveVia();
    await a.put('r/s0/1.seg', body);
    proxy.fail('reset', { maxMs: 20_000 });
    const accepted0 = proxy.stats().accepted;
    try {
      for (const call of [() => a.put('r/s0/2.seg', body), () => a.get('r/s0/1.seg', [0, 10]), () => a.delete('r/s0/1.seg'), () => a.deletePrefix('r/')]) {
        const { err, ms } = await failure(call());
        assertUnavailable(err, /the S3 server (reset the connection|refused the connection)|the connection to the S3 server broke/);
        assert.ok(ms < 3_000, `failed in ${ms} ms`);
      }
      // Bounded retries: 4 calls (delete is one request, deletePrefix its first page) of at most 3 attempts each.
      const attempts = proxy.stats().accepted - accepted0;
      assert.ok(attempts >= 4 && attempts <= 12, `${attempts} connections for 4 calls`);
    } finally {
      proxy.heal();
    }
    assert.deepEqual(await a.get('r/s0/1.seg'), body, 'the pooled connections were reset: new ones are made');
  });

  it('black-holed (accepted, never answered): a get answers within its deadline, a put after its attempts; held connections are let go', { timeout: 40_000 }, async () => {
    const t = { idleMs: 1_000, readMs: 2_500, writeMs: 10_000 };
    const a = archiveVia(t);
    await a.put('b/s0/1.seg', body);
    proxy.fail('blackhole', { maxMs: 20_000 });
    try {
      const get = await failure(a.get('b/s0/1.seg', [100, 200]));
      assertUnavailable(get.err, /did not answer within 2500 ms/);
      assert.ok(get.ms >= 2_400 && get.ms < 4_000, `get failed in ${get.ms} ms`);
      const stream = await failure(a.getStream('b/s0/1.seg', [100, 200]));
      assertUnavailable(stream.err, /did not answer within 2500 ms/);
      assert.ok(stream.ms >= 2_400 && stream.ms < 4_000, `getStream failed in ${stream.ms} ms`);
      const put = await failure(a.put('b/s0/2.seg', body));
      // Three attempts, each given up after 1 s without a byte, with the SDK's short backoff between them.
      assertUnavailable(put.err, /stopped answering for 1000 ms/);
      assert.ok(put.ms >= 2_900 && put.ms < 6_000, `put failed in ${put.ms} ms`);
      await waitFor('every black-holed connection closed by the client', async () => proxy.stats().held === 0, 1_000);
    } finally {
      proxy.heal();
    }
    assert.deepEqual(await a.get('b/s0/1.seg', [100, 200]), body.subarray(100, 200));
  });

  it('the default limits: a black-holed get answers within 10 s', { timeout: 30_000 }, async () => {
    const a = archiveVia();
    await a.put('d/s0/1.seg', body);
    proxy.fail('blackhole', { maxMs: 20_000 });
    try {
      const { err, ms } = await failure(a.get('d/s0/1.seg'));
      assertUnavailable(err, new RegExp(`did not answer within ${DEFAULT_S3_TIMEOUTS.readMs} ms`));
      assert.ok(ms >= DEFAULT_S3_TIMEOUTS.readMs - 100 && ms < DEFAULT_S3_TIMEOUTS.readMs + 1_500, `failed in ${ms} ms`);
    } finally {
      proxy.heal();
    }
    await waitFor('black-holed connections let go', async () => proxy.stats().held === 0, 5_000);
  });

  it('many readers at once against a black hole (more than the 50 pooled sockets): all answer by the deadline, none is left waiting, nothing stays held', { timeout: 30_000 }, async () => {
    const a = archiveVia({ idleMs: 5_000, readMs: 2_000 });
    await a.put('m/s0/1.seg', body);
    proxy.fail('blackhole', { maxMs: 20_000 });
    try {
      const t0 = Date.now();
      const results = await Promise.allSettled(Array.from({ length: 80 }, (_, i) => a.get('m/s0/1.seg', [i, i + 10])));
      const ms = Date.now() - t0;
      assert.ok(ms < 3_500, `80 reads settled in ${ms} ms`);
      assert.equal(results.filter((r) => r.status === 'rejected' && (r.reason as BeamError).statusCode === 503).length, 80);
      assert.ok(proxy.stats().held <= 50, `${proxy.stats().held} connections held (at most the pool)`);
      await waitFor('aborted requests let their connections go', async () => proxy.stats().held === 0, 2_000);
    } finally {
      proxy.heal();
    }
    const again = await Promise.all(Array.from({ length: 60 }, (_, i) => a.get('m/s0/1.seg', [i, i + 10])));
    assert.ok(again.every((b, i) => b?.equals(body.subarray(i, i + 10))), 'the pool works again: the queued requests left it');
  });

  it('a server that never completes the TCP handshake: the call fails after the connection timeout', { timeout: 30_000 }, async () => {
    // A listener whose process is stopped: the kernel completes handshakes only while its backlog has room,
    // then drops SYNs. Filler connections fill the backlog first.
    const child: ChildProcess = spawn(process.execPath, ['-e', "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    const fillers: Socket[] = [];
    try {
      const port = await new Promise<number>((done) => child.stdout?.once('data', (d: Buffer) => done(Number(d.toString().trim()))));
      child.kill('SIGSTOP');
      for (let i = 0; i < 4; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        fillers.push(s);
      }
      await new Promise((r) => setTimeout(r, 300));
      const a = archiveVia({ connectMs: 1_000, readMs: 20_000, maxAttempts: 2 }, `http://127.0.0.1:${port}`);
      const { err, ms } = await failure(a.get('c/s0/1.seg'));
      assertUnavailable(err, /no connection to the S3 server within 1000 ms/);
      assert.ok(ms >= 1_900 && ms < 4_000, `failed in ${ms} ms (two attempts of 1 s)`);
    } finally {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    }
  });

  it('a reader of an archived payload while S3 is unreachable gets a 503 JSON from the Content Beam API; the same read works once S3 is back', { timeout: 30_000 }, async () => {
    redis = await startTestRedis();
    const client = redis.connect();
    const archive = archiveVia();
    const store = createStore({ redis: client, archive }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
    const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 1000 });
    const channels = createChannelStore({ redis: client, keys: store.keys });
    const now = 1_700_000_000_000;
    const SEG = 180000;
    await channels.create({ ...createChannel({ name: 'down', ladder: [] }, () => [], []), dvrWindowSeconds: 600 });
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, 'down'));
    const payload = (pts: number) => Buffer.alloc(1500 + (pts % 397), pts % 251);
    const writes = [];
    for (let dts = 0; dts < 2 * SEG; dts += 3600) writes.push({ streamIndex: 0, meta: packetMetaOf({ streamIndex: 0, pts: dts, dts, duration: 3600, keyframe: dts % SEG === 0, data: payload(dts) }), data: payload(dts) });
    await store.writePackets('down', writes, 600000);
    await live.writeBoundaries('down', { segments: [0, 1].map((i) => ({ index: i + 1, startDts: i * SEG, startPts: i * SEG, durationPts: SEG, wallClockMs: now - 200_000 + i * 2000, discontinuity: false })), retainMs: 600000 });
    const pass = await createArchiver({ store, live, channels, log: { info: () => undefined, warn: () => undefined }, now: () => now }, { hotWindowMs: 120_000, intervalMs: 1000 }).runOnce();
    assert.equal(pass.objects, 2);
    const app: FastifyInstance = withTestToken(await buildApp({ store, metrics: createEngineMetrics(undefined, false) }, { ...TEST_APP_CONFIG, logLevel: 'silent' }));
    try {
      const url = `/beams/down/stream_0/packet_${SEG + 7200}/data`;
      assert.deepEqual((await app.inject({ method: 'GET', url })).rawPayload, payload(SEG + 7200));
      proxy.fail('reset', { maxMs: 20_000 });
      try {
        assertError(await app.inject({ method: 'GET', url }), 503, /^The archive is unavailable: the S3 server (reset|refused) the connection/);
        const meta = await app.inject({ method: 'GET', url: `/beams/down/stream_0/packet_${SEG + 7200}` });
        assert.equal(meta.statusCode, 200, 'metadata stays in Redis: readable while S3 is down');
      } finally {
        proxy.heal();
      }
      assert.deepEqual((await app.inject({ method: 'GET', url })).rawPayload, payload(SEG + 7200));
    } finally {
      await app.close();
    }
  });
});
