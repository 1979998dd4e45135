/**
 * The archive bench's pure parts: the growth rate of a sampled figure once archiving moves payloads out in
 * passes (a sawtooth), and the back-dated copy of recorded segments that gives a channel hours of DVR history
 * without publishing for hours.
 */

import { archiveWindow } from '../../core/archive/archiver';
import { AUDIO_STREAM, VIDEO_STREAM, type PartRecord, type SegmentRecord } from '../../core/model/live';
import type { PacketRead, PacketWrite } from '../../core/store/store';

export interface Sample {
  /** ms */
  t: number;
  v: number;
}

/**
 * The lowest sample of each consecutive `windowMs` window (from the first sample). With the archiver's pass
 * interval as the window, each window holds about one pass, so its lowest sample is the one just after the
 * pass: memory measured at the same phase of the sawtooth every time.
 */
export function lowerEnvelope(samples: readonly Sample[], windowMs: number): Sample[] {
  if (windowMs <= 0) throw new Error('lowerEnvelope: the window must be positive');
  const first = samples[0];
  if (!first) return [];
  const out: Sample[] = [];
  let bucket = -1;
  for (const s of samples) {
    const b = Math.floor((s.t - first.t) / windowMs);
    const last = out[out.length - 1];
    if (b !== bucket || !last) {
      out.push(s);
      bucket = b;
    } else if (s.v < last.v) {
      out[out.length - 1] = s;
    }
  }
  return out;
}

/** Least-squares slope of v over t, per second (t in ms); NaN with fewer than two distinct times. */
export function slopePerSecond(points: readonly Sample[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? NaN : (num / den) * 1000;
}

/** Bytes per second → MB (10^6) per hour. */
export const mbPerHour = (bytesPerSecond: number): number => (bytesPerSecond * 3600) / 1e6;

/** How a recorded channel's segments are copied: index, timestamps (90 kHz) and wall clock moved. */
export interface CopyShift {
  indexOffset: number;
  ptsOffset: number;
  wallOffsetMs: number;
  /** The copy starts a new publisher session: its first segment carries a discontinuity, every one the count. */
  newSession: boolean;
}

/** One segment of the copy: its packets (written first), then its record and parts. */
export interface CopiedSegment {
  packets: PacketWrite[];
  segment: SegmentRecord;
  parts: PartRecord[];
}

/**
 * The copy of recorded closed segments: each segment's packets (the source video by its dts window, audio by
 * its pts window, as the packager and the archiver cut them; packets outside every copied segment are left
 * out), moved by `shift`, with the segment and part records moved the same way.
 */
export function copySegments(
  recorded: readonly { segment: SegmentRecord; parts: readonly PartRecord[] }[],
  packets: ReadonlyMap<number, readonly PacketRead[]>,
  shift: CopyShift,
): CopiedSegment[] {
  return recorded.map(({ segment, parts }, i) => {
    if (segment.durationPts === null) throw new Error(`copySegments: segment ${segment.index} is open`);
    const closed = segment as SegmentRecord & { durationPts: number };
    const out: PacketWrite[] = [];
    for (const [stream, list] of packets) {
      if (stream !== VIDEO_STREAM && stream !== AUDIO_STREAM) continue;
      const [from, to] = archiveWindow(closed, stream === VIDEO_STREAM);
      for (const p of list) {
        const at = stream === VIDEO_STREAM ? p.meta.dts : p.meta.pts;
        if (at < from || at >= to) continue;
        out.push({ streamIndex: stream, meta: { ...p.meta, pts: p.meta.pts + shift.ptsOffset, dts: p.meta.dts + shift.ptsOffset }, data: p.data });
      }
    }
    const moved: SegmentRecord = {
      ...segment,
      index: segment.index + shift.indexOffset,
      startPts: segment.startPts + shift.ptsOffset,
      startDts: segment.startDts + shift.ptsOffset,
      wallClockMs: segment.wallClockMs + shift.wallOffsetMs,
      ...(shift.newSession ? { discontinuity: i === 0 || segment.discontinuity, discontinuitySequence: (segment.discontinuitySequence ?? 0) + 1 } : {}),
    };
    return {
      packets: out,
      segment: moved,
      parts: parts.map((p) => ({ ...p, segment: p.segment + shift.indexOffset, startPts: p.startPts + shift.ptsOffset, startDts: p.startDts + shift.ptsOffset })),
    };
  });
}
