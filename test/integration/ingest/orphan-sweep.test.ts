// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The sweep of channels left live by an ingest process that stopped, through the ingest service on a real
 * redis-server, as an operator sees it (the channel's status). The service reaches Redis through a proxy the
 * test can cut (Redis unreachable from it, as in an outage or failover):
 * - without an outage, a channel whose lease is free is marked idle (INGEST_FAILED) at once: a transcoder
 *   following its open segment stops waiting, the dashboard shows it gone;
 * - after an outage the service saw, a free lease may only mean its holder could not renew it meanwhile
 *   (it holds its publish through the outage and takes the lease back when Redis answers): the channel is
 *   swept only once the lease has stayed free for the outage hold plus the lease time, and a channel whose
 *   holder came back is left alone.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore } from '../../../core/store/store';
import { createChannelStore, type ChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../../core/store/redis-connection';
import { createChannel } from '../../../core/model/channel';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { waitFor } from '../../helpers/process';

const LEASE_MS = 300;
const OUTAGE_HOLD_MS = 2000;
const AWAY_MS = OUTAGE_HOLD_MS + LEASE_MS;
let redis: TestRedis;
let dir = '';
let proxy: Server;
const proxied = new Set<Socket>();
let proxyPath = '';
const serviceClients: RedisClient[] = [];
/** The test's own view, straight to Redis (another process's). */
let channels: ChannelStore;
let live: LiveStore;
let ingest: IngestService;

/** A unix-socket proxy to the redis-server (closed and listening again to cut Redis off, see `outage`). */
function startProxy(target: string, path: string): Promise<Server> {
  const srv = createServer((client) => {
    const upstream = connect(target);
    for (const s of [client, upstream]) {
      proxied.add(s);
      s.on('error', () => undefined);
      s.on('close', () => proxied.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) => srv.listen(path, () => resolve(srv)));
}

beforeAll(async () => {
  redis = await startTestRedis();
  dir = mkdtempSync(join(tmpdir(), 'beamline-sweep-'));
  const path = join(dir, 'proxy.sock');
  proxyPath = path;
  proxy = await startProxy(redis.server.socketPath, path);
  const viaProxy = (): RedisClient => {
    const c = connectRedis(parseRedisUrl(`unix://${path}`));
    c.on('error', () => undefined);
    serviceClients.push(c);
    return c;
  };
  const prefix = uniquePrefix();
  const direct = redis.connect();
  const mine = createStore({ redis: direct }, { prefix, packetTtlMs: 600000, frameTtlMs: 60000 });
  channels = createChannelStore({ redis: direct, keys: mine.keys });
  live = createLiveStore({ redis: direct, keys: mine.keys }, { eventsMaxLen: 10000 });
  const client = viaProxy();
  const store = createStore({ redis: client }, { prefix, packetTtlMs: 600000, frameTtlMs: 60000 });
  const quiet = (): void => undefined;
  ingest = createIngestService(
    {
      store, live: createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 }),
      channels: createChannelStore({ redis: client, keys: store.keys }), subscriber: viaProxy(),
      log: { info: quiet, warn: quiet, error: quiet },
    },
    {
      ...DEFAULT_INGEST_CONFIG, srt: null, rtmp: null, refreshMs: 100,
      session: { ...DEFAULT_INGEST_CONFIG.session, streamsTimeoutMs: 100, leaseTtlMs: LEASE_MS, outageHoldMs: OUTAGE_HOLD_MS },
    },
  );
  await ingest.start();
}, 30_000);

afterAll(async () => {
  await ingest?.close();
  for (const c of serviceClients) c.disconnect();
  for (const s of proxied) s.destroy();
  proxy?.close();
  await redis?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function liveChannel(name: string): Promise<void> {
  await channels.create(createChannel({ name }, validateLadder, DEFAULT_LADDER));
  await channels.setState(name, 'live', { connected: true });
}

const state = async (name: string): Promise<string | undefined> => (await channels.status(name))?.state;

test('without an outage, a channel left live with its lease free is marked idle at once', { timeout: 20_000 }, async () => {
  await liveChannel('gone');
  const t0 = Date.now();
  await waitFor('the channel left live to be marked idle', async () => (await state('gone')) === 'idle', 10_000, 20);
  const took = Date.now() - t0;
  const status = await channels.status('gone');
  assert.equal(status?.lastDisconnectCode, 'INGEST_FAILED');
  assert.match(status?.lastDisconnectReason ?? '', /lease expired/);
  // It goes live 'quiet' (streams timeout + 2 leases: 700 ms) before it may be swept, then one sweep beat.
  assert.ok(took < AWAY_MS, `swept ${took} ms after it was left live, not after an outage's wait`);
});

test('after an outage, a free lease is waited for as long as a holder can be away; a holder that came back keeps its channel', { timeout: 30_000 }, async () => {
  await liveChannel('left');
  await liveChannel('away');
  // 'away': its holder (another process) has the lease; Redis becomes unreachable from here for longer than it lives.
  assert.equal(await live.acquireLease('away', 'holder-away', LEASE_MS), true);
  // Unreachable: connections dropped and refused (as a stopped or failed-over node), then back.
  const closed = new Promise<void>((r) => proxy.close(() => r()));
  for (const s of proxied) s.destroy();
  await closed;
  await new Promise((r) => setTimeout(r, 1000));
  proxy = await startProxy(redis.server.socketPath, proxyPath);
  const back = Date.now();
  assert.equal(await live.leaseHolder('away'), null, 'the lease expired during the outage');
  await new Promise((r) => setTimeout(r, 700));
  // The holder reaches Redis again, later than this process: it takes its lease back and keeps renewing it.
  assert.equal(await live.renewLease('away', 'holder-away', LEASE_MS), 'held', 'the expired lease is free to take back');
  const renewing = setInterval(() => void live.renewLease('away', 'holder-away', LEASE_MS).catch(() => undefined), LEASE_MS / 3);
  try {
    assert.equal(await state('left'), 'live', 'not swept while the lease has been free for less than the outage hold');
    await waitFor('the channel left live to be marked idle', async () => (await state('left')) === 'idle', 10_000, 50);
    const sweptAfter = Date.now() - back;
    assert.equal((await channels.status('left'))?.lastDisconnectCode, 'INGEST_FAILED');
    assert.ok(sweptAfter >= AWAY_MS - 200, `swept ${sweptAfter} ms after Redis answered again`);
    await new Promise((r) => setTimeout(r, 1000));
    const away = await channels.status('away');
    assert.equal(away?.state, 'live', `the channel whose holder came back stays live (${away?.lastDisconnectReason ?? ''})`);
    assert.equal(await live.leaseHolder('away'), 'holder-away', 'its holder keeps the lease');
  } finally {
    clearInterval(renewing);
  }
});
