/**
 * Pure: what a transcode job reports back to its worker. Each rung's outcome (made, skipped, or a gap with
 * the pipeline error code saying why), what a made rung segment measured (encode speed, alignment, part
 * delays), the label the dropped-segments metric counts a gap under, and the pipeline faults a job's gaps are.
 */

import { TIMELINE_HZ } from '../core/model/live';
import type { Rational } from '../core/model/media';
import { fault, faultOf, PIPELINE_ERRORS, type PipelineErrorCode, type PipelineFault } from '../core/model/pipeline-errors';
import { checkAlignment, type RungPacketTiming } from './alignment';

/** Why a rung segment became a gap: left behind by the live edge, partly published by a job that died, or failed. */
export type RungGapCode = Extract<PipelineErrorCode, 'TRANSCODE_LATE' | 'TRANSCODE_ORPHANED' | 'TRANSCODE_SEGMENT_FAILED'>;

export interface RungResult {
  rung: string;
  action: 'made' | 'skip' | 'gap';
  reason?: string;
  /** Set on a gap: the pipeline error it is. */
  code?: RungGapCode;
  /** Seconds of media encoded and wall seconds spent encoding it (encode speed = media / encode). */
  mediaSeconds: number;
  encodeSeconds: number;
  alignmentProblems: string[];
  /** ms from a source part's `part:ready` to this rung's `rendition:ready` for it. */
  partDelaysMs: number[];
}

export interface SegmentJobResult {
  channel: string;
  segment: number;
  rungs: RungResult[];
  decodeSeconds: number;
  /** Why nothing was done, when so. */
  note: string | null;
}

export function segmentJobResult(channel: string, segment: number, note: string | null = null): SegmentJobResult {
  return { channel, segment, rungs: [], decodeSeconds: 0, note };
}

export function rungResult(rung: string, action: RungResult['action'], reason?: string, code?: RungGapCode): RungResult {
  return { rung, action, ...(reason ? { reason } : {}), ...(code ? { code } : {}), mediaSeconds: 0, encodeSeconds: 0, alignmentProblems: [], partDelaysMs: [] };
}

/** A rung the job was making when it failed: a gap, with what it had measured so far. */
export function failedRungResult(r: RungResult, reason: string): RungResult {
  return { ...r, action: 'gap', reason, code: 'TRANSCODE_SEGMENT_FAILED' };
}

export interface MadeRungSegment {
  startPts: number;
  durationPts: number;
  /** The rung's frame rate: the alignment check allows the last frame up to two frame durations before the end. */
  frameRate: Rational;
  timings: readonly RungPacketTiming[];
  encodeSeconds: number;
}

/** A made rung segment's measures: its alignment with the source segment, media and encode seconds. */
export function madeRungResult(r: RungResult, m: MadeRungSegment): RungResult {
  const frameTicks = (TIMELINE_HZ * m.frameRate[1]) / m.frameRate[0];
  return {
    ...r,
    alignmentProblems: checkAlignment({ startPts: m.startPts, durationPts: m.durationPts, maxTailTicks: Math.ceil(frameTicks * 2) }, m.timings),
    encodeSeconds: m.encodeSeconds,
    mediaSeconds: m.durationPts / TIMELINE_HZ,
  };
}

/** The `reason` label of `beam_transcode_dropped_segments_total` for a gap (a result without a code counts as failed). */
export function droppedReason(code: RungGapCode | undefined): 'late' | 'orphaned' | 'failed' {
  if (code === 'TRANSCODE_LATE') return 'late';
  if (code === 'TRANSCODE_ORPHANED') return 'orphaned';
  return 'failed';
}

/** The text a gap's warning event carries on the channel's event stream. */
export function gapWarning(rung: string, segment: number, reason: string): string {
  return `rung ${rung}: segment ${segment} is a gap (${reason})`;
}

/** One pipeline fault per rung segment a job recorded as a gap, with where it happened. */
export function rungFaults(result: SegmentJobResult): { fault: PipelineFault; context: { channel: string; segment: number; rung: string } }[] {
  return result.rungs
    .filter((r) => r.action === 'gap')
    .map((r) => ({ fault: fault(r.code ?? 'TRANSCODE_SEGMENT_FAILED', r.reason), context: { channel: result.channel, segment: result.segment, rung: r.rung } }));
}

/** A failed job (a crashed sandbox, an error outside the segment work) as a fault, keeping the human text. */
export function jobFailureFault(err: unknown): PipelineFault {
  const f = faultOf(err, 'TRANSCODE_JOB_FAILED');
  return f.code === 'TRANSCODE_JOB_FAILED' ? { ...f, message: `${PIPELINE_ERRORS.TRANSCODE_JOB_FAILED.text}: ${f.message}` } : f;
}
