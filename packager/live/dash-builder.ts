/**
 * From a channel's segments and renditions to a typed DASH manifest (rendered by `packager/dash`).
 * Pure. Video and audio are separate adaptation sets over the same CMAF segments HLS serves,
 * addressed by $Number$ = the segment index.
 */
import type { SegmentRecord } from '../../core/model/live';
import type { DashAdaptationSet, DashManifest, DashRepresentation } from '../dash/model';
import { captionAccessibility } from '../dash/mpd';
import type { CaptionService } from '../../core/model/captions';
import { TIMELINE_HZ } from '../../core/model/live';
import type { Marker } from '../../core/model/marker';
import { markerEvents } from './markers';


export interface DashVideoInput {
  rung: string;
  bandwidth: number;
  codecs: string;
  width: number;
  height: number;
  frameRate?: number;
}

export interface DashAudioInput {
  bandwidth: number;
  codecs: string;
  sampleRate: number;
  channels: number;
  /** BCP 47 language (the AdaptationSet's `lang`). */
  lang?: string;
}

/** A further audio track (another language): its files' stem (`audio<n>`). */
export interface DashMoreAudioInput extends DashAudioInput {
  stem: string;
}

export interface DashInput {
  /** Complete segments every listed representation has, ascending. */
  segments: SegmentRecord[];
  video: DashVideoInput[];
  audio: DashAudioInput | null;
  /** Further audio tracks, one AdaptationSet each (with the main one only). */
  moreAudio?: DashMoreAudioInput[];
  /** true: a complete catch-up range (static MPD). */
  complete: boolean;
  nowMs: number;
  utcTimingUrl: string;
  /** Seconds the live edge stays behind (suggestedPresentationDelay). */
  presentationDelay: number;
  /** The channel's ad markers: a Period-level SCTE-35 EventStream (see markers.ts). */
  markers?: readonly Marker[];
  /** CEA-608 services in the video: an Accessibility descriptor on the video adaptation set. */
  captions?: readonly CaptionService[];
}

/** Wall-clock time of media time 0, anchored on a segment (the first after the newest discontinuity). */
export function availabilityStartOf(segments: readonly SegmentRecord[]): number {
  let anchor = segments[0];
  for (const s of segments) if (s.discontinuity) anchor = s;
  if (!anchor) return 0;
  return Math.round(anchor.wallClockMs - (anchor.startPts * 1000) / TIMELINE_HZ);
}

export function buildManifest(input: DashInput): DashManifest {
  const segs = input.segments;
  const first = segs[0];
  const videoReps: DashRepresentation[] = input.video.map((v) => ({
    id: v.rung,
    bandwidth: v.bandwidth,
    codecs: v.codecs,
    width: v.width,
    height: v.height,
    ...(v.frameRate ? { frameRate: v.frameRate } : {}),
  }));
  const startNumber = first?.index ?? 1;
  const sets: DashAdaptationSet[] = [{
    id: 0,
    contentType: 'video',
    timescale: TIMELINE_HZ,
    addressing: 'number',
    initialization: 'v-$RepresentationID$-init.mp4',
    media: 'v-$RepresentationID$-$Number$.m4s',
    startNumber,
    segments: segs.map((s) => ({ t: s.startPts, d: s.durationPts as number })),
    representations: videoReps,
    ...(input.captions?.length ? { accessibility: captionAccessibility(input.captions) } : {}),
  }];
  const audioSets = input.audio ? [{ ...input.audio, stem: 'audio' }, ...(input.moreAudio ?? [])] : [];
  audioSets.forEach((a, i) => {
    const sr = a.sampleRate;
    const at = (pts: number) => Math.round((pts * sr) / TIMELINE_HZ);
    sets.push({
      id: 1 + i,
      contentType: 'audio',
      ...(a.lang ? { lang: a.lang } : {}),
      timescale: sr,
      addressing: 'number',
      initialization: `${a.stem}-init.mp4`,
      media: `${a.stem}-$Number$.m4s`,
      startNumber,
      segments: segs.map((s) => ({ t: at(s.startPts), d: at(s.startPts + (s.durationPts as number)) - at(s.startPts) })),
      representations: [{ id: a.stem, bandwidth: a.bandwidth, codecs: a.codecs, audioSamplingRate: sr, channels: a.channels }],
    });
  });
  const events = input.markers?.length ? markerEvents(input.markers, segs, input.complete) : [];
  const eventStream = events.length > 0
    ? { eventStream: { timescale: TIMELINE_HZ, ...(input.complete ? { presentationTimeOffset: first?.startPts ?? 0 } : {}), events } }
    : {};
  const total = segs.reduce((t, s) => t + (s.durationPts as number) / TIMELINE_HZ, 0);
  const longest = segs.reduce((m, s) => Math.max(m, (s.durationPts as number) / TIMELINE_HZ), 1);
  if (input.complete) {
    return {
      type: 'static',
      publishTime: input.nowMs,
      minBufferTime: longest,
      mediaPresentationDuration: total,
      ...(first ? { periodStart: 0 } : {}),
      utcTimingUrl: input.utcTimingUrl,
      adaptationSets: sets.map((a) => ({ ...a, presentationTimeOffset: a.segments[0]?.t ?? 0 })),
      ...eventStream,
    };
  }
  return {
    type: 'dynamic',
    availabilityStartTime: availabilityStartOf(segs),
    publishTime: input.nowMs,
    minimumUpdatePeriod: longest,
    timeShiftBufferDepth: Math.max(total, longest),
    suggestedPresentationDelay: input.presentationDelay,
    minBufferTime: longest,
    utcTimingUrl: input.utcTimingUrl,
    adaptationSets: sets,
    ...eventStream,
  };
}
