/**
 * The memory bound: the embedded redis-server really runs with `redis.maxmemory` (CONFIG GET maxmemory), by
 * default half the machine's memory, and the engine reports use against it on /metrics and /healthz; a Redis
 * that stops answering leaves the gauges at their last values and /metrics answering.
 */

import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../../core/config/config';
import { defaultMaxmemory, machineMemory } from '../../../core/config/memory-size';
import { createEngineRuntime, type EngineRuntime } from '../../../engine/runtime';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { TEST_APP_CONFIG } from '../../helpers/app';

const dirs: string[] = [];
const runtimes: EngineRuntime[] = [];
const apps: FastifyInstance[] = [];

afterAll(async () => {
  for (const a of apps) await a.close();
  for (const r of runtimes) await r.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<{ runtime: EngineRuntime; app: FastifyInstance }> {
  const dir = mkdtempSync(join(tmpdir(), 'beamline-mem-'));
  dirs.push(dir);
  const config = loadConfig(null, { BEAM_DATA_DIR: dir, ...env });
  const runtime = await createEngineRuntime({ log: pino({ level: 'silent' }) }, config);
  runtimes.push(runtime);
  const app = await buildApp({ store: runtime.store, metrics: createEngineMetrics(undefined, false), redisMemory: () => runtime.memory() }, TEST_APP_CONFIG);
  apps.push(app);
  await app.ready();
  return { runtime, app };
}

async function configured(runtime: EngineRuntime): Promise<number> {
  const [name, value] = (await runtime.redis.config('GET', 'maxmemory')) as [string, string];
  assert.equal(name, 'maxmemory');
  return Number(value);
}

function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  assert.ok(m, `${name} in /metrics:\n${text}`);
  return Number(m[1]);
}

interface Health { status: string; redis: { ok: boolean; usedMemoryBytes: number | null; maxmemoryBytes: number | null; usedRatio: number | null } }

describe('the embedded redis-server\'s memory bound', () => {
  it('runs with BEAM_REDIS_MAXMEMORY and reports use against it', async () => {
    const { runtime, app } = await start({ BEAM_REDIS_MAXMEMORY: '300mb' });
    assert.equal(await configured(runtime), 300 * 2 ** 20);
    assert.equal(runtime.embeddedMaxmemory, 300 * 2 ** 20);
    const metrics = await app.inject('/metrics');
    assert.equal(metrics.statusCode, 200);
    assert.equal(gauge(metrics.body, 'beam_redis_maxmemory_bytes'), 300 * 2 ** 20);
    const used = gauge(metrics.body, 'beam_redis_used_memory_bytes');
    assert.ok(used > 100_000 && used < 300 * 2 ** 20, `used_memory ${used} is plausible for an almost empty server`);
    const health = (await app.inject('/healthz')).json<Health>();
    assert.equal(health.status, 'ok');
    assert.equal(health.redis.maxmemoryBytes, 300 * 2 ** 20);
    assert.ok(health.redis.usedMemoryBytes !== null && Math.abs(health.redis.usedMemoryBytes - used) < 2 ** 20, 'the same reading (within a second) as /metrics');
    assert.ok(health.redis.usedRatio !== null && health.redis.usedRatio > 0 && health.redis.usedRatio < 0.05);
  });

  it('defaults to half the machine\'s memory (at least 256 MiB)', async () => {
    const { runtime } = await start({});
    const want = defaultMaxmemory(machineMemory(totalmem(), process.constrainedMemory()));
    assert.ok(want >= 256 * 2 ** 20);
    assert.equal(await configured(runtime), want);
  });

  it('0 is no limit: maxmemory 0, no ratio', async () => {
    const { runtime, app } = await start({ BEAM_REDIS_MAXMEMORY: '0' });
    assert.equal(await configured(runtime), 0);
    assert.equal(gauge((await app.inject('/metrics')).body, 'beam_redis_maxmemory_bytes'), 0);
    const health = (await app.inject('/healthz')).json<Health>();
    assert.equal(health.redis.maxmemoryBytes, 0);
    assert.equal(health.redis.usedRatio, null);
  });

  it('a Redis that stops answering leaves /metrics answering with the last values', { timeout: 20000 }, async () => {
    const { runtime, app } = await start({ BEAM_REDIS_MAXMEMORY: '64mb' });
    const before = (await app.inject('/metrics')).body;
    assert.equal(gauge(before, 'beam_redis_maxmemory_bytes'), 64 * 2 ** 20);
    await runtime.embedded?.close();
    await new Promise((r) => setTimeout(r, 1100));
    const t0 = Date.now();
    const after = await app.inject('/metrics');
    assert.equal(after.statusCode, 200);
    assert.ok(Date.now() - t0 < 5000, 'answered without waiting on Redis for long');
    assert.equal(gauge(after.body, 'beam_redis_maxmemory_bytes'), 64 * 2 ** 20);
    assert.equal(gauge(after.body, 'beam_redis_used_memory_bytes'), gauge(before, 'beam_redis_used_memory_bytes'));
    const health = await app.inject('/healthz');
    assert.equal(health.statusCode, 503);
    assert.equal(health.json<Health>().redis.maxmemoryBytes, 64 * 2 ** 20, 'the last figures, still shown');
  });
});
