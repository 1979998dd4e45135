/**
 * MPEG-TS for legacy HLS players end to end: a channel published over SRT by ffmpeg, served by the
 * live plugin. `master.m3u8?format=ts` and `ts-source.m3u8` parse (version 3, no LL-HLS, muxed
 * audio), a `.ts` segment holds h264 + aac whose start times (ffprobe) match the CMAF segments of the
 * same media sequence number, ffmpeg decodes the TS master, catch-up ranges give VOD playlists.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { Store } from '../../../core/store/store';
import type { LiveStore } from '../../../core/store/live-store';
import { closedSegments as closedSegmentsOf, ffmpegDecode, httpGet, run, startPackagerRig, type PackagerRig } from './rig';
import { parseM3u8 } from '../../unit/packager/parsers';

let rig: PackagerRig;
let store: Store;
let live: LiveStore;
let base = '';
const registry = new Registry();
const CH = 'pkts';

const get = (path: string) => httpGet(base, path);
const closedSegments = () => closedSegmentsOf(live, CH);

beforeAll(async () => {
  rig = await startPackagerRig(CH, registry);
  ({ store, live, base } = rig);
});

afterAll(async () => {
  await rig?.close();
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
