/** HLS renderers (golden + m3u8-parser), the live window and blocking-reload decisions. */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { parseBlockingRequest, type PlaylistPosition, type QueryValue } from '../../../packager/hls/blocking-request';
import { renderMediaPlaylist, serverControlOf, skippableSegments } from '../../../packager/hls/media-playlist';
import type { HlsMediaPlaylist, HlsPart, HlsSegment } from '../../../packager/hls/model';
import { renderMultivariant } from '../../../packager/hls/multivariant';
import { slideWindow } from '../../../packager/hls/window';
import { expectGolden } from './golden';
import { parseM3u8 } from './parsers';

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

function parts(msn: number, count: number, duration = 0.5): HlsPart[] {
  return Array.from({ length: count }, (_, i) => ({ uri: `seg${msn}.${i}.m4s`, duration, independent: i === 0 }));
}

function segments(firstMsn: number, count: number, duration = 2): HlsSegment[] {
  return Array.from({ length: count }, (_, i) => ({
    uri: `seg${firstMsn + i}.m4s`,
    duration,
    programDateTime: T0 + (firstMsn + i) * duration * 1000,
    parts: parts(firstMsn + i, 4, duration / 4),
  }));
}

function lowLatency(firstMsn: number, count: number): HlsMediaPlaylist {
  const next = firstMsn + count;
  return {
    kind: 'live',
    targetDuration: 2,
    mediaSequence: firstMsn,
    map: 'init.mp4',
    segments: segments(firstMsn, count),
    independentSegments: true,
    lowLatency: { partTarget: 0.5, pendingParts: parts(next, 2), preloadHint: `seg${next}.2.m4s` },
    renditionReports: [{ uri: '../720p/media.m3u8', lastMsn: next, lastPart: 1 }, { uri: '../360p/media.m3u8', lastMsn: next, lastPart: 1 }],
  };
}

describe('multivariant playlist', () => {
  const text = renderMultivariant({
    variants: [
      { uri: '360p/media.m3u8', bandwidth: 900_000, averageBandwidth: 800_000, codecs: ['avc1.64001e'], resolution: { width: 640, height: 360 }, frameRate: 25, audioGroup: 'aac' },
      { uri: '1080p/media.m3u8', bandwidth: 5_500_000, averageBandwidth: 5_000_000, codecs: ['avc1.640028'], resolution: { width: 1920, height: 1080 }, frameRate: 25, audioGroup: 'aac' },
      { uri: '720p/media.m3u8', bandwidth: 3_000_000, averageBandwidth: 2_700_000, codecs: ['avc1.64001f'], resolution: { width: 1280, height: 720 }, frameRate: 29.97, audioGroup: 'aac' },
    ],
    audio: [{ groupId: 'aac', name: 'English', language: 'en', uri: 'audio/media.m3u8', default: true, channels: 2, codecs: 'mp4a.40.2' }],
  });

  test('golden', () => expectGolden('multivariant.golden.m3u8', text));

  test('m3u8-parser sees variants by bandwidth, merged CODECS and the audio group', () => {
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    assert.deepEqual(manifest.playlists?.map((p) => p.uri), ['1080p/media.m3u8', '720p/media.m3u8', '360p/media.m3u8']);
    const top = manifest.playlists?.[0]?.attributes ?? {};
    assert.equal(top.CODECS, 'avc1.640028,mp4a.40.2');
    assert.deepEqual(top.RESOLUTION, { width: 1920, height: 1080 });
    assert.equal(top['AVERAGE-BANDWIDTH'], '5000000');
    assert.equal(top['FRAME-RATE'], 25);
    assert.equal(manifest.mediaGroups?.AUDIO?.aac?.English?.uri, 'audio/media.m3u8');
    assert.equal(manifest.independentSegments, true);
  });

  test('an unknown audio group is a clear error', () => {
    assert.throws(() => renderMultivariant({ variants: [{ uri: 'a.m3u8', bandwidth: 1, codecs: ['avc1.64001f'], audioGroup: 'x' }] }), /audio group "x"/);
  });
});

