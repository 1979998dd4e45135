/**
 * Every Content Beam API route through inject() against a real redis-server, each test with its own
 * key prefix. The examples follow the original engine's README.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { startTestRedis, type TestRedis } from '../../helpers/redis';
import { buildTestApp, assertError } from '../../helpers/app';
import type { OwnedStore } from '../../../core/store/store';

let redis: TestRedis;
/** A client of the test's own for looking at keys directly (the store exposes no raw client). */
const admin = () => redis.connect();
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.close();
});

const FORMAT = {
  url: 'newswatch_20190312',
  streams: [
    { type: 'Stream', index: 0, time_base: [1, 25], codecpar: { type: 'CodecParameters', codec_type: 'video', name: 'h264', width: 1920, height: 1080 } },
    { type: 'Stream', index: 1, time_base: [1, 48000], codecpar: { codec_type: 'audio', name: 'aac', sample_rate: 48000, channels: 2 } },
    { type: 'Stream', index: 2, time_base: [1, 48000], codecpar: { codec_type: 'audio', name: 'aac' } },
  ],
  metadata: { title: 'ZBC News Watch' },
};

function json(res: LightMyRequestResponse): unknown {
  return JSON.parse(res.body);
}


async function setup(overrides = {}, ttl = {}): Promise<{ app: FastifyInstance; store: OwnedStore }> {
  const t = await buildTestApp(redis, overrides, ttl);
  return { app: t.app, store: t.store };
}

/** Create the README's content item with 25 fps video packets at pts 0..59 (keyframe every 25). */
async function seeded(): Promise<FastifyInstance> {
  const { app } = await setup();
  const res = await app.inject({ method: 'POST', url: '/beams/', payload: FORMAT });
  assert.equal(res.statusCode, 201, res.body);
  for (let pts = 0; pts < 60; pts++) {
    const put = await app.inject({
      method: 'PUT',
      url: `/beams/newswatch_20190312/video/packet_${pts}`,
      payload: { type: 'Packet', pts, dts: pts, size: 3, stream_index: 0, duration: 1, pos: pts * 3, flags: { KEY: pts % 25 === 0 } },
    });
    assert.equal(put.statusCode, 201, put.body);
  }
  return app;
}

const ptsOf = (res: LightMyRequestResponse) => (json(res) as { pts: number }[]).map((p) => p.pts);

describe('content list and formats', () => {
  it('POST creates (201 + Location), GET reads back with and without .json, 409 on conflict', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'POST', url: '/beams/', payload: FORMAT });
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers.location, '/beams/newswatch_20190312');
    for (const url of ['/beams/newswatch_20190312', '/beams/newswatch_20190312.json']) {
      const got = json(await app.inject(url)) as { type: string; url: string; streams: unknown[]; metadata: object };
      assert.equal(got.type, 'format');
      assert.equal(got.url, 'newswatch_20190312');
      assert.equal(got.streams.length, 3);
      assert.deepEqual(got.metadata, { title: 'ZBC News Watch' });
    }
    assertError(await app.inject({ method: 'POST', url: '/beams/', payload: FORMAT }), 409, /already exists/);
  });

  it('POST without url gets a v4 UUID name', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'POST', url: '/beams', payload: { streams: [] } });
    assert.equal(res.statusCode, 201);
    assert.match(String(res.headers.location), /^\/beams\/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('GET /beams/ pages with offset/limit (default 10), negative offset from the end, start as offset', async () => {
    const { app } = await setup();
    for (let i = 0; i < 13; i++) {
      assert.equal((await app.inject({ method: 'POST', url: '/beams/', payload: { url: `c${String(i).padStart(2, '0')}` } })).statusCode, 201);
    }
    const all = json(await app.inject('/beams/')) as string[];
    assert.equal(all.length, 10);
    assert.deepEqual(json(await app.inject('/beams/?offset=10&limit=5')), ['c10', 'c11', 'c12']);
    assert.deepEqual(json(await app.inject('/beams/?offset=-2')), ['c11', 'c12']);
    assert.deepEqual(json(await app.inject('/beams/?start=12')), ['c12']);
    assertError(await app.inject('/beams/?limit=0'), 400, /limit/);
    assertError(await app.inject('/beams/?offset=abc'), 400, /offset/);
  });

  it('PUT /beams/<name> updates a format; 404 when absent; url mismatch is 400', async () => {
    const { app } = await setup();
    await app.inject({ method: 'POST', url: '/beams/', payload: FORMAT });
    const upd = await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312', payload: { ...FORMAT, metadata: { title: 'new' } } });
    assert.equal(upd.statusCode, 200, upd.body);
    assert.deepEqual((json(await app.inject('/beams/newswatch_20190312')) as { metadata: object }).metadata, { title: 'new' });
    assertError(await app.inject({ method: 'PUT', url: '/beams/nothing', payload: FORMAT }), 404);
    assertError(await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312', payload: { url: 'other' } }), 400, /'url'/);
  });

  it('DELETE /beams/<name> removes every key it owns and the list entry', async () => {
    const app = await seeded();
    await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/packet_1/data', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from('abc') });
    const del = await app.inject({ method: 'DELETE', url: '/beams/newswatch_20190312' });
    assert.equal(del.statusCode, 204);
    assertError(await app.inject('/beams/newswatch_20190312'), 404);
    assertError(await app.inject('/beams/newswatch_20190312/video/first'), 404);
    assert.deepEqual(json(await app.inject('/beams/')), []);
    assertError(await app.inject({ method: 'DELETE', url: '/beams/newswatch_20190312' }), 404);
  });
});

