/** Builds the engine's fastify app against a real redis-server with a fresh key prefix. */

import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp, type AppConfig } from '../../engine/api/app';
import { createEngineMetrics } from '../../engine/api/metrics';
import { createStore, type OwnedStore } from '../../core/store/store';
import type { TestRedis } from './redis';
import { uniquePrefix } from './redis';

/** The API token every test app is configured with (the product always has one). */
export const TEST_API_TOKEN = 'test-api-token-0123456789abcdef';

/** Headers that carry the test token, for fetch() and inject(). */
export const AUTH = { authorization: `Bearer ${TEST_API_TOKEN}` } as const;

export const TEST_APP_CONFIG: AppConfig = {
  apiToken: TEST_API_TOKEN,
  jsonBodyLimit: 1024 * 1024,
  payloadBodyLimit: 64 * 1024 * 1024,
  defaultLimit: 10,
  mediaDefaultLimit: 10,
  maxLimit: 10000,
  logLevel: 'silent',
};

/**
 * Make `app.inject` send the test token, as an operator's tool would, unless a request sets its own
 * Authorization header (or `authorization: ''` to be anonymous). Tests of authentication itself build their
 * app with their own token and send headers explicitly.
 */
export function withTestToken(app: FastifyInstance, token = TEST_API_TOKEN): FastifyInstance {
  const inject = app.inject.bind(app) as (opts: unknown) => unknown;
  (app as unknown as { inject: (opts: unknown) => unknown }).inject = (opts: unknown) => {
    if (opts === undefined) return inject(opts);
    const o = (typeof opts === 'string' ? { url: opts } : { ...(opts as object) }) as { headers?: Record<string, unknown> };
    const headers = { ...(o.headers ?? {}) };
    const given = Object.keys(headers).find((h) => h.toLowerCase() === 'authorization');
    if (given === undefined) headers.authorization = `Bearer ${token}`;
    else if (headers[given] === '') delete headers[given];
    return inject({ ...o, headers });
  };
  return app;
}

export async function buildTestApp(
  redis: TestRedis,
  overrides: Partial<AppConfig> = {},
  ttl: { packetTtlMs?: number; frameTtlMs?: number } = {},
): Promise<{ app: FastifyInstance; store: OwnedStore; prefix: string }> {
  const prefix = uniquePrefix();
  const store = createStore({ redis: redis.connect() }, { prefix, packetTtlMs: ttl.packetTtlMs ?? 60000, frameTtlMs: ttl.frameTtlMs ?? 60000 });
  const app = await buildApp({ store, metrics: createEngineMetrics(undefined, false) }, { ...TEST_APP_CONFIG, ...overrides });
  await app.ready();
  return { app: overrides.apiToken === undefined ? withTestToken(app) : app, store, prefix };
}

/** An error answer as the API promises it: the status, JSON `{statusCode, error, message}`, the message matching. */
export function assertError(res: LightMyRequestResponse, status: number, pattern?: RegExp): void {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /application\/json/);
  const body = JSON.parse(res.body) as { statusCode: number; error: string; message: string };
  assert.equal(body.statusCode, status);
  assert.equal(typeof body.error, 'string');
  assert.equal(typeof body.message, 'string');
  if (pattern) assert.match(body.message, pattern);
}
