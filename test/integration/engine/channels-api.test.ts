/** The channel API and the live store against a real redis-server. */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_API_TOKEN, TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore } from '../../../core/store/store';
import { createChannelStore, type ChannelStore } from '../../../core/store/channel-store';
import { createLiveStore } from '../../../core/store/live-store';
import { validateFormat } from '../../../core/model/content';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis.close();
});

async function setup(apiToken: string | null = null): Promise<{ app: FastifyInstance; channels: ChannelStore; prefix: string }> {
  // null: the test token, sent by inject() unless a request sets its own header; a string: sent explicitly.
  const prefix = uniquePrefix();
  const client = redis.connect();
  const store = createStore({ redis: client }, { prefix, packetTtlMs: 60000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  const app = await buildApp(
    {
      store, metrics: createEngineMetrics(undefined, false),
      plugins: [(s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: null, srtPort: 9000, rtmpPort: 1935 } })],
    },
    { ...TEST_APP_CONFIG, apiToken: apiToken ?? TEST_API_TOKEN },
  );
  return { app: apiToken === null ? withTestToken(app) : app, channels, prefix };
}

describe('channel API', () => {
  it('create → settings → list → patch → rotate key → delete', async () => {
    const { app, channels } = await setup();
    const res = await app.inject({ method: 'POST', url: '/api/channels', headers: { host: '203.0.113.7:8080' }, payload: { name: 'main', passphrase: 'a-long-passphrase' } });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.headers.location, '/api/channels/main');
    const ch = res.json();
    assert.equal(ch.state, 'idle');
    assert.equal(ch.ingest.obs.rtmp.server, 'rtmp://203.0.113.7:1935/live');
    assert.equal(ch.ingest.obs.streamKey, ch.streamKey);
    assert.match(ch.ingest.srt, /^srt:\/\/203\.0\.113\.7:9000\?streamid=/);
    assert.equal(ch.playback.player, 'http://203.0.113.7:8080/player/?channel=main');
    assert.equal(await channels.byKey(ch.streamKey), 'main');
    assert.equal((await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'main' } })).statusCode, 409);

    const list = (await app.inject('/api/channels')).json();
    assert.deepEqual(list.map((c: { name: string }) => c.name), ['main']);

    const patched = await app.inject({ method: 'PATCH', url: '/api/channels/main', payload: { ladder: [{ name: '240p', width: 426, height: 240, videoBitrate: 400000 }], dvrWindowSeconds: 600 } });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json().ladder[0].name, '240p');
    const badLadder = await app.inject({ method: 'PATCH', url: '/api/channels/main', payload: { ladder: [{ name: '240p', width: 427, height: 240, videoBitrate: 400000 }] } });
    assert.equal(badLadder.statusCode, 400);
    assert.match(badLadder.json().message, /ladder\[0\] \(240p\)\.width/);

    const rotated = (await app.inject({ method: 'POST', url: '/api/channels/main/key' })).json();
    assert.notEqual(rotated.streamKey, ch.streamKey);
    assert.equal(await channels.byKey(ch.streamKey), null);
    assert.equal(await channels.byKey(rotated.streamKey), 'main');

    assert.equal((await app.inject({ method: 'DELETE', url: '/api/channels/main' })).statusCode, 204);
    assert.equal((await app.inject('/api/channels/main')).statusCode, 404);
    assert.equal(await channels.byKey(rotated.streamKey), null);
  });

  it('bad bodies and names are 4xx JSON; writes need the token when set', async () => {
    const { app } = await setup('tok');
    assert.equal((await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'x' } })).statusCode, 401);
    const auth = { authorization: 'Bearer tok' };
    for (const payload of [{ name: 'Bad Name' }, { name: 'ok', passphrase: 'short' }, { name: 'ok', colour: 1 }, []]) {
      const r = await app.inject({ method: 'POST', url: '/api/channels', headers: auth, payload });
      assert.equal(r.statusCode, 400, JSON.stringify(payload));
      assert.equal(r.json().statusCode, 400);
    }
    assert.equal((await app.inject('/api/channels/Nope')).statusCode, 400);
    assert.equal((await app.inject('/api/channels/nope')).statusCode, 404);
  });

  it('status transitions and reconnect counting', async () => {
    const { app, channels } = await setup();
    await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'st' } });
    await channels.setState('st', 'live', { connected: true });
    await channels.setState('st', 'reconnecting', { disconnected: true });
    await channels.setState('st', 'live', { connected: true });
    await channels.setIngestStats('st', { bitrateKbps: 6000 });
    const v = (await app.inject('/api/channels/st')).json();
    assert.equal(v.state, 'live');
    assert.equal(v.status.reconnects, 1);
    assert.deepEqual(v.status.ingest, { bitrateKbps: 6000 });
    assert.ok(v.status.lastDisconnectedAt);
  });

  it('settings changes are published to other processes', async () => {
    const { app, prefix } = await setup();
    const sub = redis.connect();
    const seen: string[] = [];
    // Another process: its own connection and ChannelStore (changes made through a store also reach that
    // store's own listeners directly, so they would be seen twice here).
    const elsewhere = createChannelStore({ redis: redis.connect(), keys: createStore({ redis: redis.connect() }, { prefix, packetTtlMs: 60000, frameTtlMs: 60000 }).keys });
    const stop = await elsewhere.onChange(sub, (n) => seen.push(n));
    await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'pub' } });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen, ['pub']);
    await stop();
  });
});

