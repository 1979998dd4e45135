/**
 * Beamline's ladder codecs (transcoders/av-native, an N-API addon over FFmpeg's libavcodec and libavfilter, built
 * by infra/setup.sh with node-gyp): the H.264 decoder, the scale graph and the libx264 encoders of
 * segment-transcoder.ts. Frames and packets are plain objects (beamcoder's carry ten to twenty native accessors
 * each, which cost V8 a full garbage collection every few seconds at a 1080p ladder's rate); a frame's `handle`
 * owns its AVFrame until `freeFrame` or garbage collection. Every decode, filter and encode call runs on the libuv
 * pool. See src/av-native.cc for what is set exactly as beamcoder sets it.
 */

import { join } from 'node:path';
import { requireNativeAddon } from '../core/native-addon';
import type { Rational } from '../core/model/media';

declare const handleKind: unique symbol;
/** An opaque native handle (a type-tagged external). */
export type AvHandle<K extends string> = { readonly [handleKind]: K };
export type DecoderHandle = AvHandle<'decoder'>;
export type EncoderHandle = AvHandle<'encoder'>;
export type GraphHandle = AvHandle<'graph'>;

export interface AvFrame {
  /** The frame's pts, else its best-effort timestamp; null when neither is known. Read when the frame is filtered or encoded. */
  pts: number | null;
  width: number;
  height: number;
  /** FFmpeg's pixel format name, e.g. 'yuv420p'. */
  format: string | null;
  sample_aspect_ratio: Rational;
  /** 'I', 'P', 'B'... ('?' when unknown). Read when encoded: libx264 makes an IDR of a frame given as 'I'. */
  pict_type: string;
  /** The decoder's keyframe mark (an IDR or a recovery point), kept through the scaler. */
  key_frame: boolean;
  /** The picture's A/53 cc_data (CEA-608/708) as the decoder exported it, kept through the scaler; a copy. */
  a53_cc: Buffer | null;
  readonly handle: AvHandle<'frame'>;
}

export interface AvPacketIn {
  pts: number;
  dts: number;
  keyframe: boolean;
  /** Must not be empty (an empty packet would drain the decoder). */
  data: Buffer;
}

export interface AvPacketOut {
  pts: number | null;
  dts: number | null;
  keyframe: boolean;
  data: Buffer;
}

export interface AvEncoderOptions {
  name: string;
  width: number;
  height: number;
  pix_fmt: string;
  time_base: Rational;
  framerate: Rational;
  sample_aspect_ratio: Rational;
  bit_rate: number;
  rc_max_rate: number;
  rc_buffer_size: number;
  gop_size: number;
  max_b_frames: number;
  thread_count: number;
  flags: { GLOBAL_HEADER?: boolean };
  /** The codec's private options (av_opt_set on priv_data). */
  priv_data: Record<string, string | number | boolean>;
}

export interface AvFilterOptions {
  width: number;
  height: number;
  pixelFormat: string;
  timeBase: Rational;
  pixelAspect: Rational;
  /** The buffer source's name, as the filter spec labels it. */
  inputName: string;
  /** The buffersinks, as the filter spec labels them; filter() answers in this order. */
  outputs: { name: string; pixelFormat: string }[];
  filterSpec: string;
}

/** The addon's functions. Calls on a handle go one at a time; a closed handle or a freed frame rejects. */
export interface AvCodecBinding {
  createDecoder(options: { name: string; thread_count: number; pkt_timebase: Rational; extradata?: Buffer | null }): DecoderHandle;
  decode(decoder: DecoderHandle, packets: readonly AvPacketIn[]): Promise<AvFrame[]>;
  flushDecoder(decoder: DecoderHandle): Promise<AvFrame[]>;
  createFilter(options: AvFilterOptions): GraphHandle;
  /** The frames out of each output, in `outputs` order. */
  filter(graph: GraphHandle, frames: readonly AvFrame[]): Promise<AvFrame[][]>;
  createEncoder(options: AvEncoderOptions): EncoderHandle;
  encode(encoder: EncoderHandle, frames: readonly AvFrame[]): Promise<AvPacketOut[]>;
  flushEncoder(encoder: EncoderHandle): Promise<AvPacketOut[]>;
  /** The encoder's global headers (for libx264 with GLOBAL_HEADER: Annex-B SPS/PPS), once it is open. */
  extradata(encoder: EncoderHandle): Buffer | null;
  /** Unreferences the frame's buffers now (so the pool that made them reuses them). Twice is harmless. */
  freeFrame(frame: AvFrame): void;
  /** Frees a decoder, encoder or graph now, or when its call in flight ends. Twice is harmless. */
  close(handle: DecoderHandle | EncoderHandle | GraphHandle): void;
  /** FFmpeg's log level for the whole process (libavutil's, shared with beamcoder). */
  setLogLevel(level: 'quiet' | 'panic' | 'fatal' | 'error' | 'warning' | 'info' | 'verbose' | 'debug'): void;
  avcodecVersion: number;
}

export const AV_ADDON_RELATIVE_PATH = join('transcoders', 'av-native', 'build', 'Release', 'beamline_av.node');

let binding: AvCodecBinding | null = null;

export function loadAvCodec(from: string = __dirname): AvCodecBinding {
  if (binding) return binding;
  binding = requireNativeAddon(AV_ADDON_RELATIVE_PATH, "the transcoder's native codec addon", 'the Debian FFmpeg dev packages and build-essential', from).addon as AvCodecBinding;
  return binding;
}
