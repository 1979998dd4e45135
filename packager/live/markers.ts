/**
 * Ad markers (core/model/marker.ts) placed in a playlist's or MPD's program time. Pure.
 *
 * A marker gives one or two cues: an ad-break its splice out at its start and, when it has a duration, the
 * return at its end; an ad-end its return. HLS: each cue is an EXT-X-DATERANGE written with the listed segment
 * whose PROGRAM-DATE-TIME span holds it (a cue in a hole between segments goes with the next one), and cues
 * after the last listed segment are announced after it while the playlist may grow. Both tags of a break share
 * its ID and START-DATE (the IN tag carries DURATION), as in RFC 8216bis's SCTE-35 example. DASH: one Event per
 * marker at the media time its wall-clock start maps to through the segment holding it.
 */
import { TIMELINE_HZ, type SegmentRecord } from '../../core/model/live';
import type { Marker } from '../../core/model/marker';
import type { HlsDateRange } from '../hls/model';
import type { DashEvent } from '../dash/model';

export interface MarkerCue {
  marker: Marker;
  /** Wall-clock time of the cue (ms). */
  atMs: number;
  range: HlsDateRange;
}

/** The cues of markers, by time. */
export function markerCues(markers: readonly Marker[]): MarkerCue[] {
  const cues: MarkerCue[] = [];
  for (const m of markers) {
    if (m.type === 'ad-break') {
      cues.push({ marker: m, atMs: m.startMs, range: { id: m.id, startDate: m.startMs, ...(m.durationSeconds !== null ? { plannedDuration: m.durationSeconds } : {}), scte35Out: m.scte35 } });
      if (m.durationSeconds !== null && m.scte35In) {
        cues.push({ marker: m, atMs: m.startMs + m.durationSeconds * 1000, range: { id: m.id, startDate: m.startMs, duration: m.durationSeconds, scte35In: m.scte35In } });
      }
    } else {
      cues.push({ marker: m, atMs: m.startMs, range: { id: m.id, startDate: m.startMs, scte35In: m.scte35 } });
    }
  }
  return cues.sort((a, b) => a.atMs - b.atMs);
}

function endMs(s: SegmentRecord): number {
  return s.wallClockMs + (s.durationPts ?? 0) / (TIMELINE_HZ / 1000);
}

/** Which listed segment (position in `segments`) a time belongs to; -1 before the first, `segments.length` after the last. */
export function segmentAt(segments: readonly SegmentRecord[], atMs: number): number {
  const first = segments[0];
  if (!first || atMs < first.wallClockMs) return -1;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as SegmentRecord;
    if (atMs < s.wallClockMs) return i; // in a hole before this segment: the splice lands at its start
    if (atMs < endMs(s)) return i;
  }
  return segments.length;
}

export interface PlacedDateRanges {
  /** Per segment index: its EXT-X-DATERANGE tags. */
  bySegment: Map<number, HlsDateRange[]>;
  /** Cues after the last listed segment (written only when the playlist may grow). */
  after: HlsDateRange[];
}

/** Places the markers' cues with the listed segments (ascending). `growing`: keep the cues after the last one. */
export function placeDateRanges(markers: readonly Marker[], segments: readonly SegmentRecord[], growing: boolean): PlacedDateRanges {
  const bySegment = new Map<number, HlsDateRange[]>();
  const after: HlsDateRange[] = [];
  if (segments.length === 0) return { bySegment, after };
  for (const cue of markerCues(markers)) {
    const i = segmentAt(segments, cue.atMs);
    if (i < 0) continue;
    if (i >= segments.length) {
      if (growing) after.push(cue.range);
      continue;
    }
    const index = (segments[i] as SegmentRecord).index;
    const list = bySegment.get(index) ?? [];
    list.push(cue.range);
    bySegment.set(index, list);
  }
  return { bySegment, after };
}

/** Media time (90 kHz pts) of a wall-clock time, through the listed segment holding it (the last one beyond them); null before them. */
export function ptsAt(segments: readonly SegmentRecord[], atMs: number): number | null {
  const i = segmentAt(segments, atMs);
  if (i < 0) return null;
  const s = segments[Math.min(i, segments.length - 1)] as SegmentRecord;
  if (atMs < s.wallClockMs) return s.startPts;
  return s.startPts + Math.round((atMs - s.wallClockMs) * (TIMELINE_HZ / 1000));
}

/**
 * DASH Events (timescale 90 kHz) of the markers starting within the listed segments or, `growing`, after them:
 * an ad-break's splice out with its planned duration, an ad-end's return.
 */
export function markerEvents(markers: readonly Marker[], segments: readonly SegmentRecord[], growing: boolean): DashEvent[] {
  const out: DashEvent[] = [];
  for (const m of [...markers].sort((a, b) => a.startMs - b.startMs)) {
    const i = segmentAt(segments, m.startMs);
    if (i < 0 || (i >= segments.length && !growing)) continue;
    const pts = ptsAt(segments, m.startMs);
    if (pts === null) continue;
    out.push({
      id: m.eventId,
      presentationTime: pts,
      ...(m.durationSeconds !== null ? { duration: Math.round(m.durationSeconds * TIMELINE_HZ) } : {}),
      binaryBase64: Buffer.from(m.scte35, 'hex').toString('base64'),
    });
  }
  return out;
}
