/**
 * From a channel's segment and part records to typed HLS values (then rendered by `packager/hls`).
 * Pure: the live service gathers the records, this decides what a playlist lists.
 */
import type { PartRecord, SegmentRecord } from '../../core/model/live';
import type { HlsMediaPlaylist, HlsPart, HlsPlaylistKind, HlsRenditionReport, HlsSegment } from '../hls/model';
import type { PlaylistPosition } from '../hls/blocking-request';
import { initFile, partFile, segmentFile, type RenditionRef } from './live-files';
import { TIMELINE_HZ } from '../../core/model/live';
import type { Marker } from '../../core/model/marker';
import { placeDateRanges } from './markers';


/** Which parts start with an independent frame: the source's own flags (video: a rung has its keyframes where the source has them), or all (audio). */
export type PartIndependence = 'record' | 'all';

export interface MediaPlaylistInput {
  kind: HlsPlaylistKind;
  ref: RenditionRef;
  /** Complete segments to list, ascending and consecutive by index (missing ones given in `gaps`). */
  segments: SegmentRecord[];
  /** Part records of the listed segments and of the segment in progress. */
  parts: PartRecord[];
  /** The segment in progress (index = last listed + 1) and how many of its parts are ready; null: none. */
  /** `discontinuity`: the segment in progress starts one (a new publisher, a switch of redundant inputs). */
  inProgress: { segment: number; readyParts: number; discontinuity?: boolean } | null;
  discontinuitySequence: number;
  /** LL-HLS: list parts, preload hint, blocking reload. */
  lowLatency: boolean;
  /** Seconds. */
  partTarget: number;
  /** Seconds (raised by the renderer to what the segments need). */
  targetDuration: number;
  gaps: ReadonlySet<number>;
  independence: PartIndependence;
  renditionReports: HlsRenditionReport[];
  ended: boolean;
  /** The channel's ad markers: EXT-X-DATERANGE with the segments holding them (see markers.ts). */
  markers?: readonly Marker[];
}

function partsOf(input: MediaPlaylistInput, segment: number, limit = Infinity): HlsPart[] {
  return input.parts
    .filter((p) => p.segment === segment && p.part < limit)
    .sort((a, b) => a.part - b.part)
    .map((p) => ({
      uri: partFile(input.ref, segment, p.part),
      duration: p.durationPts / TIMELINE_HZ,
      independent: input.independence === 'all' || p.independent,
    }));
}

export function buildMediaPlaylist(input: MediaPlaylistInput): HlsMediaPlaylist {
  const placed = input.markers?.length ? placeDateRanges(input.markers, input.segments, input.kind === 'vod' || input.ended) : null;
  const segments: HlsSegment[] = input.segments.map((s) => {
    const seg: HlsSegment = {
      uri: segmentFile(input.ref, s.index),
      duration: (s.durationPts as number) / TIMELINE_HZ,
      programDateTime: s.wallClockMs,
    };
    if (s.discontinuity) seg.discontinuity = true;
    const ranges = placed?.get(s.index);
    if (ranges) seg.dateRanges = ranges;
    if (input.gaps.has(s.index)) seg.gap = true;
    else if (input.lowLatency) seg.parts = partsOf(input, s.index);
    return seg;
  });
  const first = input.segments[0];
  const playlist: HlsMediaPlaylist = {
    kind: input.kind,
    targetDuration: input.targetDuration,
    mediaSequence: first ? first.index : (input.inProgress?.segment ?? 1),
    discontinuitySequence: input.discontinuitySequence,
    segments,
    independentSegments: true,
    map: initFile(input.ref),
    ended: input.ended,
  };
  const live = input.kind !== 'vod' && !input.ended;
  if (live && input.lowLatency) {
    const ip = input.inProgress;
    const pendingParts = ip ? partsOf(input, ip.segment, ip.readyParts) : [];
    // Between a segment's close and the next one's first frame nothing is in progress: the next part is then
    // the next segment's first (a request for it blocks until it exists, like any hinted part).
    const last = input.segments[input.segments.length - 1];
    const next = ip ? partFile(input.ref, ip.segment, ip.readyParts) : last ? partFile(input.ref, last.index + 1, 0) : undefined;
    playlist.lowLatency = { partTarget: input.partTarget, pendingParts, ...(ip?.discontinuity ? { pendingDiscontinuity: true } : {}), ...(next ? { preloadHint: next } : {}) };
    playlist.renditionReports = input.renditionReports;
  } else if (live) {
    playlist.serverControl = { canBlockReload: true };
  }
  return playlist;
}

/** Where a playlist stands, for `_HLS_msn` / `_HLS_part` decisions. */
export function positionOf(lastMsn: number, readyParts: number, lowLatency: boolean, partTarget: number, ended: boolean): PlaylistPosition {
  return { lastMsn, pendingParts: readyParts, ...(lowLatency ? { partTarget } : {}), canSkip: !ended, ended };
}

/** The longest part of the records in seconds (PART-TARGET), at least `floor`. */
export function partTargetOf(parts: readonly PartRecord[], floor: number): number {
  return parts.reduce((m, p) => Math.max(m, p.durationPts / TIMELINE_HZ), floor);
}

/** TARGETDURATION for a set of segments: the longest rounded up, at least `floor` seconds. */
export function targetDurationOf(segments: readonly SegmentRecord[], floor: number): number {
  return segments.reduce((m, s) => Math.max(m, Math.round((s.durationPts ?? 0) / TIMELINE_HZ)), floor);
}
