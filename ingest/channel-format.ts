/**
 * Pure: from the streams a publisher's container declares to the channel's content item format.
 * Beamline takes one H.264 video stream and at most one audio stream; they become streams 0 and 1 of the
 * channel on its 90 kHz timeline. AAC audio passes through; any other audio codec is transcoded to AAC once, at
 * ingest (the session's audio converter), so the channel's audio is always AAC and every rung shares it.
 * A SCTE-35 data stream is read for ad markers (session/publisher-splices.ts). Anything else is either ignored
 * (other data, extra tracks) or a clear refusal (no video, another video codec).
 */

import type { Channel } from '../core/model/channel';
import type { Format, Stream } from '../core/model/media';
import { AUDIO_STREAM, TIMELINE_HZ, VIDEO_STREAM } from '../core/model/live';

export interface StreamPlan {
  /** Input stream index → channel stream index. */
  map: Map<number, number>;
  video: Stream;
  /** The input audio stream that becomes the channel's audio (AAC, or the source of a transcode). */
  audio: Stream | null;
  /** The input audio stream when it is not AAC and must be transcoded to AAC (the same object as `audio`). */
  audioTranscode: Stream | null;
  /** The input's SCTE-35 stream (splice_info_sections the publisher sends), read into ad markers. */
  scte35: Stream | null;
  /** Input streams that are ignored, with why. */
  ignored: string[];
}

export type PlanResult = { ok: true; plan: StreamPlan } | { ok: false; reason: string };

const VIDEO_CODECS = ['h264'];
const PASSTHROUGH_AUDIO = 'aac';

/** An audio stream whose codec FFmpeg named (not `none`/unknown): a decoder may exist for it. */
function knownAudioCodec(s: Stream): boolean {
  const name = s.codecpar.name;
  return typeof name === 'string' && name.length > 0 && name !== 'none' && name !== 'unknown';
}

export function planStreams(input: readonly Stream[]): PlanResult {
  const videos = input.filter((s) => s.codecpar.codec_type === 'video');
  const audios = input.filter((s) => s.codecpar.codec_type === 'audio');
  const video = videos.find((s) => VIDEO_CODECS.includes(String(s.codecpar.name)));
  if (!video) {
    if (videos.length === 0) return { ok: false, reason: 'the stream has no video: Beamline needs H.264 video (and AAC audio)' };
    return { ok: false, reason: `unsupported video codec ${videos.map((v) => v.codecpar.name ?? 'unknown').join(', ')}: set the encoder to H.264 (x264/NVENC/QuickSync H.264) with AAC audio` };
  }
  const aac = audios.find((s) => s.codecpar.name === PASSTHROUGH_AUDIO) ?? null;
  const other = aac ? null : (audios.find(knownAudioCodec) ?? null);
  const audio = aac ?? other;
  const scte35 = input.find((s) => s.codecpar.codec_type === 'data' && s.codecpar.name === 'scte_35') ?? null;
  const ignored: string[] = [];
  for (const s of input) {
    if (s === video || s === audio || s === scte35) continue;
    const what = `${s.codecpar.codec_type} stream ${s.index} (${s.codecpar.name ?? 'unknown codec'})`;
    ignored.push(s.codecpar.codec_type === 'audio' && !audio ? `${what}: unknown audio codec, set the encoder to AAC` : what);
  }
  const map = new Map<number, number>([[video.index, VIDEO_STREAM]]);
  if (audio) map.set(audio.index, AUDIO_STREAM);
  return { ok: true, plan: { map, video, audio, audioTranscode: other, scte35, ignored } };
}

/**
 * The channel's format: streams on the 90 kHz timeline, codec parameters (with extradata) kept. When the plan
 * transcodes audio, `aacAudio` is the converter's output stream (its AAC codec parameters) and is required.
 */
export function channelFormat(ch: Channel, plan: StreamPlan, aacAudio?: Stream): Format {
  const toChannel = (s: Stream, index: number): Stream => ({
    type: 'Stream',
    index,
    time_base: [1, TIMELINE_HZ],
    ...(s.r_frame_rate ? { r_frame_rate: s.r_frame_rate } : {}),
    ...(s.avg_frame_rate ? { avg_frame_rate: s.avg_frame_rate } : {}),
    codecpar: { ...s.codecpar },
  });
  const streams = [toChannel(plan.video, VIDEO_STREAM)];
  const metadata: Record<string, string> = { channel: ch.name };
  if (plan.audio) {
    let audio = plan.audio;
    if (plan.audioTranscode) {
      if (!aacAudio || aacAudio.codecpar.name !== PASSTHROUGH_AUDIO) {
        throw new Error(`channel ${ch.name}: audio ${String(plan.audioTranscode.codecpar.name)} is transcoded, so the format needs the AAC output stream`);
      }
      audio = aacAudio;
    }
    streams.push(toChannel(audio, AUDIO_STREAM));
    metadata.audioSourceCodec = String(plan.audio.codecpar.name);
  }
  return { type: 'format', url: ch.name, ttl: ch.dvrWindowSeconds, streams, metadata };
}

/**
 * True when a new format differs from the stored one in anything a decoder or packager cares about, or in where
 * the audio comes from (a publisher that switches from MP2 to AAC changes the channel's recorded source).
 */
export function formatChanged(stored: Format, next: Format): boolean {
  const key = (f: Format) =>
    JSON.stringify({
      ttl: f.ttl,
      streams: f.streams.map((s) => [s.codecpar.name, s.codecpar.width, s.codecpar.height, s.codecpar.extradata, s.codecpar.sample_rate, s.codecpar.channels, s.codecpar.profile]),
      audioSource: f.metadata?.audioSourceCodec ?? null,
    });
  return key(stored) !== key(next);
}
