/**
 * A real three-node Redis Cluster on loopback: the store's Lua scripts, batched ingest writes, queries,
 * payload reads, delete, channels and live records all work through ioredis's Cluster client, because every
 * key of a content item carries its `{name}` hash tag.
 */

import { afterAll, beforeAll, it } from 'vitest';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../helpers/process';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../../core/store/redis-connection';
import { createStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createLiveStore } from '../../../core/store/live-store';
import { validateFormat } from '../../../core/model/content';
import { packetMetaOf } from '../../../core/model/media';
import { createChannel } from '../../../core/model/channel';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { parseMemoryInfo, readRedisMemory } from '../../../core/store/redis-memory';

const nodes: ChildProcess[] = [];
const ports: number[] = [];
let dir = '';
let client: RedisClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'beamline-cluster-'));
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    ports.push(port);
    nodes.push(spawn('redis-server', [
      '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`),
      '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
    ], { stdio: 'ignore' }));
  }
  for (const p of ports) {
    for (let i = 0; i < 50; i++) {
      try {
        if (execFileSync('redis-cli', ['-p', String(p), 'PING']).toString().includes('PONG')) break;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (execFileSync('redis-cli', ['-p', String(ports[0]), 'CLUSTER', 'INFO']).toString().includes('cluster_state:ok')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  client = connectRedis(parseRedisUrl(ports.map((p) => `redis://127.0.0.1:${p}`).join(',')));
});

afterAll(async () => {
  client?.disconnect();
  for (const n of nodes) n.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('store, channels and live records on a Redis Cluster', { timeout: 60000 }, async () => {
  const store = createStore({ redis: client }, { prefix: 'beam', packetTtlMs: 60000, frameTtlMs: 60000 });
  const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
  for (const name of names) {
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }, { codecpar: { codec_type: 'audio' } }] }, name));
    const writes = Array.from({ length: 40 }, (_, i) => {
      const p = { streamIndex: i % 2, pts: i * 1500, dts: i * 1500, duration: 1500, keyframe: i % 20 === 0, data: Buffer.from(`${name}-${i}`) };
      return { streamIndex: p.streamIndex, meta: packetMetaOf(p), data: p.data };
    });
    await store.writePackets(name, writes, 60000);
  }
  const owners = new Set(names.map((n) => execFileSync('redis-cli', ['-p', String(ports[0]), 'CLUSTER', 'KEYSLOT', `{${n}}`]).toString().trim()));
  assert.ok(owners.size > 1, 'the contents spread over several slots');
  for (const name of names) {
    const last = await store.query(name, 0, { mode: 'rank', from: -1, to: -1, offset: 0, limit: 1 });
    assert.equal(last[0]?.meta.pts, 38 * 1500);
    const near = await store.query(name, 1, { mode: 'near', pts: 1600 });
    assert.equal(near[0]?.meta.pts, 1500);
    const read = await store.readPackets(name, 0, 0, 12000);
    assert.deepEqual(read.map((r) => r.data.toString()), [`${name}-0`, `${name}-2`, `${name}-4`, `${name}-6`]);
  }
  assert.deepEqual((await store.listContents(0, 10)).sort(), [...names].sort());
  await store.setRendition({ source: 'alpha', target: 'bravo', streamMap: [{ target: 0, source: [0] }] });
  assert.equal((await store.getRelations('bravo')).renditionOf?.source, 'alpha');
  assert.ok((await store.deleteContent('charlie')) > 0);
  assert.equal(await store.getFormat('charlie'), null);

  const channels = createChannelStore({ redis: client, keys: store.keys });
  const ch = createChannel({ name: 'live1' }, validateLadder, DEFAULT_LADDER);
  await channels.create(ch);
  assert.equal(await channels.byKey(ch.streamKey), 'live1');
  await channels.setState('live1', 'live', { connected: true });
  assert.equal((await channels.status('live1')).state, 'live');

  const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 100 });
  await live.writeBoundaries('live1', {
    segments: [{ index: 1, startPts: 0, startDts: 0, durationPts: null, wallClockMs: Date.now(), discontinuity: false }],
    events: [{ type: 'segment:opened', segment: 1, startPts: 0, wallClockMs: Date.now(), discontinuity: false }],
    retainMs: 60000,
  });
  assert.equal((await live.lastSegments('live1', 1))[0]?.index, 1);
  const ev = await live.readEvents(client, 'live1', '0', 100);
  assert.equal(ev.events[0]?.event.type, 'segment:opened');
});

it('memory use reports the fullest primary (INFO memory on each, not a sum)', async () => {
  const cli = (port: number, ...args: string[]) => execFileSync('redis-cli', ['-p', String(port), ...args]).toString();
  const used = ports.map((p) => parseMemoryInfo(cli(p, 'INFO', 'memory')).usedMemoryBytes);
  const limits = [(used[0] as number) * 10, Math.ceil((used[1] as number) / 0.8), 0];
  ports.forEach((p, i) => cli(p, 'CONFIG', 'SET', 'maxmemory', String(limits[i])));
  try {
    const m = await readRedisMemory(client);
    assert.equal(m.maxmemoryBytes, limits[1], 'the primary at ~80 % rather than the one at ~10 % or the one without a limit');
    assert.ok(m.usedMemoryBytes > 0.5 * (used[1] as number) && m.usedMemoryBytes < 2 * (used[1] as number), `used ${m.usedMemoryBytes} near ${used[1]}`);
  } finally {
    for (const p of ports) cli(p, 'CONFIG', 'SET', 'maxmemory', '0');
  }
});
