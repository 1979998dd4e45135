/** Audio languages in the packager (pure): file names, the channel's tracks, names, the multivariant playlist, the MPD. */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import type { Format } from '../../../core/model/media';
import { languageOf } from '../../../ingest/channel-format';
import { parseLiveFile, playlistFile, initFile, partFile, segmentFile } from '../../../packager/live/live-files';
import { audioNames, dashInput, multivariantText, wantsMuxed } from '../../../packager/live/manifests';
import { audioTracksOf } from '../../../packager/live/snapshot';
import { buildManifest } from '../../../packager/live/dash-builder';
import { renderMpd } from '../../../packager/dash/mpd';
import type { AudioVariant, Variants } from '../../../packager/live/variants';
import type { SegmentRecord } from '../../../core/model/live';
import { parseM3u8 } from './parsers';

const aac = (index: number, language?: string) => ({ index, time_base: [1, 90000] as [number, number], codecpar: { codec_type: 'audio' as const, name: 'aac' }, ...(language ? { metadata: { language } } : {}) });

describe('audio tracks', () => {
  it('file names: audio for the main track, audio<n> for channel stream n (2–9)', () => {
    assert.deepEqual(parseLiveFile('audio2.m3u8'), { type: 'playlist', rendition: { kind: 'audio', track: 2 } });
    assert.deepEqual(parseLiveFile('audio3-init.mp4'), { type: 'init', rendition: { kind: 'audio', track: 3 } });
    assert.deepEqual(parseLiveFile('audio2-17.4.m4s'), { type: 'media', rendition: { kind: 'audio', track: 2 }, segment: 17, part: 4 });
    assert.deepEqual(parseLiveFile('audio-17.m4s'), { type: 'media', rendition: { kind: 'audio' }, segment: 17, part: null });
    for (const bad of ['audio1.m3u8', 'audio10.m3u8', 'audio0-init.mp4', 'audio2x.m3u8']) assert.equal(parseLiveFile(bad), null, bad);
    const r = { kind: 'audio' as const, track: 4 };
    assert.deepEqual([playlistFile(r), initFile(r), segmentFile(r, 9), partFile(r, 9, 2)], ['audio4.m3u8', 'audio4-init.mp4', 'audio4-9.m4s', 'audio4-9.2.m4s']);
    assert.equal(playlistFile({ kind: 'audio', track: 1 }), 'audio.m3u8');
  });

  it('languages as BCP 47 from the publisher\'s ISO 639 codes; none for und, missing or not a tag', () => {
    const lang = (l: unknown) => languageOf({ index: 1, time_base: [1, 90000], codecpar: { codec_type: 'audio' }, ...(l !== undefined ? { metadata: { language: l } } : {}) });
    assert.deepEqual(['eng', 'fre', 'fra', 'ger', 'spa', 'pt-BR', 'en'].map(lang), ['en', 'fr', 'fr', 'de', 'es', 'pt-BR', 'en']);
    for (const bad of [undefined, 'und', '', 'x', 'en"', 'english language', 42]) assert.equal(lang(bad), undefined, String(bad));
  });

  it('the channel\'s tracks from its format: main first, languages kept only when they are tags', () => {
    const format: Format = { type: 'format', url: 'c', streams: [{ index: 0, time_base: [1, 90000], codecpar: { codec_type: 'video', name: 'h264' } }, aac(3, 'de'), aac(1, 'en'), aac(2, 'fr"\n#EXT-X-ENDLIST')] };
    assert.deepEqual(audioTracksOf({ format, hasAudio: true }), [
      { ref: { kind: 'audio' }, stream: 1, language: 'en' },
      { ref: { kind: 'audio', track: 2 }, stream: 2 },
      { ref: { kind: 'audio', track: 3 }, stream: 3, language: 'de' },
    ]);
    assert.deepEqual(audioTracksOf({ format, hasAudio: false }), []);
  });

  it('names: the language in English, unique; Main or Audio <n> without one', () => {
    assert.deepEqual(audioNames([{ language: 'en' }, { language: 'fr' }, { language: 'pt-BR' }]), ['English', 'French', 'Brazilian Portuguese']);
    assert.deepEqual(audioNames([{}, {}, { language: 'en' }, { language: 'en' }]), ['Main', 'Audio 2', 'English (3)', 'English (4)']);
  });

  const track = (stem: string | null, language: string | undefined, peak: number): AudioVariant => ({
    ...(stem ? { ref: { kind: 'audio' as const, track: Number(stem) } } : {}), ...(language ? { language } : {}), codecs: 'mp4a.40.2', channels: 2, sampleRate: 48000, peak, average: peak - 1000,
  });

  it('the multivariant playlist: one EXT-X-MEDIA per track in one group, the main one default, BANDWIDTH with the largest', () => {
    const main = track(null, 'en', 64000);
    const v: Variants = {
      video: [{ ref: { kind: 'video', rung: 'source' }, codecs: 'avc1.64001f', width: 1280, height: 720, peak: 2_000_000, average: 1_800_000 } as Variants['video'][number]],
      audio: main,
      audioTracks: [main, track('2', 'fr', 128000)],
    };
    const text = multivariantText(v, '');
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    const group = (manifest.mediaGroups as { AUDIO: Record<string, Record<string, { language?: string; default: boolean; uri: string }>> }).AUDIO.audio as Record<string, { language?: string; default: boolean; uri: string }>;
    assert.deepEqual(Object.entries(group).map(([name, r]) => [name, r.language, r.default, r.uri]), [['English', 'en', true, 'audio.m3u8'], ['French', 'fr', false, 'audio2.m3u8']]);
    assert.match(text, /BANDWIDTH=2128000,AVERAGE-BANDWIDTH=1927000/);
    // One track: as before.
    assert.ok(multivariantText({ ...v, audioTracks: [main] }, '').includes('NAME="English"'));
    assert.ok(multivariantText({ video: v.video, audio: track(null, undefined, 64000) }, '').includes('NAME="Main"'));
  });

  it('muxed file names: av-<rung> for a rung with the main audio in its fragments', () => {
    assert.deepEqual(parseLiveFile('av-source.m3u8'), { type: 'playlist', rendition: { kind: 'video', rung: 'source', muxed: true } });
    assert.deepEqual(parseLiveFile('av-240p-init.mp4'), { type: 'init', rendition: { kind: 'video', rung: '240p', muxed: true } });
    assert.deepEqual(parseLiveFile('av-240p-12.3.m4s'), { type: 'media', rendition: { kind: 'video', rung: '240p', muxed: true }, segment: 12, part: 3 });
    assert.deepEqual(parseLiveFile('v-av-12.m4s'), { type: 'media', rendition: { kind: 'video', rung: 'av' }, segment: 12, part: null });
    for (const bad of ['aav-source.m3u8', 'a-source.m3u8', 'av-.m3u8', 'av-Source.m3u8']) assert.equal(parseLiveFile(bad), null, bad);
    const r = { kind: 'video' as const, rung: '720p', muxed: true };
    assert.deepEqual([playlistFile(r), initFile(r), segmentFile(r, 9), partFile(r, 9, 2)], ['av-720p.m3u8', 'av-720p-init.mp4', 'av-720p-9.m4s', 'av-720p-9.2.m4s']);
  });

  it('the muxed multivariant playlist: av-<rung> variants with both CODECS, no audio group, captions kept', () => {
    const main = track(null, 'en', 64000);
    const video = [
      { ref: { kind: 'video', rung: 'source' }, codecs: 'avc1.64001f', width: 1280, height: 720, peak: 2_000_000, average: 1_800_000 },
      { ref: { kind: 'video', rung: '240p' }, codecs: 'avc1.42c015', width: 426, height: 240, peak: 400_000, average: 350_000 },
    ] as Variants['video'];
    const text = multivariantText({ video, audio: main, audioTracks: [main] }, '?start=2026-12-03T10:00:00Z', [{ channel: 'CC1', name: 'English' }], true);
    const { manifest, warnings } = parseM3u8(text);
    assert.deepEqual(warnings, []);
    assert.ok(!text.includes('TYPE=AUDIO'), text);
    assert.ok(!/AUDIO="/.test(text), text);
    const playlists = manifest.playlists as { uri: string; attributes: Record<string, unknown> }[];
    assert.deepEqual(playlists.map((p) => [p.uri, p.attributes.CODECS, p.attributes.BANDWIDTH, p.attributes['CLOSED-CAPTIONS']]), [
      ['av-source.m3u8?start=2026-12-03T10:00:00Z', 'avc1.64001f,mp4a.40.2', 2_064_000, 'cc'],
      ['av-240p.m3u8?start=2026-12-03T10:00:00Z', 'avc1.42c015,mp4a.40.2', 464_000, 'cc'],
    ]);
    // Several languages: always the group (a muxed variant could carry one of them only).
    assert.match(multivariantText({ video, audio: main, audioTracks: [main, track('2', 'fr', 64000)] }, '', [], true), /TYPE=AUDIO[\s\S]*v-source\.m3u8/);
    // No audio: the video variants as they are.
    assert.match(multivariantText({ video, audio: null }, '', [], true), /\nv-source\.m3u8\n/);
  });

  it('which form a request gets: ?audio= over the setting, muxed only when the channel has one audio track, by default not with captions', () => {
    assert.equal(wantsMuxed({}, true, true, false), true);
    assert.equal(wantsMuxed({}, false, true, false), false);
    assert.equal(wantsMuxed({ audio: 'separate' }, true, true, false), false);
    assert.equal(wantsMuxed({ audio: 'muxed' }, false, true, false), true);
    assert.equal(wantsMuxed({ audio: 'muxed' }, true, false, false), false);
    // Captions in the video: separate unless asked (hls.js shows no captions from a muxed stream).
    assert.equal(wantsMuxed({}, true, true, true), false);
    assert.equal(wantsMuxed({ audio: 'muxed' }, true, true, true), true);
    for (const bad of ['MUXED', '', 'both']) assert.throws(() => wantsMuxed({ audio: bad }, true, true, false), /audio must be/);
    assert.throws(() => wantsMuxed({ audio: ['muxed', 'separate'] }, true, true, false), /audio must be/);
  });

  it('the MPD: an audio AdaptationSet per track with its lang, files and representation', () => {
    const segs: SegmentRecord[] = [1, 2, 3].map((i) => ({ index: i, startPts: i * 180000, startDts: i * 180000, durationPts: 180000, wallClockMs: 1_700_000_000_000 + i * 2000, discontinuity: false }) as SegmentRecord);
    const main = track(null, 'en', 64000);
    const video = [{ ref: { kind: 'video', rung: 'source' }, codecs: 'avc1.64001f', width: 1280, height: 720, peak: 2_000_000, average: 1_800_000 } as Variants['video'][number]];
    const input = dashInput(segs, video, main, false, 1_700_000_010_000, '/time', [], [], [track('2', 'fr', 96000)]);
    const mpd = renderMpd(buildManifest(input));
    const sets = [...mpd.matchAll(/<AdaptationSet[^>]*contentType="audio"[^>]*>[\s\S]*?<\/AdaptationSet>/g)].map((m) => m[0]);
    assert.equal(sets.length, 2, mpd);
    assert.match(sets[0] as string, /lang="en"/);
    assert.match(sets[0] as string, /initialization="audio-init.mp4"[\s\S]*<Representation id="audio"/);
    assert.match(sets[1] as string, /lang="fr"/);
    assert.match(sets[1] as string, /initialization="audio2-init.mp4" media="audio2-\$Number\$.m4s"[\s\S]*<Representation id="audio2" bandwidth="96000"/);
  });
});
