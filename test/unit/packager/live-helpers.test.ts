/** Pure helpers of the /live packager: catch-up parsing and selection, windows, bandwidth, file names, LRU coalescing, playlist building. */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { PartRecord, SegmentRecord } from '../../../core/model/live';
import { BeamError } from '../../../core/model/errors';
import { parseCatchup, parseTimeParam, rangeComplete, segmentsInRange } from '../../../packager/live/catchup';
import { bytesPerWindow, measureBandwidth, partWindow, segmentWindow } from '../../../packager/live/windows';
import { catchupQuery, parseLiveFile, partFile } from '../../../packager/live/live-files';
import { createSegmentCache } from '../../../packager/live/segment-cache';
import { buildMediaPlaylist } from '../../../packager/live/hls-builder';
import { renderMediaPlaylist } from '../../../packager/hls/media-playlist';
import { parseM3u8 } from './parsers';

const T0 = Date.parse('2024-05-01T12:00:00Z');
const seg = (index: number, closed = true, discontinuity = false): SegmentRecord => ({
  index, startPts: index * 180000, startDts: index * 180000 - 3000, durationPts: closed ? 180000 : null, wallClockMs: T0 + index * 2000, discontinuity,
});
const parts = (segment: number, n: number): PartRecord[] => Array.from({ length: n }, (_, j) => ({
  segment, part: j, startPts: segment * 180000 + j * 30000, startDts: segment * 180000 - 3000 + j * 30000, durationPts: 30000, independent: j === 0,
}));

describe('catch-up ranges', () => {
  const now = T0 + 100000;
  const oldest = T0 - 3600000;
  const cases: Array<[string, Record<string, string>, { startMs: number; endMs: number | null } | null | 'error']> = [
    ['no range: live', {}, null],
    ['epoch seconds', { start: String(T0 / 1000), end: String(T0 / 1000 + 10) }, { startMs: T0, endMs: T0 + 10000 }],
    ['decimal epoch seconds', { start: `${T0 / 1000}.5` }, { startMs: T0 + 500, endMs: null }],
    ['ISO-8601 with zone', { start: '2024-05-01T12:00:04Z', end: '2024-05-01T14:00:14+02:00' }, { startMs: T0 + 4000, endMs: T0 + 14000 }],
    ['end before start', { start: String(T0 / 1000 + 10), end: String(T0 / 1000) }, 'error'],
    ['end without start', { end: String(T0 / 1000) }, 'error'],
    ['garbage', { start: 'yesterday' }, 'error'],
    ['ISO without zone is ambiguous', { start: '2024-05-01T12:00:00' }, 'error'],
    ['future start', { start: String(now / 1000 + 60) }, 'error'],
    ['before the DVR window', { start: '1000', end: '2000' }, 'error'],
  ];
  it('one request spans at most 24 h (a 7-day DVR window is watched a day at a time); a start-over counts up to now', () => {
    const week = now - 7 * 86400_000;
    const day = 86400;
    assert.deepEqual(parseCatchup({ start: String(now / 1000 - day), end: String(now / 1000) }, now, week), { startMs: now - day * 1000, endMs: now });
    assert.throws(() => parseCatchup({ start: String(now / 1000 - day - 1), end: String(now / 1000) }, now, week), (e: unknown) => e instanceof BeamError && e.statusCode === 400 && /more than 24 h/.test(e.message));
    assert.throws(() => parseCatchup({ start: String(now / 1000 - 2 * day) }, now, week), /start over less than a day back/);
    assert.deepEqual(parseCatchup({ start: String(now / 1000 - 3 * day), end: String(now / 1000 - 2 * day) }, now, week), { startMs: now - 3 * day * 1000, endMs: now - 2 * day * 1000 });
  });
  for (const [name, q, want] of cases) {
    it(name, () => {
      if (want === 'error') {
        assert.throws(() => parseCatchup(q, now, oldest), (e: unknown) => e instanceof BeamError && e.statusCode === 400);
      } else {
        const got = parseCatchup(q, now, oldest);
        assert.deepEqual(got, want);
      }
    });
  }

  it('a repeated parameter is refused', () => {
    assert.throws(() => parseTimeParam('start', ['1', '2']), /given 2 times/);
  });

  it('selects from the segment holding start to the last one starting before end', () => {
    const segs = [1, 2, 3, 4, 5].map((i) => seg(i));
    const got = segmentsInRange(segs, { startMs: T0 + 4100, endMs: T0 + 8000 }).map((s) => s.index);
    assert.deepEqual(got, [2, 3]);
    assert.deepEqual(segmentsInRange(segs, { startMs: T0 + 9000, endMs: null }).map((s) => s.index), [4, 5]);
    assert.equal(rangeComplete({ startMs: T0, endMs: T0 + 8000 }, seg(5)), true);
    assert.equal(rangeComplete({ startMs: T0, endMs: T0 + 20000 }, seg(5)), false);
    assert.equal(rangeComplete({ startMs: T0, endMs: null }, seg(5)), false);
  });
});

