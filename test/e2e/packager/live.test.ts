/**
 * The /live packager end to end: a channel published over SRT by ffmpeg (testsrc2 + sine, 2 s
 * keyframes) through the real ingest into Redis, served by the live plugin on a loopback listener.
 * Independent parsers (m3u8-parser, mpd-parser) read every manifest, ffmpeg decodes HLS, DASH and a
 * catch-up range, ffprobe checks each segment's media duration against its EXTINF; blocking reload,
 * too-far requests, bad catch-up, CORS and cache headers, request coalescing, a rendition with a gap,
 * a publisher reconnect (discontinuity), and a publisher sending MP2 audio played as AAC.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../../core/store/store';
import type { LiveStore } from '../../../core/store/live-store';
import type { SegmentRecord } from '../../../core/model/live';
import type { IngestService } from '../../../ingest/ingest-service';
import { closedSegments as closedSegmentsOf, createRigChannel, ffmpegDecode, httpGet, run, startPackagerRig, type PackagerRig } from './rig';
import { waitFor } from '../../helpers/process';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { parseM3u8, parseMpd } from '../../unit/packager/parsers';

let rig: PackagerRig;
let app: FastifyInstance;
let store: Store;
let live: LiveStore;
let ingest: IngestService;
let base = '';
let srtUrl = '';
let publishers: Publisher[] = [];
const registry = new Registry();
const CH = 'pk';

const get = (path: string) => httpGet(base, path);
const closedSegments = () => closedSegmentsOf(live, CH);
function metric(name: string): Promise<number> {
  return registry.getSingleMetricAsString(name).then((t) => Number(/\s(\d+(\.\d+)?)\s*$/m.exec(t)?.[1] ?? 0));
}

beforeAll(async () => {
  rig = await startPackagerRig(CH, registry);
  ({ app, store, live, ingest, base, srtUrl, publishers } = rig);
});

afterAll(async () => {
  await rig?.close();
});

describe('live HLS', () => {
  it('master and media playlists parse without warnings and carry what players need', { timeout: 20000 }, async () => {
    const m = await get(`/live/${CH}/master.m3u8`);
    assert.equal(m.status, 200);
    assert.equal(m.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    const master = parseM3u8(m.text);
    assert.deepEqual(master.warnings, []);
    // One audio track: the variant carries it (muxed), no audio group.
    const v = master.manifest.playlists?.[0];
    assert.ok(v, m.text);
    assert.equal(v.uri, 'av-source.m3u8');
    type Attrs = { BANDWIDTH: number; 'AVERAGE-BANDWIDTH': number; CODECS: string; RESOLUTION: { width: number; height: number }; 'FRAME-RATE': number; AUDIO?: string };
    const attrs = v.attributes as Attrs;
    assert.ok(attrs.BANDWIDTH >= attrs['AVERAGE-BANDWIDTH'] && attrs['AVERAGE-BANDWIDTH'] > 64000, m.text);
    assert.match(attrs.CODECS, /^avc1\.[0-9a-f]{6},mp4a\.40\.2$/);
    assert.deepEqual(attrs.RESOLUTION, { width: 320, height: 240 });
    assert.equal(attrs['FRAME-RATE'], 25);
    assert.equal(attrs.AUDIO, undefined);
    assert.ok(!m.text.includes('TYPE=AUDIO'), m.text);

    // Asked for separate renditions: the video variant names the audio group.
    const sep = await get(`/live/${CH}/master.m3u8?audio=separate`);
    assert.equal(sep.status, 200);
    const separate = parseM3u8(sep.text);
    assert.deepEqual(separate.warnings, []);
    const sv = separate.manifest.playlists?.[0];
    assert.equal(sv?.uri, 'v-source.m3u8');
    assert.equal((sv?.attributes as Attrs).AUDIO, 'audio');
    assert.equal((sv?.attributes as Attrs).BANDWIDTH, attrs.BANDWIDTH);
    const bad = await get(`/live/${CH}/master.m3u8?audio=both`);
    assert.equal(bad.status, 400);
    assert.match(bad.text, /"message":"audio must be 'muxed' or 'separate'"/);

    for (const file of ['av-source.m3u8', 'v-source.m3u8', 'audio.m3u8']) {
      const r = await get(`/live/${CH}/${file}`);
      assert.equal(r.status, 200, r.text);
      const p = parseM3u8(r.text);
      assert.deepEqual(p.warnings, [], r.text);
      assert.ok((p.manifest.mediaSequence ?? 0) >= 1);
      assert.ok(p.manifest.segments.length >= 2);
      for (const s of p.manifest.segments) assert.ok(s.dateTimeString, 'PROGRAM-DATE-TIME on every segment');
      assert.ok(p.manifest.serverControl?.canBlockReload);
      assert.ok(p.manifest.partInf?.partTarget);
      assert.match(r.text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="/);
      // Reports name what a player of this playlist may switch to: the audio and video renditions report each
      // other; a muxed one (this channel has no rung) has nothing to report.
      if (file.startsWith('av-')) assert.doesNotMatch(r.text, /#EXT-X-RENDITION-REPORT/);
      else assert.match(r.text, /#EXT-X-RENDITION-REPORT:URI="/);
      assert.match(r.text, /#EXT-X-PART:DURATION=/);
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.equal(r.headers.get('cache-control'), 'public, max-age=1');
    }
    const delta = await get(`/live/${CH}/v-source.m3u8?_HLS_skip=YES`);
    assert.equal(delta.status, 200);
  });

  it('a muxed segment and part hold the video of the video rendition and the audio of the same time (ffprobe)', { timeout: 30000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beamline-pk-'));
    type Pkt = { stream_index: number; pts: number; duration?: number };
    const probe = async (name: string, body: Buffer): Promise<Pkt[]> => {
      const file = join(dir, name);
      await writeFile(file, body);
      const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,pts,duration', '-of', 'json', file], { timeout: 10000 });
      return (JSON.parse(stdout) as { packets: Pkt[] }).packets.map((k) => ({ ...k, pts: Number(k.pts), ...(k.duration === undefined ? {} : { duration: Number(k.duration) }) }));
    };
    try {
      const text = (await get(`/live/${CH}/av-source.m3u8`)).text;
      const p = parseM3u8(text).manifest;
      assert.match(text, /#EXT-X-MAP:URI="av-source-init\.mp4"/);
      const init = await get(`/live/${CH}/av-source-init.mp4`);
      assert.equal(init.status, 200);
      const seg = p.segments[p.segments.length - 1];
      assert.ok(seg?.parts?.length, text);
      for (const uri of [seg.uri, (seg.parts?.[1] as { uri: string }).uri]) {
        const muxed = await get(`/live/${CH}/${uri}`);
        assert.equal(muxed.status, 200, muxed.text);
        const alone = await get(`/live/${CH}/${uri.replace(/^av-/, 'v-')}`);
        const videoInit = await get(`/live/${CH}/v-source-init.mp4`);
        const both = await probe('muxed.mp4', Buffer.concat([init.body, muxed.body]));
        const video = both.filter((k) => k.stream_index === 0);
        const audio = both.filter((k) => k.stream_index === 1);
        // The video is the video rendition's, frame for frame.
        assert.deepEqual(video.map((k) => k.pts), (await probe('video.mp4', Buffer.concat([videoInit.body, alone.body]))).map((k) => k.pts), uri);
        // The audio covers the same time: starts within an AAC frame of the video, ends within one of its end.
        assert.ok(audio.length > 0, `${uri}: no audio`);
        const vStart = Math.min(...video.map((k) => k.pts)) / 90000;
        const vEnd = Math.max(...video.map((k) => k.pts + (k.duration ?? 0))) / 90000;
        const aStart = (audio[0] as Pkt).pts / 48000;
        const aEnd = ((audio[audio.length - 1] as Pkt).pts + 1024) / 48000;
        const frame = 1024 / 48000;
        assert.ok(Math.abs(aStart - vStart) <= frame + 0.05 && Math.abs(aEnd - vEnd) <= frame + 0.05, `${uri}: audio ${aStart}-${aEnd} s, video ${vStart}-${vEnd} s`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('each segment lasts exactly its EXTINF (ffprobe), video and audio', { timeout: 30000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beamline-pk-'));
    try {
      for (const stem of ['v-source', 'audio']) {
        const p = parseM3u8((await get(`/live/${CH}/${stem}.m3u8`)).text).manifest;
        const init = await get(`/live/${CH}/${stem}-init.mp4`);
        assert.equal(init.status, 200);
        for (const s of p.segments.slice(-2)) {
          const seg = await get(`/live/${CH}/${s.uri}`);
          assert.equal(seg.status, 200, seg.text);
          const file = join(dir, `${stem}.mp4`);
          await writeFile(file, Buffer.concat([init.body, seg.body]));
          const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=pts,duration', '-of', 'json', file], { timeout: 10000 });
          const packets = (JSON.parse(stdout) as { packets: { pts: number; duration: number }[] }).packets;
          const tb = stem === 'audio' ? 48000 : 90000;
          // ffprobe gives no per-packet duration for AAC in fMP4: audio spans first pts to last pts + one frame.
          const total = stem === 'audio'
            ? (Number(packets[packets.length - 1]?.pts) + 1024 - Number(packets[0]?.pts)) / tb
            : packets.reduce((t, k) => t + Number(k.duration), 0) / tb;
          const tolerance = stem === 'audio' ? 1024 / 48000 + 1e-6 : 1e-6;
          assert.ok(Math.abs(total - s.duration) <= tolerance, `${stem} ${s.uri}: media ${total} s vs EXTINF ${s.duration} s`);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('ffmpeg decodes video and audio of the live master playlist and of the MPD', { timeout: 40000 }, async () => {
    const hls = await ffmpegDecode(`${base}/live/${CH}/master.m3u8`, 3);
    assert.ok(hls.video > 0 && hls.audio > 0, hls.stderr);
    const mpdText = (await get(`/live/${CH}/manifest.mpd`)).text;
    const mpd = parseMpd(mpdText, `${base}/live/${CH}/manifest.mpd`);
    assert.ok(mpd.playlists.length >= 1 && (mpd.playlists[0]?.segments.length ?? 0) >= 2, mpdText);
    assert.ok(Object.keys(mpd.mediaGroups.AUDIO).length >= 1);
    assert.match(mpdText, /<UTCTiming schemeIdUri="urn:mpeg:dash:utc:http-iso:2014" value="\/live\/time"\/>/);
    const dash = await ffmpegDecode(`${base}/live/${CH}/manifest.mpd`, 3);
    assert.ok(dash.video > 0 && dash.audio > 0, dash.stderr);
    const t = await get('/live/time');
    assert.ok(Math.abs(Date.parse(t.text) - Date.now()) < 5000);
  });

  it('blocking reload answers when the part arrives; too far ahead is a 400', { timeout: 20000 }, async () => {
    const p = parseM3u8((await get(`/live/${CH}/v-source.m3u8`)).text).manifest;
    const lastMsn = (p.mediaSequence ?? 0) + p.segments.length - 1;
    const pending = p.preloadSegment?.parts?.length ?? 0;
    const t0 = Date.now();
    const r = await get(`/live/${CH}/v-source.m3u8?_HLS_msn=${lastMsn + 1}&_HLS_part=${pending}`);
    const waited = Date.now() - t0;
    assert.equal(r.status, 200);
    const again = parseM3u8(r.text).manifest;
    const now = (again.mediaSequence ?? 0) + again.segments.length - 1;
    const nowPending = again.preloadSegment?.parts?.length ?? 0;
    assert.ok(now > lastMsn || nowPending > pending, `the playlist moved on (${lastMsn}.${pending} → ${now}.${nowPending})`);
    assert.ok(waited < 2000, `answered ${waited} ms after the request`);
    console.log(`blocking reload for part ${lastMsn + 1}.${pending}: answered after ${waited} ms`);
    const far = await get(`/live/${CH}/v-source.m3u8?_HLS_msn=${lastMsn + 10}`);
    assert.equal(far.status, 400);
    assert.equal((JSON.parse(far.text) as { statusCode: number }).statusCode, 400);
  });

  it('the preload-hinted part is answered once it is whole (blocking), with the bytes it keeps; a part beyond the hint is a 404 JSON', { timeout: 20000 }, async () => {
    for (const stem of ['v-source', 'audio']) {
      // Asked for before it exists, as a player does: the answer waits for the part, then it is listed. A hint
      // for a part after a segment's last one (the keyframe came and the segment closed instead) is never
      // produced: that request is a 404, the part is never listed, and the next playlist hints the next segment.
      let hint: string | undefined;
      let r: Response | undefined;
      for (let attempt = 0; attempt < 3; attempt++) {
        const text = (await get(`/live/${CH}/${stem}.m3u8`)).text;
        hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(text)?.[1];
        assert.ok(hint, `${stem} has a preload hint`);
        r = await fetch(`${base}/live/${CH}/${hint}`);
        if (r.status !== 404) break;
        const [, hs, hp] = /-(\d+)\.(\d+)\.m4s$/.exec(hint) as RegExpExecArray;
        const after = (await get(`/live/${CH}/${stem}.m3u8`)).text;
        assert.ok(!after.includes(`URI="${hint}"`), `${hint} answered 404 but was listed`);
        assert.ok(Number(hp) > 0 && after.includes(`${stem}-${hs}.${Number(hp) - 1}.m4s`), `a 404 only for a hint past the last part of segment ${hs}`);
        assert.ok(after.includes(`${stem}-${Number(hs) + 1}.`), `segment ${hs} closed and the next one began`);
      }
      assert.ok(hint && r);
      assert.equal(r.status, 200, `${stem} hinted part ${hint}`);
      const body = Buffer.from(await r.arrayBuffer());
      assert.ok(body.length > 0);
      const listed = await waitFor(`${hint} listed`, async () => (await get(`/live/${CH}/${stem}.m3u8`)).text.includes(`URI="${hint}"`), 3000);
      assert.ok(listed);
      const again = Buffer.from(await (await fetch(`${base}/live/${CH}/${hint}`)).arrayBuffer());
      assert.ok(again.equals(body), `${hint} did not change once announced`);
      const [, seg, part] = /-(\d+)\.(\d+)\.m4s$/.exec(hint) as RegExpExecArray;
      const beyond = await get(`/live/${CH}/${stem}-${seg}.${Number(part) + 20}.m4s`);
      assert.equal(beyond.status, 404);
      assert.equal((JSON.parse(beyond.text) as { statusCode: number }).statusCode, 404);
    }
  });

  it('segments are immutable with ETag and CORS; 200 concurrent requests cause one build', { timeout: 20000 }, async () => {
    const p = parseM3u8((await get(`/live/${CH}/audio.m3u8`)).text).manifest;
    const uri = (p.segments[0]?.uri as string).replace(/\.m4s$/, '.1.m4s'); // a part nobody has asked for yet
    const misses = await metric('beam_packager_cache_misses_total');
    const all = await Promise.all(Array.from({ length: 200 }, () => get(`/live/${CH}/${uri}`)));
    assert.ok(all.every((r) => r.status === 200));
    assert.equal((await metric('beam_packager_cache_misses_total')) - misses, 1, 'one build');
    const first = all[0] as { headers: Headers };
    assert.equal(first.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.equal(first.headers.get('content-type'), 'audio/mp4');
    assert.equal(first.headers.get('access-control-allow-origin'), '*');
    const etag = first.headers.get('etag') as string;
    assert.ok(etag);
    const res304 = await fetch(`${base}/live/${CH}/${uri}`, { headers: { 'if-none-match': etag } });
    assert.equal(res304.status, 304);
    const pre = await app.inject({ method: 'OPTIONS', url: `/live/${CH}/master.m3u8` });
    assert.equal(pre.statusCode, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    const missing = await get(`/live/${CH}/v-source-999999.m4s`);
    assert.equal(missing.status, 404);
  });
});

describe('catch-up', () => {
  it('a closed range lands on the right segments as VOD; ffmpeg plays it; bad ranges are 400 JSON', { timeout: 30000 }, async () => {
    const segs = (await live.lastSegments(CH, 100)).filter((s) => s.durationPts !== null);
    const a = segs[1];
    const b = segs[2];
    assert.ok(a && b);
    const start = new Date(a.wallClockMs + 10).toISOString();
    const end = ((b.wallClockMs + 10) / 1000).toFixed(3);
    const r = await get(`/live/${CH}/v-source.m3u8?start=${start}&end=${end}`);
    assert.equal(r.status, 200, r.text);
    const p = parseM3u8(r.text);
    assert.deepEqual(p.warnings, []);
    assert.equal(p.manifest.endList, true);
    assert.equal(p.manifest.playlistType, 'VOD');
    assert.equal(p.manifest.mediaSequence, a.index);
    assert.deepEqual(p.manifest.segments.map((s) => Date.parse(s.dateTimeString as string)), [a.wallClockMs, b.wallClockMs]);
    const m = await get(`/live/${CH}/master.m3u8?start=${start}&end=${end}`);
    assert.match(m.text, /v-source\.m3u8\?start=/);
    const vod = await ffmpegDecode(`${base}/live/${CH}/master.m3u8?start=${encodeURIComponent(start)}&end=${end}`, 10);
    assert.ok(vod.video > 0 && vod.audio > 0, vod.stderr);
    const mpd = await get(`/live/${CH}/manifest.mpd?start=${start}&end=${end}`);
    assert.match(mpd.text, /type="static"/);
    const ev = await get(`/live/${CH}/v-source.m3u8?start=${start}`);
    assert.match(ev.text, /#EXT-X-PLAYLIST-TYPE:EVENT/);
    assert.doesNotMatch(ev.text, /#EXT-X-ENDLIST/);
    for (const q of ['start=yesterday', 'start=1000&end=2000', `start=${end}&end=${end}`, `end=${end}`, `start=${Date.now() / 1000 + 3600}`]) {
      const bad = await get(`/live/${CH}/v-source.m3u8?${q}`);
      assert.equal(bad.status, 400, `${q}: ${bad.text}`);
      const body = JSON.parse(bad.text) as { statusCode: number; error: string; message: string };
      assert.equal(body.statusCode, 400);
      assert.equal(body.error, 'Bad Request');
      assert.ok(body.message.length > 10);
    }
  });
});

describe('renditions', () => {
  it('a rung is listed in the master, plays, and a missing segment is an EXT-X-GAP', { timeout: 20000 }, async () => {
    const source = await store.getFormat(CH);
    assert.ok(source);
    const target = `${CH}.copy`;
    await store.createContent({ ...source, url: target, streams: [source.streams[0] as (typeof source.streams)[number]] });
    const segs = (await live.lastSegments(CH, 100)).filter((s) => s.durationPts !== null);
    for (const s of segs) {
      const packets = await store.readPackets(CH, 0, s.startDts, s.startDts + (s.durationPts as number));
      await store.writePackets(target, packets.map((p) => ({ streamIndex: 0, meta: p.meta, data: p.data })), 600000);
    }
    await store.setRendition({ source: CH, target, streamMap: [{ target: 0, source: [0] }] });
    const gap = segs[segs.length - 2];
    assert.ok(gap);
    await store.deleteElement(target, 0, 'packet', gap.startPts);
    // What a transcoder records: every segment made but one, which is a gap.
    for (const s of segs) await live.recordRungSegment(CH, 'copy', s.index, s.index === gap.index ? 'gap' : 'made', 600000);
    await live.appendEvents(CH, segs.map((s) => ({ type: 'rendition:ready' as const, rendition: 'copy', segment: s.index })));
    await new Promise((r) => setTimeout(r, 300));
    const master = await get(`/live/${CH}/master.m3u8`);
    assert.match(master.text, /v-copy\.m3u8/);
    const r = await get(`/live/${CH}/v-copy.m3u8`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(parseM3u8(r.text).warnings, []);
    assert.match(r.text, new RegExp(`#EXT-X-GAP\\n#EXTINF:[0-9.]+,\\nv-copy-${gap.index}\\.m4s`));
    const last = segs[segs.length - 1] as { index: number };
    const seg = await get(`/live/${CH}/v-copy-${last.index}.m4s`);
    assert.equal(seg.status, 200);
    assert.equal(seg.headers.get('content-type'), 'video/mp4');
    await store.deleteRendition(target); // a stale rung would hold a live player waiting on its playlist
  });

  it('a rendition without a complete segment: its playlist is held until one is made, else a 503 JSON with Retry-After (players retry it; an empty playlist is fatal to them)', { timeout: 30000 }, async () => {
    const source = await store.getFormat(CH);
    assert.ok(source);
    const target = `${CH}.late`;
    await store.createContent({ ...source, url: target, streams: [source.streams[0] as (typeof source.streams)[number]] });
    await store.setRendition({ source: CH, target, streamMap: [{ target: 0, source: [0] }] });
    const segs = (await live.lastSegments(CH, 100)).filter((s) => s.durationPts !== null);
    const last = segs[segs.length - 1] as SegmentRecord;
    // Nothing made: held for the blocking timeout (3 target durations), then asked to come back (a 404 until the
    // packager's view of the channel, at most 2 s old, knows the rung).
    let pending = await get(`/live/${CH}/v-late.m3u8`);
    let held = 0;
    await waitFor('the rung to be known', async () => {
      const t0 = Date.now();
      pending = await get(`/live/${CH}/v-late.m3u8`);
      held = Date.now() - t0;
      return pending.status !== 404;
    }, 5000);
    assert.equal(pending.status, 503, pending.text);
    assert.ok(Number(pending.headers.get('retry-after')) > 0, 'Retry-After');
    assert.match((JSON.parse(pending.text) as { message: string }).message, /has not completed its first segment yet/);
    assert.ok(held > 1500 && held < 15000, `held ${held} ms`);
    // Made while a request is held: that request answers with it.
    const asked = get(`/live/${CH}/v-late.m3u8`);
    await new Promise((r) => setTimeout(r, 400));
    for (const s of segs) {
      const packets = await store.readPackets(CH, 0, s.startDts, s.startDts + (s.durationPts as number));
      await store.writePackets(target, packets.map((p) => ({ streamIndex: 0, meta: p.meta, data: p.data })), 600000);
    }
    await live.recordRungSegment(CH, 'late', last.index, 'made', 600000);
    await live.appendEvents(CH, [{ type: 'rendition:ready', rendition: 'late', segment: last.index }]);
    const r = await asked;
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(parseM3u8(r.text).warnings, []);
    assert.match(r.text, new RegExp(`^v-late-${last.index}\\.m4s$`, 'm'));
    await store.deleteRendition(target);
  });

  it('rung segments finished out of order (made 110 then 109) never move its playlist backwards', { timeout: 20000 }, async () => {
    const source = await store.getFormat(CH);
    assert.ok(source);
    const target = `${CH}.ooo`;
    await store.createContent({ ...source, url: target, streams: [source.streams[0] as (typeof source.streams)[number]] });
    await store.setRendition({ source: CH, target, streamMap: [{ target: 0, source: [0] }] });
    const segs = (await live.lastSegments(CH, 100)).filter((s) => s.durationPts !== null);
    const [older, newer] = segs.slice(-2) as [SegmentRecord, SegmentRecord];
    const newest = async (): Promise<number> => {
      const r = await get(`/live/${CH}/v-ooo.m3u8`);
      assert.equal(r.status, 200, r.text);
      return Math.max(...[...r.text.matchAll(/^v-ooo-(\d+)\.m4s$/gm)].map((m) => Number(m[1])));
    };
    // A worker that took over finishes the newer segment first, then the one its predecessor left.
    for (const s of [newer, older]) {
      await live.recordRungSegment(CH, 'ooo', s.index, 'made', 600000);
      await live.appendEvents(CH, [{ type: 'rendition:ready', rendition: 'ooo', segment: s.index }]);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await newest(), newer.index, `after ${s.index} was made`);
    }
    await store.deleteRendition(target);
  });
});

describe('publisher reconnect', () => {
  it('the playlist carries EXT-X-DISCONTINUITY and the media sequence continues', { timeout: 60000 }, async () => {
    await publishers[0]?.exited;
    const before = (await live.lastSegments(CH, 1))[0]?.index ?? 0;
    publishers.push(publishSrt(srtUrl, { seconds: 7, fps: 25, gopFrames: 50 }));
    await waitFor('a closed segment after the reconnect', async () => (await live.lastSegments(CH, 100)).some((s) => s.index > before && s.durationPts !== null && s.discontinuity), 30000);
    await waitFor('two closed segments after the reconnect', async () => (await live.lastSegments(CH, 100)).filter((s) => s.index > before && s.durationPts !== null).length >= 2, 30000);
    const r = await get(`/live/${CH}/v-source.m3u8`);
    const p = parseM3u8(r.text);
    assert.deepEqual(p.warnings, []);
    assert.match(r.text, /#EXT-X-DISCONTINUITY\n/);
    const hls = await ffmpegDecode(`${base}/live/${CH}/master.m3u8`, 2);
    assert.ok(hls.video > 0 && hls.audio > 0, hls.stderr);
  });
});

describe('a publisher sending MP2 audio', () => {
  it('plays as AAC: the master names mp4a.40.2, ffprobe reads AAC in the audio rendition and ffmpeg decodes both tracks', { timeout: 40000 }, async () => {
    const url = await createRigChannel(app, ingest, 'pk-mp2');
    publishers.push(publishSrt(url, { seconds: 8, fps: 25, gopFrames: 50, audioCodec: 'mp2', audioChannels: 2 }));
    await waitFor('2 closed segments', async () => (await closedSegmentsOf(live, 'pk-mp2')) >= 2, 20000);
    const master = await get('/live/pk-mp2/master.m3u8');
    assert.equal(master.status, 200, master.text);
    assert.match(master.text, /CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2"/);
    assert.match((await get('/live/pk-mp2/master.m3u8?audio=separate')).text, /CHANNELS="2"/);
    const probe = await run('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=codec_name,sample_rate,channels', '-of', 'csv=p=0', `${base}/live/pk-mp2/audio.m3u8`], { timeout: 20000 });
    assert.equal(probe.stdout.trim().split('\n')[0], 'aac,48000,2');
    const hls = await ffmpegDecode(`${base}/live/pk-mp2/master.m3u8`, 2);
    assert.ok(hls.video > 0 && hls.audio > 0, hls.stderr);
  });
});
