// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * The sweep of channels left live by an ingest process that stopped, through the ingest service on a real
 * redis-server, as an operator sees it (the channel's status): a channel whose lease stays free is marked
 * idle (INGEST_FAILED), but only once the lease has been free for longer than a living holder can be away
 * (the outage hold plus the lease time): a holder cut off from Redis (an outage, a cluster failover) comes
 * back and takes its lease again, and its channel must not be ended under it.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { createStore } from '../../../core/store/store';
import { createChannelStore, type ChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createChannel } from '../../../core/model/channel';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { waitFor } from '../../helpers/process';

const LEASE_MS = 300;
const OUTAGE_HOLD_MS = 2000;
let redis: TestRedis;
let channels: ChannelStore;
let live: LiveStore;
let ingest: IngestService;
const warnings: string[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  const client = redis.connect();
  const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  channels = createChannelStore({ redis: client, keys: store.keys });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  const line = (obj: object, msg?: string): void => void warnings.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  ingest = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: { info: () => undefined, warn: line, error: line } },
    {
      ...DEFAULT_INGEST_CONFIG, srt: null, rtmp: null, refreshMs: 100,
      session: { ...DEFAULT_INGEST_CONFIG.session, streamsTimeoutMs: 100, leaseTtlMs: LEASE_MS, outageHoldMs: OUTAGE_HOLD_MS },
    },
  );
}, 30_000);

afterAll(async () => {
  await ingest?.close();
  await redis?.close();
});

test('a channel left live is marked idle once its lease stayed free longer than a holder can be away; one whose holder came back is left alone', { timeout: 30_000 }, async () => {
  for (const name of ['left', 'away']) {
    await channels.create(createChannel({ name }, validateLadder, DEFAULT_LADDER));
    await channels.setState(name, 'live', { connected: true });
  }
  // 'away': its holder (in another process) took the lease, then lost Redis for longer than the lease lived.
  assert.equal(await live.acquireLease('away', 'holder-away', LEASE_MS), true);
  const t0 = Date.now();
  await ingest.start();
  await new Promise((r) => setTimeout(r, 1200));
  // Redis answers the holder again: it takes its lease back and keeps renewing it.
  assert.equal(await live.renewLease('away', 'holder-away', LEASE_MS), 'held', 'the expired lease is free to take back');
  const renewing = setInterval(() => void live.renewLease('away', 'holder-away', LEASE_MS).catch(() => undefined), LEASE_MS / 3);
  try {
    assert.equal((await channels.status('left'))?.state, 'live', 'not swept while the lease has been free for less than the outage hold');
    await waitFor('the channel left live to be marked idle', async () => (await channels.status('left'))?.state === 'idle', 10_000, 50);
    const sweptAfter = Date.now() - t0;
    const left = await channels.status('left');
    assert.equal(left?.lastDisconnectCode, 'INGEST_FAILED');
    assert.match(left?.lastDisconnectReason ?? '', /lease expired/);
    assert.ok(sweptAfter >= OUTAGE_HOLD_MS + LEASE_MS, `swept ${sweptAfter} ms after the sweep first found the lease free`);
    await new Promise((r) => setTimeout(r, 1000));
    const away = await channels.status('away');
    assert.equal(away?.state, 'live', `the channel whose holder came back stays live (${away?.lastDisconnectReason ?? ''})`);
    assert.equal(await live.leaseHolder('away'), 'holder-away', 'its holder keeps the lease');
  } finally {
    clearInterval(renewing);
  }
});
