/**
 * The timestamp normaliser: one monotonic 90 kHz timeline per channel, across publisher sessions.
 *
 * Pure. The state is plain JSON-safe data (persist it in Redis between sessions); every step returns
 * a new state and never mutates its input, so nothing already emitted can change.
 *
 * - Input packets carry timestamps in their stream's time base (MPEG-TS 1/90000 with a 33-bit wrap,
 *   FLV 1/1000); the session's streams are declared with {@link beginSession}.
 * - The first packet of the channel lands at the origin; the first packet of every later session
 *   (a publisher reconnect, often with timestamps near 0) lands just after the last emitted
 *   timestamp plus one frame, and is marked `discontinuity: true`.
 * - Within a session every stream shares one offset, so the audio/video offset is preserved.
 * - Wraps (33-bit for 1/90000, 32-bit otherwise) are unwrapped; small backwards jumps and jitter
 *   are clamped (dts strictly increases per stream, pts >= dts); a large jump re-anchors the
 *   session like a reconnect (with a discontinuity).
 */
import type { MediaPacket, Rational } from '../core/model/media';
import { TIMELINE_HZ } from '../core/model/live';

const WRAP_33 = 2 ** 33;
const WRAP_32 = 2 ** 32;

/** What the normaliser needs to know of a stream (a subset of `Stream`). */
export interface StreamTiming {
  index: number;
  time_base: Rational;
}

export interface TimelineConfig {
  /** A backwards dts jump larger than this (90 kHz ticks) re-anchors the session. Default 1 s. */
  maxBackwardJump: number;
  /** A forward dts jump larger than this (90 kHz ticks) re-anchors the session. Default 10 s. */
  maxForwardJump: number;
  /** Frame duration assumed when a packet has none and none can be inferred. Default 1/30 s. */
  defaultFrame: number;
}

export const DEFAULT_TIMELINE_CONFIG: TimelineConfig = {
  maxBackwardJump: TIMELINE_HZ,
  maxForwardJump: 10 * TIMELINE_HZ,
  defaultFrame: TIMELINE_HZ / 30,
};

export interface StreamClock {
  timeBase: Rational;
  /** Wrap period in stream ticks (2^33 for 1/90000, 2^32 otherwise). */
  wrap: number;
  /** Accumulated unwrap correction, in stream ticks. */
  wrapOffset: number;
  /** Last unwrapped input dts, in stream ticks; null before the stream's first packet. */
  lastRawDts: number | null;
  /** Offset (90 kHz) from unwrapped input to channel time; null until anchored. */
  offset: number | null;
  /** Anchor epoch whose offset this stream uses. */
  epoch: number;
  /** Last emitted dts on the channel timeline, null before the first packet of this session. */
  lastDts: number | null;
  /** Last observed dts step (90 kHz), used when packets carry no duration. */
  lastStep: number;
}

export interface TimelineSession {
  /** Session counter: 1 for the channel's first publisher session. */
  id: number;
  /** Offset of the latest anchor (90 kHz), null until the session's first packet. */
  anchorOffset: number | null;
  /** Incremented every time the session re-anchors after a jump. */
  anchorEpoch: number;
  /** Where the latest anchor landed: no stream joining that anchor starts before it. */
  anchorFloor: number | null;
  /** The next emitted packet carries `discontinuity: true`. */
  discontinuityPending: boolean;
  streams: Record<string, StreamClock>;
}

export interface TimelineState {
  version: 1;
  /** Where the very first packet of the channel lands. */
  origin: number;
  /** Where the next anchor lands: max over emitted packets of dts + one frame. Null before any packet. */
  nextStart: number | null;
  /** Last emitted dts per stream index, across sessions (a floor for later sessions). */
  floors: Record<string, number>;
  session: TimelineSession | null;
}

export interface NormalisedPacket extends MediaPacket {
  /** First packet after a publisher reconnect or a timestamp jump. */
  discontinuity: boolean;
}

export type TimelineNoteCode = 'unknown-stream' | 'no-session' | 'no-timestamp' | 'clamped' | 'wrapped' | 'jump';

