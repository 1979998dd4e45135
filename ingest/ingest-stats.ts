/**
 * Pure ingest diagnostics for one publish session: bitrate, frame rate, keyframe interval, B-frames,
 * codec and resolution, with the warnings an operator can act on. Fed packet by packet (90 kHz, after
 * the timestamp normaliser), read every few seconds. `audioCodec` is what the publisher sends; when it is not
 * AAC, `audioTranscoded` says the session converts it to AAC (the channel's audio is always AAC).
 */

import type { Stream } from '../core/model/media';
import { TIMELINE_HZ, VIDEO_STREAM } from '../core/model/live';
import type { RtpReceiveStats } from '../core/model/publish-intake';

export interface IngestDiagnostics {
  protocol: 'srt' | 'rtmp' | 'whip';
  peer: string;
  connectedAt: string;
  videoCodec: string | null;
  /** The publisher's audio codec (the source), null without audio. */
  audioCodec: string | null;
  /** True when the source audio is transcoded to AAC at ingest (false when AAC passes through). */
  audioTranscoded: boolean;
  width: number | null;
  height: number | null;
  bitrateKbps: number;
  fps: number;
  keyframeIntervalSeconds: number | null;
  bFrames: boolean;
  packets: number;
  bytes: number;
  warnings: string[];
  srt?: { rttMs: number; lossPackets: number; retransmits: number; receiveRateMbps: number } | null;
  /** WHIP: how the RTP video arrives (NACKs sent, packets recovered and lost, keyframes asked for). */
  rtp?: RtpReceiveStats;
}

export interface StatsState {
  windowStartMs: number;
  windowBytes: number;
  windowFrames: number;
  lastKeyPts: number | null;
  keyIntervals: number[];
  bFrames: boolean;
  packets: number;
  bytes: number;
  last: { bitrateKbps: number; fps: number };
}

export function createStatsState(nowMs: number): StatsState {
  return { windowStartMs: nowMs, windowBytes: 0, windowFrames: 0, lastKeyPts: null, keyIntervals: [], bFrames: false, packets: 0, bytes: 0, last: { bitrateKbps: 0, fps: 0 } };
}

/** Account one packet (mutates and returns the state: this runs per packet on the hot path). */
export function recordPacket(s: StatsState, p: { streamIndex: number; pts: number; dts: number; keyframe: boolean; size: number }): StatsState {
  s.packets++;
  s.bytes += p.size;
  s.windowBytes += p.size;
  if (p.streamIndex !== VIDEO_STREAM) return s;
  s.windowFrames++;
  if (p.pts !== p.dts) s.bFrames = true;
  if (p.keyframe) {
    if (s.lastKeyPts !== null && p.pts > s.lastKeyPts) {
      s.keyIntervals.push((p.pts - s.lastKeyPts) / TIMELINE_HZ);
      if (s.keyIntervals.length > 5) s.keyIntervals.shift();
    }
    s.lastKeyPts = p.pts;
  }
  return s;
}

export const KEYFRAME_WARNING_SECONDS = 4;

/** Close the current measurement window and produce the diagnostics. */
export function snapshot(
  s: StatsState,
  nowMs: number,
  info: {
    protocol: 'srt' | 'rtmp' | 'whip'; peer: string; connectedAt: string; video: Stream; audio: Stream | null; srt?: IngestDiagnostics['srt']; rtp?: IngestDiagnostics['rtp'];
    /** Present when the audio is transcoded: the converter's count of input packets it could not decode. */
    audioTranscode?: { decodeErrors: number };
  },
): IngestDiagnostics {
  const secs = (nowMs - s.windowStartMs) / 1000;
  if (secs >= 0.5) {
    s.last = { bitrateKbps: Math.round((s.windowBytes * 8) / secs / 1000), fps: Math.round((s.windowFrames / secs) * 10) / 10 };
    s.windowStartMs = nowMs;
    s.windowBytes = 0;
    s.windowFrames = 0;
  }
  const keyInterval = s.keyIntervals.length ? Math.max(...s.keyIntervals) : null;
  const warnings: string[] = [];
  if (keyInterval !== null && keyInterval > KEYFRAME_WARNING_SECONDS) {
    warnings.push(`keyframe interval is ${keyInterval.toFixed(1)} s: set keyframe interval to 2 s in the encoder (segments and latency follow it)`);
  }
  const audioCodec = info.audio?.codecpar.name ?? null;
  if (info.audioTranscode) {
    warnings.push(`audio is ${audioCodec ?? 'not AAC'}: transcoded to AAC at ingest (set the encoder to AAC to pass it through)`);
    if (info.audioTranscode.decodeErrors > 0) warnings.push(`${info.audioTranscode.decodeErrors} audio packets could not be decoded and were dropped`);
  }
  if (s.bFrames) warnings.push('B-frames are present: fine for playback, but turn them off (bframes=0) for the lowest latency');
  return {
    protocol: info.protocol,
    peer: info.peer,
    connectedAt: info.connectedAt,
    videoCodec: info.video.codecpar.name ?? null,
    audioCodec,
    audioTranscoded: info.audioTranscode !== undefined,
    width: info.video.codecpar.width ?? null,
    height: info.video.codecpar.height ?? null,
    bitrateKbps: s.last.bitrateKbps,
    fps: s.last.fps,
    keyframeIntervalSeconds: keyInterval,
    bFrames: s.bFrames,
    packets: s.packets,
    bytes: s.bytes,
    warnings,
    ...(info.srt !== undefined ? { srt: info.srt } : {}),
    ...(info.rtp !== undefined ? { rtp: info.rtp } : {}),
  };
}
