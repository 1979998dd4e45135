/**
 * Ingest end to end with real publishers: ffmpeg over SRT (every streamid form, with a passphrase) and
 * RTMP, srt-live-transmit as an independent SRT caller, two channels at once, wrong keys and
 * passphrases refused, garbage on both ports, and drop-and-reconnect keeping one monotonic timeline.
 * Channels are created through the channel API and published with the settings it returns.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG, withTestToken } from '../../helpers/app';
import { publishRtmp, publishSrt, publishSrtLiveTransmit, wrapFfmpeg, type Publisher } from '../../helpers/publishers';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { createIngestMetrics } from '../../../ingest/ingest-metrics';
import { Registry } from 'prom-client';
import { waitFor } from '../../helpers/process';
import type { SegmentRecord } from '../../../core/model/live';

let redis: TestRedis;
let app: FastifyInstance;
let store: OwnedStore;
let live: LiveStore;
let ingest: IngestService;
let srtPort = 0;
const registry = new Registry();
let rtmpPort = 0;
const publishers: Publisher[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  const client = redis.connect();
  store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  ingest = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }), metrics: createIngestMetrics(registry) },
    { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } },
  );
  await ingest.start();
  srtPort = ingest.srtPort() as number;
  rtmpPort = ingest.rtmpPort() as number;
  app = withTestToken(await buildApp(
    {
      store, metrics: createEngineMetrics(undefined, false),
      plugins: [(s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: 'http://127.0.0.1:8080', srtPort, rtmpPort } })],
    },
    TEST_APP_CONFIG,
  ));
});

afterAll(async () => {
  for (const p of publishers) p.stop();
  await ingest?.close();
  await app?.close();
  await redis?.close();
});

interface ChannelView {
  name: string;
  streamKey: string;
  state: string;
  status: { reconnects: number; lastDisconnectReason: string | null; lastDisconnectCode: string | null; ingest: { videoCodec: string; width: number; fps: number } | null };
  ingest: { srt: string; rtmp: string; obs: { srt: { server: string; streamKey: string }; rtmp: { server: string; streamKey: string } }; larix: { url: string; streamid: string } };
}

async function pipelineErrors(component: string, code: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'beam_pipeline_errors_total');
  const v = (m?.values ?? []) as { labels: { component?: string; code?: string }; value: number }[];
  return v.filter((x) => x.labels.component === component && x.labels.code === code).reduce((a, x) => a + x.value, 0);
}

async function createChannel(name: string, extra: object = {}): Promise<ChannelView> {
  const res = await app.inject({ method: 'POST', url: '/api/channels', payload: { name, ...extra } });
  assert.equal(res.statusCode, 201, res.body);
  const ch = res.json() as ChannelView;
  return ch;
}

async function view(name: string): Promise<ChannelView> {
  return (await app.inject(`/api/channels/${name}`)).json() as ChannelView;
}

function track(p: Publisher): Publisher {
  publishers.push(p);
  return p;
}


/** The channel is in the store: format with h264+aac, latest redirects, and ≥ n closed segments. */
async function assertLive(name: string, segments: number): Promise<void> {
  await waitFor(`${segments} segments on ${name}`, async () => (await live.lastSegments(name, 100)).filter((s) => s.durationPts !== null).length >= segments, 20000);
  const fmt = (await app.inject(`/beams/${name}`)).json() as { streams: { codecpar: { name: string; extradata: string | null } }[] };
  assert.deepEqual(fmt.streams.map((s) => s.codecpar.name), ['h264', 'aac']);
  assert.ok(fmt.streams[0]?.codecpar.extradata, 'video codec parameters carry extradata');
  const latest = await app.inject(`/beams/${name}/video/latest`);
  assert.equal(latest.statusCode, 302);
  assert.match(String(latest.headers.location), new RegExp(`^/beams/${name}/stream_0/packet_\\d+$`));
  const first = (await app.inject(`/beams/${name}/video/first`)).json() as { flags: { KEY: boolean } }[];
  assert.equal(first[0]?.flags.KEY, true, 'a channel starts at a keyframe');
}

