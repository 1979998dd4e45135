// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { Channel } from '../../../core/model/channel';
import type { Stream } from '../../../core/model/media';
import { channelFormat, formatChanged, planStreams, type StreamPlan } from '../../../ingest/channel-format';

const channel: Channel = {
  name: 'news', streamKey: 'k', passphrase: null, dvrWindowSeconds: 600, reconnectWindowSeconds: 30, lowLatency: true, ladder: [],
  createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z',
};

const h264 = (index: number): Stream => ({ index, time_base: [1, 90000], avg_frame_rate: [25, 1], codecpar: { codec_type: 'video', name: 'h264', width: 320, height: 240, extradata: 'AAAB' } });
const hevc = (index: number): Stream => ({ index, time_base: [1, 90000], codecpar: { codec_type: 'video', name: 'hevc' } });
const audio = (index: number, name: string | undefined, extra: object = {}): Stream => ({
  index, time_base: [1, 90000], codecpar: { codec_type: 'audio', ...(name ? { name } : {}), sample_rate: 48000, channels: 2, ...extra },
});
const data = (index: number): Stream => ({ index, time_base: [1, 90000], codecpar: { codec_type: 'data', name: 'timed_id3' } });
/** What the audio converter reports for an MP2 input: AAC-LC with an AudioSpecificConfig. */
const aacOut = (index: number): Stream => ({
  index, time_base: [1, 90000],
  codecpar: { codec_type: 'audio', name: 'aac', extradata: 'EZBW5QA=', profile: 'LC', sample_rate: 48000, channels: 2, channel_layout: 'stereo', frame_size: 1024 },
});

function plan(streams: Stream[]): StreamPlan {
  const r = planStreams(streams);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.plan;
}

test('planStreams: which audio the channel takes, and whether it is transcoded', () => {
  // `extra`: the further audio tracks (other languages), input index → whether transcoded.
  const cases: { name: string; streams: Stream[]; audio: number | null; transcode: boolean; ignored: number; extra?: [number, boolean][] }[] = [
    { name: 'AAC passes through', streams: [h264(0), audio(1, 'aac')], audio: 1, transcode: false, ignored: 0 },
    { name: 'AAC is preferred over an earlier MP2 track, which becomes a further track', streams: [h264(0), audio(1, 'mp2'), audio(2, 'aac')], audio: 2, transcode: false, ignored: 0, extra: [[1, true]] },
    { name: 'MP2 (broadcast TS) is transcoded', streams: [h264(0), audio(1, 'mp2')], audio: 1, transcode: true, ignored: 0 },
    { name: 'the first known codec of several is taken, the next is a further track', streams: [audio(0, 'ac3'), h264(1), audio(2, 'opus')], audio: 0, transcode: true, ignored: 0, extra: [[2, true]] },
    { name: 'a track with no codec name is skipped for a known one', streams: [h264(0), audio(1, undefined), audio(2, 'mp3')], audio: 2, transcode: true, ignored: 1 },
    { name: "codec 'none' is not a codec", streams: [h264(0), audio(1, 'none')], audio: null, transcode: false, ignored: 1 },
    { name: 'no audio: a video-only channel', streams: [h264(0), data(1)], audio: null, transcode: false, ignored: 1 },
    { name: 'three languages in AAC', streams: [h264(0), audio(1, 'aac'), audio(2, 'aac'), audio(3, 'aac')], audio: 1, transcode: false, ignored: 0, extra: [[2, false], [3, false]] },
    {
      name: 'at most eight tracks', streams: [h264(0), ...Array.from({ length: 10 }, (_, i) => audio(i + 1, 'aac'))], audio: 1, transcode: false, ignored: 2,
      extra: Array.from({ length: 7 }, (_, i): [number, boolean] => [i + 2, false]),
    },
  ];
  for (const c of cases) {
    const p = plan(c.streams);
    assert.equal(p.audio?.index ?? null, c.audio, c.name);
    assert.equal(p.audioTranscode !== null, c.transcode, c.name);
    if (c.transcode) assert.equal(p.audioTranscode, p.audio, `${c.name}: the transcoded stream is the plan's audio`);
    assert.equal(p.ignored.length, c.ignored, `${c.name}: ${p.ignored.join('; ')}`);
    assert.equal(p.map.get(p.video.index), 0, c.name);
    if (c.audio !== null) assert.equal(p.map.get(c.audio), 1, c.name);
    const extra = c.extra ?? [];
    assert.deepEqual(p.extraAudio.map((e) => [e.input.index, e.transcode]), extra, c.name);
    extra.forEach(([input], i) => assert.equal(p.map.get(input), 2 + i, `${c.name}: further tracks are channel streams 2, 3, …`));
    assert.equal(p.map.size, (c.audio === null ? 1 : 2) + extra.length, c.name);
  }
  assert.match(plan([h264(0), audio(1, 'none')]).ignored[0] ?? '', /audio stream 1 \(none\): unknown audio codec, set the encoder to AAC/);
});

