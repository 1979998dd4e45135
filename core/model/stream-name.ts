/**
 * Pure resolution of a Content Beam API stream name against a format's streams:
 * `stream_N`, `N`, type aliases `video`, `audio`, `audio_1`, … (type-scoped, 0-based) and `default`,
 * each with an optional `.json` extension.
 */

import { BeamError } from './errors';
import { CODEC_TYPES, type CodecType, type Stream } from './media';

export type StreamSelector =
  | { kind: 'index'; index: number }
  | { kind: 'type'; codecType: CodecType; n: number }
  | { kind: 'default' };

const RE_INDEX = /^(?:stream_)?(0|[1-9][0-9]{0,5})$/;
const RE_TYPE = new RegExp(`^(${CODEC_TYPES.join('|')})(?:_(0|[1-9][0-9]{0,5}))?$`);

export function parseStreamName(raw: string): StreamSelector {
  const name = raw.endsWith('.json') ? raw.slice(0, -5) : raw;
  let m: RegExpExecArray | null;
  if ((m = RE_INDEX.exec(name))) return { kind: 'index', index: Number(m[1]) };
  if ((m = RE_TYPE.exec(name))) return { kind: 'type', codecType: m[1] as CodecType, n: m[2] === undefined ? 0 : Number(m[2]) };
  if (name === 'default') return { kind: 'default' };
  throw new BeamError(
    'BEAM_ERR_BAD_REQUEST',
    `Invalid stream name '${raw.slice(0, 64)}': expected stream_<N>, <N>, video, audio, subtitle, data, attachment (optionally _<N>) or default.`,
  );
}

/** The stream FFmpeg would nominate as default: the first video stream, else the first stream. */
export function defaultStream(streams: readonly Stream[]): Stream | undefined {
  return streams.find((s) => s.codecpar.codec_type === 'video') ?? streams[0];
}

export function selectStream(streams: readonly Stream[], sel: StreamSelector): Stream | undefined {
  switch (sel.kind) {
    case 'index':
      return streams.find((s) => s.index === sel.index);
    case 'type':
      return streams.filter((s) => s.codecpar.codec_type === sel.codecType)[sel.n];
    case 'default':
      return defaultStream(streams);
  }
}