describe('channel API: secrets need the token (issue 10)', () => {
  const SECRET_FIELDS = ['streamKey', 'passphrase', 'ingest', 'ladder', 'dvrWindowSeconds', 'playbackSecret'];

  it('anonymous reads show name, state, non-secret status and playback URLs only', async () => {
    const { app, channels } = await setup();
    const created = (await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'pub', passphrase: 'a-long-passphrase' } })).json();
    await channels.setState('pub', 'live', { connected: true });
    await channels.setIngestStats('pub', { protocol: 'srt', peer: '198.51.100.23:40000', bitrateKbps: 3000 });
    await channels.setState('pub', 'reconnecting', { disconnected: true, reason: 'replaced by a new publish from 198.51.100.23:40001' });
    const anon = { authorization: '' };
    const one = await app.inject({ url: '/api/channels/pub', headers: anon });
    const list = await app.inject({ url: '/api/channels', headers: anon });
    for (const [what, body] of [['one', one.body], ['list', list.body]] as const) {
      assert.ok(!body.includes(created.streamKey), `${what}: no stream key`);
      assert.ok(!body.includes('a-long-passphrase'), `${what}: no passphrase`);
      assert.ok(!body.includes('198.51.100.23'), `${what}: no publisher address`);
      assert.ok(!/srt:\/\/|rtmp:\/\//.test(body), `${what}: no ingest URL`);
    }
    const v = one.json();
    assert.deepEqual(Object.keys(v).sort(), ['name', 'playback', 'private', 'state', 'status']);
    assert.equal(v.private, false);
    for (const f of SECRET_FIELDS) assert.equal(v[f], undefined, f);
    assert.deepEqual(Object.keys(v.status).sort(), ['lastConnectedAt', 'lastDisconnectedAt', 'reconnects', 'since', 'state']);
    assert.equal(v.state, 'reconnecting');
    assert.match(v.playback.hls, /\/live\/pub\/master\.m3u8$/);
    assert.deepEqual(list.json().map((c: { name: string }) => c.name), ['pub']);

    const full = (await app.inject('/api/channels/pub')).json();
    assert.equal(full.streamKey, created.streamKey, 'the token shows the full view');
    assert.equal(full.passphrase, 'a-long-passphrase');
    assert.equal(full.status.ingest.peer, '198.51.100.23:40000');
  });

  it('private channels: the secret only with the API token, tokens minted for private channels only, the secret rotates', async () => {
    const { app } = await setup();
    const created = (await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'vip', private: true } })).json();
    assert.equal(created.private, true);
    assert.match(created.playbackSecret, /^[A-Za-z0-9_-]{43}$/);
    const anon = await app.inject({ url: '/api/channels/vip', headers: { authorization: '' } });
    assert.equal(anon.json().private, true);
    assert.ok(!anon.body.includes(created.playbackSecret), 'no secret in the public view');
    assert.equal((await app.inject({ method: 'POST', url: '/api/channels/vip/playback-tokens', headers: { authorization: '' } })).statusCode, 401);
    const minted = await app.inject({ method: 'POST', url: '/api/channels/vip/playback-tokens', headers: { host: 'tv.example:8080' } });
    assert.equal(minted.statusCode, 201, minted.body);
    const t = minted.json();
    assert.equal(t.hls, `http://tv.example:8080/live/vip/master.m3u8?token=${t.token}`, 'no IPv6 address: nothing to escape');
    assert.equal(t.player, `http://tv.example:8080/player/?channel=vip&token=${t.token}`);
    assert.equal(minted.headers['cache-control'], 'no-store');
    assert.equal((await app.inject({ method: 'POST', url: '/api/channels/vip/playback-tokens', payload: { expiresIn: 3 } })).statusCode, 400);
    assert.equal((await app.inject({ method: 'POST', url: '/api/channels/nobody/playback-tokens' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'PATCH', url: '/api/channels/vip', payload: { private: 'yes' } })).statusCode, 400);
    assert.equal((await app.inject({ method: 'PATCH', url: '/api/channels/vip', payload: { playbackSecret: 'x'.repeat(40) } })).statusCode, 400);
    const rotated = (await app.inject({ method: 'POST', url: '/api/channels/vip/playback-secret' })).json();
    assert.notEqual(rotated.playbackSecret, created.playbackSecret);
    assert.equal((await app.inject({ method: 'PATCH', url: '/api/channels/vip', payload: { private: false } })).json().private, false);
    assert.equal((await app.inject({ method: 'POST', url: '/api/channels/vip/playback-tokens' })).statusCode, 409);
  });

  it('content named `channels` cannot empty the registry: POST /beams {url: channels} then DELETE /beams/channels', async () => {
    const { app, channels } = await setup();
    const created = (await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'main' } })).json();
    assert.equal((await app.inject({ method: 'POST', url: '/beams', payload: { url: 'channels', streams: [{ codecpar: { codec_type: 'video' } }] } })).statusCode, 201);
    assert.equal((await app.inject({ method: 'DELETE', url: '/beams/channels' })).statusCode, 204);
    assert.deepEqual((await app.inject('/api/channels')).json().map((c: { name: string }) => c.name), ['main']);
    assert.equal(await channels.byKey(created.streamKey), 'main', 'the stream key still works');
  });

  it('a wrong token is refused on reads too (401), so a stale saved token is noticed', async () => {
    const { app } = await setup();
    const r = await app.inject({ url: '/api/channels', headers: { authorization: 'Bearer not-the-token' } });
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().statusCode, 401);
    assert.match(String(r.headers['www-authenticate']), /Bearer/);
  });

  it('every write needs the token, and an anonymous write is refused before its body is read', async () => {
    const { app } = await setup('tok');
    for (const [method, url] of [['POST', '/api/channels'], ['PATCH', '/api/channels/x'], ['DELETE', '/api/channels/x'], ['POST', '/api/channels/x/key'], ['PUT', '/beams/x'], ['POST', '/beams']] as const) {
      const r = await app.inject({ method, url, payload: { name: 'x' } });
      assert.equal(r.statusCode, 401, `${method} ${url}`);
    }
    // A body the JSON limit would refuse (413) gets 401 first: nothing of it was parsed.
    const big = await app.inject({ method: 'POST', url: '/api/channels', headers: { 'content-type': 'application/json' }, payload: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(big.statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: '/api/channels', headers: { authorization: 'Bearer tok' }, payload: { name: 'x' } })).statusCode, 201);
  });
});

