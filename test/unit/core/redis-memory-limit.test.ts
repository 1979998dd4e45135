/** The embedded redis-server's memory limit: its size forms, its default, its setting; reading use against it. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Gauge, Registry } from 'prom-client';
import { ConfigError, DEFAULTS, loadConfig } from '../../../core/config/config';
import { defaultMaxmemory, embeddedMaxmemory, formatBinarySize, GIB, MIB, machineMemory, parseByteSize } from '../../../core/config/memory-size';
import { fullestNode, parseMemoryInfo, usedRatio, type RedisMemory } from '../../../core/store/redis-memory';
import { createRedisMemorySampler } from '../../../engine/api/redis-memory-sampler';
import { memoryView } from '../../../engine/api/health';

describe('parseByteSize (redis.conf sizes, 1024-based)', () => {
  const table: [string, number | null][] = [
    ['0', 0],
    ['1073741824', 1073741824],
    ['512mb', 512 * MIB],
    ['512MB', 512 * MIB],
    [' 4gb ', 4 * GIB],
    ['4Gb', 4 * GIB],
    ['64kb', 64 * 1024],
    ['100b', 100],
    ['1 gb', GIB],
    ['1.5gb', null],
    ['-1', null],
    ['4g', null], // redis.conf reads a bare g as 10^9: refused rather than guessed
    ['4m', null],
    ['4tb', null],
    ['gb', null],
    ['', null],
    ['lots', null],
    ['99999999999gb', null], // beyond 2^53 bytes
  ];
  for (const [text, want] of table) it(`${JSON.stringify(text)} → ${want}`, () => assert.equal(parseByteSize(text), want));
});

describe('the default limit: half the memory, at least 256 MiB', () => {
  const table: [string, number, number][] = [
    ['8 GiB machine → 4 GiB', 8 * GIB, 4 * GIB],
    ['64 GiB machine → 32 GiB', 64 * GIB, 32 * GIB],
    ['1 GiB machine → 512 MiB', GIB, 512 * MIB],
    ['512 MiB machine → the 256 MiB floor', 512 * MIB, 256 * MIB],
    ['256 MiB machine → still 256 MiB', 256 * MIB, 256 * MIB],
    ['unknown (0) → the floor', 0, 256 * MIB],
    ['odd sizes round down to a whole MiB', 8 * GIB + 3 * MIB + 12345, 4 * GIB + MIB],
  ];
  for (const [name, machine, want] of table) it(name, () => assert.equal(defaultMaxmemory(machine), want));
  it('a container limit below the machine\'s memory is the machine', () => {
    assert.equal(machineMemory(64 * GIB, 2 * GIB), 2 * GIB);
    assert.equal(machineMemory(64 * GIB, 2 ** 64), 64 * GIB, 'unconstrained: a huge figure');
    assert.equal(machineMemory(64 * GIB, 0), 64 * GIB);
    assert.equal(machineMemory(64 * GIB, undefined), 64 * GIB);
  });
  it('the setting wins; null (auto) derives it; 0 stays no limit', () => {
    assert.equal(embeddedMaxmemory(null, 8 * GIB), 4 * GIB);
    assert.equal(embeddedMaxmemory(512 * MIB, 8 * GIB), 512 * MIB);
    assert.equal(embeddedMaxmemory(0, 8 * GIB), 0);
  });
  it('sizes for people', () => {
    assert.equal(formatBinarySize(4 * GIB), '4.0 GiB');
    assert.equal(formatBinarySize(512 * MIB), '512 MiB');
    assert.equal(formatBinarySize(2048), '2 KiB');
  });
});

describe('redis.maxmemory / BEAM_REDIS_MAXMEMORY', () => {
  it('defaults to null (derived from the machine\'s memory at start)', () => {
    assert.equal(DEFAULTS.redis.maxmemory, null);
    assert.equal(loadConfig(null, {}).redis.maxmemory, null);
  });
  const ok: [string, number | null][] = [['4gb', 4 * GIB], ['512MB', 512 * MIB], ['1073741824', GIB], ['0', 0], ['auto', null], ['AUTO', null], ['', null]];
  for (const [raw, want] of ok) {
    it(`BEAM_REDIS_MAXMEMORY=${JSON.stringify(raw)} → ${want}`, () => assert.equal(loadConfig(null, { BEAM_REDIS_MAXMEMORY: raw }).redis.maxmemory, want));
  }
  it('from the file as a number or a size, the NODE_ENV name winning', () => {
    assert.equal(loadConfig({ redis: { maxmemory: 2 * GIB } }, {}).redis.maxmemory, 2 * GIB);
    assert.equal(loadConfig({ redis: { maxmemory: '2gb' } }, {}).redis.maxmemory, 2 * GIB);
    assert.equal(loadConfig({ redis: { maxmemory: null } }, {}).redis.maxmemory, null);
    assert.equal(loadConfig(null, { NODE_ENV: 'test', BEAM_REDIS_MAXMEMORY: 'junk', BEAM_TEST_REDIS_MAXMEMORY: '3gb' }).redis.maxmemory, 3 * GIB);
  });
  const bad = ['4g', '1.5gb', '-1', 'lots', '100', '512kb', '4 tb'];
  for (const raw of bad) {
    it(`BEAM_REDIS_MAXMEMORY=${JSON.stringify(raw)} is refused, naming the field, the variable and the forms`, () => {
      assert.throws(
        () => loadConfig(null, { BEAM_REDIS_MAXMEMORY: raw }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`redis.maxmemory = ${JSON.stringify(raw)} (from BEAM_REDIS_MAXMEMORY)`) && /expected .*512mb, 4gb.*0 for no limit/.test(e.message),
      );
    });
  }
  it('a fraction in the file is refused', () => {
    assert.throws(() => loadConfig({ redis: { maxmemory: MIB + 0.5 } }, {}, 'beam.json'), /redis\.maxmemory = 1048576\.5 \(from beam\.json\)/);
  });
});

describe('INFO memory', () => {
  const info = '# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_rss:9000000\r\nmaxmemory:4194304\r\nmaxmemory_human:4.00M\r\nmaxmemory_policy:noeviction\r\n';
  it('reads used_memory and maxmemory (not their _human or _rss neighbours)', () => {
    assert.deepEqual(parseMemoryInfo(info), { usedMemoryBytes: 1048576, maxmemoryBytes: 4194304 });
    assert.equal(usedRatio(parseMemoryInfo(info)), 0.25);
  });
  it('no maxmemory line: no limit; no used_memory: an error', () => {
    assert.deepEqual(parseMemoryInfo('used_memory:10\n'), { usedMemoryBytes: 10, maxmemoryBytes: 0 });
    assert.equal(usedRatio({ usedMemoryBytes: 10, maxmemoryBytes: 0 }), null);
    assert.throws(() => parseMemoryInfo('# Memory\r\n'), /used_memory/);
  });
  it('a cluster reports its fullest primary', () => {
    const a = { usedMemoryBytes: 300, maxmemoryBytes: 1000 };
    const b = { usedMemoryBytes: 900, maxmemoryBytes: 1000 };
    const c = { usedMemoryBytes: 5000, maxmemoryBytes: 0 };
    assert.deepEqual(fullestNode([a, b, c]), b, 'the highest ratio, not the most bytes');
    assert.deepEqual(fullestNode([c, { usedMemoryBytes: 7000, maxmemoryBytes: 0 }]), { usedMemoryBytes: 7000, maxmemoryBytes: 0 }, 'no limits: the most used');
    assert.throws(() => fullestNode([]));
  });
  it('the health view: figures and the ratio, nulls before any reading', () => {
    assert.deepEqual(memoryView({ usedMemoryBytes: 830, maxmemoryBytes: 1000 }), { usedMemoryBytes: 830, maxmemoryBytes: 1000, usedRatio: 0.83 });
    assert.deepEqual(memoryView({ usedMemoryBytes: 830, maxmemoryBytes: 0 }), { usedMemoryBytes: 830, maxmemoryBytes: 0, usedRatio: null });
    assert.deepEqual(memoryView(null), { usedMemoryBytes: null, maxmemoryBytes: null, usedRatio: null });
  });
});

describe('the memory sampler behind /metrics and /healthz', () => {
  function rig(read: () => Promise<RedisMemory>) {
    const registry = new Registry();
    const used = new Gauge({ name: 'used', help: 'u', registers: [registry] });
    const max = new Gauge({ name: 'max', help: 'm', registers: [registry] });
    let t = 0;
    let calls = 0;
    const sampler = createRedisMemorySampler({ read: () => (calls++, read()), gauges: { used, max }, now: () => t }, { minIntervalMs: 1000, timeoutMs: 50 });
    const value = async (g: Gauge<string>) => (await g.get()).values[0]?.value;
    return { sampler, used, max, value, calls: () => calls, advance: (ms: number) => (t += ms) };
  }

  it('reads at most once a second however often it is asked', async () => {
    let used = 100;
    const r = rig(async () => ({ usedMemoryBytes: used, maxmemoryBytes: 1000 }));
    assert.deepEqual(await r.sampler.sample(), { usedMemoryBytes: 100, maxmemoryBytes: 1000 });
    used = 200;
    await Promise.all([r.sampler.sample(), r.sampler.sample(), r.sampler.sample()]);
    r.advance(999);
    assert.equal((await r.sampler.sample())?.usedMemoryBytes, 100);
    assert.equal(r.calls(), 1);
    r.advance(1);
    assert.equal((await r.sampler.sample())?.usedMemoryBytes, 200);
    assert.equal(r.calls(), 2);
    assert.equal(await r.value(r.used), 200);
    assert.equal(await r.value(r.max), 1000);
  });

  it('a failed or hung read keeps the last values', async () => {
    let mode: 'ok' | 'fail' | 'hang' = 'ok';
    const r = rig(() => (mode === 'ok' ? Promise.resolve({ usedMemoryBytes: 700, maxmemoryBytes: 1000 }) : mode === 'fail' ? Promise.reject(new Error('Connection is closed.')) : new Promise<RedisMemory>(() => undefined)));
    await r.sampler.sample();
    mode = 'fail';
    r.advance(1000);
    assert.deepEqual(await r.sampler.sample(), { usedMemoryBytes: 700, maxmemoryBytes: 1000 });
    mode = 'hang';
    r.advance(1000);
    assert.deepEqual(await r.sampler.sample(), { usedMemoryBytes: 700, maxmemoryBytes: 1000 }, 'answers after the timeout');
    assert.equal(await r.value(r.used), 700);
    assert.equal(await r.value(r.max), 1000);
  });

  it('nothing read yet: null', async () => {
    const r = rig(() => Promise.reject(new Error('down')));
    assert.equal(await r.sampler.sample(), null);
  });
});
