/**
 * Issue 16: the behaviours a client written against the original Aerostat Beam Engine (its README and its own
 * test suite) relies on. One table row per behaviour, named after it, through inject() against a real
 * redis-server.
 *
 * The seeded content item `orig` has
 *   stream 0 (video, 1/90000): 70 packets at pts -36000, -32400, … 212400 (25 fps, duration 3600), i.e.
 *                              from -0.4 s to 2.4 s;
 *   stream 1 (audio, 1/48000): empty, for writes;
 *   stream 2 (video, 1/90000): empty, for frames.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { startTestRedis, type TestRedis } from '../../helpers/redis';
import { buildTestApp, assertError } from '../../helpers/app';

let redis: TestRedis;
let app: FastifyInstance;

const TICK = 3600;
const SEEDED = Array.from({ length: 70 }, (_, x) => (x - 10) * TICK);
const BIN = { 'content-type': 'application/octet-stream' };

function json(res: LightMyRequestResponse): unknown {
  return JSON.parse(res.body);
}


const ptsOf = (res: LightMyRequestResponse) => {
  assert.equal(res.statusCode, 200, res.body);
  return (json(res) as { pts: number }[]).map((p) => p.pts);
};
const get = (url: string) => app.inject(url);
const putJson = (url: string, payload: unknown) => app.inject({ method: 'PUT', url, payload: payload as object });
const putBytes = (url: string, payload: Buffer, headers: Record<string, string> = {}) =>
  app.inject({ method: 'PUT', url, headers: { ...BIN, ...headers }, payload });

beforeAll(async () => {
  redis = await startTestRedis();
  ({ app } = await buildTestApp(redis));
  const created = await app.inject({
    method: 'POST', url: '/beams/',
    payload: {
      url: 'orig',
      streams: [
        { time_base: [1, 90000], codecpar: { codec_type: 'video', name: 'h264', width: 640, height: 360 } },
        { time_base: [1, 48000], codecpar: { codec_type: 'audio', name: 'aac', sample_rate: 48000, channels: 2 } },
        { time_base: [1, 90000], codecpar: { codec_type: 'video', name: 'rawvideo', format: 'yuv420p' } },
      ],
    },
  });
  assert.equal(created.statusCode, 201, created.body);
  for (const pts of SEEDED) {
    const res = await putJson(`/beams/orig/stream_0/packet_${pts}`, { type: 'Packet', pts, dts: pts, size: 1, duration: TICK, stream_index: 0 });
    assert.equal(res.statusCode, 201, res.body);
  }
});
afterAll(async () => {
  await app.close();
  await redis.close();
});

type Row = [behaviour: string, check: () => Promise<void>];

/** Queries on stream 0: the media_ref and the pts it answers with ([] = 404). */
const QUERIES: [behaviour: string, ref: string, want: number[]][] = [
  ['negative exact pts', '-3600', [-3600]],
  ['negative pts range', '-7200-3600', [-7200, -3600, 0, 3600]],
  ['negative to negative pts range', '-14400--7200', [-14400, -10800, -7200]],
  ['negative fuzzy pts', '-5000f', [-3600]],
  ['fuzzy far before the stream clamps to the first element (-99999f)', '-99999f', [-36000]],
  ['fuzzy far after the stream clamps to the last element', '99999999f', [212400]],
  ['a fuzzy start of a range starts at the element nearest it (105000f-111600)', '105000f-111600', [104400, 108000, 111600]],
  ['a negative fuzzy start of a range', '-5000f-3600', [-3600, 0, 3600]],
  ['a fuzzy range whose nearest start is past its end is empty', '211000f-211000', []],
  ['negative real time', '-0.04s', [-3600]],
  ['negative real-time range', '-0.1s-0s', [-7200, -3600, 0]],
  ['a real-time range whose end has no s (1.2s-1.28)', '1.2s-1.28', [108000, 111600, 115200]],
  ['real time on an element', '1.4s', [126000]],
  ['real time between elements is the element presented then', '1.41s', [126000]],
  ['real time inside the last element', '2.39s', [212400]],
  ['a real time past the last element is 404, not the last element (3s on a 2.4 s stream)', '3s', []],
  ['a real time at the end of the last element is 404', '2.4s', []],
  ['real time before the first element is 404', '-1s', []],
  ['relative +0d is the element itself', '7200+0d', [7200]],
  ['relative -0d is the element itself', '-3600-0d', [-3600]],
  ['relative from a negative pts', '-7200+1d', [-3600]],
  ['relative back from a negative pts', '-7200-2d', [-14400]],
  ['a range query without limit returns the default page of 10', '-36000-212400', SEEDED.slice(0, 10)],
  ['an ordinal range without limit returns the default page of 10', 'first-last', SEEDED.slice(0, 10)],
  ['an ordinal range to the end without limit returns the default page of 10', '50th-last', SEEDED.slice(49, 59)],
  ['a real-time range without limit returns the default page of 10', '0s-2s', SEEDED.slice(10, 20)],
  ['limit still pages beyond the default', 'first-last?limit=20', SEEDED.slice(0, 20)],
  ['offset pages an ordinal range', 'first-last?offset=65', SEEDED.slice(65)],
];

