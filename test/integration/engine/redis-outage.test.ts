/**
 * Issue 10, point 2 (the HTTP side): with Redis gone the engine answers 503 JSON with Retry-After (not 500, and
 * no crash), and recovers by itself when Redis is back: the test stops its real redis-server mid-run and starts
 * it again on the same socket.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { buildApp, errorResponse } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';

let redis: TestRedis;
let app: FastifyInstance;
beforeAll(async () => {
  redis = await startTestRedis();
  const client = redis.connect();
  client.on('error', () => undefined); // the outage is expected: the runtime logs these, the test ignores them
  const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 60000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  app = withTestToken(await buildApp(
    { store, metrics: createEngineMetrics(undefined, false), plugins: [(s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: null, srtPort: 9000, rtmpPort: 1935 } })] },
    TEST_APP_CONFIG,
  ));
});
afterAll(async () => {
  await app?.close();
  await redis?.close();
});

describe('Redis outage', () => {
  it('answers 503 JSON with Retry-After while Redis is down, and recovers when it is back', { timeout: 30000 }, async () => {
    assert.equal((await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'before' } })).statusCode, 201);
    await redis.server.close();
    for (const req of [
      { method: 'GET' as const, url: '/api/channels' },
      { method: 'GET' as const, url: '/beams' },
      { method: 'POST' as const, url: '/api/channels', payload: { name: 'during' } },
      { method: 'GET' as const, url: '/beams/x/video/latest' },
    ]) {
      const r = await app.inject(req);
      assert.equal(r.statusCode, 503, `${req.method} ${req.url}: ${r.body}`);
      assert.equal(r.json().statusCode, 503);
      assert.equal(r.json().error, 'Service Unavailable');
      assert.match(r.json().message, /Redis/);
      assert.ok(Number(r.headers['retry-after']) > 0, 'Retry-After');
    }
    assert.equal((await app.inject('/healthz')).statusCode, 503);

    await redis.server.start();
    const end = Date.now() + 15000;
    let status = 0;
    while (Date.now() < end) {
      status = (await app.inject('/api/channels')).statusCode;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 200, 'the API recovers by itself');
    assert.equal((await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'after' } })).statusCode, 201);
    assert.equal((await app.inject('/healthz')).statusCode, 200);
  });

  it('maps Redis refusals to 503 and keeps other faults 500 (pure)', () => {
    const cases: [Error, number][] = [
      [Object.assign(new Error('Reached the max retries per request limit (which is 3).'), { name: 'MaxRetriesPerRequestError' }), 503],
      [Object.assign(new Error("OOM command not allowed when used memory > 'maxmemory'."), { name: 'ReplyError' }), 503],
      [Object.assign(new Error("READONLY You can't write against a read only replica."), { name: 'ReplyError' }), 503],
      [new Error('Connection is closed.'), 503],
      [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }), 503],
      [Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), { name: 'ReplyError' }), 500],
      [new TypeError('x is undefined'), 500],
    ];
    for (const [err, status] of cases) assert.equal(errorResponse(err).status, status, err.message);
  });
});
