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
  /**
   * Further audio tracks (other languages), in the input's order: channel streams 2, 3, … (`index`); a track
   * whose codec is not AAC is transcoded to AAC like the main one (`transcode`). At most MAX_AUDIO_TRACKS in all.
   */
  extraAudio: ExtraAudio[];
  /** The input's SCTE-35 stream (splice_info_sections the publisher sends), read into ad markers. */
  scte35: Stream | null;
  /** Input streams that are ignored, with why. */
  ignored: string[];
}

export interface ExtraAudio {
  input: Stream;
  /** The channel stream index it becomes. */
  index: number;
  transcode: boolean;
}

export type PlanResult = { ok: true; plan: StreamPlan } | { ok: false; reason: string };

/** Audio tracks a channel carries at most (the main one and seven more languages). */
export const MAX_AUDIO_TRACKS = 8;

/** The extra tracks numbered from channel stream 2 on, in order (after some were dropped). */
export function numberExtraAudio(extra: readonly Omit<ExtraAudio, 'index'>[]): ExtraAudio[] {
  return extra.map((e, i) => ({ ...e, index: AUDIO_STREAM + 1 + i }));
}

/** The plan's input → channel stream map, from its video, main audio and extra tracks. */
export function streamMap(plan: Pick<StreamPlan, 'video' | 'audio' | 'extraAudio'>): Map<number, number> {
  const map = new Map<number, number>([[plan.video.index, VIDEO_STREAM]]);
  if (plan.audio) map.set(plan.audio.index, AUDIO_STREAM);
  for (const e of plan.extraAudio) map.set(e.input.index, e.index);
  return map;
}

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
  const extraAudio = audio
    ? numberExtraAudio(audios.filter((s) => s !== audio && knownAudioCodec(s)).slice(0, MAX_AUDIO_TRACKS - 1).map((s) => ({ input: s, transcode: s.codecpar.name !== PASSTHROUGH_AUDIO })))
    : [];
  const ignored: string[] = [];
  for (const s of input) {
    if (s === video || s === audio || s === scte35 || extraAudio.some((e) => e.input === s)) continue;
    const what = `${s.codecpar.codec_type} stream ${s.index} (${s.codecpar.name ?? 'unknown codec'})`;
    ignored.push(s.codecpar.codec_type === 'audio' && !audio ? `${what}: unknown audio codec, set the encoder to AAC` : what);
  }
  const map = streamMap({ video, audio, extraAudio });
  return { ok: true, plan: { map, video, audio, audioTranscode: other, extraAudio, scte35, ignored } };
}

/**
 * The channel's format: streams on the 90 kHz timeline, codec parameters (with extradata) kept. When the plan
 * transcodes audio, `aacAudio` is the converter's output stream (its AAC codec parameters) and is required.
 */
export function channelFormat(ch: Channel, plan: StreamPlan, aacAudio?: Stream, extraAac: ReadonlyMap<number, Stream> = new Map()): Format {
  const toChannel = (s: Stream, index: number, language?: string): Stream => ({
    type: 'Stream',
    index,
    time_base: [1, TIMELINE_HZ],
    ...(s.r_frame_rate ? { r_frame_rate: s.r_frame_rate } : {}),
    ...(s.avg_frame_rate ? { avg_frame_rate: s.avg_frame_rate } : {}),
    codecpar: { ...s.codecpar },
    ...(language ? { metadata: { language } } : {}),
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
    streams.push(toChannel(audio, AUDIO_STREAM, languageOf(plan.audio)));
    metadata.audioSourceCodec = String(plan.audio.codecpar.name);
  }
  for (const e of plan.extraAudio) {
    const out = e.transcode ? extraAac.get(e.index) : e.input;
    if (!out || out.codecpar.name !== PASSTHROUGH_AUDIO) {
      throw new Error(`channel ${ch.name}: audio track ${e.index} (${String(e.input.codecpar.name)}) is transcoded, so the format needs its AAC output stream`);
    }
    streams.push(toChannel(out, e.index, languageOf(e.input)));
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
      streams: f.streams.map((s) => [s.codecpar.name, s.codecpar.width, s.codecpar.height, s.codecpar.extradata, s.codecpar.sample_rate, s.codecpar.channels, s.codecpar.profile, languageOf(s) ?? null]),
      audioSource: f.metadata?.audioSourceCodec ?? null,
    });
  return key(stored) !== key(next);
}

/**
 * A stream's language as a BCP 47 tag (what HLS's LANGUAGE and DASH's `lang` take): the publisher's ISO 639
 * code (an MPEG-TS language descriptor, FFmpeg's `language` metadata; `eng` → `en`, `fre`/`fra` → `fr`), or
 * undefined when it gives none, `und`, or something that is no language tag.
 */
export function languageOf(s: Stream): string | undefined {
  const meta = s.metadata as Record<string, unknown> | undefined;
  const raw = meta?.language;
  if (typeof raw !== 'string' || !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/.test(raw)) return undefined;
  try {
    const tag = Intl.getCanonicalLocales(raw)[0];
    return tag && tag !== 'und' ? tag : undefined;
  } catch {
    return undefined;
  }
}