describe('streams', () => {
  it('by index, number, alias, type-scoped alias, default, .json', async () => {
    const app = await seeded();
    const cases: [string, number][] = [['stream_0', 0], ['0', 0], ['stream_0.json', 0], ['video', 0], ['video.json', 0], ['video_0', 0], ['default', 0], ['audio', 1], ['audio_0', 1], ['audio_1', 2], ['2', 2]];
    for (const [name, index] of cases) {
      const res = await app.inject(`/beams/newswatch_20190312/${name}`);
      assert.equal(res.statusCode, 200, name);
      assert.equal((json(res) as { index: number }).index, index, name);
    }
    assertError(await app.inject('/beams/newswatch_20190312/audio_2'), 404, /no stream/);
    assertError(await app.inject('/beams/newswatch_20190312/stream_7'), 404);
    assertError(await app.inject('/beams/newswatch_20190312/squiggle'), 400, /stream name/);
    assertError(await app.inject('/beams/unknown_content/video'), 404, /not found/);
  });
});

describe('media element metadata and queries', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await seeded();
  });

  it('direct GET returns the element; PUT again updates (200)', async () => {
    const got = json(await app.inject('/beams/newswatch_20190312/video/packet_25')) as { pts: number; flags: { KEY: boolean } };
    assert.equal(got.pts, 25);
    assert.equal(got.flags.KEY, true);
    const again = await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/packet_25.json', payload: { type: 'Packet', size: 9, flags: { KEY: true } } });
    assert.equal(again.statusCode, 200);
    assert.equal((json(await app.inject('/beams/newswatch_20190312/stream_0/packet_25')) as { size: number }).size, 9);
    assertError(await app.inject('/beams/newswatch_20190312/video/packet_1000'), 404);
  });

  const queries: [string, string, number[]][] = [
    ['exact pts', '30', [30]],
    ['fuzzy after a gap', '59f', [59]],
    ['fuzzy beyond the end finds the last', '1000f', [59]],
    ['inclusive pts range', '10-13', [10, 11, 12, 13]],
    ['range past the end', '58-100', [58, 59]],
    ['first is an index (JSON)', 'first', [0]],
    ['1st', '1st', [0]],
    ['2nd', '2nd', [1]],
    ['3rd', '3rd', [2]],
    ['last is an index (JSON)', 'last', [59]],
    ['index range', '751st-760th', []],
    ['index range 5th-8th', '5th-8th', [4, 5, 6, 7]],
    ['to the end', '58th-last', [57, 58, 59]],
    ['index range past the end', '59th-100th', [58, 59]],
    ['README real time 1.4s at 25 fps is frame 35', '1.4s', [35]],
    ['README 1.2s-2.2s is frames 30-55', '1.2s-2.2s?limit=26', Array.from({ length: 26 }, (_, i) => 30 + i)],
    ['relative +1d', '30+1d', [31]],
    ['relative -1d', '30-1d', [29]],
    ['relative +3d', '30+3d', [33]],
    ['relative from a pts that is not an element', '1000-1d', [59]],
    ['with .json', '1st-2nd.json', [0, 1]],
  ];
  for (const [name, ref, want] of queries) {
    it(`${name}: ${ref}`, async () => {
      const res = await app.inject(`/beams/newswatch_20190312/video/${ref}`);
      if (want.length === 0) return assertError(res, 404, /No media elements/);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(ptsOf(res), want);
    });
  }

  it('paging of ranges with offset/limit, negative offset from the end', async () => {
    assert.deepEqual(ptsOf(await app.inject('/beams/newswatch_20190312/video/first-last?limit=3')), [0, 1, 2]);
    assert.deepEqual(ptsOf(await app.inject('/beams/newswatch_20190312/video/first-last?offset=10&limit=2')), [10, 11]);
    assert.deepEqual(ptsOf(await app.inject('/beams/newswatch_20190312/video/first-last?offset=-2')), [58, 59]);
    assert.deepEqual(ptsOf(await app.inject('/beams/newswatch_20190312/video/0-59?offset=-3&limit=2')), [57, 58]);
  });

  it('start / latest / end answer 302 to the direct element', async () => {
    for (const [ref, loc] of [['latest', 'packet_59'], ['end', 'packet_59'], ['start', 'packet_0']]) {
      const res = await app.inject(`/beams/newswatch_20190312/video/${ref}`);
      assert.equal(res.statusCode, 302);
      assert.equal(res.headers.location, `/beams/newswatch_20190312/stream_0/${loc}`);
    }
    assertError(await app.inject('/beams/newswatch_20190312/audio/latest'), 404);
  });

  it('malformed and absurd references are 400 JSON', async () => {
    for (const ref of ['99999999999999999999-1st', '0th', 'tomorrow', '5-2', '1e9s', 'packet_x']) {
      assertError(await app.inject(`/beams/newswatch_20190312/video/${encodeURIComponent(ref)}`), 400, /media reference/);
    }
  });

  it('PUT of a non-direct reference, wrong type or wrong content type is 4xx', async () => {
    assertError(await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/30-31', payload: {} }), 400, /direct reference/);
    assertError(await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/30', payload: {} }), 400, /type/);
    assertError(await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/packet_1', payload: { type: 'Frame' } }), 400, /type/);
    assertError(await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/packet_1', headers: { 'content-type': 'text/plain' }, payload: 'x' }), 400, /JSON/);
    assertError(await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/packet_1', headers: { 'content-type': 'application/json' }, payload: '{"type":' }), 400, /JSON/);
  });
});

describe('payloads', () => {
  it('packet payload via /data and .raw; metadata must exist first', async () => {
    const app = await seeded();
    const bin = { 'content-type': 'application/octet-stream' };
    assertError(await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/packet_999/data', headers: bin, payload: Buffer.from('x') }), 404, /must exist before/);
    const put = await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/packet_7/data', headers: bin, payload: Buffer.from([1, 2, 3]) });
    assert.equal(put.statusCode, 201, put.body);
    for (const url of ['/beams/newswatch_20190312/video/packet_7/data', '/beams/newswatch_20190312/video/packet_7.raw', '/beams/newswatch_20190312/stream_0/packet_7/data_0']) {
      const res = await app.inject(url);
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-type'], 'application/octet-stream');
      assert.deepEqual([...res.rawPayload], [1, 2, 3]);
    }
    assertError(await app.inject('/beams/newswatch_20190312/video/packet_8/data'), 404, /not available/);
    assertError(await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/packet_7/data', payload: { a: 1 } }), 415);
  });

  it('frame planes: whole with Beam-Buf-Sizes, each plane, and one plane replaced', async () => {
    const { app } = await setup();
    await app.inject({ method: 'POST', url: '/beams/', payload: { url: 'raw', streams: [{ codecpar: { codec_type: 'video', format: 'yuv422p' } }] } });
    assert.equal((await app.inject({ method: 'PUT', url: '/beams/raw/video/frame_7200', payload: { type: 'Frame', pts: 7200 } })).statusCode, 201);
    const planes = [Buffer.alloc(8, 1), Buffer.alloc(4, 2), Buffer.alloc(4, 3)];
    const put = await app.inject({
      method: 'PUT', url: '/beams/raw/video/frame_7200/data',
      headers: { 'content-type': 'application/octet-stream', 'beam-buf-sizes': '[8, 4, 4]' }, payload: Buffer.concat(planes),
    });
    assert.equal(put.statusCode, 201, put.body);
    const all = await app.inject('/beams/raw/video/frame_7200/data');
    assert.equal(all.headers['beam-buf-sizes'], '[8,4,4]');
    assert.equal(all.rawPayload.length, 16);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual((await app.inject(`/beams/raw/video/frame_7200/data_${i}`)).rawPayload, planes[i]);
      assert.deepEqual((await app.inject(`/beams/raw/video/frame_7200.raw_${i}`)).rawPayload, planes[i]);
    }
    assertError(await app.inject('/beams/raw/video/frame_7200/data_3'), 404, /plane/);
    const one = await app.inject({ method: 'PUT', url: '/beams/raw/video/frame_7200/data_1', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(6, 9) });
    assert.equal(one.statusCode, 200, one.body);
    assert.equal((await app.inject('/beams/raw/video/frame_7200.raw')).headers['beam-buf-sizes'], '[8,6,4]');
    assert.deepEqual((await app.inject('/beams/raw/video/frame_7200/data_2')).rawPayload, planes[2]);
    assert.deepEqual((json(await app.inject('/beams/raw/video/frame_7200')) as { buf_sizes: number[] }).buf_sizes, [8, 6, 4]);
    assertError(await app.inject({ method: 'PUT', url: '/beams/raw/video/frame_7200/data', headers: { 'content-type': 'application/octet-stream', 'beam-buf-sizes': '[4]' }, payload: Buffer.alloc(3) }), 400, /adds up/);
  });

  it('oversized bodies are 413 (JSON and payload limits differ)', async () => {
    const { app } = await setup({ jsonBodyLimit: 1024, payloadBodyLimit: 4096 });
    await app.inject({ method: 'POST', url: '/beams/', payload: { url: 'small', streams: [{ codecpar: { codec_type: 'data' } }] } });
    await app.inject({ method: 'PUT', url: '/beams/small/data/packet_1', payload: { type: 'Packet' } });
    assertError(await app.inject({ method: 'POST', url: '/beams/', payload: { url: 'big', pad: 'x'.repeat(2048) } }), 413);
    const ok = await app.inject({ method: 'PUT', url: '/beams/small/data/packet_1/data', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(3000) });
    assert.equal(ok.statusCode, 201);
    assertError(await app.inject({ method: 'PUT', url: '/beams/small/data/packet_1/data', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.alloc(5000) }), 413);
  });
});

describe('expiry: metadata, payload and index entries go together', () => {
  it('a per-content ttl drops elements from every query', async () => {
    const { app } = await setup();
    await app.inject({ method: 'POST', url: '/beams/', payload: { url: 'short', ttl: 1, streams: [{ codecpar: { codec_type: 'video' } }] } });
    await app.inject({ method: 'PUT', url: '/beams/short/video/packet_1', payload: { type: 'Packet' } });
    await app.inject({ method: 'PUT', url: '/beams/short/video/packet_1/data', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from('p') });
    assert.equal((await app.inject('/beams/short/video/first')).statusCode, 200);
    await new Promise((r) => setTimeout(r, 1200));
    assertError(await app.inject('/beams/short/video/first'), 404);
    assertError(await app.inject('/beams/short/video/packet_1'), 404);
    assertError(await app.inject('/beams/short/video/packet_1/data'), 404);
    assert.equal((await app.inject('/beams/short')).statusCode, 200, 'the content item itself stays');
  });

  it('the index is trimmed on write, so it does not grow forever', async () => {
    const { app, store } = await setup({}, { packetTtlMs: 300 });
    await app.inject({ method: 'POST', url: '/beams/', payload: { url: 'live', streams: [{ codecpar: { codec_type: 'video' } }] } });
    for (let i = 0; i < 20; i++) await app.inject({ method: 'PUT', url: `/beams/live/video/packet_${i}`, payload: { type: 'Packet' } });
    await new Promise((r) => setTimeout(r, 400));
    await app.inject({ method: 'PUT', url: '/beams/live/video/packet_100', payload: { type: 'Packet' } });
    assert.equal(await admin().zcard(store.keys.index('live', 0)), 1);
  });
});

describe('deleting media elements', () => {
  it('DELETE removes metadata, payload and index entry', async () => {
    const app = await seeded();
    await app.inject({ method: 'PUT', url: '/beams/newswatch_20190312/video/packet_0/data', headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from('k') });
    assert.equal((await app.inject({ method: 'DELETE', url: '/beams/newswatch_20190312/video/packet_0' })).statusCode, 204);
    assertError(await app.inject('/beams/newswatch_20190312/video/packet_0'), 404);
    assertError(await app.inject('/beams/newswatch_20190312/video/packet_0/data'), 404);
    assert.deepEqual(ptsOf(await app.inject('/beams/newswatch_20190312/video/first')), [1]);
    assertError(await app.inject({ method: 'DELETE', url: '/beams/newswatch_20190312/video/packet_0' }), 404);
    assertError(await app.inject({ method: 'DELETE', url: '/beams/newswatch_20190312/video/first' }), 400, /direct reference/);
  });
});

describe('rendition relationships', () => {
  it('create, query from both ends, replace, delete; cleaned when content is deleted', async () => {
    const { app } = await setup();
    for (const url of ['src', 'r720', 'r480', 'other']) await app.inject({ method: 'POST', url: '/beams/', payload: { url } });
    const put = await app.inject({ method: 'PUT', url: '/beams/r720/relations/rendition', payload: { source: 'src', streamMap: [{ target: 0, source: 0 }, { target: 1, source: [1, 2] }] } });
    assert.equal(put.statusCode, 201, put.body);
    await app.inject({ method: 'PUT', url: '/beams/r480/relations/rendition', payload: { source: 'src' } });
    assert.deepEqual(json(await app.inject('/beams/r720/relations/rendition')), { source: 'src', target: 'r720', streamMap: [{ target: 0, source: [0] }, { target: 1, source: [1, 2] }] });
    const rel = json(await app.inject('/beams/src/relations')) as { renditionOf: unknown; renditions: { target: string }[] };
    assert.equal(rel.renditionOf, null);
    assert.deepEqual(rel.renditions.map((r) => r.target), ['r480', 'r720']);
    assert.equal((await app.inject({ method: 'PUT', url: '/beams/r480/relations/rendition', payload: { source: 'other' } })).statusCode, 200);
    assert.deepEqual((json(await app.inject('/beams/src/relations')) as { renditions: { target: string }[] }).renditions.map((r) => r.target), ['r720']);
    assert.equal((await app.inject({ method: 'DELETE', url: '/beams/r480/relations/rendition' })).statusCode, 204);
    assertError(await app.inject('/beams/r480/relations/rendition'), 404, /not a rendition/);
    await app.inject({ method: 'DELETE', url: '/beams/src' });
    assertError(await app.inject('/beams/r720/relations/rendition'), 404);
    assertError(await app.inject({ method: 'PUT', url: '/beams/r720/relations/rendition', payload: { source: 'missing' } }), 404);
    assertError(await app.inject({ method: 'PUT', url: '/beams/r720/relations/rendition', payload: { source: 'r720' } }), 400, /itself/);
  });
});

describe('bad input and security', () => {
  it('BEAM_API_TOKEN: writes need the bearer token, reads stay open', async () => {
    const { app } = await setup({ apiToken: 's3cret-token' });
    const res = await app.inject({ method: 'POST', url: '/beams/', payload: { url: 'x' } });
    assertError(res, 401, /Bearer/);
    assert.match(String(res.headers['www-authenticate']), /Bearer/);
    assertError(await app.inject({ method: 'POST', url: '/beams/', headers: { authorization: 'Bearer wrong' }, payload: { url: 'x' } }), 401);
    assertError(await app.inject({ method: 'DELETE', url: '/beams/x' }), 401);
    const ok = await app.inject({ method: 'POST', url: '/beams/', headers: { authorization: 'Bearer s3cret-token' }, payload: { url: 'x' } });
    assert.equal(ok.statusCode, 201);
    assert.equal((await app.inject('/beams/x')).statusCode, 200);
  });

  it('illegal names, unknown routes, bad percent-encoding and prototype keys', async () => {
    const { app } = await setup();
    assertError(await app.inject({ method: 'POST', url: '/beams/', payload: { url: 'bad name' } }), 400, /content name/);
    assertError(await app.inject({ method: 'POST', url: '/beams/', payload: { url: 'a{b}' } }), 400);
    assertError(await app.inject('/beams/bad%20name'), 400);
    assertError(await app.inject('/nowhere'), 404);
    const badUrl = await app.inject('/beams/%E0%A4%A');
    assert.ok(badUrl.statusCode >= 400 && badUrl.statusCode < 500, badUrl.body);
    const proto = await app.inject({ method: 'POST', url: '/beams/', headers: { 'content-type': 'application/json' }, payload: '{"url":"p","__proto__":{"polluted":true}}' });
    assert.equal(proto.statusCode, 201);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('health and metrics', () => {
  it('/healthz reports Redis and its round trip; /metrics is Prometheus text with request counts', async () => {
    const { app } = await setup();
    const h = await app.inject('/healthz');
    assert.equal(h.statusCode, 200);
    const body = json(h) as { status: string; redis: { ok: boolean; roundTripMs: number } };
    assert.equal(body.status, 'ok');
    assert.ok(body.redis.roundTripMs >= 0);
    await app.inject('/beams/');
    const m = await app.inject('/metrics');
    assert.equal(m.statusCode, 200);
    assert.match(m.body, /beam_http_requests_total\{method="GET",route="\/beams",status="200"\} 1/);
    assert.match(m.body, /beam_redis_roundtrip_seconds_count \d+/);
    assert.match(m.body, /beam_http_request_duration_seconds_bucket/);
  });
});
