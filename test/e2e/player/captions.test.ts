/**
 * Closed captions end to end: a caption-bearing stream (H.264 with CEA-608 pop-on captions and a CEA-708 service in A/53 SEI, made by
 * test/helpers/captions.ts) published over SRT by ffmpeg (`-c copy`) to the in-process stack with the packager
 * and the transcoders. An independent reader (ffmpeg's own 608 decoder, lavfi `movie` with `+subcc`) reads the
 * caption text back from a source segment and from a transcoded rung's segments, CMAF and MPEG-TS; the master
 * playlists declare CLOSED-CAPTIONS (automatic detection, then the channel's `captions` setting) and the MPD an
 * Accessibility descriptor; a channel without captions declares none. In Chromium, the bundled player's hls.js
 * makes a caption text track whose cues hold the text, the CC menu lists it, and choosing it shows it.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser, type TestBrowser } from '../../helpers/browser';
import { AUTH } from '../../helpers/app';
import { makeCaptionedTs, readCaptionsWithFfmpeg } from '../../helpers/captions';
import { sampleCaptions, type A53Seen } from '../../../packager/codecs/captions';
import { publishSrt, wrapFfmpeg, type Publisher } from '../../helpers/publishers';
import { startStack, type Stack } from './stack';
import { waitFor } from '../../helpers/process';

const TEXTS = ['HELLO BEAMLINE', 'CAPTIONS PASS THROUGH'];
const CH = 'cc-live';
const PLAIN = 'cc-none';
/** 180p at the source's 25 fps; 120p at 12.5 fps, so half the pictures are dropped and their captions must move. */
const LADDER = [
  { name: '180p', width: 320, height: 180, videoBitrate: 250000 },
  { name: '120p', width: 160, height: 120, videoBitrate: 120000, fps: 12.5 },
];

let stack: Stack;
let browser: TestBrowser;
let dir = '';
let cleanupStream: (() => Promise<void>) | null = null;
const publishers: Publisher[] = [];

function failWith(msg: string): string {
  return `${msg}\npublishers: ${publishers.map((p) => p.stderr()).join('\n')}${browser ? `\nbrowser log:\n${browser.logs().join('\n')}` : ''}`;
}

async function get(p: string): Promise<{ status: number; text: string; body: Buffer }> {
  const res = await fetch(`${stack.baseUrl}${p}`, { signal: AbortSignal.timeout(15000) });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, text: body.toString('utf8'), body };
}