describe('SRT', () => {
  it('every streamid form, from the settings the channel API returns', { timeout: 60000 }, async () => {
    const a = await createChannel('srt-bare');
    const b = await createChannel('srt-acl');
    const c = await createChannel('srt-colon');
    const d = await createChannel('srt-ronly');
    const urls = [
      a.ingest.srt,
      `${b.ingest.larix.url}?streamid=${encodeURIComponent(b.ingest.larix.streamid)}`,
      `srt://127.0.0.1:${srtPort}?streamid=${encodeURIComponent(`publish:srt-colon:${c.streamKey}`)}`,
      `srt://127.0.0.1:${srtPort}?streamid=${encodeURIComponent(`#!::r=${d.streamKey}`)}`,
    ].map((u) => u.replace('127.0.0.1:8080', '127.0.0.1').replace(/srt:\/\/127\.0\.0\.1:\d+/, `srt://127.0.0.1:${srtPort}`));
    const pubs = urls.map((u) => track(publishSrt(u, { seconds: 5 })));
    for (const name of ['srt-bare', 'srt-acl', 'srt-colon', 'srt-ronly']) await assertLive(name, 1);
    const v = await view('srt-bare');
    assert.equal(v.state, 'live');
    await Promise.all(pubs.map((p) => p.exited));
  });

  it('a passphrase: the right one streams, a wrong one is refused', { timeout: 40000 }, async () => {
    const ch = await createChannel('srt-secret', { passphrase: 'correct-horse-battery' });
    assert.match(ch.ingest.srt, /passphrase=correct-horse-battery/);
    const wrong = track(publishSrt(`srt://127.0.0.1:${srtPort}?streamid=${ch.streamKey}&passphrase=wrong-passphrase&connect_timeout=3000`, { seconds: 3 }));
    const wrongCode = await wrong.exited;
    assert.notEqual(wrongCode, 0, 'wrong passphrase refused');
    assert.equal(await store.getFormat('srt-secret'), null, 'nothing was accepted');
    const right = track(publishSrt(ch.ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`), { seconds: 4 }));
    await assertLive('srt-secret', 1);
    await right.exited;
  });

  it('srt-live-transmit as an independent caller', { timeout: 40000 }, async () => {
    const ch = await createChannel('srt-slt');
    const p = track(publishSrtLiveTransmit(`srt://127.0.0.1:${srtPort}?streamid=${ch.streamKey}`, { seconds: 4 }));
    await assertLive('srt-slt', 1);
    p.stop(); // srt-live-transmit keeps its connection open after its input ends
  });

  it('wrong keys and playback mode are refused while another channel keeps streaming; garbage UDP is survived', { timeout: 60000 }, async () => {
    await createChannel('srt-steady');
    const steady = track(publishSrt((await view('srt-steady')).ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`), { seconds: 8 }));
    await waitFor('steady live', async () => (await view('srt-steady')).state === 'live', 10000);
    const sock = createSocket('udp4');
    for (let i = 0; i < 50; i++) sock.send(Buffer.from(`garbage ${i} `.repeat(20)), srtPort, '127.0.0.1');
    const wrongs = [
      publishSrt(`srt://127.0.0.1:${srtPort}?streamid=not-a-key&connect_timeout=2000`, { seconds: 2 }),
      publishSrt(`srt://127.0.0.1:${srtPort}?streamid=${encodeURIComponent('#!::r=srt-steady,m=request')}&connect_timeout=2000`, { seconds: 2 }),
    ].map(track);
    for (const w of wrongs) assert.notEqual(await w.exited, 0);
    sock.close();
    const text = await registry.metrics();
    assert.match(text, /beam_ingest_refusals_total\{protocol="srt",reason="bad-key"\} [1-9]/);
    // This process serves no SRT readers: an m=request caller finds nothing readable.
    assert.match(text, /beam_ingest_refusals_total\{protocol="srt",reason="not-readable"\} [1-9]/);
    assert.match(text, /beam_ingest_publisher_connects_total\{channel="srt-steady",protocol="srt"\} 1/);
    const before = (await live.lastSegments('srt-steady', 100)).length;
    await waitFor('steady keeps segmenting', async () => (await live.lastSegments('srt-steady', 100)).length > before, 8000);
    await waitFor('the bitrate gauge', async () => /beam_ingest_bitrate_kbps\{channel="srt-steady"\} [1-9]/.test(await registry.metrics()), 6000);
    await steady.exited;
  });
});

describe('RTMP', () => {
  it('OBS-style server + key; two channels at once with SRT; a wrong key refused; garbage survived', { timeout: 60000 }, async () => {
    const r = await createChannel('rtmp-one');
    const s = await createChannel('mixed-srt');
    const url = `${r.ingest.obs.rtmp.server.replace(/rtmp:\/\/[^/]+/, `rtmp://127.0.0.1:${rtmpPort}`)}/${r.ingest.obs.rtmp.streamKey}`;
    const pr = track(publishRtmp(url, { seconds: 5 }));
    const ps = track(publishSrt(s.ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`), { seconds: 5 }));
    const wrong = track(publishRtmp(`rtmp://127.0.0.1:${rtmpPort}/live/wrong-key`, { seconds: 2 }));
    const garbage = connect(rtmpPort, '127.0.0.1', () => garbage.end(Buffer.alloc(5000, 0x42)));
    garbage.on('error', () => undefined);
    assert.notEqual(await wrong.exited, 0);
    await assertLive('rtmp-one', 1);
    await assertLive('mixed-srt', 1);
    const codec = await waitFor('ingest diagnostics', async () => (await view('rtmp-one')).status.ingest?.videoCodec, 5000);
    assert.equal(codec, 'h264');
    await Promise.all([pr.exited, ps.exited]);
  });
});

describe('streams Beamline cannot use', () => {
  it('a TS with no video and an HEVC stream end with a reason the operator can read; the process stays up', { timeout: 40000 }, async () => {
    const a = await createChannel('no-video');
    const h = await createChannel('hevc');
    const srtUrl = (ch: ChannelView) => ch.ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`);
    const audioOnly = track(wrapFfmpeg(['-f', 'lavfi', '-i', 'sine', '-t', '4', '-c:a', 'aac', '-f', 'mpegts', srtUrl(a)]));
    const hevc = track(wrapFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '4', '-c:v', 'libx265', '-preset', 'ultrafast', '-f', 'mpegts', srtUrl(h)]));
    await Promise.all([audioOnly.exited, hevc.exited]);
    const reasonOf = async (n: string) => (await app.inject(`/api/channels/${n}`)).json().status.lastDisconnectReason as string | null;
    assert.match((await waitFor('no-video reason', () => reasonOf('no-video'), 10000)) ?? '', /no video/);
    assert.match((await waitFor('hevc reason', () => reasonOf('hevc'), 10000)) ?? '', /unsupported video codec hevc/);
    assert.equal(await store.getFormat('hevc'), null, 'nothing was stored');
    assert.equal((await view('no-video')).status.lastDisconnectCode, 'INGEST_FAILED');
    assert.equal((await view('hevc')).status.lastDisconnectCode, 'INGEST_FAILED');
    await createChannel('after-bad');
    const ok = track(publishSrt(srtUrl(await view('after-bad')), { seconds: 4 }));
    await assertLive('after-bad', 1);
    await ok.exited;
  });
});

describe('publisher drop and reconnect', () => {
  it('continues one monotonic timeline with a discontinuity, never a reset', { timeout: 60000 }, async () => {
    const ch = await createChannel('reconnect', { reconnectWindowSeconds: 30 });
    const url = ch.ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`);
    const first = track(publishSrt(url, { seconds: 5 }));
    await assertLive('reconnect', 1);
    await first.exited;
    await waitFor('reconnecting state', async () => (await view('reconnect')).state === 'reconnecting', 10000);
    const ended = (await view('reconnect')).status;
    assert.equal(ended.lastDisconnectCode, 'INGEST_ENDED', `the publisher's end, as a code (reason: ${ended.lastDisconnectReason})`);
    const segsBefore = await live.lastSegments('reconnect', 100);
    const lastBefore = segsBefore[segsBefore.length - 1];
    assert.ok(lastBefore && lastBefore.durationPts !== null, 'the open segment was closed when the publisher left');
    const endBefore = lastBefore.startPts + (lastBefore.durationPts as number);

    const second = track(publishSrt(url, { seconds: 5 }));
    await waitFor('second session segments', async () => (await live.lastSegments('reconnect', 100)).some((s) => s.index > lastBefore.index && s.durationPts !== null), 20000);
    const after = (await live.segments('reconnect', lastBefore.index + 1, lastBefore.index + 1))[0];
    assert.ok(after, 'a new segment follows');
    assert.equal(after.discontinuity, true, 'the first segment after a reconnect is a discontinuity');
    assert.equal(after.discontinuitySequence, (lastBefore.discontinuitySequence ?? 0) + 1, 'the discontinuity count is carried in the records');
    assert.ok(after.startPts >= endBefore, `timeline continues: ${after.startPts} >= ${endBefore}`);
    const all = await live.segments('reconnect', 0, 1000);
    for (let i = 1; i < all.length; i++) assert.equal(all[i]?.index, (all[i - 1]?.index as number) + 1, 'segment numbers never reset');
    const v = await view('reconnect');
    assert.equal(v.state, 'live');
    assert.equal(v.status.reconnects, 1);
    assert.match(await registry.metrics(), /beam_ingest_reconnects_total\{channel="reconnect"\} 1/);
    await second.exited;
  });

  it('a publisher back after a break longer than the DVR window is taken, the numbering carrying on with a discontinuity', { timeout: 60000 }, async () => {
    // Until 2026-12-04 such a publish was refused (INGEST_SEALED) for a day: the segment records had left with the
    // window, the session offered segment 1 again, and the sealed point, kept with the timeline, refused it.
    const ch = await createChannel('longbreak', { dvrWindowSeconds: 10, reconnectWindowSeconds: 0 });
    const url = ch.ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`);
    const first = track(publishSrt(url, { seconds: 4 }));
    await assertLive('longbreak', 1);
    await first.exited;
    const before = await live.lastSegments('longbreak', 100);
    const lastBefore = before[before.length - 1] as SegmentRecord;
    assert.ok(lastBefore, 'the first publish made segments');
    await waitFor('the DVR window to pass (the segment records gone)', async () => (await live.lastSegments('longbreak', 100)).length === 0, 30000, 250);
    const refusedBefore = await pipelineErrors('ingest', 'INGEST_SEALED');
    const second = track(publishSrt(url, { seconds: 4 }));
    await waitFor('a closed segment of the second publish', async () => (await live.lastSegments('longbreak', 100)).some((x) => x.durationPts !== null), 20000).catch(async (e: Error) => {
      const st = (await view('longbreak')).status;
      throw new Error(`${e.message}: the channel's last disconnect ${st.lastDisconnectCode} (${st.lastDisconnectReason})`);
    });
    assert.equal(await pipelineErrors('ingest', 'INGEST_SEALED'), refusedBefore, 'nothing refused');
    const after = (await live.lastSegments('longbreak', 100))[0] as SegmentRecord;
    assert.equal(after.index, lastBefore.index + 1, 'the numbering carries on after the last segment of the first publish');
    assert.equal(after.discontinuity, true);
    assert.equal(after.discontinuitySequence, (lastBefore.discontinuitySequence ?? 0) + 1);
    await second.exited;
  });

  it('a new connection with the same key replaces the current one; the timeline stays monotonic', { timeout: 60000 }, async () => {
    const ch = await createChannel('replace');
    const url = ch.ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`);
    const stale = track(publishSrt(url, { seconds: 20 }));
    await assertLive('replace', 1);
    const fresh = track(publishRtmp(`rtmp://127.0.0.1:${rtmpPort}/live/${ch.streamKey}`, { seconds: 5 }));
    const lastOfFirst = await waitFor('the first session closed its segment', async () => {
      const segs = await live.lastSegments('replace', 100);
      const disc = segs.find((s) => s.discontinuity);
      return disc ? segs.filter((s) => s.index < disc.index).pop() : null;
    }, 20000);
    await waitFor('the replacing session segments', async () => (await live.lastSegments('replace', 100)).some((s) => s.discontinuity && s.durationPts !== null), 20000);
    const next = (await live.segments('replace', lastOfFirst.index + 1, lastOfFirst.index + 1))[0];
    assert.ok(next?.discontinuity, 'the replacing publisher starts a new segment with a discontinuity');
    assert.ok(lastOfFirst.durationPts !== null && (next?.startPts as number) >= lastOfFirst.startPts + lastOfFirst.durationPts, 'no timestamp regression');
    assert.equal((await view('replace')).status.ingest?.videoCodec, 'h264');
    assert.ok((await pipelineErrors('ingest', 'INGEST_REPLACED')) >= 1, 'beam_pipeline_errors_total counts the replaced session');
    stale.stop();
    await fresh.exited;
  });
});