describe('live store', () => {
  it('segments, parts, catch-up by time, events with blocking reads, and trimming by window', async () => {
    const prefix = uniquePrefix();
    const client = redis.connect();
    const store = createStore({ redis: client }, { prefix, packetTtlMs: 60000, frameTtlMs: 60000 });
    await store.createContent(validateFormat({}, 'ch'));
    const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 100 });
    const t0 = Date.now();
    await live.writeBoundaries('ch', { segments: [{ index: 1, startPts: 0, startDts: 0, durationPts: null, wallClockMs: t0 - 10000, discontinuity: false }], retainMs: 60000 });
    await live.writeBoundaries('ch', {
      segments: [{ index: 1, startPts: 0, startDts: 0, durationPts: 180000, wallClockMs: t0 - 10000, discontinuity: false }, { index: 2, startPts: 180000, startDts: 180000, durationPts: null, wallClockMs: t0 - 8000, discontinuity: true }],
      parts: [{ segment: 2, part: 0, startPts: 180000, startDts: 180000, durationPts: 30000, independent: true }],
      events: [{ type: 'segment:opened', segment: 2, startPts: 180000, wallClockMs: t0 - 8000, discontinuity: true }],
      retainMs: 60000,
    });
    assert.deepEqual((await live.segments('ch', 1, 2)).map((s) => [s.index, s.durationPts]), [[1, 180000], [2, null]]);
    assert.deepEqual((await live.lastSegments('ch', 1)).map((s) => s.index), [2]);
    assert.deepEqual(await live.segmentsByTime('ch', t0 - 9000, t0), [2]);
    assert.equal((await live.parts('ch', 2, 2)).length, 1);

    const reader = redis.connect();
    const first = await live.readEvents(reader, 'ch', '0', 100);
    assert.equal(first.events[0]?.event.type, 'segment:opened');
    const waiting = live.readEvents(reader, 'ch', first.lastId, 2000);
    await new Promise((r) => setTimeout(r, 50));
    await live.appendEvents('ch', [{ type: 'part:ready', segment: 2, part: 1, startPts: 210000, startDts: 210000, durationPts: 30000, independent: false }]);
    const next = await waiting;
    assert.equal(next.events[0]?.event.type, 'part:ready');

    // A short window drops old segments and their parts.
    await live.writeBoundaries('ch', { segments: [{ index: 3, startPts: 360000, startDts: 360000, durationPts: null, wallClockMs: t0, discontinuity: false }], retainMs: 5000 });
    assert.deepEqual((await live.segments('ch', 0, 10)).map((s) => s.index), [3]);
    assert.equal((await live.parts('ch', 0, 10)).length, 0);

    await live.setTimeline('ch', '{"x":1}', 10000);
    assert.equal(await live.getTimeline('ch'), '{"x":1}');
  });
});
