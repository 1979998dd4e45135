/**
 * GET /healthz (Redis reachable, with its round-trip time) and GET /metrics (Prometheus text).
 */

import type { FastifyInstance } from 'fastify';
import type { Store } from '../../core/store/store';
import type { EngineMetrics } from './metrics';

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

export async function healthPlugin(app: FastifyInstance, opts: { store: Store; metrics: EngineMetrics }): Promise<void> {
  const { store, metrics } = opts;

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
  app.get('/healthz', { schema: { tags, summary: 'Redis reachable (200) or not (503), with its round-trip time' } }, async (_req, reply) => {
    const redis = await sample();
    return reply.code(redis.ok ? 200 : 503).send({ status: redis.ok ? 'ok' : 'unavailable', redis });
  });

  app.get('/metrics', { schema: { tags, summary: 'Prometheus metrics (text exposition format)' } }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
