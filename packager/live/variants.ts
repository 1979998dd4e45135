/**
 * The video rungs and the audio of a snapshot as the multivariant playlist and the MPD describe them:
 * codecs and picture size from the resolved tracks, bandwidth measured over the newest closed segments
 * a rendition has (packet sizes by window, remembered per track and newest segment) or, before anything
 * was measured, a fallback from the ladder or the format. I/O only through the channel reader.
 */
import { TIMELINE_HZ, type SegmentRecord } from '../../core/model/live';
import type { ChannelReader } from '../channel-reader';
import { badPackagerRequest } from '../errors';
import type { AacConfig, AvcConfig } from '../model';
import type { RenditionRef } from './live-files';
import { allRefs, audioTracksOf, fallbackBandwidth, frameRateOf, frontierOf, memoOn, trackOf, type Snapshot, type Track } from './snapshot';
import { bytesPerWindow, measureBandwidth, segmentWindow, type Bandwidth, type TickWindow } from './windows';

/** A video rung as the multivariant playlist and the MPD describe it (bandwidth measured). */
export interface VideoVariant {
  ref: Extract<RenditionRef, { kind: 'video' }>;
  track: Track;
  codecs: string;
  width: number;
  height: number;
  frameRate?: number;
  peak: number;
  average: number;
}

export interface AudioVariant {
  /** Which audio track (absent: the main one). */
  ref?: Extract<RenditionRef, { kind: 'audio' }>;
  /** BCP 47 language of the track, when the publisher gave one. */
  language?: string;
  codecs: string;
  channels: number;
  sampleRate: number;
  peak: number;
  average: number;
}

export interface Variants {
  video: VideoVariant[];
  /** The main audio track (`audioTracks[0]`), or null. */
  audio: AudioVariant | null;
  /** Every audio track, the main one first (other languages after it). */
  audioTracks?: AudioVariant[];
}

/** What variants are read from. */
export type VariantReader = Pick<ChannelReader, 'track' | 'packetSizes'>;

export interface VariantsDeps {
  reader: VariantReader;
}

export interface VariantsSource {
  /** Peak and average bandwidth of a track over its newest closed segments; null before any. */
  measured(snap: Snapshot, track: Track): Promise<Bandwidth | null>;
  /** The video rungs and the audio of a snapshot, measured (memoised on it). */
  variants(snap: Snapshot): Promise<Variants>;
}

/** Bits per second of an audio rendition nothing was measured of yet. */
export const AUDIO_FALLBACK_BANDWIDTH = 128000;

/** Measured bandwidths remembered at most (then forgotten all at once). */
const MAX_MEASURED = 1000;

/** The segments a track's bandwidth is measured over: the newest three closed ones its rendition has made. */
export function measuredSegments(snap: Snapshot, track: Track): SegmentRecord[] {
  const f = frontierOf(snap, track.ref);
  return snap.closed.filter((s) => f !== null && s.index <= f.lastMsn).slice(-3);
}

/** Bandwidth of closed segments from the dts and size of the packets in their `windows` (one per segment). */
export function bandwidthOf(segs: readonly SegmentRecord[], windows: readonly TickWindow[], packets: readonly { dts: number; size: number }[]): Bandwidth | null {
  const bytes = bytesPerWindow(packets, windows);
  return measureBandwidth(segs.map((s, i) => ({ bytes: bytes[i] ?? 0, duration: (s.durationPts ?? 0) / TIMELINE_HZ })));
}

/** A video rung's variant: the track's H.264 configuration, its frame rate, and the measured (or fallback) bandwidth. */
export function videoVariant(snap: Snapshot, ref: Extract<RenditionRef, { kind: 'video' }>, track: Track, cfg: AvcConfig, bw: Bandwidth | null): VideoVariant {
  const info = ref.rung === 'source' ? null : snap.renditions.find((r) => r.rung === ref.rung) ?? null;
  const fallback = fallbackBandwidth(snap, info);
  const fr = frameRateOf(info ? info.format : snap.format, cfg.frameRate);
  return { ref, track, codecs: cfg.codecString, width: cfg.width, height: cfg.height, ...(fr ? { frameRate: fr } : {}), peak: bw?.peak ?? fallback, average: bw?.average ?? fallback };
}

/** The audio variant: the track's AAC configuration and the measured (or fallback) bandwidth. */
export function audioVariant(cfg: AacConfig, bw: Bandwidth | null): AudioVariant {
  return { codecs: cfg.codecString, channels: cfg.channels, sampleRate: cfg.sampleRate, peak: bw?.peak ?? AUDIO_FALLBACK_BANDWIDTH, average: bw?.average ?? AUDIO_FALLBACK_BANDWIDTH };
}

export function createVariants(deps: VariantsDeps): VariantsSource {
  const { reader } = deps;
  /** By track and newest measured segment: one measurement per segment, whatever the snapshots. */
  const bandwidths = new Map<string, Bandwidth | null>();

  async function measured(snap: Snapshot, track: Track): Promise<Bandwidth | null> {
    const segs = measuredSegments(snap, track);
    const last = segs[segs.length - 1];
    if (!last) return null;
    const key = `${track.content}/${track.stream}/${last.index}`;
    if (bandwidths.has(key)) return bandwidths.get(key) ?? null;
    const windows = segs.map((s) => segmentWindow(s, track.mode));
    const packets = await reader.packetSizes(track.content, track.stream, windows[0]?.from ?? 0, windows[windows.length - 1]?.to ?? 0);
    const value = bandwidthOf(segs, windows, packets);
    if (bandwidths.size > MAX_MEASURED) bandwidths.clear();
    bandwidths.set(key, value);
    return value;
  }

  function variants(snap: Snapshot): Promise<Variants> {
    return memoOn(snap, 'variants', async () => {
      const refs = allRefs(snap).filter((r): r is Extract<RenditionRef, { kind: 'video' }> => r.kind === 'video');
      const video = await Promise.all(refs.map(async (ref): Promise<VideoVariant> => {
        const track = trackOf(snap, ref);
        const resolved = await reader.track(track.content, track.stream);
        const cfg = resolved.track.config;
        if (cfg.codec !== 'h264') throw badPackagerRequest(`rendition ${ref.rung} is not H.264`);
        return videoVariant(snap, ref, track, cfg, await measured(snap, track));
      }));
      const audioTracks: AudioVariant[] = [];
      for (const t of audioTracksOf(snap)) {
        const track = trackOf(snap, t.ref);
        const resolved = await reader.track(track.content, track.stream);
        const cfg = resolved.track.config;
        if (cfg.codec !== 'aac') continue;
        audioTracks.push({ ...audioVariant(cfg, await measured(snap, track)), ref: t.ref, ...(t.language ? { language: t.language } : {}) });
      }
      // The main track first: without it there is no audio group (the others ride on it).
      const audio = audioTracks[0]?.ref?.track === undefined ? (audioTracks[0] ?? null) : null;
      return { video, audio, audioTracks: audio ? audioTracks : [] };
    });
  }

  return { measured, variants };
}
