/**
 * MPEG-TS for legacy HLS players end to end: a channel published over SRT by ffmpeg, served by the
 * live plugin. `master.m3u8?format=ts` and `ts-source.m3u8` parse (version 3, no LL-HLS, muxed
 * audio), a `.ts` segment holds h264 + aac whose start times (ffprobe) match the CMAF segments of the
 * same media sequence number, ffmpeg decodes the TS master, catch-up ranges give VOD playlists.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { TEST_APP_CONFIG } from '../../helpers/app';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { parseM3u8 } from '../../unit/packager/parsers';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { channelsPlugin } from '../../../engine/api/channels';
import { createStore, type Store } from '../../../engine/store/store';
import { createChannelStore } from '../../../engine/store/channel-store';
import { createLiveStore, type LiveStore } from '../../../engine/store/live-store';
import { createIngestService, DEFAULT_INGEST_CONFIG, type IngestService } from '../../../ingest/ingest-service';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { livePlugin } from '../../../packager/live-plugin';

const run = promisify(execFile);
let redis: TestRedis;
let app: FastifyInstance;
let store: Store;
let live: LiveStore;
let ingest: IngestService;
let base = '';
let srtUrl = '';
const registry = new Registry();
const publishers: Publisher[] = [];
const CH = 'pkts';

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// (helpers copied from live.test.ts, which composes the same stack)
async function closedSegments(): Promise<number> {
  return (await live.lastSegments(CH, 100)).filter((s) => s.durationPts !== null).length;
}

async function get(path: string): Promise<{ status: number; headers: Headers; text: string; body: Buffer }> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(15000) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, text: body.toString('utf8'), body };
}

async function ffmpegDecode(url: string, seconds: number): Promise<{ video: number; audio: number; stderr: string }> {
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-i', url, '-t', String(seconds), '-map', '0:v:0', '-map', '0:a:0', '-f', 'null', '-'], { timeout: 30000 })
    .catch((e: { stderr?: string; message: string }) => ({ stderr: e.stderr ?? e.message }));
  const m = /video:(\d+)[kK]i?B audio:(\d+)[kK]i?B/.exec(r.stderr);
  return { video: Number(m?.[1] ?? 0), audio: Number(m?.[2] ?? 0), stderr: r.stderr.slice(-1500) };
}


before(async () => {
  redis = await startTestRedis();
  const client = redis.connect();
  store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  ingest = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: pino({ level: 'silent' }) },
    { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: { host: '127.0.0.1', port: 0 }, rtmp: { host: '127.0.0.1', port: 0 } },
  );
  await ingest.start();
  const srtPort = ingest.srtPort() as number;
  app = await buildApp({
    store, metrics: createEngineMetrics(undefined, false),
    plugins: [
      (s) => channelsPlugin(s, { deps: { channels, store, validateLadder, defaultLadder: DEFAULT_LADDER }, config: { publicUrl: 'http://127.0.0.1:8080', srtPort, rtmpPort: ingest.rtmpPort() as number } }),
      (s) => livePlugin(s, { deps: { store, live, channels, connect: () => redis.connect(), registry }, config: { followerBlockMs: 1000 } }),
    ],
  }, TEST_APP_CONFIG);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const res = await app.inject({ method: 'POST', url: '/api/channels', payload: { name: CH, ladder: [] } });
  assert.equal(res.statusCode, 201, res.body);
  await new Promise((r) => setTimeout(r, 100));
  srtUrl = (res.json() as { ingest: { srt: string } }).ingest.srt.replace(/srt:\/\/[^?]+/, `srt://127.0.0.1:${srtPort}`);
  publishers.push(publishSrt(srtUrl, { seconds: 16, fps: 25, gopFrames: 50 }));
  await waitFor('3 closed segments', async () => (await closedSegments()) >= 3, 30000);
});

after(async () => {
  for (const p of publishers) p.stop();
  await ingest?.close();
  await app?.close();
  await redis?.close();
});


async function probe(file: string): Promise<Map<string, number>> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,start_time', '-of', 'json', file], { timeout: 10000 });
  const streams = (JSON.parse(stdout) as { streams: { codec_name: string; start_time: string }[] }).streams;
  return new Map(streams.map((s) => [s.codec_name, Number(s.start_time)]));
}

describe('MPEG-TS for legacy players', () => {
  it('master?format=ts lists TS variants with muxed audio; the media playlist is version 3 without parts', { timeout: 20000 }, async () => {
    const m = await get(`/live/${CH}/master.m3u8?format=ts`);
    assert.equal(m.status, 200, m.text);
    assert.equal(m.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    const master = parseM3u8(m.text);
    assert.deepEqual(master.warnings, []);
    assert.match(m.text, /^#EXT-X-VERSION:3$/m);
    assert.doesNotMatch(m.text, /EXT-X-MEDIA|AUDIO=/);
    const v = master.manifest.playlists?.[0];
    assert.equal(v?.uri, 'ts-source.m3u8');
    assert.match((v?.attributes as { CODECS: string }).CODECS, /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);

    const [tsText, cmafText] = await Promise.all([get(`/live/${CH}/ts-source.m3u8`), get(`/live/${CH}/v-source.m3u8`)]);
    assert.equal(tsText.status, 200, tsText.text);
    const p = parseM3u8(tsText.text);
    assert.deepEqual(p.warnings, [], tsText.text);
    assert.match(tsText.text, /^#EXT-X-VERSION:3$/m);
    assert.doesNotMatch(tsText.text, /EXT-X-PART|EXT-X-MAP|EXT-X-SERVER-CONTROL|EXT-X-PRELOAD-HINT|EXT-X-RENDITION-REPORT/);
    assert.ok(p.manifest.segments.length >= 2);
    for (const s of p.manifest.segments) {
      assert.ok(s.dateTimeString, 'PROGRAM-DATE-TIME on every segment');
      assert.match(s.uri, /^ts-source-\d+\.ts$/);
    }
    const cmaf = parseM3u8(cmafText.text).manifest;
    const msnOf = (uri: string): number => Number(/-(\d+)\.(?:ts|m4s)$/.exec(uri)?.[1]);
    const tsSegs = new Map(p.manifest.segments.map((s) => [msnOf(s.uri), s]));
    let shared = 0;
    for (const s of cmaf.segments) {
      const t = tsSegs.get(msnOf(s.uri));
      if (!t) continue;
      shared++;
      assert.equal(t.duration, s.duration);
      assert.equal(t.dateTimeString, s.dateTimeString);
    }
    assert.ok(shared >= 2, 'the same media sequence numbers as the CMAF playlist');
    assert.equal(p.manifest.mediaSequence, msnOf(p.manifest.segments[0]?.uri as string));
  });

  it('a .ts segment holds h264 + aac starting where the CMAF segments start; immutable, one build', { timeout: 30000 }, async () => {
    const p = parseM3u8((await get(`/live/${CH}/ts-source.m3u8`)).text).manifest;
    const uri = p.segments[p.segments.length - 2]?.uri as string;
    const msn = Number(/-(\d+)\.ts$/.exec(uri)?.[1]);
    const dir = await mkdtemp(join(tmpdir(), 'beamline-ts-'));
    try {
      const all = await Promise.all(Array.from({ length: 20 }, () => get(`/live/${CH}/${uri}`)));
      const seg = all[0] as Awaited<ReturnType<typeof get>>;
      assert.equal(seg.status, 200, seg.text);
      assert.ok(all.every((r) => r.body.equals(seg.body)));
      assert.equal(seg.headers.get('content-type'), 'video/mp2t');
      assert.equal(seg.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assert.ok(seg.headers.get('etag'));
      assert.equal(seg.body.length % 188, 0);
      const tsFile = join(dir, 'seg.ts');
      await writeFile(tsFile, seg.body);
      const ts = await probe(tsFile);
      assert.deepEqual([...ts.keys()].sort(), ['aac', 'h264']);
      let cmafBytes = 0;
      for (const [stem, codec, tolerance] of [['v-source', 'h264', 1 / 90000], ['audio', 'aac', 1024 / 48000]] as const) {
        const [init, media] = await Promise.all([get(`/live/${CH}/${stem}-init.mp4`), get(`/live/${CH}/${stem}-${msn}.m4s`)]);
        cmafBytes += media.body.length;
        const file = join(dir, `${stem}.mp4`);
        await writeFile(file, Buffer.concat([init.body, media.body]));
        const cmafStart = (await probe(file)).get(codec) as number;
        const tsStart = ts.get(codec) as number;
        assert.ok(Math.abs(cmafStart - tsStart) <= tolerance + 1e-6, `${codec}: TS starts at ${tsStart} s, CMAF at ${cmafStart} s`);
      }
      console.log(`segment ${msn}: TS ${seg.body.length} bytes, CMAF video + audio ${cmafBytes} bytes`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal((await get(`/live/${CH}/ts-source-999999.ts`)).status, 404);
    assert.equal((await get(`/live/${CH}/ts-nope.m3u8`)).status, 404);
  });

  it('ffmpeg decodes the TS master; a catch-up range is a VOD playlist of TS segments', { timeout: 40000 }, async () => {
    const hls = await ffmpegDecode(`${base}/live/${CH}/master.m3u8?format=ts`, 4);
    assert.ok(hls.video > 0 && hls.audio > 0, hls.stderr);
    assert.doesNotMatch(hls.stderr, /corrupt|non[- ]monoton|Continuity check/i, 'no corrupt packets across segment boundaries');
    const segs = (await live.lastSegments(CH, 100)).filter((s) => s.durationPts !== null);
    const a = segs[1];
    const b = segs[2];
    assert.ok(a && b);
    const start = ((a.wallClockMs + 10) / 1000).toFixed(3);
    const end = ((b.wallClockMs + 10) / 1000).toFixed(3);
    const m = await get(`/live/${CH}/master.m3u8?format=ts&start=${start}&end=${end}`);
    assert.match(m.text, /ts-source\.m3u8\?start=/);
    const r = await get(`/live/${CH}/ts-source.m3u8?start=${start}&end=${end}`);
    assert.equal(r.status, 200, r.text);
    const p = parseM3u8(r.text);
    assert.deepEqual(p.warnings, []);
    assert.equal(p.manifest.endList, true);
    assert.equal(p.manifest.mediaSequence, a.index);
    assert.deepEqual(p.manifest.segments.map((s) => s.uri), [`ts-source-${a.index}.ts`, `ts-source-${b.index}.ts`]);
  });
});
