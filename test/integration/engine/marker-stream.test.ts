/**
 * A channel's ad markers as a data stream of the Content Beam API (core/store/marker-stream.ts), against a real
 * redis-server. The stream is made from the markers on read; it must answer every media_ref form exactly as a
 * stored stream holding the same packets does: the same packets are written into a real content item and every
 * query mode is asked of both. Through the HTTP API: a channel's format ends with the data stream (other content
 * items do not get one), its packets and section bytes read like any stream's, and writes to it are 409.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createMarkerStreams, markerPacketMeta, markerPackets, queryMarkerPackets, type MarkerPacket } from '../../../core/store/marker-stream';
import { encodeSpliceInsert, type Marker } from '../../../core/model/marker';
import type { IndexQuery } from '../../../core/model/query-plan';
import type { Format } from '../../../core/model/media';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { AUTH, assertError, TEST_APP_CONFIG, withTestToken } from '../../helpers/app';

let redis: TestRedis;
let store: OwnedStore;
let live: LiveStore;

beforeAll(async () => {
  redis = await startTestRedis();
  store = createStore({ redis: redis.connect() }, { prefix: uniquePrefix(), packetTtlMs: 600_000, frameTtlMs: 600_000 });
  live = createLiveStore({ redis: redis.connect(), keys: store.keys }, { eventsMaxLen: 1000 });
});
afterAll(async () => {
  await redis.close();
});

const NOW = Date.now();
const SEG = 180_000;

/** Markers a live publish cut at: breaks with and without a return, an ad end, one not cut at, and a return where the next break starts. */
function markers(): Marker[] {
  const out: Marker[] = [];
  let eventId = 100;
  const make = (i: number, type: Marker['type'], duration: number | null, spliced: boolean, inPts?: number): Marker => {
    const id = ++eventId;
    const pts = 5 * SEG + i * SEG;
    return {
      id: `splice-${id.toString(16).padStart(8, '0')}`, type, eventId: id, startMs: NOW - 600_000 + i * 2000, durationSeconds: duration,
      scte35: encodeSpliceInsert({ eventId: id, outOfNetwork: type === 'ad-break', ...(duration ? { durationSeconds: duration } : {}) }).toString('hex'),
      ...(duration ? { scte35In: encodeSpliceInsert({ eventId: id, outOfNetwork: false }).toString('hex') } : {}),
      createdAt: new Date(NOW).toISOString(), source: 'api',
      ...(spliced ? { splicedMs: NOW - 600_000 + i * 2000, splicedPts: pts } : {}),
      ...(inPts !== undefined ? { splicedInMs: NOW - 600_000 + i * 2000 + 4000, splicedInPts: inPts } : {}),
    };
  };
  for (let i = 0; i < 12; i++) out.push(make(i * 3, 'ad-break', 4, true, 5 * SEG + i * 3 * SEG + 2 * SEG));
  out.push(make(40, 'ad-break', null, true));
  out.push(make(41, 'ad-end', null, true));
  out.push(make(43, 'ad-break', 2, false));
  // A break whose return is where the next break starts: one packet there, the new break's.
  out.push(make(50, 'ad-break', 2, true, 5 * SEG + 52 * SEG));
  out.push(make(52, 'ad-break', 2, true));
  return out;
}

function queries(packets: readonly MarkerPacket[]): IndexQuery[] {
  const probes = new Set<number>([-1, 0, 1, 1e12]);
  for (const p of packets) for (const d of [-SEG, -1, 0, 1, SEG / 2]) probes.add(p.pts + d);
  const qs: IndexQuery[] = [];
  for (const p of probes) {
    qs.push({ mode: 'near', pts: p }, { mode: 'atOrBefore', pts: p }, { mode: 'covering', pts: p });
    for (const n of [1, 3, 40]) qs.push({ mode: 'after', pts: p, n }, { mode: 'before', pts: p, n });
    for (const [off, limit] of [[0, 1], [2, 5], [-3, 2]] as const) qs.push({ mode: 'nearFrom', pts: p, max: p + 10 * SEG, offset: off, limit });
    for (const d of [0, 4 * SEG, 40 * SEG]) for (const [off, limit] of [[0, 1], [1, 3], [-2, 2]] as const) qs.push({ mode: 'score', min: p, max: p + d, offset: off, limit });
  }
  qs.push({ mode: 'score', min: '-inf', max: '+inf', offset: 0, limit: 1000 });
  for (const from of [0, 1, 5, 20, 30, -1, -2, -30]) {
    qs.push({ mode: 'rank', from, to: from, offset: 0, limit: 1 });
    for (const to of [-1, 3, 50]) for (const [off, limit] of [[0, 10], [2, 4], [-3, 2]] as const) qs.push({ mode: 'rank', from, to, offset: off, limit });
  }
  return qs;
}

