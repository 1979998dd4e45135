/**
 * A request refused before its body is read (over the size limit, anonymous, wrong type) must still reach its
 * client as an answer: a client such as curl or a browser sends the whole body without waiting, and a server
 * that closes a connection with unread bytes makes the kernel reset it, which throws away the answer the client
 * has not read yet ("connection reset" instead of 413). The server answers, half-closes, and reads and discards
 * what still comes for a bounded time and amount before closing. Against a real listening app on loopback, with
 * raw sockets that write the body at once.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore } from '../../../core/store/store';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { TEST_API_TOKEN, TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { rawHttpRequest } from '../../helpers/raw-http';

const MiB = 1024 * 1024;
let redis: TestRedis;
let app: FastifyInstance;
let port = 0;

beforeAll(async () => {
  redis = await startTestRedis();
  const store = createStore({ redis: redis.connect() }, { prefix: uniquePrefix(), packetTtlMs: 60_000, frameTtlMs: 60_000 });
  app = withTestToken(await buildApp({ store, metrics: createEngineMetrics(undefined, false) }, { ...TEST_APP_CONFIG, payloadBodyLimit: 4 * MiB }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  const made = await fetch(`http://127.0.0.1:${port}/beams/`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_TOKEN}` }, body: JSON.stringify({ url: 'target', streams: [{ codecpar: { codec_type: 'video' } }] }) });
  assert.equal(made.status, 201);
});
afterAll(async () => {
  await app?.close();
  await redis?.close();
});

const head = (path: string, length: number, token: boolean, type = 'application/octet-stream') =>
  [`PUT ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Content-Type: ${type}`, ...(token ? [`Authorization: Bearer ${TEST_API_TOKEN}`] : []), `Content-Length: ${length}`, '', ''].join('\r\n');

describe('a refused body still gets its answer', () => {
  it('413 for a payload over the limit, 401 anonymous, 400 binary to a JSON route: read by a client sending 24 MiB at once', { timeout: 120_000 }, async () => {
    const size = 24 * MiB;
    const cases: [string, string, number][] = [
      ['over the limit', head('/beams/target/video/packet_1/data', size, true), 413],
      ['anonymous', head('/beams/target/video/packet_1/data', size, false), 401],
      ['binary to a JSON route', head('/beams/target', size, true), 400],
    ];
    for (let round = 0; round < 4; round++) {
      for (const [what, h, want] of cases) {
        const got = await rawHttpRequest(port, h, { bodyBytes: size, timeoutMs: 20_000 });
        assert.equal(got.status, want, `${what} (round ${round}): ${got.error ?? 'no error'}`);
      }
    }
    // The server is fine, and a payload within the limit is stored.
    const ok = await fetch(`http://127.0.0.1:${port}/beams/target/video/packet_1/data`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${TEST_API_TOKEN}` }, body: Buffer.alloc(1000) });
    assert.ok(ok.status === 201 || ok.status === 404, `a payload within the limit reaches its route (${ok.status})`);
  });
});
