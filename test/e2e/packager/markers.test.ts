/**
 * Ad markers end to end: a channel published over SRT by ffmpeg through the real ingest; a marker POSTed over
 * HTTP with the API token appears as EXT-X-DATERANGE (SCTE35-OUT/IN) in the live video and audio playlists,
 * the TS playlist and a catch-up range, with the segment whose PROGRAM-DATE-TIME span holds it, and as a
 * SCTE-35 Event in the MPD at the media time of that instant (read by m3u8-parser, mpd-parser and a DOM).
 * Bad bodies are 400 JSON, an anonymous POST 401; DELETE cancels a future marker, not one that has begun.
 * A publisher with a 0.48 s GOP: both ends of a break start a segment (cut at the first keyframe after each).
 * A publisher sending SCTE-35 in its MPEG-TS (a splice_insert on a SCTE-35 PID, repeated as encoders do): one
 * marker from it, at its splice time, cut at and listed with the section as sent.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { DOMParser } from '@xmldom/xmldom';
import { TIMELINE_HZ, type SegmentRecord } from '../../../core/model/live';
import { closedSegments, createRigChannel, httpGet, startPackagerRig, type PackagerRig } from './rig';
import { spawn } from 'node:child_process';
import { publishSrt } from '../../helpers/publishers';
import { withScte35 } from '../../helpers/scte35-ts';
import { encodeSpliceInsert } from '../../../core/model/marker';
import { waitFor } from '../../helpers/process';
import { AUTH } from '../../helpers/app';
import { parseM3u8, parseMpd } from '../../unit/packager/parsers';

let rig: PackagerRig;
const CH = 'mk';
const registry = new Registry();
const get = (path: string) => httpGet(rig.base, path);

async function post(body: unknown, headers: Record<string, string> = AUTH): Promise<{ status: number; json: Record<string, unknown>; type: string }> {
  const res = await fetch(`${rig.base}/api/channels/${CH}/markers`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(10000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, type: res.headers.get('content-type') ?? '' };
}

/** The PROGRAM-DATE-TIME span [start, end) of the segment each EXT-X-DATERANGE line follows, by the tag's SCTE35 kind. */
function dateRangeSpans(text: string, id: string): { kind: 'OUT' | 'IN'; pdt: number; end: number }[] {
  const lines = text.split('\n');
  const out: { kind: 'OUT' | 'IN'; pdt: number; end: number }[] = [];
  let pdt = NaN;
  lines.forEach((l, i) => {
    if (l.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(l.slice(25));
    if (l.startsWith('#EXT-X-DATERANGE:') && l.includes(`ID="${id}"`)) {
      const inf = lines.slice(i).find((x) => x.startsWith('#EXTINF:'));
      // A tag after the last segment (announced ahead) has no EXTINF after it: NaN span.
      out.push({ kind: l.includes('SCTE35-OUT') ? 'OUT' : 'IN', pdt, end: inf ? pdt + Number(inf.slice(8).split(',')[0]) * 1000 : NaN });
    }
  });
  return out;
}

beforeAll(async () => {
  rig = await startPackagerRig(CH, registry);
}, 60000);

afterAll(async () => {
  await rig?.close();
});

describe('ad markers (SCTE-35) end to end', () => {
  it('refuses anonymous and bad requests with JSON errors', async () => {
    const anon = await post({ type: 'ad-break', duration: 30 }, {});
    assert.equal(anon.status, 401);
    assert.match(anon.type, /application\/json/);
    assert.equal(anon.json.statusCode, 401);
    for (const body of [{ type: 'nope' }, { type: 'ad-break', duration: -1 }, { type: 'ad-break', start: 'yesterday' }, { type: 'ad-break', extra: 1 }, '{not json']) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.type, /application\/json/);
      assert.equal(r.json.error, 'Bad Request');
      assert.equal(typeof r.json.message, 'string');
    }
    const missing = await fetch(`${rig.base}/api/channels/nosuch/markers`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: '{"type":"ad-break"}' });
    assert.equal(missing.status, 404);
  });

  it('a break is in the live video, audio and TS playlists with the segment it starts, in the MPD at its media time, and in catch-up', { timeout: 40000 }, async () => {
    // 1.5 s ahead: the publishing ingest (which reads markers every second) cuts at the first keyframe after it.
    const r = await post({ type: 'ad-break', duration: 3, start: Date.now() + 1500 });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const id = r.json.id as string;
    const startMs = r.json.startMs as number;
    assert.match(id, /^splice-[0-9A-F]{8}$/);
    const list = await (await fetch(`${rig.base}/api/channels/${CH}/markers`)).json() as { id: string }[];
    assert.deepEqual(list.map((m) => m.id), [id]);
    assert.equal((await fetch(`${rig.base}/api/channels/${CH}/markers`)).headers.get('content-type')?.startsWith('application/json'), true);

    // Wait until both the OUT and the IN lie within listed segments (the break ends 3 s after it starts).
    let video = '';
    await waitFor('the break inside listed segments', async () => {
      video = (await get(`/live/${CH}/v-source.m3u8`)).text;
      const spans = dateRangeSpans(video, id);
      return spans.length === 2 && spans.every((s) => Number.isFinite(s.end));
    }, 20000);
    // Where ingest cut for the break: the first keyframe at or after each end (a 2 s GOP here).
    const marker = ((await (await fetch(`${rig.base}/api/channels/${CH}/markers`)).json()) as { id: string; splicedMs?: number; splicedInMs?: number }[]).find((m) => m.id === id);
    const outAt = marker?.splicedMs as number;
    const inAt = marker?.splicedInMs as number;
    assert.ok(outAt >= startMs && outAt - startMs <= 2100, `spliced ${outAt - startMs} ms after the marker`);
    assert.ok(inAt >= startMs + 3000 && inAt - startMs - 3000 <= 2100, `return spliced ${inAt - startMs - 3000} ms after the break's end`);
    for (const file of ['v-source.m3u8', 'audio.m3u8', 'ts-source.m3u8']) {
      const text = file === 'v-source.m3u8' ? video : (await get(`/live/${CH}/${file}`)).text;
      const { manifest, warnings } = parseM3u8(text);
      assert.deepEqual(warnings, [], `${file}\n${text}`);
      const dr = manifest.dateRanges?.find((d) => d.id === id);
      assert.ok(dr, `${file}\n${text}`);
      assert.equal(dr.startDate.getTime(), outAt, 'START-DATE is the cut');
      assert.equal(dr.plannedDuration, 3);
      assert.equal(dr.duration, (inAt - outAt) / 1000);
      assert.equal(String(dr.scte35Out).toUpperCase(), `0X${r.json.scte35 as string}`);
      assert.equal(String(dr.scte35In).toUpperCase(), `0X${r.json.scte35In as string}`);
      // Each tag goes with the segment its cut starts.
      for (const s of dateRangeSpans(text, id)) assert.equal(s.pdt, s.kind === 'OUT' ? outAt : inAt, `${file}: ${s.kind}\n${text}`);
    }

    // The MPD: one Event at the media time of the marker's instant, inside the segment that holds it.
    const mpd = (await get(`/live/${CH}/manifest.mpd`)).text;
    const doc = new DOMParser().parseFromString(mpd, 'text/xml');
    const es = doc.getElementsByTagName('EventStream')[0];
    assert.equal(es?.getAttribute('schemeIdUri'), 'urn:scte:scte35:2014:xml+bin', mpd);
    const ev = es?.getElementsByTagName('Event')[0];
    const pt = Number(ev?.getAttribute('presentationTime'));
    assert.equal(Number(ev?.getAttribute('duration')), 3 * TIMELINE_HZ);
    assert.equal(Number(ev?.getAttribute('id')), r.json.eventId);
    const bin = ev?.getElementsByTagNameNS('http://www.scte.org/schemas/35/2016', 'Binary')[0]?.textContent ?? '';
    assert.equal(Buffer.from(bin, 'base64').toString('hex').toUpperCase(), r.json.scte35);
    const records: SegmentRecord[] = await rig.live.lastSegments(CH, 100);
    const spliceSegment = records.find((s) => s.wallClockMs === outAt);
    assert.ok(spliceSegment, JSON.stringify(records.map((s) => [s.index, s.wallClockMs, s.durationPts])));
    assert.equal(pt, spliceSegment.startPts, 'the Event is at the start of the segment the splice starts');
    const parsed = parseMpd(mpd, `${rig.base}/live/${CH}/manifest.mpd`);
    assert.equal(parsed.eventStream?.length, 1);

    // Catch-up: a range covering the marker carries it, in the media playlist and the MPD.
    const q = `start=${new Date(startMs - 4000).toISOString()}&end=${new Date(inAt + 3000).toISOString()}`;
    const cu = await get(`/live/${CH}/v-source.m3u8?${q}`);
    assert.equal(cu.status, 200, cu.text);
    const cm = parseM3u8(cu.text);
    assert.deepEqual(cm.warnings, []);
    assert.ok(cm.manifest.dateRanges?.some((d) => d.id === id && d.startDate.getTime() === outAt && String(d.scte35Out).toUpperCase() === `0X${r.json.scte35 as string}`), cu.text);
    const cmpd = await get(`/live/${CH}/manifest.mpd?${q}`);
    assert.equal(cmpd.status, 200, cmpd.text);
    assert.match(cmpd.text, new RegExp(`<Event presentationTime="${pt}" duration="${3 * TIMELINE_HZ}" id="${r.json.eventId as number}">`));
    // A range before the marker does not carry it.
    const before = await get(`/live/${CH}/v-source.m3u8?start=${new Date(startMs - 8000).toISOString()}&end=${new Date(startMs - 5000).toISOString()}`);
    if (before.status === 200) assert.ok(!before.text.includes(id), before.text);
  });

  it('DELETE cancels a future marker but not one that has begun', async () => {
    const future = await post({ type: 'ad-end', start: new Date(Date.now() + 600_000).toISOString() });
    assert.equal(future.status, 201);
    const del = await fetch(`${rig.base}/api/channels/${CH}/markers/${future.json.id as string}`, { method: 'DELETE', headers: AUTH });
    assert.equal(del.status, 204);
    const list = await (await fetch(`${rig.base}/api/channels/${CH}/markers`)).json() as { id: string; type: string }[];
    assert.ok(!list.some((m) => m.id === future.json.id));
    const begun = list[0];
    assert.ok(begun);
    const refused = await fetch(`${rig.base}/api/channels/${CH}/markers/${begun.id}`, { method: 'DELETE', headers: AUTH });
    assert.equal(refused.status, 409);
    const anon = await fetch(`${rig.base}/api/channels/${CH}/markers/${begun.id}`, { method: 'DELETE' });
    assert.equal(anon.status, 401);
  });

  it('the splice points of a break start segments: cut at the first keyframe at or after each', { timeout: 40000 }, async () => {
    const ch = 'mk2';
    const url = await createRigChannel(rig.app, rig.ingest, ch);
    rig.publishers.push(publishSrt(url, { seconds: 16, fps: 25, gopFrames: 12 }));
    await waitFor('2 closed segments', async () => (await closedSegments(rig.live, ch)) >= 2, 20000);
    const res = await fetch(`${rig.base}/api/channels/${ch}/markers`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ type: 'ad-break', duration: 3, start: Date.now() + 2500 }),
    });
    assert.equal(res.status, 201);
    const m = (await res.json()) as { startMs: number };
    const cues = [m.startMs, m.startMs + 3000];
    await waitFor('segments past the break', async () => {
      const segs = await rig.live.lastSegments(ch, 100);
      return segs.some((s) => s.durationPts !== null && s.wallClockMs > (cues[1] as number) + 500);
    }, 20000);
    const segs = (await rig.live.lastSegments(ch, 100)).filter((s) => s.durationPts !== null);
    for (const cue of cues) {
      const i = segs.findIndex((s) => s.wallClockMs >= cue - 25);
      const spliced = segs[i];
      const before = segs[i - 1];
      assert.ok(spliced && before, `cue ${cue}: ${JSON.stringify(segs.map((s) => [s.index, s.wallClockMs, s.durationPts]))}`);
      // The first keyframe at or after the cue (a 12-frame GOP at 25 fps is 0.48 s; PDT rounding and half a frame of slack).
      assert.ok(spliced.wallClockMs - cue <= 480 + 30, `cue ${cue}: segment ${spliced.index} starts ${spliced.wallClockMs - cue} ms after it\n${JSON.stringify(segs.map((s) => [s.index, s.wallClockMs - cue, s.durationPts]))}`);
      assert.equal(before.startPts + (before.durationPts as number), spliced.startPts, 'segments still tile the timeline');
    }
    // Recorded as the marker's splice, so the tags' START-DATE is the cut.
    const marker = ((await (await fetch(`${rig.base}/api/channels/${ch}/markers`)).json()) as { scte35?: string; splicedMs?: number; splicedInMs?: number; splicedPts?: number; splicedInPts?: number }[])[0];
    assert.equal(marker?.splicedMs, segs.find((s) => s.wallClockMs >= (cues[0] as number) - 25)?.wallClockMs);
    assert.equal(marker?.splicedInMs, segs.find((s) => s.wallClockMs >= (cues[1] as number) - 25)?.wallClockMs);
    // In the Content Beam API as the channel's data stream: the out and in sections at the pts of the keyframes
    // that start the cut segments.
    const format = (await (await fetch(`${rig.base}/beams/${ch}`)).json()) as { streams: { index: number; codecpar: { codec_type: string; name: string } }[] };
    const data = format.streams[format.streams.length - 1];
    assert.deepEqual([data?.codecpar.codec_type, data?.codecpar.name], ['data', 'scte_35']);
    const cutPts = cues.map((cue) => segs.find((s) => s.wallClockMs >= cue - 25)?.startPts as number);
    const packets = (await (await fetch(`${rig.base}/beams/${ch}/data/first-last`)).json()) as { pts: number; stream_index: number }[];
    assert.deepEqual(packets.map((p) => p.pts), cutPts);
    assert.deepEqual([marker?.splicedPts, marker?.splicedInPts], cutPts);
    for (const pts of cutPts) {
      const video = (await (await fetch(`${rig.base}/beams/${ch}/video/packet_${pts}`)).json()) as { flags: { KEY: boolean } };
      assert.equal(video.flags.KEY, true, `a keyframe at the splice ${pts}`);
    }
    const section = Buffer.from(await (await fetch(`${rig.base}/beams/${ch}/stream_${data?.index}/packet_${cutPts[0]}/data`)).arrayBuffer());
    assert.equal(section.toString('hex'), marker?.scte35?.toLowerCase());
    // A private channel's markers are read with the API token only.
    const patch = await fetch(`${rig.base}/api/channels/${ch}`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...AUTH }, body: '{"private":true}' });
    assert.equal(patch.status, 200);
    assert.equal((await fetch(`${rig.base}/api/channels/${ch}/markers`)).status, 401);
    assert.equal((await fetch(`${rig.base}/api/channels/${ch}/markers`, { headers: AUTH })).status, 200);
  });

  it("SCTE-35 in the publisher's MPEG-TS: a splice_insert becomes a marker at its splice time, cut at and listed with the section as sent", { timeout: 60000 }, async () => {
    const ch = 'mk3';
    const url = await createRigChannel(rig.app, rig.ingest, ch);
    const eventId = 0x1234;
    let first = NaN;
    let splicePts = NaN;
    const sections: Buffer[] = [];
    // The break is announced 2 s ahead of its splice (pre-roll), once more 1 s later (a repeat), with a 3 s duration.
    const insert = (firstPts: number, sendPts: number, again: boolean) => {
      if (!again) {
        first = firstPts;
        splicePts = sendPts + 2 * 90000;
      }
      const section = encodeSpliceInsert({ eventId, outOfNetwork: true, durationSeconds: 3, pts: splicePts });
      sections.push(section);
      return section;
    };
    const enc = spawn('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '16', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '12', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', '-',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The channel's URL is ffmpeg's (latency in µs); srt-live-transmit reads latency in ms: leave it to the server's.
    const slt = spawn('srt-live-transmit', ['-a:no', '-q', '-chunk:1316', 'file://con', url.replace(/&latency=\d+/, '')], { stdio: ['pipe', 'ignore', 'pipe'] });
    let errors = '';
    for (const c of [enc, slt]) c.stderr?.on('data', (b: Buffer) => (errors = (errors + b.toString()).slice(-2000)));
    const stop = () => {
      for (const c of [enc, slt]) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    };
    try {
      enc.stdout.pipe(withScte35(0x1f0, [
        { afterSeconds: 4, section: (f, now) => insert(f, now, false) },
        { afterSeconds: 5, section: (f, now) => insert(f, now, true) },
      ])).pipe(slt.stdin);
      slt.stdin.on('error', () => undefined);
      type M = { id: string; source: string; type: string; eventId: number; scte35: string; durationSeconds: number | null; startMs: number; splicedMs?: number; splicedInMs?: number };
      let marker: M | undefined;
      await waitFor('the marker from the publisher, cut at', async () => {
        const list = (await (await fetch(`${rig.base}/api/channels/${ch}/markers`)).json()) as M[];
        marker = list.find((m) => m.source === 'publisher');
        return marker?.splicedMs !== undefined && marker.splicedInMs !== undefined;
      }, 30000).catch((err: Error) => {
        throw new Error(`${err.message}; the publisher said: ${errors}`);
      });
      const list = (await (await fetch(`${rig.base}/api/channels/${ch}/markers`)).json()) as M[];
      assert.equal(list.length, 1, `one marker, the repeat dropped: ${JSON.stringify(list)}`);
      assert.ok(marker);
      assert.equal(sections.length, 2, 'the publisher sent it twice');
      assert.equal(marker.id, 'splice-00001234');
      assert.equal(marker.type, 'ad-break');
      assert.equal(marker.eventId, eventId);
      assert.equal(marker.durationSeconds, 3);
      assert.equal(marker.scte35, (sections[0] as Buffer).toString('hex').toUpperCase(), 'the section as the publisher sent it');

      // Placed at the splice time: the segment cut for it starts at the first keyframe at or after the publisher's
      // splice pts (the channel's pts are the publisher's plus one offset: its first video frame opened segment 1).
      const segs = (await rig.live.lastSegments(ch, 100)).filter((x) => x.durationPts !== null);
      const firstSeg = segs[0] as SegmentRecord;
      const expectedPts = firstSeg.startPts + (splicePts - first);
      const cut = segs.find((x) => x.wallClockMs === marker?.splicedMs);
      assert.ok(cut, JSON.stringify(segs.map((x) => [x.index, x.wallClockMs, x.startPts])));
      assert.ok(cut.startPts >= expectedPts && cut.startPts - expectedPts <= 12 * 3600, `the cut is ${(cut.startPts - expectedPts) / 90} ms after the splice pts`);
      const previous = segs[segs.indexOf(cut) - 1] as SegmentRecord;
      assert.ok(previous.startPts < expectedPts, 'the segment before the cut starts before the splice');

      // In the live playlist as the API's markers are: the section as SCTE35-OUT, the cut as START-DATE.
      const text = (await get(`/live/${ch}/v-source.m3u8`)).text;
      const dr = parseM3u8(text).manifest.dateRanges?.find((d) => d.id === marker?.id);
      assert.ok(dr, text);
      assert.equal(String(dr.scte35Out).toUpperCase(), `0X${marker.scte35}`);
      assert.equal(dr.startDate.getTime(), marker.splicedMs);
      assert.equal(dr.plannedDuration, 3);
      // The channel's data stream has the section as sent, at the cut's keyframe.
      const bytes = await fetch(`${rig.base}/beams/${ch}/data/packet_${cut.startPts}/data`);
      assert.equal(bytes.status, 200);
      assert.equal(Buffer.from(await bytes.arrayBuffer()).toString('hex'), (sections[0] as Buffer).toString('hex'));
    } finally {
      stop();
    }
  });
});
