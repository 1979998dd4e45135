/**
 * Ad markers in program time: placement with segments (pure), EXT-X-DATERANGE in media playlists (golden, read by
 * m3u8-parser), delta updates keeping them, and the MPD's SCTE-35 EventStream (golden, read by mpd-parser and a DOM).
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { DOMParser } from '@xmldom/xmldom';
import type { SegmentRecord } from '../../../core/model/live';
import { createMarker, type Marker } from '../../../core/model/marker';
import { renderMediaPlaylist } from '../../../packager/hls/media-playlist';
import { renderMpd } from '../../../packager/dash/mpd';
import { buildMediaPlaylist } from '../../../packager/live/hls-builder';
import { buildManifest } from '../../../packager/live/dash-builder';
import { markerEvents, placeDateRanges, ptsAt, segmentAt } from '../../../packager/live/markers';
import { expectGolden } from './golden';
import { parseM3u8, parseMpd } from './parsers';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);
const D = 2 * 90000;

/** `count` closed 2 s segments from index `first`, wall clock from T0, pts from 10 s. */
function segs(first: number, count: number): SegmentRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const index = first + i;
    const k = index - 1;
    return { index, startPts: 900000 + k * D, startDts: 900000 + k * D, durationPts: D, wallClockMs: T0 + k * 2000, discontinuity: false };
  });
}

const breakAt = (ms: number, duration: number | null, id = 0x10): Marker => createMarker({ type: 'ad-break', startMs: ms, durationSeconds: duration }, T0, id);
const endAt = (ms: number, id = 0x20): Marker => createMarker({ type: 'ad-end', startMs: ms, durationSeconds: null }, T0, id);

function playlist(kind: 'live' | 'vod', segments: SegmentRecord[], markers: Marker[]) {
  return buildMediaPlaylist({
    kind, ref: { kind: 'video', rung: 'source' }, segments, parts: [], inProgress: null, discontinuitySequence: 0, lowLatency: false,
    partTarget: 0.5, targetDuration: 2, gaps: new Set(), independence: 'record', renditionReports: [], ended: kind === 'vod', markers,
  });
}

describe('placement', () => {
  const list = segs(1, 5); // T0 … T0+10 s

  test('the segment whose PROGRAM-DATE-TIME span holds a time; before and after the listed ones', () => {
    assert.equal(segmentAt(list, T0 - 5), -1);
    assert.equal(segmentAt(list, T0), 0);
    assert.equal(segmentAt(list, T0 + 1990), 0);
    assert.equal(segmentAt(list, T0 + 1999), 1, 'within 2 ms of a segment start (PROGRAM-DATE-TIMEs are whole ms): that segment');
    assert.equal(segmentAt(list, T0 + 2000), 1);
    assert.equal(segmentAt(list, T0 + 10_000), 5);
    // A hole between segments (a reconnect): the cue goes with the next segment.
    const holed = [...segs(1, 2), { ...segs(5, 1)[0] as SegmentRecord, index: 3 }];
    assert.equal(segmentAt(holed, T0 + 5000), 2);
  });

  test('media time of a wall-clock time, through its segment', () => {
    assert.equal(ptsAt(list, T0 + 3500), 900000 + D + 1.5 * 90000);
    assert.equal(ptsAt(list, T0 + 4000), 900000 + 2 * D, 'a segment start is its start pts');
    assert.equal(ptsAt(list, T0 - 1000), null);
    assert.equal(ptsAt(list, T0 + 12_000), null);
  });

  test('a 5 s break: OUT with the segment holding its start, IN with the one holding its end, each once a later segment is listed', () => {
    const m = breakAt(T0 + 3000, 5);
    const live = placeDateRanges([m], list, false);
    assert.deepEqual([...live.keys()], [2, 5]);
    assert.equal(live.get(2)?.[0]?.scte35Out, m.scte35);
    assert.equal(live.get(5)?.[0]?.scte35In, m.scte35In);
    assert.equal(live.get(5)?.[0]?.duration, 5);
    // The newest segment holds the end at 8.5 s: its IN waits for the next segment (ingest may still cut there) …
    const later = breakAt(T0 + 3000, 5.5);
    assert.deepEqual([...placeDateRanges([later], list, false).keys()], [2]);
    // … unless the list is final (a complete catch-up range).
    assert.deepEqual([...placeDateRanges([later], list, true).keys()], [2, 5]);
    assert.equal(placeDateRanges([breakAt(T0 + 20_000, 30, 0x11)], list, false).size, 0, 'ahead of the listed segments: not yet');
    assert.equal(placeDateRanges([breakAt(T0 - 5000, null)], list, false).size, 0, 'before the window: gone');
  });

  test('a spliced marker is written at its cut: START-DATE is the PROGRAM-DATE-TIME of the segment it starts', () => {
    const m = { ...breakAt(T0 + 3000, 5), splicedMs: T0 + 4000, splicedInMs: T0 + 8000 };
    const placed = placeDateRanges([m], list, false);
    assert.deepEqual([...placed.keys()], [3, 5]);
    assert.equal(placed.get(3)?.[0]?.startDate, T0 + 4000);
    assert.equal(placed.get(5)?.[0]?.startDate, T0 + 4000, 'the IN tag shares the START-DATE of its ID');
    assert.equal(placed.get(5)?.[0]?.duration, 4);
    assert.deepEqual(markerEvents([m], list, false).map((e) => e.presentationTime), [900000 + 2 * D]);
  });
});

