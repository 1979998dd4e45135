/**
 * GET /healthz (Redis reachable, with its round-trip time and its memory use against its limit) and
 * GET /metrics (Prometheus text). The memory figures are no secret: anonymous readers see them (the
 * dashboard warns from them).
 */

import type { FastifyInstance } from 'fastify';
import type { Store } from '../../core/store/store';
import { usedRatio, type RedisMemory } from '../../core/store/redis-memory';
import type { EngineMetrics } from './metrics';
import { createRedisMemorySampler, DEFAULT_REDIS_MEMORY_SAMPLER_CONFIG } from './redis-memory-sampler';

const PING_TIMEOUT_MS = 2000;

async function pingWithTimeout(store: Store): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([store.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The memory part of the health answer: nulls until a reading succeeded (or without a reader). */
export function memoryView(m: RedisMemory | null): { usedMemoryBytes: number | null; maxmemoryBytes: number | null; usedRatio: number | null } {
  if (!m) return { usedMemoryBytes: null, maxmemoryBytes: null, usedRatio: null };
  const ratio = usedRatio(m);
  return { usedMemoryBytes: m.usedMemoryBytes, maxmemoryBytes: m.maxmemoryBytes, usedRatio: ratio === null ? null : Math.round(ratio * 1e4) / 1e4 };
}

export interface HealthOptions {
  store: Store;
  metrics: EngineMetrics;
  /** Reads Redis memory use (core/store/redis-memory.ts readRedisMemory); without it the figures are null. */
  redisMemory?: () => Promise<RedisMemory>;
}

export async function healthPlugin(app: FastifyInstance, opts: HealthOptions): Promise<void> {
  const { store, metrics } = opts;
  const read = opts.redisMemory;
  const memory = read
    ? createRedisMemorySampler({ read, gauges: { used: metrics.redisUsedMemory, max: metrics.redisMaxmemory } }, DEFAULT_REDIS_MEMORY_SAMPLER_CONFIG)
    : { sample: async () => null };

  async function sample(): Promise<{ ok: boolean; roundTripMs?: number; error?: string }> {
    try {
      const s = await pingWithTimeout(store);
      metrics.redisRoundTrip.observe(s);
      metrics.redisUp.set(1);
      return { ok: true, roundTripMs: Math.round(s * 1e6) / 1e3 };
    } catch (e) {
      metrics.redisUp.set(0);
      return { ok: false, error: (e as Error).message };
    }
  }

  const timer = setInterval(() => void sample(), 5000);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));

  const tags = ['health'];
  app.get('/healthz', { schema: { tags, summary: 'Redis reachable (200) or not (503), with its round-trip time and memory use against its limit' } }, async (_req, reply) => {
    const [redis, mem] = await Promise.all([sample(), memory.sample()]);
    return reply.code(redis.ok ? 200 : 503).send({ status: redis.ok ? 'ok' : 'unavailable', redis: { ...redis, ...memoryView(mem) } });
  });

  app.get('/metrics', { schema: { tags, summary: 'Prometheus metrics (text exposition format)' } }, async (_req, reply) => {
    await memory.sample();
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