describe('windows and bandwidth', () => {
  it('source video by dts, audio and rungs by presentation time', () => {
    const s = seg(3);
    assert.deepEqual(segmentWindow(s, 'dts'), { from: 537000, to: 717000 });
    assert.deepEqual(segmentWindow(s, 'pts'), { from: 540000, to: 720000 });
    const p = parts(3, 6);
    assert.deepEqual(partWindow(s, p, 2, 'dts'), { from: 597000, to: 627000 });
    assert.deepEqual(partWindow(s, p, 2, 'pts'), { from: 600000, to: 630000 });
    assert.throws(() => partWindow(s, p, 9, 'pts'), /no part 9/);
    assert.throws(() => segmentWindow(seg(4, false), 'dts'), /still open/);
  });

  it('measures peak and average bit rates from packet sizes', () => {
    const windows = [{ from: 0, to: 100 }, { from: 100, to: 200 }];
    const bytes = bytesPerWindow([{ dts: 0, size: 1000 }, { dts: 99, size: 1000 }, { dts: 100, size: 500 }, { dts: 200, size: 9999 }], windows);
    assert.deepEqual(bytes, [2000, 500]);
    assert.deepEqual(measureBandwidth([{ bytes: 2000, duration: 2 }, { bytes: 500, duration: 1 }]), { peak: 8000, average: 6667 });
    assert.equal(measureBandwidth([]), null);
  });
});

describe('live file names', () => {
  const cases: Array<[string, unknown]> = [
    ['master.m3u8', { type: 'master' }],
    ['manifest.mpd', { type: 'mpd' }],
    ['v-source.m3u8', { type: 'playlist', rendition: { kind: 'video', rung: 'source' } }],
    ['v-hd-720-init.mp4', { type: 'init', rendition: { kind: 'video', rung: 'hd-720' } }],
    ['v-abc-12-5.m4s', { type: 'media', rendition: { kind: 'video', rung: 'abc-12' }, segment: 5, part: null }],
    ['audio-7.3.m4s', { type: 'media', rendition: { kind: 'audio' }, segment: 7, part: 3 }],
    ['audio.m3u8', { type: 'playlist', rendition: { kind: 'audio' } }],
    ['v-Source.m3u8', null],
    ['../etc/passwd', null],
    ['v-source-1.ts', null],
  ];
  for (const [file, want] of cases) it(file, () => assert.deepEqual(parseLiveFile(file), want));
  it('round-trips part names and carries catch-up queries', () => {
    assert.deepEqual(parseLiveFile(partFile({ kind: 'video', rung: 'x-init' }, 12, 0)), { type: 'media', rendition: { kind: 'video', rung: 'x-init' }, segment: 12, part: 0 });
    assert.equal(catchupQuery({ start: '1700000000', end: '2024-01-01T00:00:00Z', _HLS_msn: '3' }), '?start=1700000000&end=2024-01-01T00%3A00%3A00Z');
    assert.equal(catchupQuery({}), '');
  });
});

describe('segment cache', () => {
  it('coalesces concurrent builds, evicts by bytes, never keeps incomplete objects', async () => {
    let builds = 0;
    const cache = createSegmentCache({}, { maxBytes: 250 });
    const build = (n: number, cacheable = true) => async () => {
      builds++;
      await new Promise((r) => setTimeout(r, 5));
      return { body: Buffer.alloc(n), etag: '"x"', contentType: 'video/mp4', cacheable };
    };
    await Promise.all(Array.from({ length: 100 }, () => cache.get('a', build(100))));
    assert.equal(builds, 1);
    await cache.get('b', build(100));
    await cache.get('a', build(100)); // touch a: b is now the oldest
    await cache.get('c', build(100));
    assert.equal(cache.entries, 2);
    assert.ok(cache.bytes <= 250);
    builds = 0;
    await cache.get('a', build(100));
    assert.equal(builds, 0, 'a was kept');
    await cache.get('b', build(100));
    assert.equal(builds, 1, 'b was evicted');
    await cache.get('partial', build(10, false));
    await cache.get('partial', build(10, false));
    assert.equal(builds, 3);
    await assert.rejects(cache.get('bad', () => Promise.reject(new Error('boom'))), /boom/);
  });
});

