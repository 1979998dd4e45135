/**
 * Pure: the alignment check of a rung segment against its source segment. A rung segment must start with a
 * keyframe at exactly the source segment's startPts, have dts == pts, strictly increasing pts inside the
 * segment's presentation window, and reach the window's end (its last frame ends at the window end and lies
 * within `maxTailTicks` of it). Every problem is named; an empty list means aligned.
 */

export interface RungPacketTiming {
  pts: number;
  dts: number;
  duration: number;
  keyframe: boolean;
}

export interface AlignmentWindow {
  startPts: number;
  durationPts: number;
  /** Longest distance allowed between the last frame's pts and the window end (e.g. 2 frame durations). */
  maxTailTicks: number;
}

export function checkAlignment(w: AlignmentWindow, packets: readonly RungPacketTiming[]): string[] {
  const problems: string[] = [];
  const end = w.startPts + w.durationPts;
  const first = packets[0];
  if (!first) return [`no packets in [${w.startPts}, ${end})`];
  if (!first.keyframe) problems.push(`first packet (pts ${first.pts}) is not a keyframe`);
  if (first.pts !== w.startPts) problems.push(`first packet pts ${first.pts} != source segment start ${w.startPts}`);
  let prev: number | null = null;
  for (const p of packets) {
    if (p.dts !== p.pts) {
      problems.push(`packet pts ${p.pts} has dts ${p.dts}`);
      break;
    }
    if (prev !== null && p.pts <= prev) {
      problems.push(`pts ${p.pts} does not increase after ${prev}`);
      break;
    }
    if (p.pts < w.startPts || p.pts >= end) {
      problems.push(`packet pts ${p.pts} outside [${w.startPts}, ${end})`);
      break;
    }
    prev = p.pts;
  }
  const last = packets[packets.length - 1] as RungPacketTiming;
  if (end - last.pts > w.maxTailTicks) problems.push(`last packet pts ${last.pts} is ${end - last.pts} ticks before the segment end ${end}`);
  else if (last.pts + last.duration !== end) problems.push(`last packet ends at ${last.pts + last.duration}, not at the segment end ${end}`);
  return problems;
}
