/** DASH MPD rendering (golden + mpd-parser) over the same CMAF segments as HLS. */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { dashFrameRate, isoDuration, renderMpd, timelineElements } from '../../../packager/dash/mpd';
import type { DashAdaptationSet, DashManifest, DashSegmentTime } from '../../../packager/dash/model';
import { expectGolden } from './golden';
import { parseMpd, parseMpdUtcTiming } from './parsers';

const AST = Date.UTC(2024, 4, 1, 12, 0, 0);

/** Segment times: `count` segments of `d` ticks from `t0`, with an optional gap before index `gapAt`. */
function times(t0: number, d: number, count: number, gapAt?: number, gap = 0): DashSegmentTime[] {
  const out: DashSegmentTime[] = [];
  let t = t0;
  for (let i = 0; i < count; i++) {
    if (i === gapAt) t += gap;
    out.push({ t, d });
    t += d;
  }
  return out;
}

function video(segments: DashSegmentTime[], addressing: 'number' | 'time' = 'number'): DashAdaptationSet {
  return {
    id: 0, contentType: 'video', timescale: 90000, addressing, startNumber: 100,
    initialization: '$RepresentationID$/init.mp4',
    media: addressing === 'number' ? '$RepresentationID$/$Number$.m4s' : '$RepresentationID$/t$Time$.m4s',
    segments,
    representations: [
      { id: '360p', bandwidth: 900_000, codecs: 'avc1.64001e', width: 640, height: 360, frameRate: 25 },
      { id: '1080p', bandwidth: 5_500_000, codecs: 'avc1.640028', width: 1920, height: 1080, frameRate: 25 },
      { id: '720p', bandwidth: 3_000_000, codecs: 'avc1.64001f', width: 1280, height: 720, frameRate: 25 },
    ],
  };
}

function audio(segments: DashSegmentTime[]): DashAdaptationSet {
  return {
    id: 1, contentType: 'audio', lang: 'en', timescale: 48000, addressing: 'number', startNumber: 100,
    initialization: '$RepresentationID$/init.mp4', media: '$RepresentationID$/$Number$.m4s', segments,
    representations: [{ id: 'audio', bandwidth: 128_000, codecs: 'mp4a.40.2', audioSamplingRate: 48000, channels: 2 }],
  };
}

function live(): DashManifest {
  return {
    type: 'dynamic',
    availabilityStartTime: AST,
    publishTime: AST + 120_000,
    minimumUpdatePeriod: 2,
    timeShiftBufferDepth: 60,
    suggestedPresentationDelay: 6,
    minBufferTime: 2,
    utcTimingUrl: 'https://edge.example/api/time?iso',
    adaptationSets: [video(times(90000 * 100, 180000, 10, 6, 90000)), audio(times(48000 * 100, 96000, 10, 6, 48000))],
  };
}

describe('DASH MPD', () => {
  test('dynamic MPD golden', () => expectGolden('live.golden.mpd', renderMpd(live())));

  test('mpd-parser reads the dynamic MPD: every rung, the timeline and UTCTiming', () => {
    const text = renderMpd(live());
    const m = parseMpd(text, 'https://edge.example/live/ch1/manifest.mpd');
    assert.equal(m.minimumUpdatePeriod, 2000);
    assert.ok(m.playlists.every((p) => p.endList === false), 'dynamic playlists are open');
    assert.deepEqual(m.playlists.map((p) => p.attributes.NAME).sort(), ['1080p', '360p', '720p']);
    const v = m.playlists.find((p) => p.attributes.NAME === '720p');
    assert.equal(v?.segments.length, 10);
    assert.deepEqual(v?.segments.map((s) => s.duration), Array(10).fill(2));
    assert.deepEqual(v?.segments.map((s) => s.uri), Array.from({ length: 10 }, (_, i) => `720p/${100 + i}.m4s`));
    assert.equal(v?.segments[0]?.resolvedUri, 'https://edge.example/live/ch1/720p/100.m4s');
    assert.equal(v?.segments[6]?.presentationTime, v?.segments[0] ? (v.segments[0].presentationTime + 13) : NaN);
    assert.equal(v?.segments[0]?.map?.uri, '720p/init.mp4');
    const a = Object.values(m.mediaGroups.AUDIO).flatMap((g) => Object.values(g)).flatMap((x) => x.playlists);
    assert.equal(a[0]?.segments.length, 10);
    assert.deepEqual(parseMpdUtcTiming(text), { method: 'GET', schemeIdUri: 'urn:mpeg:dash:utc:http-iso:2014', value: 'https://edge.example/api/time?iso' });
  });

  test('static MPD with $Time$ addressing', () => {
    const text = renderMpd({
      type: 'static', publishTime: AST, minBufferTime: 2,
      adaptationSets: [video(times(0, 180000, 3), 'time'), audio(times(0, 96000, 3))],
    });
    expectGolden('static-time.golden.mpd', text);
    const m = parseMpd(text, 'https://edge.example/vod/manifest.mpd');
    assert.ok(m.playlists.every((p) => p.endList === true), 'static playlists are closed');
    const v = m.playlists.find((p) => p.attributes.NAME === '1080p');
    assert.deepEqual(v?.segments.map((s) => s.uri), ['1080p/t0.m4s', '1080p/t180000.m4s', '1080p/t360000.m4s']);
    assert.match(text, /mediaPresentationDuration="PT6S"/);
  });

  test('timeline run-length encoding restarts with t after a gap', () => {
    assert.deepEqual(timelineElements(times(0, 10, 5, 3, 7)), ['<S t="0" d="10" r="2"/>', '<S t="37" d="10" r="1"/>']);
    assert.deepEqual(timelineElements([{ t: 0, d: 10 }, { t: 10, d: 12 }, { t: 22, d: 12 }]), ['<S t="0" d="10"/>', '<S d="12" r="1"/>']);
  });

  test('formatting helpers', () => {
    assert.equal(isoDuration(6), 'PT6S');
    assert.equal(isoDuration(1.5), 'PT1.5S');
    assert.equal(dashFrameRate(25), '25');
    assert.equal(dashFrameRate(30000 / 1001), '30000/1001');
    assert.equal(dashFrameRate(12.5), '12.500');
  });

  test('bad input is a clear error', () => {
    assert.throws(() => renderMpd({ ...live(), availabilityStartTime: undefined }), /availabilityStartTime/);
    assert.throws(() => renderMpd({ ...live(), adaptationSets: [{ ...video(times(0, 1, 1)), media: 'x.m4s' }] }), /lacks \$Number\$/);
    assert.throws(() => timelineElements([{ t: 10, d: 5 }, { t: 12, d: 5 }]), /backwards/);
    assert.throws(() => renderMpd({ ...live(), adaptationSets: [] }), /at least one adaptation set/);
  });
});
