/**
 * Ad markers (core/model/marker.ts) placed in a playlist's or MPD's program time. Pure.
 *
 * A marker gives one or two cues: an ad-break its splice out and, when it has a duration, the return at its end;
 * an ad-end its return. A cue's time is where ingest cut the segment that starts it (`splicedMs`, the first
 * keyframe at or after the time asked), else the time asked. HLS: each cue is an EXT-X-DATERANGE written with
 * the listed segment whose PROGRAM-DATE-TIME span holds it (a cue in a hole between segments goes with the next
 * one): so a spliced cue goes with the segment it starts. Both tags of a break share its ID and START-DATE (the IN
 * tag carries DURATION), as in RFC 8216bis's SCTE-35 example. A cue is written once a listed segment starts at or
 * after it (or the playlist is final): by then ingest has recorded its cut, so a tag never changes once written.
 * DASH: one Event per marker at the media time its splice maps to through the segment holding it.
 */
import { TIMELINE_HZ, type SegmentRecord } from '../../core/model/live';
import { cueTimes, type Marker } from '../../core/model/marker';
import type { HlsDateRange } from '../hls/model';
import type { DashEvent } from '../dash/model';

/** PROGRAM-DATE-TIMEs are whole ms: a segment starting this close before a cue starts it. */
const CUT_SLACK_MS = 2;

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
    const t = cueTimes(m);
    if (m.type === 'ad-break') {
      cues.push({ marker: m, atMs: t.out, range: { id: m.id, startDate: t.out, ...(m.durationSeconds !== null ? { plannedDuration: m.durationSeconds } : {}), scte35Out: m.scte35 } });
      if (t.in !== null && m.scte35In) {
        cues.push({ marker: m, atMs: t.in, range: { id: m.id, startDate: t.out, duration: Math.max(0, t.in - t.out) / 1000, scte35In: m.scte35In } });
      }
    } else {
      cues.push({ marker: m, atMs: t.out, range: { id: m.id, startDate: t.out, scte35In: m.scte35 } });
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
  if (!first || atMs < first.wallClockMs - CUT_SLACK_MS) return -1;
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as SegmentRecord;
    if (atMs < s.wallClockMs + CUT_SLACK_MS) return i; // at its start, or in a hole before it: the splice is its start
    if (atMs < endMs(s) - CUT_SLACK_MS) return i;
  }
  return segments.length;
}

/** Whether a cue may be written: a listed segment starts at or after it, or the list is final (a complete range). */
function settled(segments: readonly SegmentRecord[], atMs: number, final: boolean): boolean {
  const last = segments[segments.length - 1];
  if (!last) return false;
  return final ? atMs < endMs(last) : last.wallClockMs >= atMs - CUT_SLACK_MS;
}

/** Places the markers' cues with the listed segments (ascending). `final`: the list will not grow (a complete range). */
export function placeDateRanges(markers: readonly Marker[], segments: readonly SegmentRecord[], final: boolean): Map<number, HlsDateRange[]> {
  const bySegment = new Map<number, HlsDateRange[]>();
  for (const cue of markerCues(markers)) {
    const i = segmentAt(segments, cue.atMs);
    if (i < 0 || i >= segments.length || !settled(segments, cue.atMs, final)) continue;
    const index = (segments[i] as SegmentRecord).index;
    const list = bySegment.get(index) ?? [];
    list.push(cue.range);
    bySegment.set(index, list);
  }
  return bySegment;
}

/** Media time (90 kHz pts) of a wall-clock time, through the listed segment holding it; null outside them. */
export function ptsAt(segments: readonly SegmentRecord[], atMs: number): number | null {
  const i = segmentAt(segments, atMs);
  if (i < 0 || i >= segments.length) return null;
  const s = segments[i] as SegmentRecord;
  if (atMs < s.wallClockMs + CUT_SLACK_MS) return s.startPts;
  return s.startPts + Math.round((atMs - s.wallClockMs) * (TIMELINE_HZ / 1000));
}

/**
 * DASH Events (timescale 90 kHz) of the markers whose splice lies within the listed segments (written as HLS
 * tags are: once a listed segment starts at or after it, or the list is final): an ad-break's splice out with
 * its planned duration, an ad-end's return.
 */
export function markerEvents(markers: readonly Marker[], segments: readonly SegmentRecord[], final: boolean): DashEvent[] {
  const out: DashEvent[] = [];
  for (const m of [...markers].sort((a, b) => a.startMs - b.startMs)) {
    const at = cueTimes(m).out;
    const pts = ptsAt(segments, at);
    if (pts === null || !settled(segments, at, final)) continue;
    out.push({
      // A break's end sent by the publisher with the break's own event id (id `…-IN`) needs an Event id of its own.
      id: m.id.endsWith('-IN') ? (m.eventId ^ 0x80000000) >>> 0 : m.eventId,
      presentationTime: pts,
      ...(m.durationSeconds !== null ? { duration: Math.round(m.durationSeconds * TIMELINE_HZ) } : {}),
      binaryBase64: Buffer.from(m.scte35, 'hex').toString('base64'),
    });
  }
  return out;
}