describe('live playlists from records', () => {
  it('LL-HLS window with parts, preload hint, gaps and a discontinuity parses without warnings', () => {
    const segments = [seg(10), seg(11, true, true), seg(12), seg(13)];
    const playlist = buildMediaPlaylist({
      kind: 'live', ref: { kind: 'video', rung: '720p' }, segments, parts: [...parts(12, 6), ...parts(13, 6), ...parts(14, 2)],
      inProgress: { segment: 14, readyParts: 2 }, discontinuitySequence: 3, lowLatency: true, partTarget: 0.334, targetDuration: 2,
      gaps: new Set([12]), independence: 'record', renditionReports: [{ uri: 'audio.m3u8', lastMsn: 14, lastPart: 1 }], ended: false,
    });
    const text = renderMediaPlaylist(playlist);
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    assert.equal(manifest.mediaSequence, 10);
    assert.equal(manifest.discontinuitySequence, 3);
    assert.match(text, /#EXT-X-MAP:URI="v-720p-init\.mp4"/);
    assert.match(text, /#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2024-05-01T12:00:22\.000Z/);
    assert.match(text, /#EXT-X-GAP\n#EXTINF:2\.000,\nv-720p-12\.m4s/);
    assert.doesNotMatch(text, /v-720p-12\.\d\.m4s/, 'a gap lists no parts');
    assert.match(text, /#EXT-X-PART:DURATION=0\.33333,URI="v-720p-14\.1\.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="v-720p-14\.2\.m4s"/);
    assert.match(text, /URI="v-720p-13\.0\.m4s",INDEPENDENT=YES/);
  });

  it('between a segment\'s close and the next one\'s first frame, the preload hint names the next segment\'s first part (a player always has the next part to ask for)', () => {
    const playlist = buildMediaPlaylist({
      kind: 'live', ref: { kind: 'video', rung: 'source' }, segments: [seg(10), seg(11)], parts: [...parts(10, 6), ...parts(11, 6)], inProgress: null,
      discontinuitySequence: 0, lowLatency: true, partTarget: 0.334, targetDuration: 2,
      gaps: new Set(), independence: 'record', renditionReports: [], ended: false,
    });
    const text = renderMediaPlaylist(playlist);
    assert.deepEqual(parseM3u8(text).warnings, []);
    assert.match(text, /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="v-source-12\.0\.m4s"/);
  });

  it('a segment in progress that starts a discontinuity (a new publisher, a redundant input switch) has the tag before its parts', () => {
    const base = {
      kind: 'live' as const, ref: { kind: 'audio' as const, rung: 'source' }, segments: [seg(10), seg(11)], parts: [...parts(10, 6), ...parts(11, 6), ...parts(12, 2)],
      discontinuitySequence: 0, lowLatency: true, partTarget: 0.334, targetDuration: 2,
      gaps: new Set<number>(), independence: 'all' as const, renditionReports: [], ended: false,
    };
    const text = renderMediaPlaylist(buildMediaPlaylist({ ...base, inProgress: { segment: 12, readyParts: 2, discontinuity: true } }));
    assert.deepEqual(parseM3u8(text).warnings, []);
    assert.match(text, /audio-11\.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-PART:DURATION=0\.33333,URI="audio-12\.0\.m4s"/);
    const plain = renderMediaPlaylist(buildMediaPlaylist({ ...base, inProgress: { segment: 12, readyParts: 2 } }));
    assert.doesNotMatch(plain, /#EXT-X-DISCONTINUITY\n/);
    const noParts = renderMediaPlaylist(buildMediaPlaylist({ ...base, inProgress: { segment: 12, readyParts: 0, discontinuity: true } }));
    assert.doesNotMatch(noParts, /#EXT-X-DISCONTINUITY\n/, 'nothing of it listed yet: the tag comes with its first part');
  });
});