const ROWS: Row[] = [
  ['POST /beams/ with wrong field types is 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ url: 'w1', duration: 'long' }, /'duration'/],
      [{ url: 'w2', bit_rate: [1] }, /'bit_rate'/],
      [{ url: 42 }, /'url'/],
      [{ url: 'w3', type: 'Wibble' }, /'type'/],
      [{ url: 'w4', streams: 'many' }, /'streams'/],
      [{ url: 'w5', metadata: { title: 5 } }, /'metadata\.title'/],
      [{ url: 'w6', streams: [{ codecpar: { codec_type: 'video', width: 'wide' } }] }, /'streams\[0\]\.codecpar\.width'/],
      [{ url: 'w7', streams: [{ codecpar: { codec_type: 'audio', sample_rate: -1 } }] }, /'streams\[0\]\.codecpar\.sample_rate'/],
      [{ url: 'w8', streams: [{ codecpar: { codec_type: 'video', name: 264 } }] }, /'streams\[0\]\.codecpar\.name'/],
      [{ url: 'w9', streams: [{ id: 'x', codecpar: { codec_type: 'video' } }] }, /'streams\[0\]\.id'/],
      [{ url: 'w10', streams: [{ r_frame_rate: 25, codecpar: { codec_type: 'video' } }] }, /'streams\[0\]\.r_frame_rate'/],
      [[{ url: 'w11' }], /'body'/],
      ['w12', /'body'/],
    ];
    for (const [payload, message] of cases) {
      assertError(await app.inject({ method: 'POST', url: '/beams/', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(payload) }), 400, message);
    }
    assert.deepEqual(json(await get('/beams/?limit=100')), ['orig'], 'nothing was created');
  }],
  ['POST /beams/ with a body that is not JSON is 400 whatever the Content-Type', async () => {
    const cases: [Record<string, string>, string | Buffer][] = [
      [{ 'content-type': 'text/plain' }, '{"url":"t1"}'],
      [{ 'content-type': 'application/octet-stream' }, Buffer.from('{"url":"t2"}')],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 'url=t3'],
      [{ 'content-type': 'application/json' }, '{"url": "t4",'],
      [{ 'content-type': 'application/json' }, 'not json'],
      [{}, '{"url":"t5"}'],
    ];
    for (const [headers, payload] of cases) {
      const res = await app.inject({ method: 'POST', url: '/beams/', headers, payload });
      assertError(res, 400, /JSON/);
    }
    assertError(await app.inject({ method: 'POST', url: '/beams/', headers: { 'content-type': 'application/json' } }), 400, /JSON|body/);
    assert.deepEqual(json(await get('/beams/?limit=100')), ['orig'], 'nothing was created');
  }],
  ['POST /beams/ with an empty url gets a v4 UUID name', async () => {
    const res = await app.inject({ method: 'POST', url: '/beams/', payload: { url: '', streams: [] } });
    assert.equal(res.statusCode, 201, res.body);
    const name = (json(res) as { url: string }).url;
    assert.match(name, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(res.headers.location, `/beams/${name}`);
    assert.equal((await app.inject({ method: 'DELETE', url: `/beams/${name}` })).statusCode, 204);
  }],
  ['PUT to a bare <pts> stores a packet when the JSON type says Packet', async () => {
    const first = await putJson('/beams/orig/stream_1/7168', { type: 'Packet', pts: 7168, dts: 7168, size: 4, stream_index: 1 });
    assert.equal(first.statusCode, 201, first.body);
    assert.equal((json(first) as { type: string }).type, 'Packet');
    const meta = json(await get('/beams/orig/stream_1/packet_7168')) as { type: string; pts: number; size: number };
    assert.deepEqual([meta.type, meta.pts, meta.size], ['Packet', 7168, 4]);
    assert.deepEqual(ptsOf(await get('/beams/orig/audio/7168')), [7168]);
    assert.equal((await putJson('/beams/orig/stream_1/7168', { type: 'Packet', pts: 7168, size: 5, stream_index: 1 })).statusCode, 200);
    assertError(await get('/beams/orig/stream_1/frame_7168'), 404);
  }],
  ['PUT to a bare <pts> stores a frame when the JSON type says Frame', async () => {
    const res = await putJson('/beams/orig/stream_2/7168', { type: 'Frame', pts: 7168, width: 4, height: 2 });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal((json(await get('/beams/orig/stream_2/frame_7168')) as { type: string }).type, 'Frame');
    assertError(await get('/beams/orig/stream_2/packet_7168'), 404);
    assert.equal((await app.inject({ method: 'DELETE', url: '/beams/orig/stream_2/frame_7168' })).statusCode, 204);
  }],
  ['a PUT whose type, pts or stream disagree with the path is 400', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['/beams/orig/stream_1/7168', { pts: 7168 }, /'type' is missing/],
      ['/beams/orig/stream_1/7168', { type: 'Wibble', pts: 7168 }, /Wibble/],
      ['/beams/orig/stream_1/7168', { type: 'Packet', pts: 7169 }, /'pts'/],
      ['/beams/orig/stream_1/7168', { type: 'Packet', pts: 7168, stream_index: 0 }, /'stream_index'/],
      ['/beams/orig/stream_1/packet_42', { type: 'Frame', pts: 42 }, /'type'/],
      ['/beams/orig/stream_1/frame_42', { type: 'Packet', pts: 42 }, /'type'/],
      ['/beams/orig/stream_1/packet_43', { type: 'Packet', pts: 42 }, /'pts'/],
      ['/beams/orig/stream_1/packet_42', { type: 'Packet', pts: 42, stream_index: 0 }, /'stream_index'/],
      ['/beams/orig/stream_2/frame_42', { type: 'Frame', buf_sizes: 'big' }, /'buf_sizes'/],
    ];
    for (const [url, payload, message] of cases) assertError(await putJson(url, payload), 400, message);
  }],
  ['a metadata PUT whose body is not JSON is 400, not 415', async () => {
    for (const url of ['/beams/orig/stream_1/packet_42', '/beams/orig/stream_1/42', '/beams/orig/stream_2/frame_42']) {
      assertError(await app.inject({ method: 'PUT', url, headers: { 'content-type': 'text/plain' }, payload: 'Jelly on a plate.' }), 400, /JSON/);
      assertError(await app.inject({ method: 'PUT', url, headers: BIN, payload: Buffer.from('Wibbly') }), 400, /JSON/);
      assertError(await app.inject({ method: 'PUT', url, headers: { 'content-type': 'application/json' }, payload: '{"type":' }), 400, /JSON/);
    }
  }],
  ['packet_-1024 can be written, read, and found by negative refs', async () => {
    assert.equal((await putJson('/beams/orig/stream_1/packet_-1024', { type: 'Packet', pts: -1024, duration: 1024 })).statusCode, 201);
    assert.equal((json(await get('/beams/orig/stream_1/packet_-1024')) as { pts: number }).pts, -1024);
    for (const ref of ['-1024', '-2048--1000', '-1030f', '-1030f-0', '-2000+1d', 'first']) {
      assert.deepEqual(ptsOf(await get(`/beams/orig/stream_1/${ref}`)), [-1024], ref);
    }
    assert.equal((await putBytes('/beams/orig/stream_1/packet_-1024/data', Buffer.from('neg'))).statusCode, 201);
    const raw = await get('/beams/orig/stream_1/packet_-1024.raw');
    assert.equal(raw.body, 'neg');
    assert.equal(raw.headers['beam-pts'], '-1024');
    const start = await get('/beams/orig/stream_1/start');
    assert.equal(start.headers.location, '/beams/orig/stream_1/packet_-1024');
    assert.equal((await app.inject({ method: 'DELETE', url: '/beams/orig/stream_1/packet_-1024' })).statusCode, 204);
  }],
  ['invalid ordinal refs are 400: 0th, last-3rd, last-last', async () => {
    for (const ref of ['0th', 'last-3rd', 'last-last', '0th-2nd', '01st']) {
      assertError(await get(`/beams/orig/video/${ref}`), 400, /media reference/);
    }
  }],
  ['the default page size is configurable (BEAM_MEDIA_DEFAULT_LIMIT)', async () => {
    const t = await buildTestApp(redis, { mediaDefaultLimit: 3 });
    await t.app.inject({ method: 'POST', url: '/beams/', payload: { url: 'small', streams: [{ codecpar: { codec_type: 'data' } }] } });
    for (let pts = 0; pts < 5; pts++) await t.app.inject({ method: 'PUT', url: `/beams/small/data/packet_${pts}`, payload: { type: 'Packet' } });
    assert.deepEqual((json(await t.app.inject('/beams/small/data/first-last')) as { pts: number }[]).map((p) => p.pts), [0, 1, 2]);
    await t.app.close();
  }],
  ['packet payload writes answer 201 when created and 200 when replaced', async () => {
    assert.equal((await putBytes('/beams/orig/video/packet_0/data', Buffer.from('one'))).statusCode, 201);
    assert.equal((await putBytes('/beams/orig/video/packet_0/data', Buffer.from('two'))).statusCode, 200);
    assert.equal((await putBytes('/beams/orig/video/packet_0.raw', Buffer.from('three'))).statusCode, 200);
    assert.equal((await putBytes('/beams/orig/video/packet_3600.raw_0', Buffer.from('four'))).statusCode, 201);
    assert.equal((await get('/beams/orig/video/packet_0.raw')).body, 'three');
    assertError(await putBytes('/beams/orig/video/packet_0/data_1', Buffer.from('x')), 400, /one payload/);
  }],
  ['frame payload writes answer 201 when created and 200 when replaced', async () => {
    assert.equal((await putJson('/beams/orig/stream_2/frame_0', { type: 'Frame', pts: 0 })).statusCode, 201);
    const planes = Buffer.concat([Buffer.alloc(8, 1), Buffer.alloc(4, 2), Buffer.alloc(4, 3)]);
    assert.equal((await putBytes('/beams/orig/stream_2/frame_0/data', planes, { 'beam-buf-sizes': '[8,4,4]' })).statusCode, 201);
    assert.equal((await putBytes('/beams/orig/stream_2/frame_0.raw', planes, { 'beam-buf-sizes': '[8,4,4]' })).statusCode, 200);
    assert.equal((await putBytes('/beams/orig/stream_2/frame_0/data_1', Buffer.alloc(4, 9), { 'beam-buf-sizes': '[4]' })).statusCode, 200);
    assertError(await putBytes('/beams/orig/stream_2/frame_0/data_1', planes, { 'beam-buf-sizes': '[8,4,4]' }), 400, /one size/);
    assert.equal((await putJson('/beams/orig/stream_2/frame_1', { type: 'Frame', pts: 1 })).statusCode, 201);
    assert.equal((await putBytes('/beams/orig/stream_2/frame_1/data_0', Buffer.alloc(5))).statusCode, 201);
  }],
  ['a Beam-Buf-Size header shorter than the body stores only that many bytes', async () => {
    assert.equal((await putBytes('/beams/orig/video/packet_7200/data', Buffer.from('0123456789'), { 'beam-buf-size': '4' })).statusCode, 201);
    const got = await get('/beams/orig/video/packet_7200/data');
    assert.equal(got.body, '0123');
    assert.equal(got.headers['content-length'], '4');
    assertError(await putBytes('/beams/orig/video/packet_7200/data', Buffer.from('0123'), { 'beam-buf-size': '5' }), 400, /exceeds/);
    assertError(await putBytes('/beams/orig/video/packet_7200/data', Buffer.from('0123'), { 'beam-buf-size': 'four' }), 400, /Beam-Buf-Size/);
    assert.equal((await putBytes('/beams/orig/stream_2/frame_0/data', Buffer.alloc(20, 7), { 'beam-buf-sizes': '[8,4,4]' })).statusCode, 200);
    assert.equal((await get('/beams/orig/stream_2/frame_0.raw')).rawPayload.length, 16, 'Beam-Buf-Sizes adding up to less keeps that much');
  }],
  ['frame metadata keeps buf_sizes through a write and a read', async () => {
    const put = await putJson('/beams/orig/stream_2/frame_100', { type: 'Frame', pts: 100, width: 4, height: 2, format: 'yuv420p', buf_sizes: [8, 4, 4] });
    assert.equal(put.statusCode, 201, put.body);
    assert.deepEqual((json(put) as { buf_sizes: number[] }).buf_sizes, [8, 4, 4]);
    assert.deepEqual((json(await get('/beams/orig/stream_2/frame_100')) as { buf_sizes: number[] }).buf_sizes, [8, 4, 4]);
    assert.deepEqual((json(await get('/beams/orig/stream_2/100')) as { buf_sizes: number[] }[])[0]?.buf_sizes, [8, 4, 4]);
    assert.equal((await putBytes('/beams/orig/stream_2/frame_100/data', Buffer.alloc(16), { 'beam-buf-sizes': '[8,4,4]' })).statusCode, 201);
    assert.deepEqual((json(await get('/beams/orig/stream_2/frame_100')) as { buf_sizes: number[] }).buf_sizes, [8, 4, 4]);
  }],
  ['payload responses carry Beam-PTS; frame payloads also Beam-Data-Index', async () => {
    await putJson('/beams/orig/stream_2/frame_-7200', { type: 'Frame', pts: -7200 });
    await putBytes('/beams/orig/stream_2/frame_-7200/data', Buffer.concat([Buffer.alloc(8, 1), Buffer.alloc(4, 2), Buffer.alloc(4, 3)]), { 'beam-buf-sizes': '[8,4,4]' });
    await putBytes('/beams/orig/video/packet_-7200/data', Buffer.from('pkt'));
    const cases: [url: string, headers: Record<string, string | undefined>, length: number][] = [
      ['/beams/orig/video/packet_-7200/data', { 'beam-pts': '-7200', 'beam-data-index': undefined }, 3],
      ['/beams/orig/video/packet_-7200.raw', { 'beam-pts': '-7200' }, 3],
      ['/beams/orig/video/packet_-7200.raw_0', { 'beam-pts': '-7200' }, 3],
      ['/beams/orig/stream_2/frame_-7200/data', { 'beam-pts': '-7200', 'beam-data-index': '', 'beam-buf-sizes': '[8,4,4]' }, 16],
      ['/beams/orig/stream_2/frame_-7200.raw', { 'beam-pts': '-7200', 'beam-data-index': '', 'beam-buf-sizes': '[8,4,4]' }, 16],
      ['/beams/orig/stream_2/frame_-7200/data_0', { 'beam-pts': '-7200', 'beam-data-index': '0', 'beam-buf-sizes': '[8]' }, 8],
      ['/beams/orig/stream_2/frame_-7200.raw_2', { 'beam-pts': '-7200', 'beam-data-index': '2', 'beam-buf-sizes': '[4]' }, 4],
    ];
    for (const [url, headers, length] of cases) {
      const res = await get(url);
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.rawPayload.length, length, url);
      for (const [h, v] of Object.entries(headers)) assert.equal(res.headers[h], v, `${url} ${h}`);
    }
  }],
];

describe('the original engine: media_ref queries', () => {
  for (const [behaviour, ref, want] of QUERIES) {
    it(`${behaviour}: ${ref}`, async () => {
      const res = await get(`/beams/orig/video/${ref}`);
      if (want.length === 0) return assertError(res, 404, /No media elements/);
      assert.deepEqual(ptsOf(res), want);
    });
  }
});

describe('the original engine: writes, payloads and headers', () => {
  for (const [behaviour, check] of ROWS) it(behaviour, check);
});
