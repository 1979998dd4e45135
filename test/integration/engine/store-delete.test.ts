/**
 * Issue 10: deleting a content item ran SCAN MATCH over the whole keyspace; the channel registry shared a
 * content item's key space (content `channels`). Delete now walks the item's own keys, and the registry
 * lives in `reg:` (moved there once at start from its old names).
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { migrateRegistryKeys } from '../../../core/store/migrate-keys';
import { packetMetaOf } from '../../../core/model/media';
import { validateFormat } from '../../../core/model/content';
import { createChannel } from '../../../core/model/channel';

let redis: TestRedis;
/** A client of the test's own for looking at keys directly (the store exposes no raw client). */
const admin = () => redis.connect();
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.close();
});

function newStore(): OwnedStore {
  return createStore({ redis: redis.connect() }, { prefix: uniquePrefix(), packetTtlMs: 60000, frameTtlMs: 60000 });
}

function commandCount(info: string, command: string): number {
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
}

async function fillItem(store: OwnedStore, name: string, packets: number): Promise<void> {
  await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }, { codecpar: { codec_type: 'audio' } }] }, name));
  const writes = Array.from({ length: packets }, (_, i) => {
    const p = { streamIndex: i % 2, pts: i * 1800, dts: i * 1800, duration: 1800, keyframe: i % 50 === 0, data: Buffer.from([i % 256]) };
    return { streamIndex: p.streamIndex, meta: packetMetaOf(p), data: p.data };
  });
  for (let i = 0; i < writes.length; i += 500) await store.writePackets(name, writes.slice(i, i + 500), 60000);
  const { keys } = store;
  await admin().multi()
    .zadd(keys.segments(name), 0, '{"index":0}').zadd(keys.segtime(name), Date.now(), '0').zadd(keys.parts(name), 0, '{"part":0}')
    .xadd(keys.events(name), '*', 'type', 'segment:opened').set(keys.timeline(name), '{}')
    .zadd(keys.gaps(name, '720p'), 3, '3').zadd(keys.made(name, '720p'), 1, '1').zadd(keys.made(name, '360p'), 1, '1')
    .exec();
  // A rendition of the item names rung 720p; the channel's ladder names 360p.
  await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, `${name}.720p`));
  await store.setRendition({ source: name, target: `${name}.720p`, streamMap: [{ target: 0, source: [0] }] });
  await createChannelStore({ redis: admin(), keys }).create({ ...createChannel({ name }, (l) => l as never, []), ladder: [{ name: '360p', width: 640, height: 360, videoBitrate: 800000 }] });
}

describe('delete content', () => {
  it('walks the item\'s own keys: no SCAN with 10,000 unrelated keys present, and no key of the item left', { timeout: 30000 }, async () => {
    const store = newStore();
    const other = admin();
    for (let i = 0; i < 10000; i += 1000) {
      const p = other.pipeline();
      for (let j = i; j < i + 1000; j++) p.set(`unrelated:{u${j}}:k`, 'x');
      await p.exec();
    }
    await fillItem(store, 'item', 3000);
    await fillItem(store, 'itemx', 10); // a neighbour whose name starts like the item's
    await other.config('RESETSTAT');
    const removed = await store.deleteContent('item');
    const info = await other.info('commandstats');
    assert.equal(commandCount(info, 'scan'), 0, 'no SCAN');
    assert.equal(commandCount(info, 'keys'), 0, 'no KEYS');
    assert.ok(removed >= 3000 * 2 + 8, `removed ${removed} keys`);
    const left = await other.keys(`${store.keys.prefix}:{item}:*`);
    assert.deepEqual(left, [], 'no key of the item is left');
    assert.ok((await other.exists(store.keys.format('itemx'))) === 1, 'the neighbour is untouched');
    assert.equal(await other.zcard(store.keys.index('itemx', 0)), 5);
    assert.equal(await other.dbsize() >= 10000, true, 'unrelated keys stay');
    assert.equal((await store.getRelations('item.720p')).renditionOf, null, 'the rendition no longer points at it');
    assert.ok(!(await store.listContents(0, 10)).includes('item'), 'gone from the content list');
  });
});

describe('channel registry keys', () => {
  it('a content item named `channels` cannot touch the registry (create, then delete it)', async () => {
    const store = newStore();
    const channels = createChannelStore({ redis: admin(), keys: store.keys });
    await channels.create(createChannel({ name: 'main' }, (l) => l as never, []));
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, 'channels'));
    await store.deleteContent('channels');
    assert.deepEqual((await channels.list()).map((c) => c.name), ['main']);
    const key = (await channels.get('main'))?.streamKey as string;
    assert.equal(await channels.byKey(key), 'main', 'the stream key still works');
  });

  it('moves the old registry keys to the reg: space once, and never over newer ones', async () => {
    const store = newStore();
    const { keys } = store;
    const r = admin();
    await r.sadd(keys.legacyChannels, 'old-a', 'old-b');
    await r.hset(keys.legacyChannelKeys, 'key-a', 'old-a', 'key-b', 'old-b');
    assert.equal(await migrateRegistryKeys(r, keys), 2);
    assert.deepEqual((await r.smembers(keys.channels)).sort(), ['old-a', 'old-b']);
    assert.deepEqual(await r.hgetall(keys.channelKeys), { 'key-a': 'old-a', 'key-b': 'old-b' });
    assert.equal(await r.exists(keys.legacyChannels, keys.legacyChannelKeys), 0);
    assert.equal(await migrateRegistryKeys(r, keys), 0, 'idempotent');
    // Old keys reappearing (an old process still running) never overwrite the current registry.
    await r.sadd(keys.legacyChannels, 'stale');
    assert.equal(await migrateRegistryKeys(r, keys), 0);
    assert.deepEqual((await r.smembers(keys.channels)).sort(), ['old-a', 'old-b']);
  });
});