test('planStreams: refusals name what to change', () => {
  const noVideo = planStreams([audio(0, 'mp2')]);
  assert.equal(noVideo.ok, false);
  assert.match(noVideo.ok ? '' : noVideo.reason, /no video/);
  const wrong = planStreams([hevc(0), audio(1, 'aac')]);
  assert.match(wrong.ok ? '' : wrong.reason, /unsupported video codec hevc/);
});

test('channelFormat: AAC passthrough keeps the input codec parameters; the source codec is recorded', () => {
  const f = channelFormat(channel, plan([h264(0), audio(1, 'aac', { extradata: 'EZA=' })]));
  assert.deepEqual(f.streams.map((s) => [s.index, s.codecpar.name, s.time_base]), [[0, 'h264', [1, 90000]], [1, 'aac', [1, 90000]]]);
  assert.equal(f.streams[1]?.codecpar.extradata, 'EZA=');
  assert.deepEqual(f.metadata, { channel: 'news', audioSourceCodec: 'aac' });
  assert.equal(f.ttl, 600);
});

test('channelFormat: a transcoded channel carries the AAC stream and says where it came from', () => {
  const p = plan([h264(0), audio(1, 'mp2', { frame_size: 1152 })]);
  const f = channelFormat(channel, p, aacOut(1));
  assert.equal(f.streams[1]?.codecpar.name, 'aac');
  assert.equal(f.streams[1]?.codecpar.extradata, 'EZBW5QA=');
  assert.equal(f.streams[1]?.codecpar.frame_size, 1024);
  assert.deepEqual(f.streams[1]?.time_base, [1, 90000]);
  assert.deepEqual(f.metadata, { channel: 'news', audioSourceCodec: 'mp2' });
  assert.throws(() => channelFormat(channel, p), /audio mp2 is transcoded, so the format needs the AAC output stream/);
  assert.throws(() => channelFormat(channel, p, audio(1, 'mp2')), /needs the AAC output stream/);
  const videoOnly = channelFormat(channel, plan([h264(0)]));
  assert.equal(videoOnly.streams.length, 1);
  assert.deepEqual(videoOnly.metadata, { channel: 'news' });
});

test('formatChanged: codec parameters and the audio source count, nothing else', () => {
  const mp2 = channelFormat(channel, plan([h264(0), audio(1, 'mp2')]), aacOut(1));
  const mp3 = channelFormat(channel, plan([h264(0), audio(1, 'mp3')]), aacOut(1));
  const aac = channelFormat(channel, plan([h264(0), audio(1, 'aac', { extradata: 'EZBW5QA=', profile: 'LC' })]));
  const cases: { name: string; a: typeof mp2; b: typeof mp2; changed: boolean }[] = [
    { name: 'the same publisher again', a: mp2, b: channelFormat(channel, plan([h264(0), audio(1, 'mp2')]), aacOut(1)), changed: false },
    { name: 'MP2 to MP3: the same AAC out, but another source', a: mp2, b: mp3, changed: true },
    { name: 'transcoded to passthrough', a: mp2, b: aac, changed: true },
    { name: 'another sample rate', a: mp2, b: channelFormat(channel, plan([h264(0), audio(1, 'mp2')]), { ...aacOut(1), codecpar: { ...aacOut(1).codecpar, sample_rate: 44100 } }), changed: true },
    { name: 'only the frame rate field differs', a: mp2, b: { ...mp2, streams: mp2.streams.map((s) => ({ ...s, avg_frame_rate: [30, 1] as [number, number] })) }, changed: false },
    { name: 'the DVR window', a: mp2, b: { ...mp2, ttl: 60 }, changed: true },
  ];
  for (const c of cases) assert.equal(formatChanged(c.a, c.b), c.changed, c.name);
});

test('a SCTE-35 data stream is planned for ad markers, not ignored; other data is ignored', () => {
  const scte = (index: number): Stream => ({ index, time_base: [1, 90000], codecpar: { codec_type: 'data', name: 'scte_35' } });
  const p = plan([h264(0), audio(1, 'aac'), scte(2), data(3)]);
  assert.equal(p.scte35?.index, 2);
  assert.equal(p.map.has(2), false, 'not a channel stream');
  assert.deepEqual(p.ignored, ['data stream 3 (timed_id3)']);
  assert.equal(plan([h264(0), audio(1, 'aac')]).scte35, null);
});
