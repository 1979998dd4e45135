/**
 * The segmenter: decides segment and LL-HLS part boundaries once, at ingest, from normalised
 * packets (decode order, 90 kHz channel timeline). Pure: a plain state value and
 * `segmenterStep(state, packet, wallClockMs) → {state, events}`; no I/O, no clock of its own.
 *
 * Boundaries are cut at packets of one reference stream: the video stream when there is one (a
 * segment opens at a keyframe once the target duration has passed), else the audio stream (every
 * audio packet is a sync point, cut by duration). A segment starts at its opening keyframe's pts;
 * parts are runs of samples in decode order and tile their segment exactly: a part's `startPts` is
 * its first sample's dts shifted by the segment's composition offset, and `startDts` tells the
 * packager which samples it holds (dts in `[startDts, startDts + durationPts)`).
 *
 * A part is announced on the frame that completes it, not on the next one: once a frame brings the open
 * part to its target (or the next frame is expected to be the keyframe that ends the segment), the part
 * closes at that frame's end, predicted from the frame duration (the smaller of the last two dts steps, so
 * jitter leaves a hole of a few ticks rather than an overlap). A frame
 * arriving before the predicted end is moved to it (`shift`): a published part never gains a sample.
 *
 * Splice points (ad markers, wall-clock ms on the PROGRAM-DATE-TIME clock) cut too: a keyframe at or after a
 * splice point that lies inside the open segment opens a new segment whatever the duration, so the splice
 * starts a segment (and every transcoded rung, whose encoder starts afresh per segment, starts it with an IDR).
 *
 * PROGRAM-DATE-TIME follows the media clock from one anchor per epoch (wall-clock.ts): a segment's wall clock
 * is the anchor's plus its pts distance, so PDT differences equal the EXTINF sums. An epoch's first segment
 * opens with its first frame's arrival and carries its final wall clock in `segment:closed`.
 */

import { TIMELINE_HZ } from '../core/model/live';
import { MAX_CLOCK_SKEW_MS, refineAnchor, settleAnchor, wallAt, type WallClockAnchor } from './wall-clock';

export { MAX_CLOCK_SKEW_MS, type WallClockAnchor } from './wall-clock';

/** What the segmenter reads of a packet (a NormalisedPacket fits). */
export interface SegmenterPacket {
  streamIndex: number;
  pts: number;
  dts: number;
  duration: number;
  keyframe: boolean;
  /** Publisher reconnect or timestamp jump: force a new segment at the next keyframe. */
  discontinuity?: boolean;
}

export interface SegmenterConfig {
  /** Index of the video stream whose keyframes cut segments; null for audio-only input. */
  videoStreamIndex: number | null;
  /** Index of the audio stream that cuts segments when there is no video. */
  audioStreamIndex: number | null;
  /** Target segment duration, 90 kHz ticks. Default 2 s. */
  targetDuration: number;
  /** Target LL-HLS part duration, 90 kHz ticks, 0.1 s to 1 s (and at most the target duration). Default 0.333 s. */
  partTarget: number;
  /** Index of the first segment (continuing after previously published segments). */
  firstIndex: number;
  /** A keyframe interval above this (90 kHz ticks) raises one warning. Default 4 s. */
  longGopWarning: number;
}

export const DEFAULT_SEGMENTER_CONFIG: Omit<SegmenterConfig, 'videoStreamIndex' | 'audioStreamIndex'> = {
  targetDuration: 2 * TIMELINE_HZ,
  partTarget: 29970,
  firstIndex: 0,
  longGopWarning: 4 * TIMELINE_HZ,
};

export interface SegmentOpenedEvent {
  type: 'segment:opened';
  index: number;
  startPts: number;
  startDts: number;
  wallClockMs: number;
  discontinuity: boolean;
}

export interface PartReadyEvent {
  type: 'part:ready';
  segmentIndex: number;
  partIndex: number;
  startPts: number;
  startDts: number;
  durationPts: number;
  independent: boolean;
}

