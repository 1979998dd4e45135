/**
 * The media contract's windows, pure: which packets make a segment or part of a track, and the
 * bandwidth a rendition measures. Source video is cut by decode time; audio and rung video by
 * presentation time (their dts equals pts), both in 90 kHz ticks and half-open.
 */
import type { PartRecord, SegmentRecord } from '../../core/model/live';
import { badRenderInput } from '../errors';

export interface TickWindow {
  /** First tick inside the window. */
  from: number;
  /** First tick after the window. */
  to: number;
}

/** How a track is cut: `dts` for the channel's source video, `pts` for audio and renditions. */
export type WindowMode = 'dts' | 'pts';

function closedDuration(seg: SegmentRecord): number {
  if (seg.durationPts === null) throw badRenderInput(`segment ${seg.index} is still open`);
  return seg.durationPts;
}

export function segmentWindow(seg: SegmentRecord, mode: WindowMode): TickWindow {
  const from = mode === 'dts' ? seg.startDts : seg.startPts;
  return { from, to: from + closedDuration(seg) };
}

/** Window of part `part` of `seg`; `parts` are the segment's part records (any order). */
export function partWindow(seg: SegmentRecord, parts: readonly PartRecord[], part: number, mode: WindowMode): TickWindow {
  const own = parts.filter((p) => p.segment === seg.index).sort((a, b) => a.part - b.part);
  const rec = own.find((p) => p.part === part);
  if (!rec) throw badRenderInput(`segment ${seg.index} has no part ${part}`);
  if (mode === 'dts') return { from: rec.startDts, to: rec.startDts + rec.durationPts };
  let from = seg.startPts;
  for (const p of own) {
    if (p.part >= part) break;
    from += p.durationPts;
  }
  return { from, to: from + rec.durationPts };
}

export interface MeasuredSegment {
  bytes: number;
  /** Seconds. */
  duration: number;
}

export interface Bandwidth {
  /** Highest segment bit rate, bits per second. */
  peak: number;
  /** Bits over seconds across all segments. */
  average: number;
}

/** Peak and average bit rate of segments; null when nothing was measured. */
export function measureBandwidth(segments: readonly MeasuredSegment[]): Bandwidth | null {
  const usable = segments.filter((s) => s.duration > 0 && s.bytes > 0);
  if (usable.length === 0) return null;
  const peak = Math.max(...usable.map((s) => (s.bytes * 8) / s.duration));
  const totalBits = usable.reduce((t, s) => t + s.bytes * 8, 0);
  const totalSeconds = usable.reduce((t, s) => t + s.duration, 0);
  return { peak: Math.ceil(peak), average: Math.ceil(totalBits / totalSeconds) };
}

/** Bytes of `packets` (by dts) falling in each window, in the order of `windows`. */
export function bytesPerWindow(packets: readonly { dts: number; size: number }[], windows: readonly TickWindow[]): number[] {
  return windows.map((w) => packets.reduce((t, p) => (p.dts >= w.from && p.dts < w.to ? t + p.size : t), 0));
}
