/**
 * Builds one CMAF fragment (a segment or an LL-HLS part) of one track from the packets in its window.
 * The last sample's duration is set so the fragment ends exactly at the window's end, so segment
 * durations in the media equal the EXTINF the playlist announces.
 */
import type { PacketRead } from '../../core/store/store';
import { notFound } from '../../core/model/errors';
import { buildMediaSegment, buildMuxedSegment } from '../cmaf/segments';
import { toCmafSamples, type SampleTiming } from '../cmaf/prepare';
import type { PacketMeta } from '../../core/model/media';
import type { Sample } from '../model';
import type { ResolvedTrack } from '../channel-reader';
import type { TickWindow } from './windows';
import { TIMELINE_HZ } from '../../core/model/live';

export interface FragmentResult {
  body: Buffer;
  /** False when the media may still grow (audio that had not all arrived yet). */
  complete: boolean;
}

/** mfhd sequence number: segments k×100, their parts k×100 + part + 1 (mod 2^32). */
export function fragmentSequence(segment: number, part: number | null): number {
  return (segment * 100 + (part === null ? 0 : part + 1)) % 0x100000000;
}

/** The timing of a window's samples; the last one stretched to end at `window.to` (video). */
export function sampleTimings(packets: readonly { meta: PacketMeta }[], window: TickWindow, video: boolean): SampleTiming[] {
  const samples = packets.map((p): SampleTiming => ({
    pts: p.meta.pts,
    dts: p.meta.dts,
    duration: p.meta.duration > 0 ? p.meta.duration : 0,
    keyframe: p.meta.flags.KEY,
  }));
  const last = samples[samples.length - 1];
  if (video && last && window.to > last.dts) last.duration = window.to - last.dts;
  return samples;
}

/** Samples of a window; the last one stretched to end at `window.to` (video). */
export function samplesOf(packets: readonly PacketRead[], window: TickWindow, video: boolean): Sample[] {
  return sampleTimings(packets, window, video).map((t, i) => ({ ...t, data: (packets[i] as PacketRead).data }));
}

export interface FragmentSource {
  readWindow(window: TickWindow): Promise<PacketRead[]>;
  /** Waits for the next channel events (audio still arriving); false after the timeout. */
  waitForMore(timeoutMs: number): Promise<boolean>;
}

export interface FragmentRequest {
  track: ResolvedTrack;
  window: TickWindow;
  segment: number;
  part: number | null;
  /** How long audio may be waited for when its window's end has not arrived yet, ms. */
  audioWaitMs: number;
}

export interface WindowRead {
  packets: PacketRead[];
  /** False when the media may still grow (audio that had not all arrived yet). */
  complete: boolean;
}

/** How often a read of audio that has not all arrived is retried when no channel event comes, ms. */
export const AUDIO_POLL_MS = 25;

/** Whether `read` (packets from the window's start on) holds all of the window's audio: one ends at or past its end. */
export function audioWindowComplete(read: readonly { meta: PacketMeta }[], window: TickWindow): boolean {
  return read.some((p) => p.meta.dts >= window.to || (p.meta.duration > 0 && p.meta.dts + p.meta.duration >= window.to));
}

/**
 * Reads a track's window. Audio is complete once a packet ending at or past the window's end exists
 * (ingest interleaves audio a few frames behind video, and writes it in batches); until then it is read
 * again on the next channel event or after `AUDIO_POLL_MS`, whichever comes first.
 */
export async function readTrackWindow(src: FragmentSource, window: TickWindow, video: boolean, audioWaitMs: number): Promise<WindowRead> {
  if (video) return { packets: await src.readWindow(window), complete: true };
  const deadline = Date.now() + audioWaitMs;
  for (;;) {
    const read = await src.readWindow({ from: window.from, to: window.to + TIMELINE_HZ });
    const packets = read.filter((p) => p.meta.dts < window.to);
    const complete = audioWindowComplete(read, window);
    const left = deadline - Date.now();
    if (complete || left <= 0) return { packets, complete };
    await src.waitForMore(Math.min(left, AUDIO_POLL_MS));
  }
}

/** Reads and packages a window (see `readTrackWindow` for when audio counts as complete). */
export async function buildFragment(src: FragmentSource, req: FragmentRequest): Promise<FragmentResult> {
  const { track, window } = req;
  const video = track.info.kind === 'video';
  const { packets, complete } = await readTrackWindow(src, window, video, req.audioWaitMs);
  if (packets.length === 0) {
    throw notFound(`No ${track.info.kind} media in segment ${req.segment}${req.part === null ? '' : ` part ${req.part}`}: it has expired from the DVR window or was never received.`);
  }
  const samples = samplesOf(packets, window, video);
  const cmaf = toCmafSamples(track.info, track.track, samples);
  return { body: buildMediaSegment(track.track, cmaf, fragmentSequence(req.segment, req.part)), complete };
}

/** The audio track's id in a muxed init segment and fragment (the video's stays 1). */
export const MUXED_AUDIO_TRACK_ID = 2;

export interface MuxedFragmentRequest {
  video: ResolvedTrack;
  audio: ResolvedTrack;
  videoWindow: TickWindow;
  audioWindow: TickWindow;
  segment: number;
  part: number | null;
  audioWaitMs: number;
}

/**
 * Reads and packages a video window with the audio of the same time in one fragment (video traf first, the audio as
 * track MUXED_AUDIO_TRACK_ID): complete once the audio is (see `readTrackWindow`). A window without audio (a
 * publisher that paused its audio) is video alone; one without video is 404, as for the video rendition.
 */
export async function buildMuxedFragment(video: FragmentSource, audio: FragmentSource, req: MuxedFragmentRequest): Promise<FragmentResult> {
  const [v, a] = await Promise.all([
    readTrackWindow(video, req.videoWindow, true, 0),
    readTrackWindow(audio, req.audioWindow, false, req.audioWaitMs),
  ]);
  if (v.packets.length === 0) {
    throw notFound(`No video media in segment ${req.segment}${req.part === null ? '' : ` part ${req.part}`}: it has expired from the DVR window or was never received.`);
  }
  const audioTrack = { ...req.audio.track, id: MUXED_AUDIO_TRACK_ID };
  const body = buildMuxedSegment([
    { track: req.video.track, samples: toCmafSamples(req.video.info, req.video.track, samplesOf(v.packets, req.videoWindow, true)) },
    { track: audioTrack, samples: a.packets.length ? toCmafSamples(req.audio.info, audioTrack, samplesOf(a.packets, req.audioWindow, false)) : [] },
  ], fragmentSequence(req.segment, req.part));
  return { body, complete: a.complete };
}