describe("a channel's markers as a data stream", () => {
  it('holds the sections ingest cut at, one packet per pts, and answers every query as a stored stream of the same packets', async () => {
    const ms = markers();
    const packets = markerPackets(ms);
    // 12 breaks with their returns, an open break, an ad end, the pair sharing a pts (one packet) and the next break.
    assert.equal(packets.length, 12 * 2 + 2 + 2);
    assert.deepEqual(packets.map((p) => p.pts), [...packets.map((p) => p.pts)].sort((a, b) => a - b));
    const shared = packets.find((p) => p.pts === 5 * SEG + 52 * SEG);
    assert.equal(shared?.splice, 'out', 'where a return meets the next break, the break is the packet');
    assert.ok(!packets.some((p) => p.marker === ms[14]?.id), 'a marker no publish cut at is not in the media');
    const brk = ms[0] as Marker;
    assert.equal(packets[0]?.section.toString('hex'), brk.scte35);
    assert.equal(packets[1]?.section.toString('hex'), brk.scte35In);

    const name = 'stored-twin';
    const format: Format = { type: 'format', url: name, streams: [{ type: 'Stream', index: 0, time_base: [1, 90000], codecpar: { codec_type: 'data', name: 'scte_35' } }] };
    await store.createContent(format);
    await store.writePackets(name, packets.map((p) => ({ streamIndex: 0, meta: markerPacketMeta(p, 0), data: p.section })), 600_000);
    let compared = 0;
    for (const q of queries(packets)) {
      const want = JSON.stringify(await store.query(name, 0, q));
      const got = JSON.stringify(await queryMarkerPackets(q, packets, 0));
      assert.equal(got, want, `query ${JSON.stringify(q)}`);
      compared++;
    }
    assert.ok(compared > 500);
  });

  it('shows in a channel’s format and reads through the Content Beam API; other content has none; writes are 409', async () => {
    const channel = 'mk';
    const channelFormat: Format = {
      type: 'format', url: channel, metadata: { channel },
      streams: [
        { type: 'Stream', index: 0, time_base: [1, 90000], codecpar: { codec_type: 'video', name: 'h264', width: 640, height: 360 } },
        { type: 'Stream', index: 1, time_base: [1, 90000], codecpar: { codec_type: 'audio', name: 'aac', sample_rate: 48000, channels: 2 } },
      ],
    };
    await store.createContent(channelFormat);
    await store.createContent({ type: 'format', url: 'plain', streams: [channelFormat.streams[0] as Format['streams'][number]] });
    const ms = markers();
    for (const m of ms) await live.addMarker(channel, m, 86_400_000, 500, NOW);
    const packets = markerPackets(ms);
    const app = withTestToken(await buildApp({ store, metrics: createEngineMetrics(undefined, false), markers: createMarkerStreams({ live }) }, TEST_APP_CONFIG));
    try {
      const shown = (await app.inject({ url: `/beams/${channel}` })).json() as Format;
      assert.equal(shown.streams.length, 3);
      assert.deepEqual({ index: shown.streams[2]?.index, type: shown.streams[2]?.codecpar.codec_type, name: shown.streams[2]?.codecpar.name }, { index: 2, type: 'data', name: 'scte_35' });
      assert.equal(((await app.inject({ url: '/beams/plain' })).json() as Format).streams.length, 1, 'only channels have a markers stream');
      assertError(await app.inject({ url: '/beams/plain/data/first' }), 404, /no stream 'data'/);

      const all = (await app.inject({ url: `/beams/${channel}/data/first-last?limit=100` })).json() as { pts: number; stream_index: number; size: number }[];
      assert.deepEqual(all.map((p) => p.pts), packets.map((p) => p.pts));
      assert.ok(all.every((p) => p.stream_index === 2));
      const first = packets[0] as MarkerPacket;
      const bytes = await app.inject({ url: `/beams/${channel}/stream_2/packet_${first.pts}/data` });
      assert.equal(bytes.statusCode, 200);
      assert.equal(bytes.rawPayload.toString('hex'), first.section.toString('hex'));
      assert.equal((await app.inject({ url: `/beams/${channel}/data/packet_${first.pts}` })).json().size, first.section.length);
      const latest = await app.inject({ url: `/beams/${channel}/data/latest` });
      assert.equal(latest.statusCode, 302);
      assert.equal(latest.headers.location, `/beams/${channel}/stream_2/packet_${(packets[packets.length - 1] as MarkerPacket).pts}`);
      const seconds = (await app.inject({ url: `/beams/${channel}/data/${(first.pts + 1) / 90000}s` })).json() as { pts: number }[];
      assert.deepEqual(seconds.map((p) => p.pts), [first.pts], 'the section in force a moment after its splice');
      assertError(await app.inject({ url: `/beams/${channel}/data/packet_7` }), 404);
      assertError(await app.inject({ url: `/beams/${channel}/data/packet_7/data` }), 404);

      const put = await app.inject({ method: 'PUT', url: `/beams/${channel}/data/packet_9000`, headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify({ type: 'Packet', pts: 9000, dts: 9000, size: 1, duration: 0 }) });
      assertError(put, 409, /read-only/);
      assertError(await app.inject({ method: 'DELETE', url: `/beams/${channel}/data/packet_${first.pts}`, headers: AUTH }), 409, /read-only/);
      // A format PUT back as GET showed it does not store the data stream.
      const back = await app.inject({ method: 'PUT', url: `/beams/${channel}`, headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(shown) });
      assert.equal(back.statusCode, 200, back.body);
      assert.equal((await store.getFormat(channel))?.streams.length, 2);
      assert.equal(((await app.inject({ url: `/beams/${channel}` })).json() as Format).streams.length, 3);
    } finally {
      await app.close();
    }
  });
});
