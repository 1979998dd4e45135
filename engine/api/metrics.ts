/**
 * Prometheus metrics of the engine: HTTP requests and latency, Redis round trips and store
 * operations. One registry per process, passed in (no global default registry).
 */

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface EngineMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  redisRoundTrip: Histogram<string>;
  redisUp: Gauge<string>;
  redisUsedMemory: Gauge<string>;
  redisMaxmemory: Gauge<string>;
  storeOps: Histogram<'op'>;
}

/** The event-loop delay metrics' sampling period, ms. */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createEngineMetrics(registry = new Registry(), withProcessMetrics = true): EngineMetrics {
  // The event-loop delay histogram samples with a repeating timer: prom-client's default 10 ms woke every process's
  // loop 100 times a second, idle or not (profiled under issue 15: with the SRT listener's 5 ms poll, most of an idle
  // process's CPU). 100 ms still sees every stall a viewer or publisher would feel.
  if (withProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'beam_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return {
    registry,
    httpRequests: new Counter({
      name: 'beam_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'beam_http_request_duration_seconds',
      help: 'HTTP request latency by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    redisRoundTrip: new Histogram({
      name: 'beam_redis_roundtrip_seconds',
      help: 'Redis PING round-trip time, sampled by the health check and every 5 s',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    redisUp: new Gauge({ name: 'beam_redis_up', help: '1 when the last Redis PING succeeded', registers: [registry] }),
    redisUsedMemory: new Gauge({
      name: 'beam_redis_used_memory_bytes',
      help: 'Redis used_memory (INFO memory; on a cluster, of the primary with the highest use ratio), read at most once a second',
      registers: [registry],
    }),
    redisMaxmemory: new Gauge({
      name: 'beam_redis_maxmemory_bytes',
      help: 'Redis maxmemory (0 = no limit) of the same server as beam_redis_used_memory_bytes; at the limit writes are refused',
      registers: [registry],
    }),
    storeOps: new Histogram({
      name: 'beam_store_operation_seconds',
      help: 'Store operation latency (one or more Redis round trips) by operation',
      labelNames: ['op'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
  };
}

export function createHttpMetrics(m: EngineMetrics) {
  return {
    observe(method: string, route: string, status: number, seconds: number): void {
      m.httpRequests.inc({ method, route, status: String(status) });
      m.httpDuration.observe({ method, route }, seconds);
    },
  };
}
