/**
 * Pure decisions of a transcode job: its deterministic job id, the source video it needs, what to do with a
 * rung's segment (make it, leave it, or record a gap, and why), the presentation windows of a rung's parts,
 * which of them are complete, and what is left of the source segment once it closes.
 */

import { VIDEO_STREAM, type PartRecord, type SegmentRecord } from '../core/model/live';
import type { Format, Stream } from '../core/model/media';
import { CHANNEL_NAME } from '../core/model/channel';
import type { RungGapCode } from './segment-result';

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

/** A segment once `segment:closed` gave it a duration. */
export type ClosedSegment = SegmentRecord & { durationPts: number };

export function isClosed(seg: SegmentRecord): seg is ClosedSegment {
  return seg.durationPts !== null;
}

/** The channel's video stream (stream VIDEO_STREAM) with its size, or null when it has none with a size. */
export function sourceVideoOf(format: Format | null): { video: Stream; width: number; height: number } | null {
  const video = format?.streams.find((s) => s.index === VIDEO_STREAM && s.codecpar.codec_type === 'video');
  const width = Number(video?.codecpar.width);
  const height = Number(video?.codecpar.height);
  return video && width > 0 && height > 0 ? { video, width, height } : null;
}

/** A rung part's presentation window [start, end) on the channel's timeline (TIMELINE_HZ). */
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

/** What a job does with one rung's segment, and why when it does not make it. */
export type RungDecision =
  | { action: 'make' }
  | { action: 'skip'; reason: string }
  | { action: 'gap'; reason: string; code: Extract<RungGapCode, 'TRANSCODE_LATE' | 'TRANSCODE_ORPHANED'> };

export function planRungSegment(s: RungSegmentState, late: boolean, newestSegment: number): RungDecision {
  const action = decideRung(s, late);
  if (action === 'make') return { action };
  if (action === 'skip') return { action, reason: s.made ? 'already made' : 'already a gap' };
  if (s.published) return { action, reason: 'partly published by a worker that stopped', code: 'TRANSCODE_ORPHANED' };
  return { action, reason: `too late: the live edge is at segment ${newestSegment}`, code: 'TRANSCODE_LATE' };
}

/** The pts range (a score query) holding a rung's packets of the segment: to its end when closed, else open. */
export function segmentPtsRange(seg: Pick<SegmentRecord, 'startPts' | 'durationPts'>): { min: number; max: number | '+inf' } {
  return { min: seg.startPts, max: seg.durationPts === null ? '+inf' : seg.startPts + seg.durationPts - 1 };
}

/**
 * The windows, from the `emitted`-th on, whose every frame has come out of every encoder (they end at or before
 * `readyBefore`): the rung parts that can be published now, in order.
 */
export function readyWindows(windows: readonly PartWindow[], emitted: number, readyBefore: number): PartWindow[] {
  const out: PartWindow[] = [];
  for (const w of windows.slice(emitted)) {
    if (w.end > readyBefore) break;
    out.push(w);
  }
  return out;
}

/**
 * After the last part window is published, is a closing write of the rung packets up to the segment end still
 * needed? Yes when some window was not published, when there are no windows, or when they stop short of the end.
 */
export function closingWriteNeeded(windows: readonly PartWindow[], emitted: number, end: number): boolean {
  const last = windows[windows.length - 1];
  return emitted < windows.length || last === undefined || last.end < end;
}

/** Source packets of a closed segment past its last part (decode order), or null when the parts tile it. */
export function sourceTail(seg: Pick<ClosedSegment, 'startDts' | 'durationPts'>, parts: readonly Pick<PartRecord, 'startDts' | 'durationPts'>[]): { fromDts: number; toDts: number } | null {
  const lastDts = parts.reduce((m, p) => Math.max(m, p.startDts + p.durationPts), seg.startDts);
  const segEndDts = seg.startDts + seg.durationPts;
  return lastDts < segEndDts ? { fromDts: lastDts, toDts: segEndDts } : null;
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

/**
 * The source packets (dts ascending, as the store answers) a job may feed before their part is announced: those
 * up to the first keyframe after the segment's own. Ingest writes a stream's packets in decode order, each batch
 * at once, so what the store holds past the last announced part is a prefix of what follows; a segment ends only
 * at a keyframe, so everything before the next keyframe belongs to the open segment, while a keyframe may be the
 * next segment's first frame: it waits for its part (or the segment's close) to be announced.
 */
export function prefetchable<P extends { dts: number; keyframe: boolean }>(packets: readonly P[], segmentStartDts: number): P[] {
  const stop = packets.findIndex((p) => p.keyframe && p.dts > segmentStartDts);
  return stop < 0 ? [...packets] : packets.slice(0, stop);
}

/** The parts of a segment contiguous from part 0, in order (a part missing stops them). */
export function contiguousParts<P extends Pick<PartRecord, 'part'>>(parts: readonly P[]): P[] {
  const sorted = [...parts].sort((a, b) => a.part - b.part);
  const out: P[] = [];
  for (const p of sorted) {
    if (p.part !== out.length) break;
    out.push(p);
  }
  return out;
}

/**
 * Pushes of at most `max` packets each (a decoder given many packets at once holds all their frames), each
 * with the dts below which every packet has been pushed once it is in: the next push's first dts, and
 * `fedThrough` for the last.
 */
export function pushBatches<P extends { dts: number }>(packets: readonly P[], fedThrough: number, max: number): { packets: P[]; fedThrough: number }[] {
  if (packets.length === 0) return [{ packets: [], fedThrough }];
  const out: { packets: P[]; fedThrough: number }[] = [];
  for (let i = 0; i < packets.length; i += max) {
    const next = packets[i + max];
    out.push({ packets: packets.slice(i, i + max), fedThrough: next ? next.dts : fedThrough });
  }
  return out;
}