export interface TimelineNote {
  code: TimelineNoteCode;
  message: string;
}

export interface NormaliseResult {
  state: TimelineState;
  /** Null when the packet must be dropped (see `note`). */
  packet: NormalisedPacket | null;
  note?: TimelineNote;
}

export class TimelineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimelineError';
  }
}

/** A fresh channel timeline whose first packet will land at `origin` (90 kHz ticks). */
export function createTimelineState(origin = 0): TimelineState {
  if (!Number.isSafeInteger(origin) || origin < 0) {
    throw new TimelineError(`timeline origin must be a non-negative integer, got ${origin}`);
  }
  return { version: 1, origin, nextStart: null, floors: {}, session: null };
}

function validTimeBase(tb: unknown): tb is Rational {
  return Array.isArray(tb) && tb.length === 2 && Number.isSafeInteger(tb[0]) && Number.isSafeInteger(tb[1])
    && (tb[0] as number) > 0 && (tb[1] as number) > 0;
}

/** A time base's timestamp wrap period: 2^33 for 1/90000 (MPEG-TS), 2^32 otherwise (FLV milliseconds). */
export function wrapPeriodOf(timeBase: Rational): number {
  return timeBase[0] === 1 && timeBase[1] === TIMELINE_HZ ? WRAP_33 : WRAP_32;
}

function newClock(timeBase: Rational): StreamClock {
  return { timeBase, wrap: wrapPeriodOf(timeBase), wrapOffset: 0, lastRawDts: null, offset: null, epoch: 0, lastDts: null, lastStep: 0 };
}

/**
 * Starts a publisher session with its streams. The previous session (if any) ends; the first packet
 * of this one is anchored just after everything emitted so far and marked as a discontinuity
 * (except for the channel's very first session).
 */
export function beginSession(state: TimelineState, streams: readonly StreamTiming[]): TimelineState {
  const clocks: Record<string, StreamClock> = {};
  for (const s of streams) {
    if (!Number.isSafeInteger(s.index) || s.index < 0) {
      throw new TimelineError(`stream index must be a non-negative integer, got ${String(s.index)}`);
    }
    if (!validTimeBase(s.time_base)) {
      throw new TimelineError(`stream ${s.index} has an invalid time_base ${JSON.stringify(s.time_base)}`);
    }
    clocks[String(s.index)] = newClock([s.time_base[0], s.time_base[1]]);
  }
  const id = (state.session?.id ?? 0) + 1;
  return {
    ...state,
    session: {
      id,
      anchorOffset: null,
      anchorEpoch: 0,
      anchorFloor: null,
      discontinuityPending: state.nextStart !== null,
      streams: clocks,
    },
  };
}

/**
 * Pure: a state that continues after `dts` (exclusive): the next anchor lands at or after it, and no stream
 * emits at or before it. Used when a process continues a channel whose last writer died: its timeline
 * state may be older than what that writer stored, and published media must never be written over.
 */
export function continueAfter(state: TimelineState, dts: number | null): TimelineState {
  if (dts === null || !Number.isFinite(dts)) return state;
  const floors: Record<string, number> = {};
  for (const [k, v] of Object.entries(state.floors)) floors[k] = Math.max(v, dts - 1);
  return { ...state, nextStart: Math.max(state.nextStart ?? -Infinity, dts), floors };
}

/** Rescales stream ticks to 90 kHz, rounding to the nearest tick. */
export function to90k(value: number, timeBase: Rational): number {
  if (timeBase[0] === 1 && timeBase[1] === TIMELINE_HZ) return value;
  return Math.round((value * timeBase[0] * TIMELINE_HZ) / timeBase[1]);
}

/**
 * Unwraps `raw` against `last`, the previous unwrapped value (null for a stream's first), with the stream's
 * accumulated `wrapOffset` and wrap period: a step back of more than half the period is a wrap; returns the
 * new wrap offset too. Shared by the timeline and the audio converter.
 */
