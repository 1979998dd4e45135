/**
 * Grammar fuzz: thousands of random media_refs, stream names, content names and query strings
 * through the real app. Every answer must be a 2xx/3xx/4xx, never 5xx, never a hang; every error is
 * JSON {statusCode, error, message}. Seeded, so a failure reproduces.
 */

import { afterAll, beforeAll, it } from 'vitest';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, type TestRedis } from '../../helpers/redis';
import { buildTestApp } from '../../helpers/app';

let redis: TestRedis;
let app: FastifyInstance;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const ATOMS = ['packet_', 'frame_', 'first', 'last', 'latest', 'start', 'end', 'st', 'nd', 'rd', 'th', 's', 'f', 'd', '+', '-', '.', '.json', '.raw', '_', '0', '1', '7', '9', '42', '99999999999999999999', '1e5', 'data', '%', '%2F', '%00', ' ', 'é', '{', '}', '*', '..', 'video', 'audio_1', 'stream_'];

function randomRef(r: () => number): string {
  const n = 1 + Math.floor(r() * 6);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += r() < 0.8 ? (ATOMS[Math.floor(r() * ATOMS.length)] as string) : String.fromCharCode(32 + Math.floor(r() * 95));
  }
  return s;
}

/** Grammar-shaped refs with random (sometimes absurd) numbers, so the query path is exercised too. */
function grammarRef(r: () => number): string {
  const num = () => `${r() < 0.2 ? '-' : ''}${r() < 0.1 ? '99999999999999999999' : String(Math.floor(r() ** 3 * 100))}`;
  const ord = () => (r() < 0.2 ? (r() < 0.5 ? 'first' : 'last') : `${num()}${['st', 'nd', 'rd', 'th'][Math.floor(r() * 4)]}`);
  const sec = () => `${r() < 0.2 ? '-' : ''}${(r() * 3).toFixed(Math.floor(r() * 3))}s`;
  const forms = [
    () => num(), () => `${num()}f`, () => `${num()}-${num()}`, () => ord(), () => `${ord()}-${ord()}`, () => sec(),
    () => `${sec()}-${sec()}`, () => `${sec()}-${sec().slice(0, -1)}`, () => `${num()}f-${num()}${r() < 0.3 ? 'f' : ''}`,
    () => `${num()}${r() < 0.5 ? '+' : '-'}${num()}d`, () => `packet_${num()}`,
    () => `frame_${num()}.raw_${num()}`, () => ['start', 'latest', 'end'][Math.floor(r() * 3)] as string,
  ];
  const s = (forms[Math.floor(r() * forms.length)] as () => string)();
  return r() < 0.2 ? `${s}.json` : s;
}

function encodeLoosely(s: string, r: () => number): string {
  return r() < 0.7 ? encodeURIComponent(s) : s.replace(/[ #?/]/g, (c) => encodeURIComponent(c));
}

const CONTENT_TYPES = ['application/json', 'application/octet-stream', 'text/plain', 'application/x-www-form-urlencoded', undefined];

function contentType(r: () => number): Record<string, string> {
  const ct = CONTENT_TYPES[Math.floor(r() * CONTENT_TYPES.length)];
  return ct === undefined ? {} : { 'content-type': ct };
}

beforeAll(async () => {
  redis = await startTestRedis();
  ({ app } = await buildTestApp(redis));
  await app.inject({ method: 'POST', url: '/beams/', payload: { url: 'fz', streams: [{ time_base: [1, 25], codecpar: { codec_type: 'video' } }, { codecpar: { codec_type: 'audio' } }] } });
  for (let pts = -10; pts < 30; pts++) await app.inject({ method: 'PUT', url: `/beams/fz/video/packet_${pts}`, payload: { type: 'Packet', duration: 1 } });
});
afterAll(async () => {
  await app.close();
  await redis.close();
});

it('5,000 random requests: no 5xx, JSON errors only', { timeout: 120000 }, async () => {
  const r = rng(20261122);
  const methods = ['GET', 'GET', 'GET', 'PUT', 'DELETE', 'POST'] as const;
  const seen = new Map<number, number>();
  for (let i = 0; i < 5000; i++) {
    const method = methods[Math.floor(r() * methods.length)] as (typeof methods)[number];
    const shape = Math.floor(r() * 4);
    const ref = encodeLoosely(r() < 0.5 ? grammarRef(r) : randomRef(r), r);
    const url =
      shape === 0 ? `/beams/fz/video/${ref}` :
      shape === 1 ? `/beams/fz/${ref}/${encodeLoosely(randomRef(r), r)}` :
      shape === 2 ? `/beams/${ref}` :
      `/beams/fz/video/${ref}?offset=${encodeLoosely(randomRef(r), r)}&limit=${encodeLoosely(randomRef(r), r)}`;
    const withBody = method === 'PUT' || method === 'POST';
    const res = await app.inject({
      method, url,
      ...(withBody ? { headers: contentType(r), payload: r() < 0.5 ? ['{"type":"Packet"}', '{"type":"Frame","buf_sizes":[1]}', '{"url":""}'][Math.floor(r() * 3)] as string : randomRef(r) } : {}),
    });
    seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
    assert.ok(res.statusCode < 500, `${method} ${url} → ${res.statusCode} ${res.body}`);
    if (res.statusCode >= 400) {
      const body = JSON.parse(res.body) as Record<string, unknown>;
      assert.equal(body.statusCode, res.statusCode, `${method} ${url}`);
      assert.equal(typeof body.message, 'string');
      assert.equal(typeof body.error, 'string');
    }
  }
  assert.ok((seen.get(400) ?? 0) > 100, `the fuzz reached the parser: ${JSON.stringify([...seen])}`);
  assert.ok((seen.get(200) ?? 0) + (seen.get(302) ?? 0) > 10, `some random refs were valid: ${JSON.stringify([...seen])}`);
});
