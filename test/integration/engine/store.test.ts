/** The store module on its own (no HTTP), as ingest and the packager use it. */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { packetMetaOf } from '../../../core/model/media';
import { validateFormat } from '../../../core/model/content';

let redis: TestRedis;
/** A client of the test's own for looking at keys directly (the store exposes no raw client). */
const admin = () => redis.connect();
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.close();
});

function newStore(ttlMs = 60000): OwnedStore {
  return createStore({ redis: redis.connect() }, { prefix: uniquePrefix(), packetTtlMs: ttlMs, frameTtlMs: ttlMs });
}

describe('batch packet writes (ingest)', () => {
  it('writes metadata, payload and index for many packets of two streams in one round trip and one script call', async () => {
    const store = newStore();
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }, { codecpar: { codec_type: 'audio' } }] }, 'ch'));
    const packets = Array.from({ length: 500 }, (_, i) => {
      const p = { streamIndex: i % 2, pts: i * 1800, dts: i * 1800, duration: 1800, keyframe: i % 50 === 0, data: Buffer.alloc(100 + i, i % 256) };
      return { streamIndex: p.streamIndex, meta: packetMetaOf(p), data: p.data };
    });
    const scriptCalls = async (): Promise<number> => {
      const stats = await admin().info('commandstats');
      return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before = await scriptCalls();
    assert.deepEqual(await store.writePackets('ch', packets, 60000), { written: 500, refused: 0, duplicates: 0 });
    assert.equal(await scriptCalls(), before + 1, 'one addPackets call indexes both streams');
    const els = await store.query('ch', 0, { mode: 'rank', from: 0, to: -1, offset: 0, limit: 1000 });
    assert.equal(els.length, 250);
    assert.equal(els[0]?.meta.pts, 0);
    const audio = await store.query('ch', 1, { mode: 'rank', from: 0, to: -1, offset: 0, limit: 1000 });
    assert.equal(audio.length, 250);
    assert.equal(audio[0]?.meta.pts, 1800);
    const payload = await store.getPayload('ch', 1, 'packet', 1800);
    assert.equal(payload?.data.length, 101);
    // The same batch again: every packet of both streams is already there, counted once, none rewritten.
    const again = packets.map((p) => ({ ...p, data: Buffer.from('other') }));
    assert.deepEqual(await store.writePackets('ch', again, 60000), { written: 0, refused: 0, duplicates: 500 });
    assert.equal((await store.getPayload('ch', 1, 'packet', 1800))?.data.length, 101);
  });

  it('payloads and metadata carry the TTL', async () => {
    const store = newStore();
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, 'ttl'));
    const p = { streamIndex: 0, pts: 1, dts: 1, duration: 1, keyframe: true, data: Buffer.from('x') };
    await store.writePackets('ttl', [{ streamIndex: 0, meta: packetMetaOf(p), data: p.data }], 5000);
    const ttlMeta = await admin().pttl(store.keys.element('ttl', 0, 'packet_1'));
    const ttlData = await admin().pttl(store.keys.data('ttl', 0, 'packet_1'));
    assert.ok(ttlMeta > 4000 && ttlMeta <= 5000, String(ttlMeta));
    assert.ok(ttlData > 4000 && ttlData <= 5000, String(ttlData));
    assert.ok((await admin().pttl(store.keys.index('ttl', 0))) > 4000);
  });
});

describe('reading packets back by decode time (packager, transcoders)', () => {
  it('returns payloads in dts order for [fromDts, toDts), B-frames included', async () => {
    const store = newStore();
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, 'rd'));
    // I P B B decode order with pts reordering: dts 0,3000,6000,9000; pts 3000,12000,6000,9000.
    const order = [[0, 3000], [3000, 12000], [6000, 6000], [9000, 9000], [12000, 15000]] as const;
    const writes = order.map(([dts, pts], i) => {
      const p = { streamIndex: 0, pts, dts, duration: 3000, keyframe: i === 0, data: Buffer.from(`p${i}`) };
      return { streamIndex: 0, meta: packetMetaOf(p), data: p.data };
    });
    await store.writePackets('rd', writes, 60000);
    const got = await store.readPackets('rd', 0, 0, 12000);
    assert.deepEqual(got.map((g) => g.meta.dts), [0, 3000, 6000, 9000]);
    assert.deepEqual(got.map((g) => g.data.toString()), ['p0', 'p1', 'p2', 'p3']);
    assert.deepEqual((await store.readPackets('rd', 0, 12000, 99999)).map((g) => g.meta.pts), [15000]);
    assert.deepEqual(await store.readPackets('rd', 0, 50000, 60000), []);
  });
});

describe('delete content', () => {
  it('removes every key the content owns and nothing of another content', async () => {
    const store = newStore();
    for (const name of ['a', 'a*b']) {
      await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, name));
      const p = { streamIndex: 0, pts: 5, dts: 5, duration: 1, keyframe: true, data: Buffer.from('x') };
      await store.writePackets(name, [{ streamIndex: 0, meta: packetMetaOf(p), data: p.data }], 60000);
    }
    const removed = await store.deleteContent('a*b');
    assert.equal(removed, 5);
    const left = await admin().keys(`${store.keys.prefix}:*`);
    assert.ok(left.every((k) => !k.includes('{a*b}')), left.join());
    assert.ok(left.includes(store.keys.format('a')));
    assert.deepEqual(await store.listContents(0, 10), ['a']);
  });
});
