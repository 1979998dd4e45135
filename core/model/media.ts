/**
 * The typed media model shared by every role. Shapes follow the JSON that beamcoder's
 * `toJSON()` produces and the Content Beam API transports (the original engine's README).
 */

/** A rational number `[numerator, denominator]`, e.g. a time base `[1, 90000]`. */
export type Rational = [number, number];

export type CodecType = 'video' | 'audio' | 'subtitle' | 'data' | 'attachment';
export const CODEC_TYPES: readonly CodecType[] = ['video', 'audio', 'subtitle', 'data', 'attachment'];

export interface CodecParameters {
  type?: 'CodecParameters';
  codec_type: CodecType;
  /** FFmpeg codec name, e.g. `h264`, `aac`, `hevc`. */
  name?: string;
  codec_id?: number;
  /** Codec-specific bytes (SPS/PPS, AudioSpecificConfig) as base64 in JSON. */
  extradata?: string | null;
  format?: string;
  width?: number;
  height?: number;
  profile?: number | string;
  level?: number;
  bit_rate?: number;
  sample_rate?: number;
  channels?: number;
  channel_layout?: string;
  frame_size?: number;
  [extra: string]: unknown;
}

export interface Stream {
  type?: 'Stream';
  index: number;
  id?: number;
  time_base: Rational;
  start_time?: number | null;
  duration?: number | null;
  r_frame_rate?: Rational;
  avg_frame_rate?: Rational;
  codecpar: CodecParameters;
  [extra: string]: unknown;
}

/** A content item's format: the "logical cable". */
export interface Format {
  type: 'format' | 'demuxer' | 'muxer';
  /** The content item's name as it appears in `/beams/<url>`. */
  url: string;
  streams: Stream[];
  duration?: number | null;
  bit_rate?: number | null;
  metadata?: Record<string, string>;
  /** Per-content time-to-live of media elements in seconds (0 = the configured default). */
  ttl?: number;
  [extra: string]: unknown;
}

export interface PacketFlags {
  KEY: boolean;
  CORRUPT: boolean;
  DISCARD: boolean;
  TRUSTED: boolean;
  DISPOSABLE: boolean;
}

/** Packet metadata as stored and served (payload separate). */
export interface PacketMeta {
  type: 'Packet';
  pts: number;
  dts: number;
  size: number;
  stream_index: number;
  flags: PacketFlags;
  duration: number;
  pos: number;
  [extra: string]: unknown;
}

/** Frame metadata as stored and served (planes separate). */
export interface FrameMeta {
  type: 'Frame';
  pts: number;
  /** Sizes of each data plane, set by the store when planes are written. */
  buf_sizes?: number[];
  [extra: string]: unknown;
}

export type ElementKind = 'packet' | 'frame';
export type ElementMeta = PacketMeta | FrameMeta;

/** A compressed packet with its payload, the unit ingest writes and packagers read. */
export interface MediaPacket {
  streamIndex: number;
  pts: number;
  dts: number;
  duration: number;
  keyframe: boolean;
  data: Buffer;
}

export function emptyFlags(key = false): PacketFlags {
  return { KEY: key, CORRUPT: false, DISCARD: false, TRUSTED: false, DISPOSABLE: false };
}

/** Metadata for a MediaPacket in the Content Beam API's shape. */
export function packetMetaOf(p: MediaPacket, pos = -1): PacketMeta {
  return {
    type: 'Packet',
    pts: p.pts,
    dts: p.dts,
    size: p.data.length,
    stream_index: p.streamIndex,
    flags: emptyFlags(p.keyframe),
    duration: p.duration,
    pos,
  };
}
