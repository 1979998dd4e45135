/** Builds the engine's fastify app against a real redis-server with a fresh key prefix. */

import type { FastifyInstance } from 'fastify';
import { buildApp, type AppConfig } from '../../engine/api/app';
import { createEngineMetrics } from '../../engine/api/metrics';
import { createStore, type Store } from '../../engine/store/store';
import type { TestRedis } from './redis';
import { uniquePrefix } from './redis';

export const TEST_APP_CONFIG: AppConfig = {
  apiToken: null,
  jsonBodyLimit: 1024 * 1024,
  payloadBodyLimit: 64 * 1024 * 1024,
  defaultLimit: 10,
  mediaDefaultLimit: 10,
  maxLimit: 10000,
  logLevel: 'silent',
};

export async function buildTestApp(
  redis: TestRedis,
  overrides: Partial<AppConfig> = {},
  ttl: { packetTtlMs?: number; frameTtlMs?: number } = {},
): Promise<{ app: FastifyInstance; store: Store; prefix: string }> {
  const prefix = uniquePrefix();
  const store = createStore({ redis: redis.connect() }, { prefix, packetTtlMs: ttl.packetTtlMs ?? 60000, frameTtlMs: ttl.frameTtlMs ?? 60000 });
  const app = await buildApp({ store, metrics: createEngineMetrics(undefined, false) }, { ...TEST_APP_CONFIG, ...overrides });
  await app.ready();
  return { app, store, prefix };
}
