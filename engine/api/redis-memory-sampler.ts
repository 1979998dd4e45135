/**
 * Redis memory use for /metrics and /healthz, read on demand but at most once per `minIntervalMs` however
 * often they are scraped. A read that fails or takes longer than `timeoutMs` changes nothing: the gauges and
 * the last sample keep their values, and the caller answers at once.
 */

import type { Gauge } from 'prom-client';
import type { RedisMemory } from '../../core/store/redis-memory';

export interface RedisMemorySamplerDeps {
  read: () => Promise<RedisMemory>;
  gauges: { used: Gauge<string>; max: Gauge<string> };
  now?: () => number;
}

export interface RedisMemorySamplerConfig {
  minIntervalMs: number;
  timeoutMs: number;
}

export const DEFAULT_REDIS_MEMORY_SAMPLER_CONFIG: RedisMemorySamplerConfig = { minIntervalMs: 1000, timeoutMs: 2000 };

export interface RedisMemorySampler {
  /** A fresh reading when the last one is older than minIntervalMs, else the last; null before any succeeded. */
  sample(): Promise<RedisMemory | null>;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function createRedisMemorySampler(deps: RedisMemorySamplerDeps, config: RedisMemorySamplerConfig): RedisMemorySampler {
  const now = deps.now ?? Date.now;
  let last: RedisMemory | null = null;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let pending: Promise<void> | null = null;

  async function refresh(): Promise<void> {
    try {
      const m = await withTimeout(deps.read(), config.timeoutMs);
      last = m;
      deps.gauges.used.set(m.usedMemoryBytes);
      deps.gauges.max.set(m.maxmemoryBytes);
    } catch {
      // Kept as they were: Redis being unreachable is what beam_redis_up and /healthz report.
    }
  }

  return {
    async sample() {
      if (!pending && now() - lastAttempt >= config.minIntervalMs) {
        lastAttempt = now();
        pending = refresh().finally(() => {
          pending = null;
        });
      }
      if (pending) await pending;
      return last;
    },
  };
}