export function unwrapTimestamp(last: number | null, wrapOffset: number, wrap: number, raw: number): { value: number; wrapOffset: number; wrapped: boolean } {
  const value = raw + wrapOffset;
  if (last !== null) {
    const half = wrap / 2;
    if (value < last - half) return { value: value + wrap, wrapOffset: wrapOffset + wrap, wrapped: true };
    // A late packet from before a wrap: correct it alone, keep the stream's offset.
    if (value > last + half && value - wrap >= 0) return { value: value - wrap, wrapOffset, wrapped: false };
  }
  return { value, wrapOffset, wrapped: false };
}

/** Normalises one packet. Pure: returns the new state and the packet on the channel timeline. */
export function normalisePacket(
  state: TimelineState,
  packet: MediaPacket,
  config: TimelineConfig = DEFAULT_TIMELINE_CONFIG,
): NormaliseResult {
  const session = state.session;
  if (!session) {
    return { state, packet: null, note: { code: 'no-session', message: 'packet before beginSession(): dropped' } };
  }
  const key = String(packet.streamIndex);
  const clock = session.streams[key];
  if (!clock) {
    return {
      state,
      packet: null,
      note: { code: 'unknown-stream', message: `packet for undeclared stream ${packet.streamIndex}: dropped` },
    };
  }
  const rawDts = Number.isFinite(packet.dts) ? packet.dts : packet.pts;
  const rawPts = Number.isFinite(packet.pts) ? packet.pts : packet.dts;
  if (!Number.isFinite(rawDts) || !Number.isFinite(rawPts)) {
    return { state, packet: null, note: { code: 'no-timestamp', message: 'packet without pts or dts: dropped' } };
  }

  let note: TimelineNote | undefined;
  const u = unwrapTimestamp(clock.lastRawDts, clock.wrapOffset, clock.wrap, Math.round(rawDts));
  if (u.wrapped) note = { code: 'wrapped', message: `stream ${key}: timestamp wrap unwrapped` };
  // pts shares the dts unwrap; fix a pts that wrapped before (or after) its dts.
  let ptsIn = Math.round(rawPts) + u.wrapOffset;
  if (ptsIn - u.value > clock.wrap / 2) ptsIn -= clock.wrap;
  else if (u.value - ptsIn > clock.wrap / 2) ptsIn += clock.wrap;

  const dts90 = to90k(u.value, clock.timeBase);
  const pts90 = to90k(ptsIn, clock.timeBase);
  const duration90 = packet.duration > 0 ? to90k(packet.duration, clock.timeBase) : 0;

  let anchorOffset = session.anchorOffset;
  let anchorEpoch = session.anchorEpoch;
  let anchorFloor = session.anchorFloor;
  let offset = clock.offset;
  let epoch = clock.epoch;
  let discontinuity = session.discontinuityPending;
  const target = state.nextStart ?? state.origin;

  const freshAnchor = (): void => {
    anchorOffset = target - dts90;
    anchorFloor = target;
    anchorEpoch += 1;
    offset = anchorOffset;
    epoch = anchorEpoch;
  };
  // Join the session's latest anchor; a stream whose first packet precedes the anchor is shifted
  // to start at it (its offset to the anchoring stream changes by that much, once).
  const joinAnchor = (): void => {
    offset = anchorOffset as number;
    epoch = anchorEpoch;
    if (anchorFloor !== null && dts90 + offset < anchorFloor) {
      note = { code: 'clamped', message: `stream ${key}: starts ${anchorFloor - dts90 - offset} ticks before the anchor, shifted` };
      offset = anchorFloor - dts90;
    }
  };

  if (offset === null) {
    // The stream's first packet in this session: join the session's anchor, or create it.
    if (anchorOffset === null) freshAnchor();
    else joinAnchor();
  } else if (clock.lastDts !== null) {
    const step = dts90 + offset - clock.lastDts;
    if (step < -config.maxBackwardJump || step > config.maxForwardJump) {
      // A jump: follow a re-anchor another stream already made, else re-anchor the session.
      if (anchorOffset !== null && anchorEpoch > epoch) joinAnchor();
      else {
        freshAnchor();
        discontinuity = true;
      }
      note = { code: 'jump', message: `stream ${key}: timestamp jump of ${step} ticks, re-anchored` };
    }
  }
  const streamOffset = offset as number;

  let dts = dts90 + streamOffset;
  const floor = Math.max(clock.lastDts ?? -Infinity, state.floors[key] ?? -Infinity);
  if (dts <= floor) {
    if (!note) note = { code: 'clamped', message: `stream ${key}: dts ${dts} not after ${floor}, clamped` };
    dts = floor + 1;
  }
  const pts = Math.max(pts90 + streamOffset, dts);

  const observedStep = clock.lastDts !== null ? dts - clock.lastDts : 0;
  const lastStep = observedStep > 0 ? observedStep : clock.lastStep;
  const frame = duration90 > 0 ? duration90 : lastStep > 0 ? lastStep : config.defaultFrame;
  const nextStart = Math.max(state.nextStart ?? -Infinity, dts + frame);

  const newClockState: StreamClock = {
    ...clock,
    wrapOffset: u.wrapOffset,
    lastRawDts: Math.max(clock.lastRawDts ?? -Infinity, u.value),
    offset: streamOffset,
    epoch,
    lastDts: dts,
    lastStep,
  };
  // After a re-anchor the raw clock restarts: track it from this packet on.
  if (note?.code === 'jump') newClockState.lastRawDts = u.value;

  const newState: TimelineState = {
    ...state,
    nextStart,
    floors: { ...state.floors, [key]: dts },
    session: {
      ...session,
      anchorOffset,
      anchorEpoch,
      anchorFloor,
      discontinuityPending: false,
      streams: { ...session.streams, [key]: newClockState },
    },
  };
  const out: NormalisedPacket = {
    streamIndex: packet.streamIndex,
    pts,
    dts,
    duration: duration90,
    keyframe: packet.keyframe,
    data: packet.data,
    discontinuity,
  };
  return note ? { state: newState, packet: out, note } : { state: newState, packet: out };
}

