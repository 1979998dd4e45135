/** The marker store (real redis-server): retention by the DVR window, the count bound, the events that wake the packager, removal. */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore } from '../../../core/store/store';
import { createLiveStore } from '../../../core/store/live-store';
import { createMarker, MARKER_LIMITS } from '../../../core/model/marker';
import { validateFormat } from '../../../core/model/content';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.close();
});

function setup() {
  const client = redis.connect();
  const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 60000, frameTtlMs: 60000 });
  const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 1000 });
  return { client, store, live };
}

const at = (startMs: number, id: number) => createMarker({ type: 'ad-break', startMs, durationSeconds: 30 }, startMs, id);

describe('marker store', () => {
  it('keeps markers by start time, announces each, and drops those older than the DVR window plus the longest break', async () => {
    const { live, client, store } = setup();
    const now = Date.now();
    const dvrMs = 60_000;
    await live.addMarker('c', at(now - dvrMs - MARKER_LIMITS.maxDuration * 1000 - 1000, 1), dvrMs, 10, now - 2000);
    await live.addMarker('c', at(now + 5000, 3), dvrMs, 10, now);
    await live.addMarker('c', at(now, 2), dvrMs, 10, now);
    assert.deepEqual((await live.markers('c')).map((m) => m.eventId), [2, 3], 'the expired one went, the rest by start');
    const events = await live.readEvents(client, 'c', '0-0', 10);
    assert.deepEqual(events.events.map((e) => e.event.type), ['marker:added', 'marker:added', 'marker:added']);
    assert.ok((await client.pttl(store.keys.markers('c'))) > dvrMs, 'the key expires after the window');

    assert.equal(await live.spliceMarker('c', at(now, 2).id, { splicedMs: now + 480 }), true);
    assert.equal(await live.spliceMarker('c', at(now, 2).id, { splicedMs: now + 999, splicedInMs: now + 30_400 }), true);
    const spliced = (await live.markers('c')).find((m) => m.eventId === 2);
    assert.equal(spliced?.splicedMs, now + 480, 'a recorded cut is kept');
    assert.equal(spliced?.splicedInMs, now + 30_400);
    assert.equal((await live.markers('c')).length, 2);
    assert.equal(await live.spliceMarker('c', 'splice-FFFFFFFF', { splicedMs: now }), false);
    const spliceEvents = await live.readEvents(client, 'c', events.lastId, 10);
    assert.deepEqual(spliceEvents.events.map((e) => e.event.type), ['marker:spliced', 'marker:spliced']);

    assert.equal(await live.removeMarker('c', at(now + 5000, 3).id), true);
    assert.equal(await live.removeMarker('c', 'splice-FFFFFFFF'), false);
    assert.deepEqual((await live.markers('c')).map((m) => m.eventId), [2]);
    assert.equal((await live.readEvents(client, 'c', spliceEvents.lastId, 10)).events[0]?.event.type, 'marker:removed');
  });

  it('bounds the count per channel (the oldest go) and is deleted with the channel content', async () => {
    const { live, store, client } = setup();
    const now = Date.now();
    for (let i = 0; i < 8; i++) await live.addMarker('d', at(now + i * 1000, 100 + i), 3_600_000, 5, now);
    assert.deepEqual((await live.markers('d')).map((m) => m.eventId), [103, 104, 105, 106, 107]);
    assert.deepEqual((await live.markers('d', { fromMs: now + 4000, toMs: now + 5000 })).map((m) => m.eventId), [104, 105], 'a time range');
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, 'd'));
    await store.deleteContent('d');
    assert.equal(await client.exists(store.keys.markers('d')), 0);
  });
});
