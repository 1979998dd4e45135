/**
 * Pure decisions of a transcode job: its deterministic job id, the presentation windows of a rung's parts,
 * when a rung part is complete, what to do with a rung's segment (make it, leave it, or record a gap), and
 * the alignment check every made rung segment passes through.
 */

import type { PartRecord, SegmentRecord } from '../core/model/live';
import { CHANNEL_NAME } from '../core/model/channel';

/** BullMQ refuses ':' in custom job ids, so the channel and segment are joined by '@' (channel names have neither). */
export function transcodeJobId(channel: string, segment: number): string {
  return `${channel}@${segment}`;
}

/** The references a job carries: never media. */
export interface TranscodeJobData {
  channel: string;
  segment: number;
}

export function parseJobData(raw: unknown): TranscodeJobData {
  const d = raw as Partial<TranscodeJobData> | null;
  if (!d || typeof d.channel !== 'string' || !CHANNEL_NAME.test(d.channel) || !Number.isSafeInteger(d.segment) || (d.segment as number) < 1) {
    throw new Error(`bad transcode job data ${JSON.stringify(raw)?.slice(0, 200)}: expected {channel, segment >= 1}`);
  }
  return { channel: d.channel, segment: d.segment as number };
}

/** A rung part's presentation window [start, end) on the 90 kHz timeline. */
export interface PartWindow {
  part: number;
  start: number;
  end: number;
}

/**
 * Rung (and audio) part j covers [seg.startPts + Σ durations of parts 0..j-1, + part_j.durationPts). Parts must
 * be the segment's, contiguous from 0; the windows stop at the first missing part.
 */
export function partWindows(seg: Pick<SegmentRecord, 'startPts'>, parts: readonly Pick<PartRecord, 'part' | 'durationPts'>[]): PartWindow[] {
  const sorted = [...parts].sort((a, b) => a.part - b.part);
  const out: PartWindow[] = [];
  let start = seg.startPts;
  for (const p of sorted) {
    if (p.part !== out.length) break;
    out.push({ part: p.part, start, end: start + p.durationPts });
    start += p.durationPts;
  }
  return out;
}

/** What a job does with one rung's segment. */
export type RungAction = 'make' | 'skip' | 'gap';

export interface RungSegmentState {
  /** The rung's segment was finished before (a duplicate or retried job). */
  made: boolean;
  /** A gap was recorded for it before. */
  gap: boolean;
  /** Packets of the rung already exist in the segment's window: a dead worker published part of it. */
  published: boolean;
}

/**
 * Never rewrite a published rung segment: a finished or gapped one is left alone, a partly published one
 * (its worker died) becomes a gap, and so does one the live edge has left behind.
 */
export function decideRung(s: RungSegmentState, late: boolean): RungAction {
  if (s.made || s.gap) return 'skip';
  if (s.published || late) return 'gap';
  return 'make';
}

/**
 * A segment is too late to make when the live edge is more than `maxSegmentsBehind` segments past it when
 * its job starts (a job that sat in a dead worker until its lock expired, or a backlog).
 */
export function isLate(segment: number, newestSegment: number, maxSegmentsBehind: number): boolean {
  return newestSegment - segment > maxSegmentsBehind;
}

/** Queue lag of a job: from when it was enqueued to when a worker took it, seconds (never negative). */
export function queueLagSeconds(enqueuedAtMs: number, startedAtMs: number): number {
  return Math.max(0, (startedAtMs - enqueuedAtMs) / 1000);
}
