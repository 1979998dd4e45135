/**
 * The PROGRAM-DATE-TIME anchor of the segmenter, pure. A segment's wall clock is the anchor's plus its pts
 * distance, so PDT differences equal the EXTINF sums: hls.js re-aligns its playlists by PDT while the channel's
 * first segment is listed, and any disagreement moves its timeline by that much on every reload.
 *
 * One anchor per epoch (a session, or a discontinuity). It is the least delayed arrival (arrival − dts) over the
 * epoch's first segment, settled when that segment closes: a session's first frames come late and in a burst
 * (the demuxer probes before it hands out a packet), so the first frame's arrival alone would put the next
 * keyframe more than MAX_CLOCK_SKEW_MS early and re-anchor it. A keyframe that far from its derived time opens
 * a provisional anchor, kept only if its segment's least delayed frame is still that far off: a keyframe held
 * up for a moment (a stalled publisher, a busy ingest) is no drift.
 */

import { TIMELINE_HZ } from '../core/model/live';

/** Arrival and media clocks further apart than this (over a whole segment) re-anchor PROGRAM-DATE-TIME, ms. */
export const MAX_CLOCK_SKEW_MS = 1000;

/**
 * Wall clock `wallMs` (ms, fractional) of channel time `pts`, whose frame decodes at `dts`. Until `settled`
 * (the epoch's first segment closed) it moves earlier to the least delayed frame's arrival. `prior`: the
 * anchor a late or early keyframe replaced (not a discontinuity), kept when the segment's least delayed frame
 * shows the drift was not real.
 */
export interface WallClockAnchor {
  wallMs: number;
  pts: number;
  dts: number;
  settled: boolean;
  prior?: { wallMs: number; pts: number; dts: number };
}

/** The wall clock (ms) of channel time `pts` by `clock`. */
export function wallAt(clock: Pick<WallClockAnchor, 'wallMs' | 'pts'>, pts: number): number {
  return Math.round(clock.wallMs + ((pts - clock.pts) * 1000) / TIMELINE_HZ);
}

/** The anchor refined by a reference frame decoded at `dts` that arrived at `arrivalMs` (before it settles). */
export function refineAnchor(clock: WallClockAnchor, dts: number, arrivalMs: number): WallClockAnchor {
  if (clock.settled) return clock;
  const candidate = arrivalMs - ((dts - clock.dts) * 1000) / TIMELINE_HZ;
  return candidate < clock.wallMs ? { ...clock, wallMs: candidate } : clock;
}

/**
 * The anchor of an epoch once its first segment (starting at `startPts`) closes: the refined one, or the one it
 * replaced when the segment's least delayed frame is within MAX_CLOCK_SKEW_MS of it.
 */
export function settleAnchor(clock: WallClockAnchor, startPts: number): WallClockAnchor {
  const { prior, ...rest } = clock;
  if (prior && Math.abs(wallAt(clock, startPts) - wallAt(prior, startPts)) <= MAX_CLOCK_SKEW_MS) return { ...prior, settled: true };
  return { ...rest, settled: true };
}
