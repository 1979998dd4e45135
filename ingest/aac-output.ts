/**
 * Pure parts of the audio converter (audio-to-aac.ts): what AAC a source becomes (rate, channels, bitrate), the
 * filter graph that gets it there, its channel's stream, and timestamp arithmetic (sample counts to the input
 * time base, wrap unwrapping, clock-restart detection).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

import type { CodecParameters, Rational, Stream } from '../core/model/media';
import { unwrapTimestamp as unwrapAgainst, wrapPeriodOf } from './timeline';

/** Sample rates kept as they are (AAC's table from 8 to 96 kHz; every browser's AAC decoder takes them). */
export const AAC_KEPT_RATES: readonly number[] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000];
export const AAC_FALLBACK_RATE = 48000;
export const AAC_FRAME_SAMPLES = 1024;

/** FFmpeg's names of the channel layouts it parses, with their channel counts. */
const LAYOUT_CHANNELS: Readonly<Record<string, number>> = {
  mono: 1, stereo: 2, '2.1': 3, '3.0': 3, '3.0(back)': 3, '4.0': 4, quad: 4, 'quad(side)': 4, '3.1': 4, '5.0': 5, '5.0(side)': 5,
  '4.1': 5, '5.1': 6, '5.1(side)': 6, '6.0': 6, '6.0(front)': 6, hexagonal: 6, '6.1': 7, '6.1(back)': 7, '6.1(front)': 7,
  '7.0': 7, '7.0(front)': 7, '7.1': 8, '7.1(wide)': 8, '7.1(wide-side)': 8, octagonal: 8, downmix: 2,
};
const DEFAULT_LAYOUTS = ['', 'mono', 'stereo', '2.1', '4.0', '5.0', '5.1', '6.1', '7.1'];

/** A channel layout name FFmpeg accepts for `channels` channels: the given one if it fits, else the default. */
export function channelLayoutFor(channels: number, layout?: string | null): string | null {
  if (typeof layout === 'string' && LAYOUT_CHANNELS[layout] === channels) return layout;
  return DEFAULT_LAYOUTS[channels] || null;
}

export interface AacOutput {
  sampleRate: number;
  channels: 1 | 2;
  channelLayout: 'mono' | 'stereo';
  bitRate: number;
}

/**
 * What the AAC output of an input is: the source rate when AAC and browsers take it, else 48 kHz; mono stays
 * mono, anything else (stereo, surround, unknown) becomes stereo; 64 kb/s mono, 128 kb/s stereo, capped at
 * what one AAC frame can carry (6144 bits per channel).
 */
export function aacOutputFor(cp: Pick<CodecParameters, 'sample_rate' | 'channels'>): AacOutput {
  const rate = Number(cp.sample_rate);
  const sampleRate = AAC_KEPT_RATES.includes(rate) ? rate : AAC_FALLBACK_RATE;
  const mono = Number(cp.channels) === 1;
  const channels = mono ? 1 : 2;
  const nominal = mono ? 64000 : 128000;
  const cap = Math.floor((6144 * channels * sampleRate) / AAC_FRAME_SAMPLES);
  return { sampleRate, channels, channelLayout: mono ? 'mono' : 'stereo', bitRate: Math.min(nominal, cap) };
}

/** The filter graph from decoded frames to 1024-sample fltp frames at the output rate, pts in 1/rate. */
export function aacFilterSpec(out: AacOutput, hardCompensationSeconds = 0.1): string {
  const r = out.sampleRate;
  return `[in]aresample=${r}:async=1:min_hard_comp=${hardCompensationSeconds},aformat=sample_fmts=fltp:channel_layouts=${out.channelLayout},`
    + `asetnsamples=n=${AAC_FRAME_SAMPLES}:p=0,asettb=1/${r}[out]`;
}

/** `samples` at `sampleRate` in ticks of `tb`, rounded to the nearest tick. */
export function samplesToTicks(samples: number, sampleRate: number, tb: Rational): number {
  return Math.round((samples * tb[1]) / (sampleRate * tb[0]));
}

export interface UnwrapState {
  /** Wrap period in ticks: 2^33 for 1/90000 (MPEG-TS), 2^32 otherwise (FLV milliseconds). */
  wrap: number;
  offset: number;
  last: number | null;
}

export function createUnwrapState(tb: Rational): UnwrapState {
  return { wrap: wrapPeriodOf(tb), offset: 0, last: null };
}

/** Unwraps one raw timestamp against the previous one, as the timeline does (timeline.ts `unwrapTimestamp`). */
export function unwrapTimestamp(s: UnwrapState, raw: number): { state: UnwrapState; value: number } {
  const u = unwrapAgainst(s.last, s.offset, s.wrap, raw);
  return { state: { wrap: s.wrap, offset: u.wrapOffset, last: u.value }, value: u.value };
}

/** True when a frame's pts is so far from where the previous one ended that the clock restarted. */
export function isClockJump(expected: number | null, actual: number, tb: Rational, maxBackSeconds: number, maxGapSeconds: number): boolean {
  if (expected === null) return false;
  const seconds = ((actual - expected) * tb[0]) / tb[1];
  return seconds < -maxBackSeconds || seconds > maxGapSeconds;
}

/** The channel's AAC stream for an input stream: codec parameters of the encoder, the input's time base. */
export function aacStream(input: Stream, out: AacOutput, extradata: Buffer): Stream {
  return {
    type: 'Stream',
    index: input.index,
    time_base: [input.time_base[0], input.time_base[1]],
    codecpar: {
      type: 'CodecParameters',
      codec_type: 'audio',
      codec_id: 86018,
      name: 'aac',
      extradata: extradata.toString('base64'),
      format: 'fltp',
      bit_rate: out.bitRate,
      profile: 'LC',
      channel_layout: out.channelLayout,
      channels: out.channels,
      sample_rate: out.sampleRate,
      frame_size: AAC_FRAME_SAMPLES,
    },
  };
}
