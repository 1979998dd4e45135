/**
 * The packager's input model: tracks and samples as the demuxer delivers them, and the
 * CMAF-ready forms the box writer consumes.
 */

export type TrackKind = 'video' | 'audio';
export type TrackCodec = 'h264' | 'aac';

/** One elementary stream as ingest describes it. */
export interface TrackInfo {
  /** Track id written into the MP4 boxes (1-based, unique within an init segment). */
  id: number;
  kind: TrackKind;
  codec: TrackCodec;
  /** Ticks per second of the sample timestamps (90000 for MPEG-TS input). */
  timescale: number;
  /** avcC (H.264) or AudioSpecificConfig (AAC); absent when the configuration travels in band. */
  extradata?: Buffer;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
}

/** One access unit (video frame or audio frame group) in its track's timescale. */
export interface Sample {
  pts: number;
  dts: number;
  duration: number;
  keyframe: boolean;
  /** Annex-B or length-prefixed H.264; ADTS or raw AAC. */
  data: Buffer;
}

/** H.264 decoder configuration resolved from avcC extradata or in-band SPS/PPS. */
export interface AvcConfig {
  codec: 'h264';
  /** The complete AVCDecoderConfigurationRecord. */
  avcC: Buffer;
  /** Bytes per NAL length prefix in samples (1, 2 or 4). */
  nalLengthSize: number;
  width: number;
  height: number;
  /** Frames per second from the SPS timing info, when present. */
  frameRate?: number;
  codecString: string;
}

/** AAC decoder configuration resolved from an AudioSpecificConfig or ADTS headers. */
export interface AacConfig {
  codec: 'aac';
  /** The AudioSpecificConfig bytes. */
  asc: Buffer;
  objectType: number;
  sampleRate: number;
  channels: number;
  /** PCM samples per AAC frame (1024, or 960 for the 960-sample variant). */
  frameLength: number;
  codecString: string;
}

/** A track ready for the CMAF writer: media timescale chosen, codec configuration resolved. */
export interface CmafTrack {
  id: number;
  kind: TrackKind;
  /** Media timescale of the fragments: 90000 for video, the sample rate for audio. */
  timescale: number;
  config: AvcConfig | AacConfig;
  /** Language code for mdhd (ISO 639-2/T); `und` by default. */
  language?: string;
}

/** A sample in its CMAF form: length-prefixed NAL units or raw AAC, media-timescale timing. */
export interface CmafSample {
  /** Decode time in the media timescale. */
  dts: number;
  /** Presentation minus decode time (may be negative). */
  compositionOffset: number;
  duration: number;
  keyframe: boolean;
  data: Buffer;
}