export interface SegmentClosedEvent {
  type: 'segment:closed';
  index: number;
  startPts: number;
  durationPts: number;
  /** The segment's PROGRAM-DATE-TIME, final (for an epoch's first segment it may differ from the opening one). */
  wallClockMs: number;
  discontinuity: boolean;
  partCount: number;
}

export interface SegmenterWarningEvent {
  type: 'warning';
  code: 'long-gop';
  message: string;
}

export type SegmenterEvent = SegmentOpenedEvent | PartReadyEvent | SegmentClosedEvent | SegmenterWarningEvent;

interface OpenSegment {
  index: number;
  startPts: number;
  startDts: number;
  /** pts - dts of the opening sample: maps part dts to presentation time. */
  ctsOffset: number;
  discontinuity: boolean;
  partIndex: number;
  partStartDts: number;
  partIndependent: boolean;
  /** Reference frames in the open part (0: closed ahead of its first frame). */
  partFrames: number;
}

export interface SegmenterState {
  config: SegmenterConfig;
  /** Index the next opened segment gets. */
  nextIndex: number;
  segment: OpenSegment | null;
  /** A discontinuity was seen: the next keyframe opens a new segment whatever its duration. */
  forceCut: boolean;
  forceDiscontinuity: boolean;
  lastKeyframePts: number | null;
  lastRefDts: number | null;
  lastRefDuration: number;
  /** Last observed dts step of the reference stream (a frame). */
  refStep: number;
  /** Last keyframe interval (pts), 0 before two keyframes: when the next segment-opening keyframe is due. */
  gop: number;
  /** Where the last part closed ahead of the next frame ended: no reference frame may decode before it. */
  dtsFloor: number | null;
  /** The PROGRAM-DATE-TIME anchor: every segment's wall clock follows its pts from it. */
  clock: WallClockAnchor | null;
  warnedLongGop: boolean;
  finished: boolean;
}

export interface SegmenterStepResult {
  state: SegmenterState;
  events: SegmenterEvent[];
  /** Where this packet belongs, or null before the first segment opened. */
  placement: { segmentIndex: number; partIndex: number } | null;
  /**
   * How many of `events` cover only earlier packets (announce them before writing this one); the rest
   * (a segment this packet opens, a part it completes) are announced once this packet is written.
   */
  before: number;
  /** Ticks to add to this packet's dts and pts (a frame that came before its part's predicted start). */
  shift: number;
  /** The splice points (of `cues`) this packet's keyframe cut the segment for: the segment it opened starts them. */
  spliced?: number[];
}

export class SegmenterConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SegmenterConfigError';
  }
}

function checkIndex(name: string, v: unknown): void {
  if (v !== null && (!Number.isSafeInteger(v) || (v as number) < 0)) {
    throw new SegmenterConfigError(`segmenter ${name} must be a non-negative integer or null, got ${String(v)}`);
  }
}

