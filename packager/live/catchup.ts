/**
 * Catch-up ranges (`?start=&end=`): parsing the query and choosing the segments that fall in it. Pure.
 * Times are epoch seconds (integer or decimal) or ISO-8601 date-times with a zone.
 */
import { badPackagerRequest } from '../errors';
import { type SegmentRecord, TIMELINE_HZ } from '../../core/model/live';

export interface CatchupRange {
  startMs: number;
  /** null: start-over (an EVENT playlist that grows). */
  endMs: number | null;
}

type QueryValue = string | string[] | undefined;

const EPOCH = /^\d{1,12}(\.\d{1,6})?$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** One time parameter to epoch milliseconds; a clear 400 for anything else. */
export function parseTimeParam(name: string, raw: QueryValue): number | undefined {
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) throw badPackagerRequest(`'${name}' is given ${raw.length} times: give it once.`);
  const v = raw.trim();
  if (EPOCH.test(v)) return Math.round(Number(v) * 1000);
  if (ISO.test(v)) {
    const ms = Date.parse(v);
    if (Number.isFinite(ms)) return ms;
  }
  throw badPackagerRequest(`'${name}' must be epoch seconds (e.g. 1700000000) or an ISO-8601 date-time with a zone (e.g. 2024-01-31T12:00:00Z), got '${v.slice(0, 64)}'.`);
}

/**
 * The longest range one catch-up request may span (a start-over counts up to now): a playlist of a day of 2 s
 * segments is 43,200 entries (~4 MB); a longer window (a 7-day DVR) is watched a day at a time.
 */
export const MAX_CATCHUP_MS = 24 * 3600 * 1000;

/**
 * The catch-up range a query asks for, or null when it asks for none (the live window).
 * `oldestMs` is the start of the DVR window: ranges must lie within [oldestMs, nowMs].
 */
export function parseCatchup(query: Record<string, QueryValue>, nowMs: number, oldestMs: number): CatchupRange | null {
  const startMs = parseTimeParam('start', query.start);
  const endMs = parseTimeParam('end', query.end);
  if (startMs === undefined) {
    if (endMs !== undefined) throw badPackagerRequest("'end' needs 'start': give ?start=…&end=… for a range, or ?start=… alone for start-over.");
    return null;
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  if (startMs > nowMs) throw badPackagerRequest(`'start' ${iso(startMs)} is in the future (now is ${iso(nowMs)}).`);
  if (endMs !== undefined && endMs <= startMs) throw badPackagerRequest(`'end' ${iso(endMs)} must be after 'start' ${iso(startMs)}.`);
  const lastEnd = endMs ?? nowMs;
  if (lastEnd - startMs > MAX_CATCHUP_MS) {
    throw badPackagerRequest(
      `the range ${iso(startMs)} – ${iso(lastEnd)} spans more than ${MAX_CATCHUP_MS / 3600000} h: ask for at most a day at a time (?start=…&end=…)${endMs === undefined ? ', or start over less than a day back' : ''}.`,
    );
  }
  if (lastEnd < oldestMs) {
    throw badPackagerRequest(`the range ${iso(startMs)} – ${iso(lastEnd)} is outside the DVR window, which starts at ${iso(oldestMs)}.`);
  }
  return { startMs, endMs: endMs ?? null };
}

/** Wall-clock end of a closed segment in ms (its start for an open one). */
export function segmentEndMs(s: SegmentRecord): number {
  return s.wallClockMs + ((s.durationPts ?? 0) * 1000) / TIMELINE_HZ;
}

/**
 * Closed segments of the range, ascending: from the one whose PROGRAM-DATE-TIME span holds `startMs`
 * (a segment's span ends where the next one starts) to the last that starts before `endMs`.
 */
export function segmentsInRange(segments: readonly SegmentRecord[], range: CatchupRange): SegmentRecord[] {
  const sorted = [...segments].sort((a, b) => a.index - b.index);
  return sorted.filter((s, i) => {
    if (s.durationPts === null) return false;
    const next = sorted[i + 1];
    const spanEnd = next ? next.wallClockMs : segmentEndMs(s);
    return spanEnd > range.startMs && (range.endMs === null || s.wallClockMs < range.endMs);
  });
}

/** True when a closed range is complete: the last segment that can fall in it is already closed. */
export function rangeComplete(range: CatchupRange, newest: SegmentRecord | undefined): boolean {
  if (range.endMs === null || !newest) return false;
  return newest.durationPts !== null ? segmentEndMs(newest) >= range.endMs : newest.wallClockMs >= range.endMs;
}
