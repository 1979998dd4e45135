// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { Rational } from '../../../core/model/media';
import {
  aacFilterSpec, aacOutputFor, aacStream, channelLayoutFor, createUnwrapState, isClockJump, samplesToTicks, unwrapTimestamp,
} from '../../../ingest/aac-output';

const TS: Rational = [1, 90000];
const FLV: Rational = [1, 1000];

test('aacOutputFor: rate kept when AAC takes it, else 48 kHz; mono stays mono, the rest is stereo', () => {
  const cases: { name: string; rate?: number; channels?: number; want: [number, number, string, number] }[] = [
    { name: 'broadcast MP2 48 kHz stereo', rate: 48000, channels: 2, want: [48000, 2, 'stereo', 128000] },
    { name: 'MP3 44.1 kHz stereo', rate: 44100, channels: 2, want: [44100, 2, 'stereo', 128000] },
    { name: 'AC-3 5.1 is downmixed', rate: 48000, channels: 6, want: [48000, 2, 'stereo', 128000] },
    { name: 'mono microphone', rate: 48000, channels: 1, want: [48000, 1, 'mono', 64000] },
    { name: 'Speex 16 kHz mono', rate: 16000, channels: 1, want: [16000, 1, 'mono', 64000] },
    { name: 'G.711 8 kHz mono: capped at one frame of 6144 bits', rate: 8000, channels: 1, want: [8000, 1, 'mono', 48000] },
    { name: 'Nellymoser 11025 stereo', rate: 11025, channels: 2, want: [11025, 2, 'stereo', 128000] },
    { name: '96 kHz is kept', rate: 96000, channels: 2, want: [96000, 2, 'stereo', 128000] },
    { name: 'a rate AAC has no index for', rate: 37800, channels: 2, want: [48000, 2, 'stereo', 128000] },
    { name: 'AAC 7350 Hz is not for browsers', rate: 7350, channels: 1, want: [48000, 1, 'mono', 64000] },
    { name: '192 kHz PCM', rate: 192000, channels: 2, want: [48000, 2, 'stereo', 128000] },
    { name: 'unknown parameters', want: [48000, 2, 'stereo', 128000] },
  ];
  for (const c of cases) {
    const o = aacOutputFor({ sample_rate: c.rate, channels: c.channels });
    assert.deepEqual([o.sampleRate, o.channels, o.channelLayout, o.bitRate], c.want, c.name);
  }
});

test('samplesToTicks: AAC frames in the input time base, rounded once (no accumulated drift)', () => {
  assert.equal(samplesToTicks(1024, 48000, TS), 1920);
  assert.equal(samplesToTicks(1024, 44100, TS), 2090);
  assert.equal(samplesToTicks(1024, 48000, FLV), 21);
  // Frame n of a 44.1 kHz stream at FLV milliseconds: pts are rounded per frame from the sample count.
  const pts = Array.from({ length: 1000 }, (_, n) => samplesToTicks(n * 1024, 44100, FLV));
  assert.equal(pts[999], Math.round((999 * 1024 * 1000) / 44100));
  for (let n = 1; n < pts.length; n++) assert.ok((pts[n] as number) - (pts[n - 1] as number) >= 23 && (pts[n] as number) - (pts[n - 1] as number) <= 24);
  assert.equal(samplesToTicks(48000 * 3600, 48000, TS), 90000 * 3600, 'an hour is an hour');
});

test('unwrapTimestamp: MPEG-TS 33-bit and FLV 32-bit wraps continue the clock', () => {
  let s = createUnwrapState(TS);
  const out: number[] = [];
  for (const raw of [2 ** 33 - 3840, 2 ** 33 - 1920, 0, 1920]) {
    const r = unwrapTimestamp(s, raw);
    s = r.state;
    out.push(r.value);
  }
  assert.deepEqual(out, [2 ** 33 - 3840, 2 ** 33 - 1920, 2 ** 33, 2 ** 33 + 1920]);
  let f = createUnwrapState(FLV);
  assert.equal(f.wrap, 2 ** 32);
  f = unwrapTimestamp(f, 2 ** 32 - 10).state;
  assert.equal(unwrapTimestamp(f, 11).value, 2 ** 32 + 11);
  // A small step back (jitter, a publisher restart near the start) is not a wrap.
  assert.equal(unwrapTimestamp(unwrapTimestamp(createUnwrapState(TS), 900000).state, 0).value, 0);
});

test('isClockJump: gaps up to 10 s are filled, steps back up to 1 s trimmed; beyond, the clock restarted', () => {
  const cases: { name: string; expected: number | null; actual: number; tb: Rational; jump: boolean }[] = [
    { name: 'first frame', expected: null, actual: 123, tb: TS, jump: false },
    { name: 'contiguous', expected: 90000, actual: 90000, tb: TS, jump: false },
    { name: 'a lost packet', expected: 90000, actual: 91920, tb: TS, jump: false },
    { name: '9 s of missing audio', expected: 0, actual: 9 * 90000, tb: TS, jump: false },
    { name: '11 s forward', expected: 0, actual: 11 * 90000, tb: TS, jump: true },
    { name: 'overlap of 0.5 s', expected: 90000, actual: 45000, tb: TS, jump: false },
    { name: 'publisher restarted its clock at 0', expected: 5000, actual: 0, tb: FLV, jump: true },
  ];
  for (const c of cases) assert.equal(isClockJump(c.expected, c.actual, c.tb, 1, 10), c.jump, c.name);
});

test('channelLayoutFor and the filter graph', () => {
  assert.equal(channelLayoutFor(2, 'stereo'), 'stereo');
  assert.equal(channelLayoutFor(6, '5.1(side)'), '5.1(side)');
  assert.equal(channelLayoutFor(2, '5.1'), 'stereo', 'a layout that disagrees with the count is replaced');
  assert.equal(channelLayoutFor(1, null), 'mono');
  assert.equal(channelLayoutFor(6, 'garbage'), '5.1');
  assert.equal(channelLayoutFor(0, null), null);
  assert.equal(channelLayoutFor(12, null), null);
  assert.equal(
    aacFilterSpec(aacOutputFor({ sample_rate: 44100, channels: 6 })),
    '[in]aresample=44100:async=1:min_hard_comp=0.1,aformat=sample_fmts=fltp:channel_layouts=stereo,asetnsamples=n=1024:p=0,asettb=1/44100[out]',
  );
});

test('aacStream: what the packager needs of an AAC stream, in the input time base', () => {
  const s = aacStream({ index: 3, time_base: FLV, codecpar: { codec_type: 'audio', name: 'mp3', sample_rate: 44100, channels: 2 } },
    aacOutputFor({ sample_rate: 44100, channels: 2 }), Buffer.from('1210', 'hex'));
  assert.equal(s.index, 3);
  assert.deepEqual(s.time_base, [1, 1000]);
  assert.deepEqual(
    { ...s.codecpar },
    { type: 'CodecParameters', codec_type: 'audio', codec_id: 86018, name: 'aac', extradata: 'EhA=', format: 'fltp', bit_rate: 128000, profile: 'LC', channel_layout: 'stereo', channels: 2, sample_rate: 44100, frame_size: 1024 },
  );
});