describe('media playlists', () => {
  test('VOD: ENDLIST, PLAYLIST-TYPE, PROGRAM-DATE-TIME on every segment', () => {
    const text = renderMediaPlaylist({
      kind: 'vod', mediaSequence: 0, map: 'init.mp4',
      segments: [
        { uri: 'seg0.m4s', duration: 2, programDateTime: T0 },
        { uri: 'seg1.m4s', duration: 2, programDateTime: T0 + 2000 },
        { uri: 'seg2.m4s', duration: 1.28, programDateTime: new Date(T0 + 4000) },
      ],
    });
    expectGolden('media-vod.golden.m3u8', text);
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    assert.deepEqual(manifest.segments.map((s) => s.duration), [2, 2, 1.28]);
    assert.equal(manifest.segments.every((s) => s.dateTimeString !== undefined), true);
    assert.equal(manifest.endList, true);
    assert.equal(manifest.playlistType, 'VOD');
    assert.equal(manifest.segments[0]?.map?.uri, 'init.mp4');
  });

  test('EVENT with a reconnect discontinuity and a new init segment', () => {
    const text = renderMediaPlaylist({
      kind: 'event', mediaSequence: 0, discontinuitySequence: 0, map: 'init-a.mp4', targetDuration: 4,
      segments: [
        { uri: 'seg0.m4s', duration: 4, programDateTime: T0 },
        { uri: 'seg1.m4s', duration: 3.2, programDateTime: T0 + 4000 },
        { uri: 'seg2.m4s', duration: 4, programDateTime: T0 + 30_000, discontinuity: true, map: 'init-b.mp4' },
      ],
    });
    expectGolden('media-event.golden.m3u8', text);
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    assert.equal(manifest.playlistType, 'EVENT');
    assert.equal(manifest.endList, undefined);
    assert.deepEqual(manifest.segments.map((s) => s.timeline), [0, 0, 1]);
    assert.equal(manifest.segments[2]?.map?.uri, 'init-b.mp4');
  });

  test('TARGETDURATION is raised to cover the longest rounded EXTINF', () => {
    const text = renderMediaPlaylist({ kind: 'vod', mediaSequence: 0, targetDuration: 2, segments: [{ uri: 'a.m4s', duration: 3.6 }] });
    assert.match(text, /#EXT-X-TARGETDURATION:4\n/);
  });

  test('LL-HLS live: parts near the edge only, server control, preload hint, rendition reports', () => {
    const p = lowLatency(100, 6);
    const text = renderMediaPlaylist(p);
    expectGolden('media-ll.golden.m3u8', text);
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    assert.equal(manifest.mediaSequence, 100);
    assert.equal(manifest.segments.length, 6);
    assert.deepEqual(manifest.segments.map((s) => s.parts?.length ?? 0), [0, 0, 0, 0, 4, 4]);
    assert.deepEqual(manifest.segments[5]?.parts?.map((x) => x.duration), [0.5, 0.5, 0.5, 0.5]);
    assert.equal(manifest.partInf?.partTarget, 0.5);
    assert.deepEqual(manifest.serverControl, { canBlockReload: true, canSkipUntil: 12, holdBack: 6, partHoldBack: 1.5 });
    assert.deepEqual(manifest.preloadSegment?.parts?.map((x) => x.uri), ['seg106.0.m4s', 'seg106.1.m4s']);
    assert.deepEqual(manifest.preloadSegment?.preloadHints, [{ type: 'PART', uri: 'seg106.2.m4s' }]);
    assert.deepEqual(manifest.renditionReports?.map((r) => [r.uri, r.lastMsn, r.lastPart]),
      [['../720p/media.m3u8', 106, 1], ['../360p/media.m3u8', 106, 1]]);
  });

  test('hold-back values never go under the spec minimums', () => {
    const sc = serverControlOf({ ...lowLatency(0, 3), serverControl: { holdBack: 1, canSkipUntil: 2 }, lowLatency: { partTarget: 0.5, pendingParts: [], partHoldBack: 0.6 } });
    assert.deepEqual(sc, { canBlockReload: true, canSkipUntil: 12, holdBack: 6, partHoldBack: 1.5 });
  });

  test('delta update (_HLS_skip=YES) replaces old segments with EXT-X-SKIP', () => {
    const p = lowLatency(200, 12);
    assert.equal(skippableSegments(p), 6);
    const text = renderMediaPlaylist(p, { skip: true });
    expectGolden('media-ll-delta.golden.m3u8', text);
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    assert.equal(manifest.version, 9);
    assert.equal(manifest.skip?.skippedSegments, 6);
    assert.equal(manifest.segments.length, 6);
    assert.equal(manifest.segments[0]?.uri, 'seg206.m4s');
    assert.equal(manifest.mediaSequence, 200);
  });

  test('a playlist too short for the skip boundary renders in full even when asked to skip', () => {
    const text = renderMediaPlaylist(lowLatency(0, 5), { skip: true });
    assert.doesNotMatch(text, /EXT-X-SKIP/);
    assert.match(text, /#EXT-X-VERSION:6\n/);
  });

  test('an ended live stream drops pending parts and hints and writes ENDLIST', () => {
    const text = renderMediaPlaylist({ ...lowLatency(0, 3), ended: true });
    assert.doesNotMatch(text, /PRELOAD-HINT|seg3\.0\.m4s/);
    assert.match(text, /#EXT-X-ENDLIST\n$/);
  });

  test('bad playlists are clear errors', () => {
    assert.throws(() => renderMediaPlaylist({ kind: 'vod', mediaSequence: -1, segments: [] }), /media sequence/);
    assert.throws(() => renderMediaPlaylist({ kind: 'vod', mediaSequence: 0, segments: [{ uri: 'a\nb', duration: 1 }] }), /invalid URI/);
    assert.throws(() => renderMediaPlaylist({ kind: 'vod', mediaSequence: 0, segments: [{ uri: 'a', duration: 0 }] }), /duration 0/);
  });
});

describe('live sliding window', () => {
  test('drops old segments, advancing media and discontinuity sequences and carrying the map', () => {
    const segs: HlsSegment[] = [
      { uri: 's0', duration: 2 }, { uri: 's1', duration: 2, discontinuity: true, map: 'init2.mp4' },
      { uri: 's2', duration: 2 }, { uri: 's3', duration: 2, discontinuity: true }, { uri: 's4', duration: 2 },
    ];
    const w = slideWindow({ kind: 'live', mediaSequence: 10, discontinuitySequence: 1, map: 'init1.mp4', segments: segs }, 3);
    assert.equal(w.mediaSequence, 12);
    assert.equal(w.discontinuitySequence, 2);
    assert.equal(w.map, 'init2.mp4');
    assert.deepEqual(w.segments.map((s) => s.uri), ['s2', 's3', 's4']);
  });
});

describe('blocking playlist reload (_HLS_msn/_HLS_part)', () => {
  const pos: PlaylistPosition = { lastMsn: 105, pendingParts: 2, partTarget: 0.5, canSkip: true };
  const cases: Array<{ name: string; query: Record<string, QueryValue>; want: string; pos?: PlaylistPosition }> = [
    { name: 'no parameters: plain reload', query: {}, want: 'ready' },
    { name: 'segment already in the playlist', query: { _HLS_msn: '105' }, want: 'ready' },
    { name: 'next segment: wait for it to complete', query: { _HLS_msn: '106' }, want: 'wait 106' },
    { name: 'part already published', query: { _HLS_msn: '106', _HLS_part: '1' }, want: 'ready' },
    { name: 'next part: wait', query: { _HLS_msn: '106', _HLS_part: '2' }, want: 'wait 106.2' },
    { name: 'part of a complete segment', query: { _HLS_msn: '104', _HLS_part: '9' }, want: 'ready' },
    { name: 'two segments ahead is allowed', query: { _HLS_msn: '107' }, want: 'wait 107' },
    { name: 'three segments ahead is 400', query: { _HLS_msn: '108' }, want: 'error' },
    { name: 'part beyond the advance part limit is 400', query: { _HLS_msn: '106', _HLS_part: '8' }, want: 'error' },
    { name: 'part within the advance part limit waits', query: { _HLS_msn: '106', _HLS_part: '7' }, want: 'wait 106.7' },
    { name: '_HLS_part without _HLS_msn is 400', query: { _HLS_part: '1' }, want: 'error' },
    { name: 'non-numeric msn is 400', query: { _HLS_msn: '1e3' }, want: 'error' },
    { name: 'negative msn is 400', query: { _HLS_msn: '-1' }, want: 'error' },
    { name: 'repeated msn is 400', query: { _HLS_msn: ['1', '2'] }, want: 'error' },
    { name: 'bad _HLS_skip is 400', query: { _HLS_skip: 'NO' }, want: 'error' },
    { name: 'parts asked of a playlist without parts is 400', query: { _HLS_msn: '1', _HLS_part: '0' }, want: 'error', pos: { lastMsn: 5, pendingParts: 0 } },
    { name: 'ended playlist answers at once', query: { _HLS_msn: '200' }, want: 'ready', pos: { ...pos, ended: true } },
    { name: 'no segment yet: first segment waits', query: { _HLS_msn: '0' }, want: 'wait 0', pos: { lastMsn: -1, pendingParts: 0 } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const d = parseBlockingRequest(c.query, c.pos ?? pos);
      const got = d.kind === 'wait' ? `wait ${d.target.msn}${d.target.part === undefined ? '' : `.${d.target.part}`}` : d.kind;
      assert.equal(got, c.want, d.kind === 'error' ? d.message : undefined);
      if (d.kind === 'error') assert.equal(d.statusCode, 400);
    });
  }

  test('_HLS_skip=YES asks for a delta update only when the playlist offers one', () => {
    assert.deepEqual(parseBlockingRequest({ _HLS_skip: 'YES' }, pos), { kind: 'ready', skip: true });
    assert.deepEqual(parseBlockingRequest({ _HLS_skip: 'v2' }, { ...pos, canSkip: false }), { kind: 'ready', skip: false });
  });
});