describe('EXT-X-DATERANGE in media playlists', () => {
  const markers = [breakAt(T0 + 3000, 5), endAt(T0 + 9000)];

  test('no markers: the playlist is byte-identical to one built without', () => {
    const a = renderMediaPlaylist(playlist('vod', segs(1, 5), []));
    const b = renderMediaPlaylist(buildMediaPlaylist({ ...{ kind: 'vod', ref: { kind: 'video', rung: 'source' }, segments: segs(1, 5), parts: [], inProgress: null, discontinuitySequence: 0, lowLatency: false, partTarget: 0.5, targetDuration: 2, gaps: new Set(), independence: 'record', renditionReports: [], ended: true } }));
    assert.equal(a, b);
    assert.ok(!a.includes('DATERANGE'));
  });

  test('golden, and m3u8-parser reads the break (OUT and IN merged under one ID) and the ad-end', () => {
    const text = renderMediaPlaylist(playlist('vod', segs(1, 5), markers));
    expectGolden('media-markers.golden.m3u8', text);
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    const ranges = manifest.dateRanges ?? [];
    assert.equal(ranges.length, 2);
    const brk = ranges.find((r) => r.id === markers[0]?.id);
    assert.equal(brk?.startDate.getTime(), T0 + 3000);
    assert.equal(brk?.plannedDuration, 5);
    assert.equal(brk?.duration, 5);
    assert.equal(String(brk?.scte35Out).toUpperCase(), `0X${markers[0]?.scte35}`);
    assert.equal(String(brk?.scte35In).toUpperCase(), `0X${markers[0]?.scte35In}`);
    const end = ranges.find((r) => r.id === markers[1]?.id);
    assert.equal(String(end?.scte35In).toUpperCase(), `0X${markers[1]?.scte35}`);
    // Each tag follows the PROGRAM-DATE-TIME of the segment holding its time.
    const lines = text.split('\n');
    const out = lines.findIndex((l) => l.includes('SCTE35-OUT'));
    assert.equal(lines[out - 1], `#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + 2000).toISOString()}`);
  });

  test('a live playlist holds back a break ahead of its segments; a delta update keeps the skipped segments\' tags', () => {
    const list = segs(1, 30);
    const early = breakAt(T0 + 1000, 10, 0x30);
    const ahead = breakAt(T0 + 70_000, 30, 0x31);
    const p = playlist('live', list, [early, ahead]);
    const full = renderMediaPlaylist(p);
    assert.ok(!full.includes(ahead.id), 'not yet in the listed segments');
    const delta = renderMediaPlaylist(p, { skip: true });
    assert.ok(delta.includes('#EXT-X-SKIP:'));
    assert.equal(delta.split('\n').filter((l) => l.startsWith('#EXT-X-DATERANGE')).length, full.split('\n').filter((l) => l.startsWith('#EXT-X-DATERANGE')).length);
    const { manifest } = parseM3u8(full);
    assert.deepEqual(manifest.dateRanges?.map((r) => r.id), [early.id]);
  });
});

describe('SCTE-35 EventStream in the MPD', () => {
  const markers = [breakAt(T0 + 3000, 5)];
  const input = (complete: boolean) => ({
    segments: segs(1, 5), video: [{ rung: 'source', bandwidth: 2_000_000, codecs: 'avc1.64001f', width: 1280, height: 720 }], audio: null,
    complete, nowMs: T0 + 12_000, utcTimingUrl: '/api/time', presentationDelay: 6, markers,
  });

  test('golden (dynamic); without markers there is no EventStream and no scte35 namespace', () => {
    const text = renderMpd(buildManifest(input(false)));
    expectGolden('live-markers.golden.mpd', text);
    const none = renderMpd(buildManifest({ ...input(false), markers: [] }));
    assert.ok(!none.includes('EventStream') && !none.includes('scte35'));
  });

  test('the Event sits at the media time of the marker, with its splice_info_section', () => {
    for (const complete of [false, true]) {
      const text = renderMpd(buildManifest(input(complete)));
      const doc = new DOMParser().parseFromString(text, 'text/xml');
      const es = doc.getElementsByTagName('EventStream')[0];
      assert.equal(es?.getAttribute('schemeIdUri'), 'urn:scte:scte35:2014:xml+bin');
      const ev = es?.getElementsByTagName('Event')[0];
      const pts = 900000 + D + 90000;
      const pto = Number(es?.getAttribute('presentationTimeOffset') ?? 0);
      assert.equal(pto, complete ? 900000 : 0);
      assert.equal(Number(ev?.getAttribute('presentationTime')), pts);
      assert.equal(Number(ev?.getAttribute('duration')), 5 * 90000);
      assert.equal(Number(ev?.getAttribute('id')), markers[0]?.eventId);
      const bin = ev?.getElementsByTagNameNS('http://www.scte.org/schemas/35/2016', 'Binary')[0]?.textContent ?? '';
      assert.equal(Buffer.from(bin, 'base64').toString('hex').toUpperCase(), markers[0]?.scte35);
      const m = parseMpd(text, 'https://edge.example/live/ch/manifest.mpd');
      assert.equal(m.eventStream?.length, 1);
      assert.equal(m.eventStream?.[0]?.start, pts / 90000);
    }
    assert.equal(markerEvents(markers, segs(1, 1), true).length, 0, 'a complete range without the marker has no Event');
  });
});