/** Validates a (partial) config, fills defaults and returns the initial state. */
export function createSegmenterState(
  config: Partial<SegmenterConfig> & Pick<SegmenterConfig, 'videoStreamIndex' | 'audioStreamIndex'>,
): SegmenterState {
  const c: SegmenterConfig = { ...DEFAULT_SEGMENTER_CONFIG, ...config };
  checkIndex('videoStreamIndex', c.videoStreamIndex);
  checkIndex('audioStreamIndex', c.audioStreamIndex);
  if (c.videoStreamIndex === null && c.audioStreamIndex === null) {
    throw new SegmenterConfigError('segmenter needs a video or an audio stream index');
  }
  if (!Number.isSafeInteger(c.partTarget) || c.partTarget < 0.1 * TIMELINE_HZ || c.partTarget > 1 * TIMELINE_HZ) {
    throw new SegmenterConfigError(`segmenter partTarget must be 0.1 s to 1 s (9000 to 90000 ticks), got ${c.partTarget}`);
  }
  if (!Number.isSafeInteger(c.targetDuration) || c.targetDuration < c.partTarget || c.targetDuration > 30 * TIMELINE_HZ) {
    throw new SegmenterConfigError(
      `segmenter targetDuration must be between partTarget and 30 s in ticks, got ${c.targetDuration}`,
    );
  }
  if (!Number.isSafeInteger(c.firstIndex) || c.firstIndex < 0) {
    throw new SegmenterConfigError(`segmenter firstIndex must be a non-negative integer, got ${c.firstIndex}`);
  }
  if (!Number.isSafeInteger(c.longGopWarning) || c.longGopWarning <= 0) {
    throw new SegmenterConfigError(`segmenter longGopWarning must be a positive integer, got ${c.longGopWarning}`);
  }
  return {
    config: c,
    nextIndex: c.firstIndex,
    segment: null,
    forceCut: false,
    forceDiscontinuity: false,
    lastKeyframePts: null,
    lastRefDts: null,
    lastRefDuration: 0,
    refStep: 0,
    gop: 0,
    dtsFloor: null,
    clock: null,
    warnedLongGop: false,
    finished: false,
  };
}

function referenceIndex(c: SegmenterConfig): number {
  return (c.videoStreamIndex ?? c.audioStreamIndex) as number;
}

function placementOf(seg: OpenSegment | null): SegmenterStepResult['placement'] {
  return seg ? { segmentIndex: seg.index, partIndex: seg.partIndex } : null;
}

function partReady(seg: OpenSegment, endDts: number): PartReadyEvent {
  const startPts = seg.partStartDts + seg.ctsOffset;
  return {
    type: 'part:ready',
    segmentIndex: seg.index,
    partIndex: seg.partIndex,
    startPts,
    startDts: seg.partStartDts,
    durationPts: endDts - seg.partStartDts,
    independent: seg.partIndependent,
  };
}

/** Closes the open segment at `endPts` (its last part ends there too, unless it holds no frame). */
function closeSegment(seg: OpenSegment, endPts: number, wallClockMs: number): SegmenterEvent[] {
  const last = partReady(seg, seg.partStartDts);
  last.durationPts = endPts - last.startPts;
  const events: SegmenterEvent[] = [];
  if (seg.partFrames === 0) last.durationPts = 0;
  if (last.durationPts > 0) events.push(last);
  events.push({
    type: 'segment:closed',
    index: seg.index,
    startPts: seg.startPts,
    durationPts: endPts - seg.startPts,
    wallClockMs,
    discontinuity: seg.discontinuity,
    partCount: last.durationPts > 0 ? seg.partIndex + 1 : seg.partIndex,
  });
  return events;
}

/**
 * The next frame's expected dts step: the smaller of the last two steps (FLV's 33/33/34 ms gives 33), else the
 * packet's duration (a field-coded stream's packets may carry half a frame's), else 1/30 s.
 */
function frameEstimate(duration: number, ...steps: number[]): number {
  const known = steps.filter((d) => d > 0);
  if (known.length) return Math.min(...known);
  return duration > 0 ? duration : 3000;
}

/**
 * Whether a splice point lies inside the open segment (after `segmentStartMs`, its start plus half a frame: a
 * segment opened within half a frame of a splice point starts it) and at or before `atMs`, the wall clock of a
 * keyframe plus half a frame: that keyframe then opens a new segment.
 */
export function spliceDue(cues: readonly number[], segmentStartMs: number, atMs: number): boolean {
  return cues.some((c) => c > segmentStartMs && c <= atMs);
}

/**
 * Feeds one packet; returns the new state and the boundary events it caused, in order. `cues`: splice points
 * (wall-clock ms) the open segment must be cut at, at the first keyframe at or after each.
 */