async function createChannel(name: string, body: object): Promise<{ ingest: { srt: string } }> {
  const res = await fetch(`${stack.baseUrl}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name, ...body }) });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text) as { ingest: { srt: string } };
}

/** Segment indexes a media playlist lists, in order, without gaps (EXT-X-GAP: a rung segment never made). */
async function segmentsOf(channel: string, file: string, pattern: RegExp): Promise<number[]> {
  const r = await get(`/live/${channel}/${file}`);
  if (r.status !== 200) return [];
  const out: number[] = [];
  let gap = false;
  for (const line of r.text.split('\n')) {
    if (line === '#EXT-X-GAP') gap = true;
    const m = new RegExp(pattern.source).exec(line);
    if (m) {
      if (!gap) out.push(Number(m[1]));
      gap = false;
    }
  }
  return out;
}

/** Three consecutive segments of a rendition written after its init segment (or alone, MPEG-TS) into one file. */
async function saveSegments(name: string, urls: string[]): Promise<string> {
  const parts: Buffer[] = [];
  for (const u of urls) {
    const r = await get(u);
    assert.equal(r.status, 200, `${u}: ${r.text.slice(0, 200)}`);
    parts.push(r.body);
  }
  const file = path.join(dir, name);
  await writeFile(file, Buffer.concat(parts));
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'beam-cc-e2e-'));
  // A caption every 2 s (50 frames) loads in its first 14 frames; keyframes every 25 frames: a segment never
  // starts in the middle of a caption, so every caption a reader decodes from whole segments is whole.
  const made = await makeCaptionedTs({ seconds: 70, fps: 25, size: '320x240', texts: TEXTS, everySeconds: 2, service708: 1 });
  cleanupStream = made.cleanup;
  stack = await startStack({ live: true, transcode: true });
  const ch = await createChannel(CH, { ladder: LADDER });
  publishers.push(wrapFfmpeg(['-i', made.file, '-c', 'copy', '-f', 'mpegts', ch.ingest.srt]));
  const plain = await createChannel(PLAIN, { ladder: [] });
  publishers.push(publishSrt(plain.ingest.srt, { seconds: 60, size: '320x240', fps: 25 }));
  browser = await launchBrowser();
}, 90000);

afterAll(async () => {
  for (const p of publishers) p.stop();
  await browser?.close();
  await stack?.close();
  await cleanupStream?.();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('captions through ingest, transcoders and packager', () => {
  it('the master playlists declare CC1 and the CEA-708 SERVICE1 (seen in the video) on every variant; the MPD Accessibility descriptors', { timeout: 60000 }, async () => {
    const master = await waitFor('a master playlist listing the rung with captions', async () => {
      const r = await get(`/live/${CH}/master.m3u8`);
      return r.status === 200 && r.text.includes('v-180p.m3u8') && r.text.includes('v-120p.m3u8') && r.text.includes('CLOSED-CAPTIONS') ? r.text : null;
    }, 45000).catch((e: Error) => { throw new Error(failWith(e.message)); });
    assert.match(master, /^#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="CC1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="CC1"$/m);
    assert.match(master, /^#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID="cc",NAME="SERVICE1",DEFAULT=NO,AUTOSELECT=YES,INSTREAM-ID="SERVICE1"$/m);
    const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
    assert.equal(variants.length, 3, 'the source and the rungs');
    for (const v of variants) assert.match(v, /,CLOSED-CAPTIONS="cc"/);
    const ts = await get(`/live/${CH}/master.m3u8?format=ts`);
    assert.equal(ts.status, 200);
    assert.match(ts.text, /INSTREAM-ID="CC1"/);
    for (const v of ts.text.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:'))) assert.match(v, /CLOSED-CAPTIONS="cc"/);
    // The MPD lists the segments every rung has: at the start, maybe none yet (404).
    const mpd = await waitFor('the MPD', async () => {
      const r = await get(`/live/${CH}/manifest.mpd`);
      return r.status === 200 ? r : null;
    }, 20000);
    assert.match(mpd.text, /<AdaptationSet id="0" contentType="video"[^>]*>\s*<Accessibility schemeIdUri="urn:scte:dash:cc:cea-608:2015" value="CC1"\/>\s*<Accessibility schemeIdUri="urn:scte:dash:cc:cea-708:2015" value="1"\/>/);
    assert.doesNotMatch(mpd.text.slice(mpd.text.indexOf('contentType="audio"')), /Accessibility/, 'on the video adaptation set only');
  });

  it('a channel without captions declares none', { timeout: 30000 }, async () => {
    const master = await waitFor('the plain channel\'s master', async () => {
      const r = await get(`/live/${PLAIN}/master.m3u8`);
      return r.status === 200 ? r.text : null;
    }, 25000).catch((e: Error) => { throw new Error(failWith(e.message)); });
    assert.doesNotMatch(master, /CLOSED-CAPTIONS/);
    const mpd = await waitFor('the plain channel\'s MPD', async () => {
      const r = await get(`/live/${PLAIN}/manifest.mpd`);
      return r.status === 200 ? r : null;
    }, 20000);
    assert.doesNotMatch(mpd.text, /Accessibility/);
  });

  it('ffmpeg reads the caption text from source segments and from the transcoded rungs (CMAF and MPEG-TS)', { timeout: 90000 }, async () => {
    const msns = await waitFor('four segments of both rungs', async () => {
      const a = await segmentsOf(CH, 'v-180p.m3u8', /^v-180p-(\d+)\.m4s$/);
      const b = new Set(await segmentsOf(CH, 'v-120p.m3u8', /^v-120p-(\d+)\.m4s$/));
      // three consecutive segments both rungs made (a caption is never cut by a missing segment), not the newest
      const both = a.filter((n) => b.has(n)).slice(0, -1);
      for (let i = both.length - 3; i >= 0; i--) {
        const run = both.slice(i, i + 3);
        if (run[2] === (run[0] as number) + 2) return run;
      }
      return null;
    }, 45000).catch((e: Error) => { throw new Error(failWith(e.message)); });
    const files: Array<[string, string]> = [
      ['source CMAF', await saveSegments('source.mp4', [`/live/${CH}/v-source-init.mp4`, ...msns.map((n) => `/live/${CH}/v-source-${n}.m4s`)])],
      ['180p CMAF', await saveSegments('180p.mp4', [`/live/${CH}/v-180p-init.mp4`, ...msns.map((n) => `/live/${CH}/v-180p-${n}.m4s`)])],
      ['180p MPEG-TS', await saveSegments('180p.ts', msns.map((n) => `/live/${CH}/ts-180p-${n}.ts`))],
      ['120p (12.5 fps) CMAF', await saveSegments('120p.mp4', [`/live/${CH}/v-120p-init.mp4`, ...msns.map((n) => `/live/${CH}/v-120p-${n}.m4s`)])],
    ];
    for (const [what, file] of files) {
      const srt = await readCaptionsWithFfmpeg(file);
      // Every caption decoded is whole: a thinned rung that lost the dropped pictures' bytes shows "HEO AMNE".
      const cues = [...srt.matchAll(/\}([^<]*)<\/font>/g)].map((m) => m[1]);
      assert.ok(cues.length >= 1, `${what}: ffmpeg decoded captions ${JSON.stringify(srt.slice(0, 400))}`);
      for (const c of cues) assert.ok(TEXTS.includes(c as string), `${what}: caption ${JSON.stringify(c)} is one of ${JSON.stringify(TEXTS)}`);
    }
    // The CEA-708 service goes through too: a second of each rung's video packets (Content Beam API) carries its blocks.
    for (const content of [CH, `${CH}.180p`, `${CH}.120p`]) {
      const packets = (await (await fetch(`${stack.baseUrl}/beams/${content}/video/1st-30th`)).json()) as { pts: number }[];
      const seen: A53Seen = { cea608: false, dtvcc: false, services: new Set() };
      for (const p of packets) sampleCaptions(Buffer.from(await (await fetch(`${stack.baseUrl}/beams/${content}/video/packet_${p.pts}/data`)).arrayBuffer()), seen);
      assert.deepEqual([seen.cea608, [...seen.services]], [true, [1]], `${content}: 608 and 708 service 1 in its video`);
    }
  });

  it("the channel's captions setting names the service in the playlists; [] declares none", { timeout: 40000 }, async () => {
    const patch = async (captions: unknown) => {
      const res = await fetch(`${stack.baseUrl}/api/channels/${CH}`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ captions }) });
      assert.equal(res.status, 200, await res.text());
    };
    const bad = await fetch(`${stack.baseUrl}/api/channels/${CH}`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ captions: [{ channel: 'CC9', name: 'x' }] }) });
    assert.equal(bad.status, 400);
    const problem = (await bad.json()) as { statusCode: number; error: string; message: string };
    assert.equal(problem.statusCode, 400);
    assert.match(problem.message, /captions/);
    await patch([{ channel: 'CC1', language: 'en', name: 'English' }]);
    const view = (await (await fetch(`${stack.baseUrl}/api/channels/${CH}`, { headers: AUTH })).json()) as { captions: unknown };
    assert.deepEqual(view.captions, [{ channel: 'CC1', language: 'en', name: 'English' }]);
    await waitFor('the master to name the English service', async () => (await get(`/live/${CH}/master.m3u8`)).text.includes('LANGUAGE="en",NAME="English"'), 20000);
    await waitFor('the MPD to name its language', async () => (await get(`/live/${CH}/manifest.mpd`)).text.includes('value="CC1=en"'), 20000);
    await patch([]);
    await waitFor('the master to declare none', async () => !(await get(`/live/${CH}/master.m3u8`)).text.includes('CLOSED-CAPTIONS'), 20000);
    await patch([{ channel: 'CC1', language: 'en', name: 'English' }]);
    await waitFor('the master to name the English service again', async () => (await get(`/live/${CH}/master.m3u8`)).text.includes('NAME="English"'), 20000);
  });
});

describe('the player', () => {
  it('hls.js makes a caption track whose cues hold the text; the CC menu lists it and shows it', { timeout: 60000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.baseUrl}/player/?channel=${CH}`);
    type Tracks = { label: string; language: string; mode: string; cues: { text: string; start: number }[] }[];
    // Near the live edge hls.js loads LL-HLS parts: a caption loaded over several parts must survive them.
    await waitFor('the player to start', () => page.evaluate<boolean>('!!(window.beamPlayer && window.beamPlayer.hls)'), 15000);
    await page.evaluate(`(() => {
      window.firstPartStart = null;
      window.beamPlayer.hls.on('hlsFragLoading', (_e, d) => {
        if (d.part && d.frag.type === 'main' && window.firstPartStart === null) window.firstPartStart = d.part.start;
      });
    })()`);
    const read = () => page.evaluate<Tracks>(`(() => [...document.getElementById('video').textTracks].map((t) => ({
      label: t.label, language: t.language, mode: t.mode, cues: t.cues ? [...t.cues].map((c) => ({ text: c.text, start: c.startTime })) : [],
    })))()`);
    // Two captions (one every 2 s), each loaded over several 0.2 s parts.
    const captioned = (t: Tracks, from: number) => t.some((x) => x.cues.filter((c) => c.start >= from && TEXTS.some((s) => c.text.includes(s))).length >= 2);
    const tracks = await waitFor('two caption cues with the text, from media loaded as parts', async () => {
      const from = await page.evaluate<number | null>('window.firstPartStart');
      const t = await read();
      return from !== null && captioned(t, from) ? t : null;
    }, 40000).catch(async (e: Error) => {
      await browser.screenshot(page, 'player-captions-failed').catch(() => undefined);
      throw new Error(failWith(`${e.message}; first part at ${await page.evaluate('window.firstPartStart').catch(() => null)}; tracks ${JSON.stringify(await read().catch(() => null))}`));
    });
    const cc = tracks.find((t) => t.cues.length > 0);
    assert.equal(cc?.label, 'English', 'named from the CLOSED-CAPTIONS entry');
    assert.equal(cc?.mode, 'hidden', 'off until chosen');
    const options = await page.locator('#captions option').allTextContents();
    assert.deepEqual(options, ['Off', 'English']);
    await page.selectOption('#captions', { label: 'English' });
    await waitFor('the track to show', async () => (await read()).find((t) => t.label === 'English')?.mode === 'showing', 5000);
    await browser.screenshot(page, 'player-captions');
    await page.selectOption('#captions', { label: 'Off' });
    await waitFor('captions off', async () => (await read()).every((t) => t.mode !== 'showing'), 5000);
    await page.close();
  });
});
