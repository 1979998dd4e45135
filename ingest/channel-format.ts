/**
 * Pure: from the streams a publisher's container declares to the channel's content item format.
 * Beamline takes one H.264 video stream and at most one AAC audio stream; they become streams 0 and 1
 * of the channel on its 90 kHz timeline. Anything else is either ignored (data, extra tracks) or a clear
 * refusal (no video, another video codec).
 */

import type { Channel } from '../engine/model/channel';
import type { Format, Stream } from '../engine/model/media';
import { TIMELINE_HZ } from '../engine/model/live';

export interface StreamPlan {
  /** Input stream index → channel stream index. */
  map: Map<number, number>;
  video: Stream;
  audio: Stream | null;
  /** Input streams that are ignored, with why. */
  ignored: string[];
}

export type PlanResult = { ok: true; plan: StreamPlan } | { ok: false; reason: string };

const VIDEO_CODECS = ['h264'];
const AUDIO_CODECS = ['aac'];

export function planStreams(input: readonly Stream[]): PlanResult {
  const videos = input.filter((s) => s.codecpar.codec_type === 'video');
  const audios = input.filter((s) => s.codecpar.codec_type === 'audio');
  const video = videos.find((s) => VIDEO_CODECS.includes(String(s.codecpar.name)));
  if (!video) {
    if (videos.length === 0) return { ok: false, reason: 'the stream has no video: Beamline needs H.264 video (and AAC audio)' };
    return { ok: false, reason: `unsupported video codec ${videos.map((v) => v.codecpar.name ?? 'unknown').join(', ')}: set the encoder to H.264 (x264/NVENC/QuickSync H.264) with AAC audio` };
  }
  const audio = audios.find((s) => AUDIO_CODECS.includes(String(s.codecpar.name))) ?? null;
  const ignored: string[] = [];
  for (const s of input) {
    if (s === video || s === audio) continue;
    const what = `${s.codecpar.codec_type} stream ${s.index} (${s.codecpar.name ?? 'unknown codec'})`;
    ignored.push(s.codecpar.codec_type === 'audio' && !audio ? `${what}: unsupported audio codec, set the encoder to AAC` : what);
  }
  const map = new Map<number, number>([[video.index, 0]]);
  if (audio) map.set(audio.index, 1);
  return { ok: true, plan: { map, video, audio, ignored } };
}

/** The channel's format: streams on the 90 kHz timeline, codec parameters (with extradata) kept. */
export function channelFormat(ch: Channel, plan: StreamPlan): Format {
  const toChannel = (s: Stream, index: number): Stream => ({
    type: 'Stream',
    index,
    time_base: [1, TIMELINE_HZ],
    ...(s.r_frame_rate ? { r_frame_rate: s.r_frame_rate } : {}),
    ...(s.avg_frame_rate ? { avg_frame_rate: s.avg_frame_rate } : {}),
    codecpar: { ...s.codecpar },
  });
  const streams = [toChannel(plan.video, 0)];
  if (plan.audio) streams.push(toChannel(plan.audio, 1));
  return { type: 'format', url: ch.name, ttl: ch.dvrWindowSeconds, streams, metadata: { channel: ch.name } };
}

/** True when a new format differs from the stored one in anything a decoder or packager cares about. */
export function formatChanged(stored: Format, next: Format): boolean {
  const key = (f: Format) =>
    JSON.stringify({
      ttl: f.ttl,
      streams: f.streams.map((s) => [s.codecpar.name, s.codecpar.width, s.codecpar.height, s.codecpar.extradata, s.codecpar.sample_rate, s.codecpar.channels, s.codecpar.profile]),
    });
  return key(stored) !== key(next);
}