export function segmenterStep(state: SegmenterState, packet: SegmenterPacket, wallClockMs: number, cues: readonly number[] = []): SegmenterStepResult {
  if (state.finished) return { state, events: [], placement: null, before: 0, shift: 0 };
  const c = state.config;
  const isRef = packet.streamIndex === referenceIndex(c);
  let s: SegmenterState = packet.discontinuity && !state.forceCut
    ? { ...state, forceCut: true, forceDiscontinuity: true }
    : state;
  if (!isRef || !Number.isFinite(packet.dts) || !Number.isFinite(packet.pts)) {
    return { state: s, events: [], placement: placementOf(s.segment), before: 0, shift: 0 };
  }
  const shift = s.dtsFloor !== null && packet.dts < s.dtsFloor ? s.dtsFloor - packet.dts : 0;
  const dts = packet.dts + shift;
  const pts = packet.pts + shift;
  if (s.lastRefDts !== null && dts <= s.lastRefDts) {
    // Out of decode order: never cut here (the normaliser should have prevented it).
    return { state: s, events: [], placement: placementOf(s.segment), before: 0, shift: 0 };
  }

  const events: SegmenterEvent[] = [];
  const audioOnly = c.videoStreamIndex === null;
  const sync = audioOnly || packet.keyframe;
  const step = s.lastRefDts !== null ? dts - s.lastRefDts : 0;
  const refStep = step > 0 ? step : s.refStep;
  const halfFrame = Math.floor((refStep > 0 ? refStep : 3000) / 2);

  if (sync && !audioOnly) {
    if (s.lastKeyframePts !== null && !s.warnedLongGop && pts - s.lastKeyframePts > c.longGopWarning) {
      const secs = ((pts - s.lastKeyframePts) / TIMELINE_HZ).toFixed(1);
      events.push({
        type: 'warning',
        code: 'long-gop',
        message: `keyframe interval ${secs} s is above ${c.longGopWarning / TIMELINE_HZ} s: set keyframe interval to 2 s`,
      });
      s = { ...s, warnedLongGop: true };
    }
    s = { ...s, gop: s.lastKeyframePts !== null && pts > s.lastKeyframePts ? pts - s.lastKeyframePts : s.gop, lastKeyframePts: pts };
  }

  let seg = s.segment;
  const dueByTime = seg !== null && pts - seg.startPts + halfFrame >= c.targetDuration;
  const halfMs = halfFrame / (TIMELINE_HZ / 1000);
  const cueFrom = seg !== null && s.clock !== null ? wallAt(s.clock, seg.startPts) + halfMs : 0;
  const cueTo = s.clock !== null ? wallAt(s.clock, pts) + halfMs : 0;
  const cueDue = sync && !audioOnly && seg !== null && s.clock !== null && cues.length > 0 && spliceDue(cues, cueFrom, cueTo);
  const cut = sync && (seg === null || ((dueByTime || s.forceCut || cueDue) && pts > seg.startPts && dts > seg.startDts));

  if (cut) {
    if (seg) {
      // The segment's wall clock by its epoch's anchor (set when the segment opened), final from here on.
      const clock = settleAnchor(s.clock as WallClockAnchor, seg.startPts);
      events.push(...closeSegment(seg, pts, wallAt(clock, seg.startPts)));
      s = { ...s, clock };
    }
    const discontinuity = s.forceDiscontinuity;
    seg = {
      index: s.nextIndex,
      startPts: pts,
      startDts: dts,
      ctsOffset: pts - dts,
      discontinuity,
      partIndex: 0,
      partStartDts: dts,
      partIndependent: true,
      partFrames: 0,
    };
    s = { ...s, nextIndex: s.nextIndex + 1, forceCut: false, forceDiscontinuity: false };
  } else if (seg && seg.partFrames > 0 && dts - seg.partStartDts + halfFrame >= c.partTarget) {
    // The frame came later than predicted and the part is already full: it starts the next one.
    events.push(partReady(seg, dts));
    seg = { ...seg, partIndex: seg.partIndex + 1, partStartDts: dts, partIndependent: sync, partFrames: 0 };
  } else if (seg && seg.partFrames === 0) {
    seg = { ...seg, partIndependent: sync };
  }
  const before = events.length;
  if (cut && seg) {
    // PROGRAM-DATE-TIME follows the media: a segment's wall clock is the anchor's plus its pts distance, so
    // PDT differences equal EXTINF sums (players align playlists by PDT). Re-anchored on a discontinuity, and
    // provisionally (settleAnchor decides at the segment's close) when arrival time and media time are more
    // than MAX_CLOCK_SKEW_MS apart.
    const derived = s.clock ? wallAt(s.clock, seg.startPts) : null;
    const anchored = derived !== null && !seg.discontinuity && Math.abs(derived - wallClockMs) <= MAX_CLOCK_SKEW_MS;
    const wall = anchored ? derived : wallClockMs;
    if (!anchored) {
      const prior = s.clock && !seg.discontinuity ? { wallMs: s.clock.wallMs, pts: s.clock.pts, dts: s.clock.dts } : undefined;
      s = { ...s, clock: { wallMs: wallClockMs, pts: seg.startPts, dts: seg.startDts, settled: false, ...(prior ? { prior } : {}) } };
    }
    events.push({ type: 'segment:opened', index: seg.index, startPts: seg.startPts, startDts: seg.startDts, wallClockMs: wall, discontinuity: seg.discontinuity });
  }
  const placement = placementOf(seg);
  let dtsFloor = s.dtsFloor;
  if (seg) {
    seg = { ...seg, partFrames: seg.partFrames + 1 };
    // Does this frame complete its part? Full at its predicted end, or the next frame is the keyframe
    // that will open the next segment.
    const end = dts + frameEstimate(packet.duration, refStep, s.refStep);
    const nextPts = end + seg.ctsOffset;
    const full = end - seg.partStartDts + halfFrame >= c.partTarget;
    const keyNext = audioOnly || (s.gop > 0 && s.lastKeyframePts !== null && Math.abs(nextPts - (s.lastKeyframePts + s.gop)) <= halfFrame);
    const segmentEnds = nextPts - seg.startPts + halfFrame >= c.targetDuration && keyNext;
    if (full || segmentEnds) {
      events.push(partReady(seg, end));
      seg = { ...seg, partIndex: seg.partIndex + 1, partStartDts: end, partIndependent: false, partFrames: 0 };
      dtsFloor = end;
    }
  }

  s = {
    ...s,
    ...(s.clock && !s.clock.settled && seg ? { clock: refineAnchor(s.clock, dts, wallClockMs) } : {}),
    segment: seg,
    lastRefDts: dts,
    lastRefDuration: packet.duration > 0 ? packet.duration : refStep,
    refStep,
    dtsFloor,
  };
  const spliced = cut && cueDue ? cues.filter((c) => c > cueFrom && c <= cueTo) : [];
  return { state: s, events, placement, before, shift, ...(spliced.length ? { spliced } : {}) };
}

/**
 * Ends the stream (publisher gone): closes the open part and segment after the last reference
 * packet (its duration, or one frame). Further packets are ignored.
 */
export function segmenterFinish(state: SegmenterState): { state: SegmenterState; events: SegmenterEvent[] } {
  if (state.finished) return { state, events: [] };
  const seg = state.segment;
  const done: SegmenterState = { ...state, segment: null, finished: true };
  if (!seg || state.lastRefDts === null || !state.clock) return { state: done, events: [] };
  const frame = state.lastRefDuration > 0 ? state.lastRefDuration : state.refStep > 0 ? state.refStep : 3000;
  // A part closed ahead of the next frame already fixed where the stream ends.
  const endPts = seg.partFrames === 0 ? seg.partStartDts + seg.ctsOffset : state.lastRefDts + frame + seg.ctsOffset;
  return { state: done, events: closeSegment(seg, Math.max(endPts, seg.startPts + 1), wallAt(settleAnchor(state.clock, seg.startPts), seg.startPts)) };
}