/** Serialises the state for persistence (Redis). */
export function serialiseTimeline(state: TimelineState): string {
  return JSON.stringify(state);
}

function isRecordOf<T>(v: unknown, check: (x: unknown) => x is T): v is Record<string, T> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(check);
}

const isInt = (x: unknown): x is number => Number.isSafeInteger(x);
const isIntOrNull = (x: unknown): x is number | null => x === null || isInt(x);

function isClock(x: unknown): x is StreamClock {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  return validTimeBase(c.timeBase) && isInt(c.wrap) && isInt(c.wrapOffset) && isIntOrNull(c.lastRawDts)
    && isIntOrNull(c.offset) && isInt(c.epoch) && isIntOrNull(c.lastDts) && isInt(c.lastStep);
}

function isSession(x: unknown): x is TimelineSession {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  return isInt(s.id) && isIntOrNull(s.anchorOffset) && isInt(s.anchorEpoch) && isIntOrNull(s.anchorFloor)
    && typeof s.discontinuityPending === 'boolean' && isRecordOf(s.streams, isClock);
}

/** Parses and validates a persisted state; throws a TimelineError naming what is wrong. */
export function parseTimeline(json: string): TimelineState {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (err) {
    throw new TimelineError(`timeline state is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null) throw new TimelineError('timeline state must be an object');
  const s = v as Record<string, unknown>;
  if (s.version !== 1) throw new TimelineError(`unsupported timeline state version ${String(s.version)}`);
  if (!isInt(s.origin)) throw new TimelineError('timeline state: origin must be an integer');
  if (!isIntOrNull(s.nextStart)) throw new TimelineError('timeline state: nextStart must be an integer or null');
  if (!isRecordOf(s.floors, isInt)) throw new TimelineError('timeline state: floors must map stream indexes to integers');
  if (s.session !== null && !isSession(s.session)) throw new TimelineError('timeline state: session is malformed');
  return { version: 1, origin: s.origin, nextStart: s.nextStart, floors: s.floors, session: s.session as TimelineSession | null };
}
