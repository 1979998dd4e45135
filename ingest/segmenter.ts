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
 */

import { TIMELINE_HZ } from '../engine/model/live';

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
  /** Target LL-HLS part duration, 90 kHz ticks, 0.33 s to 0.5 s. Default 0.333 s. */
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
  warnedLongGop: boolean;
  finished: boolean;
}

export interface SegmenterStepResult {
  state: SegmenterState;
  events: SegmenterEvent[];
  /** Where this packet belongs, or null before the first segment opened. */
  placement: { segmentIndex: number; partIndex: number } | null;
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
  if (!Number.isSafeInteger(c.partTarget) || c.partTarget < 0.33 * TIMELINE_HZ || c.partTarget > 0.5 * TIMELINE_HZ) {
    throw new SegmenterConfigError(`segmenter partTarget must be 0.33 s to 0.5 s (29700 to 45000 ticks), got ${c.partTarget}`);
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

/** Closes the open segment at `endPts` (its last part ends there too). */
function closeSegment(seg: OpenSegment, endPts: number): SegmenterEvent[] {
  const last = partReady(seg, seg.partStartDts);
  last.durationPts = endPts - last.startPts;
  const events: SegmenterEvent[] = [];
  if (last.durationPts > 0) events.push(last);
  events.push({
    type: 'segment:closed',
    index: seg.index,
    startPts: seg.startPts,
    durationPts: endPts - seg.startPts,
    discontinuity: seg.discontinuity,
    partCount: last.durationPts > 0 ? seg.partIndex + 1 : seg.partIndex,
  });
  return events;
}

/** Feeds one packet; returns the new state and the boundary events it caused, in order. */
export function segmenterStep(state: SegmenterState, packet: SegmenterPacket, wallClockMs: number): SegmenterStepResult {
  if (state.finished) return { state, events: [], placement: null };
  const c = state.config;
  const isRef = packet.streamIndex === referenceIndex(c);
  let s: SegmenterState = packet.discontinuity && !state.forceCut
    ? { ...state, forceCut: true, forceDiscontinuity: true }
    : state;
  if (!isRef || !Number.isFinite(packet.dts) || !Number.isFinite(packet.pts)) {
    return { state: s, events: [], placement: placementOf(s.segment) };
  }
  if (s.lastRefDts !== null && packet.dts <= s.lastRefDts) {
    // Out of decode order: never cut here (the normaliser should have prevented it).
    return { state: s, events: [], placement: placementOf(s.segment) };
  }

  const events: SegmenterEvent[] = [];
  const audioOnly = c.videoStreamIndex === null;
  const sync = audioOnly || packet.keyframe;
  const step = s.lastRefDts !== null ? packet.dts - s.lastRefDts : 0;
  const refStep = step > 0 ? step : s.refStep;
  const halfFrame = Math.floor((refStep > 0 ? refStep : 3000) / 2);

  if (sync && !audioOnly) {
    if (s.lastKeyframePts !== null && !s.warnedLongGop && packet.pts - s.lastKeyframePts > c.longGopWarning) {
      const secs = ((packet.pts - s.lastKeyframePts) / TIMELINE_HZ).toFixed(1);
      events.push({
        type: 'warning',
        code: 'long-gop',
        message: `keyframe interval ${secs} s is above ${c.longGopWarning / TIMELINE_HZ} s: set keyframe interval to 2 s`,
      });
      s = { ...s, warnedLongGop: true };
    }
    s = { ...s, lastKeyframePts: packet.pts };
  }

  let seg = s.segment;
  const dueByTime = seg !== null && packet.pts - seg.startPts + halfFrame >= c.targetDuration;
  const cut = sync && (seg === null || ((dueByTime || s.forceCut) && packet.pts > seg.startPts && packet.dts > seg.startDts));

  if (cut) {
    if (seg) events.push(...closeSegment(seg, packet.pts));
    const discontinuity = s.forceDiscontinuity;
    seg = {
      index: s.nextIndex,
      startPts: packet.pts,
      startDts: packet.dts,
      ctsOffset: packet.pts - packet.dts,
      discontinuity,
      partIndex: 0,
      partStartDts: packet.dts,
      partIndependent: true,
    };
    events.push({
      type: 'segment:opened',
      index: seg.index,
      startPts: seg.startPts,
      startDts: seg.startDts,
      wallClockMs,
      discontinuity,
    });
    s = { ...s, nextIndex: s.nextIndex + 1, forceCut: false, forceDiscontinuity: false };
  } else if (seg && packet.dts - seg.partStartDts + halfFrame >= c.partTarget) {
    events.push(partReady(seg, packet.dts));
    seg = { ...seg, partIndex: seg.partIndex + 1, partStartDts: packet.dts, partIndependent: sync };
  }

  s = {
    ...s,
    segment: seg,
    lastRefDts: packet.dts,
    lastRefDuration: packet.duration > 0 ? packet.duration : refStep,
    refStep,
  };
  return { state: s, events, placement: placementOf(seg) };
}

/**
 * Ends the stream (publisher gone): closes the open part and segment after the last reference
 * packet (its duration, or one frame). Further packets are ignored.
 */
export function segmenterFinish(state: SegmenterState): { state: SegmenterState; events: SegmenterEvent[] } {
  if (state.finished) return { state, events: [] };
  const seg = state.segment;
  const done: SegmenterState = { ...state, segment: null, finished: true };
  if (!seg || state.lastRefDts === null) return { state: done, events: [] };
  const frame = state.lastRefDuration > 0 ? state.lastRefDuration : state.refStep > 0 ? state.refStep : 3000;
  const endPts = state.lastRefDts + frame + seg.ctsOffset;
  return { state: done, events: closeSegment(seg, Math.max(endPts, seg.startPts + 1)) };
}
