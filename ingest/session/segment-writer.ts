/**
 * The timeline and segment writing of one publish: each packet is normalised onto the channel's timeline,
 * segmented, and batched into the store; the boundaries it crosses are written after the packets they cover,
 * so a reader woken by `part:ready` always finds the part's packets. `finish` closes the open segment and
 * saves the timeline.
 */

import type { Channel } from '../../core/model/channel';
import { AUDIO_STREAM, VIDEO_STREAM } from '../../core/model/live';
import type { MediaPacket } from '../../core/model/media';
import { packetMetaOf } from '../../core/model/media';
import type { LiveStore } from '../../core/store/live-store';
import type { PacketWrite, Store } from '../../core/store/store';
import { segmenterFinish, segmenterStep, type SegmenterEvent, type SegmenterState } from '../segmenter';
import { normalisePacket, serialiseTimeline, type TimelineState } from '../timeline';
import { wallAt } from '../wall-clock';
import { boundaryRecords, type BoundaryBook } from './boundary-records';
import { redisFailureKind } from '../../core/store/redis-errors';
import type { SessionLog } from './types';

export interface SegmentWriterDeps {
  channel: Channel;
  store: Pick<Store, 'writePackets'>;
  live: Pick<LiveStore, 'writeBoundaries' | 'setTimeline'>;
  log: SessionLog;
  now: () => number;
  /** Packet and boundary retention, ms. */
  ttlMs: number;
  maxBatch: number;
  flushMs: number;
  /** Throws once nothing more may be written (the channel was deleted). */
  writable: () => void;
  /** Every packet that passed the timeline (diagnostics). */
  onPacket: (p: { streamIndex: number; pts: number; dts: number; keyframe: boolean; size: number }) => void;
  onSegmentOpened?: (channel: Channel, segment: number) => Promise<unknown>;
  /** The lease holder id boundaries are written as (the store refuses them once another process holds the channel). */
  holder?: string;
  /** The lease's time-to-live: a write finding it expired with nobody holding it (a Redis outage outlived it) takes it back. */
  leaseTtlMs?: number;
  /** How long writes are retried while Redis is unreachable or failing over before the publish ends, ms (0: not at all). */
  outageHoldMs?: number;
  /** Packets the store refused because they would land in a closed segment (published media is immutable). */
  onPacketsRefused?: (channel: string, count: number) => void;
  /** A write waits for Redis (`true` when the wait starts, `false` when it is over). */
  onOutage?: (channel: string, waiting: boolean) => void;
  /** An LL-HLS part was announced `delayMs` after its first frame was handed to `ingest`. */
  onPartReady?: (channel: string, delayMs: number) => void;
  /** Splice points (ad markers' wall-clock times) segments are cut at, at the first keyframe at or after each. */
  cues?: () => readonly number[];
  /** Splice points a segment was just cut for, that segment's PROGRAM-DATE-TIME (ms) and its first pts. */
  onSplice?: (spliced: number[], wallClockMs: number, startPts: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** Timeline states are kept well beyond the DVR window: a channel that comes back a day later continues it. */
const TIMELINE_TTL_MS = 24 * 3600 * 1000;

export interface SegmentWriterStart {
  timeline: TimelineState;
  segmenter: SegmenterState;
  book: BoundaryBook;
  /** Whether the channel has audio: then the audio completing a part is written at once. */
  hasAudio: boolean;
  /** Channel stream indexes of the extra audio tracks (2, 3, …); each part waits for each track's audio too. */
  extraAudio?: readonly number[];
}

export interface SegmentWriter {
  /** One packet on its channel stream index. */
  ingest(packet: MediaPacket): Promise<void>;
  /** Closes the open segment, writes what is pending and saves the timeline. */
  finish(): Promise<void>;
  /**
   * The newest video packet as given (`inputPts`, the publisher's clock in its stream's time base) and its
   * PROGRAM-DATE-TIME (ms): how a time in the publisher's clock (an SCTE-35 splice) is placed. Null before the
   * first segment opened.
   */
  videoClock(): { inputPts: number; wallMs: number } | null;
}

/**
 * `write`, retried while Redis is unreachable or failing over (a lost connection, a cluster primary being
 * replaced, a read-only replica during promotion), up to `holdMs`; then, or on any other error, it throws.
 * Meanwhile the publisher stays connected: its bytes wait in the demuxer (bounded, see demuxer.ts).
 */
export async function holdThroughOutage<T>(write: () => Promise<T>, o: { holdMs: number; now: () => number; sleep: (ms: number) => Promise<void>; onWait?: (waiting: boolean) => void }): Promise<T> {
  let since: number | null = null;
  let delay = 50;
  try {
    for (;;) {
      try {
        return await write();
      } catch (err) {
        const kind = redisFailureKind(err);
        if (kind !== 'connection' && kind !== 'readonly') throw err;
        since ??= o.now();
        if (o.now() - since >= o.holdMs) throw err;
        if (delay === 50) o.onWait?.(true);
        await o.sleep(delay);
        delay = Math.min(delay * 2, 1000);
      }
    }
  } finally {
    if (since !== null) o.onWait?.(false);
  }
}

export function createSegmentWriter(deps: SegmentWriterDeps, start: SegmentWriterStart): SegmentWriter {
  const { channel, store, live, log, now, ttlMs, writable } = deps;
  const name = channel.name;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const hold = <T>(write: () => Promise<T>): Promise<T> =>
    holdThroughOutage(write, { holdMs: deps.outageHoldMs ?? 0, now, sleep, onWait: (w) => deps.onOutage?.(name, w) });
  let { timeline, segmenter, book } = start;
  /** Packets not yet written, and the boundaries to announce once they are (each after the packets it covers). */
  let pending: PacketWrite[] = [];
  let announce: SegmenterEvent[] = [];
  let lastFlush = now();
  /** The writes, one at a time in order: the tail of the chain, and the first failure (every later write rethrows it). */
  let writing: Promise<void> = Promise.resolve();
  let failed: { err: unknown } | null = null;
  let soon = false;
  /**
   * End (pts) of the last announced part, per audio track, until an audio packet of that track reaching it is
   * written: players wait for it.
   */
  const audioTracks = start.hasAudio ? [AUDIO_STREAM, ...(start.extraAudio ?? [])] : [];
  const audioAwaited = new Map<number, number>();
  /** Per audio track, the end (pts) of its newest packet handed to a write, and of its newest one pending. */
  const audioWritten = new Map<number, number>();
  const audioPending = new Map<number, number>();
  /** When the first frame of each part not yet announced arrived (`<segment>.<part>` → ms), for onPartReady. */
  const partArrivals = new Map<string, number>();
  const referenceStream = start.segmenter.config.videoStreamIndex ?? start.segmenter.config.audioStreamIndex;

  /**
   * Writes what is pending, then announces the boundaries it completes: after the writes before it, one at a time.
   * What is pending and what to announce are taken together when the write starts, so packets and boundaries that
   * came meanwhile go into it too, and a boundary is never announced before the packets it covers are written.
   */
  function drain(): Promise<void> {
    if (failed) return Promise.reject(failed.err);
    const run = writing.then(async () => {
      if (failed) throw failed.err;
      try {
        writable();
        const batch = pending;
        const evs = announce;
        const state = timeline;
        pending = [];
        announce = [];
        for (const [t, end] of audioPending) audioWritten.set(t, end);
        if (batch.length > 0) {
          lastFlush = now();
          const r = await hold(() => store.writePackets(name, batch, ttlMs));
          if (r.refused > 0) deps.onPacketsRefused?.(name, r.refused);
        }
        if (evs.length > 0) await boundaries(evs, state);
      } catch (err) {
        failed ??= { err };
        throw err;
      }
    });
    writing = run.catch(() => undefined);
    return run;
  }

  /**
   * A drain once the packets that came together are in (the demuxer hands over what it read at once; this runs after
   * them): a part's last frame, the audio completing it and whatever arrived with them go in one write. A failure is
   * kept and thrown by the next `ingest` or `finish`.
   */
  function drainSoon(): void {
    if (soon) return;
    soon = true;
    setImmediate(() => {
      soon = false;
      drain().catch(() => undefined);
    });
  }

  async function boundaries(evs: SegmenterEvent[], state: TimelineState): Promise<void> {
    const r = boundaryRecords(book, evs);
    book = r.book;
    const { write } = r;
    if (write.lastPartEnd !== null) {
      for (const t of audioTracks) {
        // The audio reaching the part's end is written already, pending (written soon), or awaited.
        if ((audioWritten.get(t) ?? -Infinity) >= write.lastPartEnd) audioAwaited.delete(t);
        else if ((audioPending.get(t) ?? -Infinity) >= write.lastPartEnd) {
          audioAwaited.delete(t);
          drainSoon();
        } else audioAwaited.set(t, write.lastPartEnd);
      }
    }
    for (const message of write.warnings) log.warn({ channel: name }, message);
    writable();
    // The timeline state goes with the boundaries it led to (as it was when their packets were written): whoever
    // continues the channel continues after them.
    const saved = { state: serialiseTimeline(state), ttlMs: Math.max(ttlMs, TIMELINE_TTL_MS) };
    await hold(() => live.writeBoundaries(name, { segments: write.segments, parts: write.parts, events: write.events, retainMs: ttlMs, timeline: saved, holder: deps.holder, leaseTtlMs: deps.leaseTtlMs }));
    for (const part of write.parts) {
      const key = `${part.segment}.${part.part}`;
      const arrived = partArrivals.get(key);
      partArrivals.delete(key);
      if (arrived !== undefined) deps.onPartReady?.(name, now() - arrived);
    }
    if (deps.onSegmentOpened) {
      for (const segment of write.opened) {
        deps.onSegmentOpened(channel, segment).catch((err: Error) => log.warn({ channel: name, segment, err: err.message }, 'could not enqueue the segment for transcoding'));
      }
    }
  }

  let lastVideo: { inputPts: number; pts: number } | null = null;

  async function ingest(input: MediaPacket): Promise<void> {
    if (failed) throw failed.err;
    const r = normalisePacket(timeline, input);
    timeline = r.state;
    const normalised = r.packet;
    if (!normalised) return;
    if (normalised.streamIndex === VIDEO_STREAM) lastVideo = { inputPts: input.pts, pts: normalised.pts };
    const arrivedMs = now();
    const step = segmenterStep(segmenter, normalised, arrivedMs, deps.cues?.() ?? []);
    segmenter = step.state;
    if (step.spliced && deps.onSplice) {
      const opened = step.events.find((e) => e.type === 'segment:opened');
      if (opened?.type === 'segment:opened') deps.onSplice(step.spliced, opened.wallClockMs, opened.startPts);
    }
    if (step.placement && normalised.streamIndex === referenceStream) {
      const key = `${step.placement.segmentIndex}.${step.placement.partIndex}`;
      if (!partArrivals.has(key)) {
        // Bounded: parts are announced in order, so an entry left behind (a part that ended empty) is old.
        if (partArrivals.size >= 16) partArrivals.delete(partArrivals.keys().next().value as string);
        partArrivals.set(key, arrivedMs);
      }
    }
    // A frame that came before the start the segmenter predicted for its part is moved to it.
    const p = step.shift ? { ...normalised, dts: normalised.dts + step.shift, pts: normalised.pts + step.shift } : normalised;
    deps.onPacket({ streamIndex: p.streamIndex, pts: p.pts, dts: p.dts, keyframe: p.keyframe, size: p.data.length });
    if (step.placement === null) return; // before the first keyframe: nothing can play it
    const write: PacketWrite = { streamIndex: p.streamIndex, meta: packetMetaOf(p), data: p.data };
    // Every boundary is announced after the packets it covers: what closed before this packet once the earlier
    // packets are written (before this one is taken), what this packet opened or completed once it is written too.
    const covered = step.before > 0 ? step.events.slice(0, step.before) : null;
    if (covered) {
      announce.push(...covered);
      await drain();
    }
    pending.push(write);
    if (audioTracks.includes(p.streamIndex)) audioPending.set(p.streamIndex, p.pts + p.duration);
    if (step.events.length > step.before) {
      announce.push(...step.events.slice(step.before));
      drainSoon();
    }
    // The audio that completes the newest announced part is written at once (the packager waits for it), the rest
    // in batches.
    const awaited = audioAwaited.get(p.streamIndex);
    if (awaited !== undefined && p.pts + p.duration >= awaited) {
      audioAwaited.delete(p.streamIndex);
      drainSoon();
    }
    if (pending.length >= deps.maxBatch) await drain();
    else if (now() - lastFlush >= deps.flushMs) drainSoon();
  }

  async function finish(): Promise<void> {
    if (failed) throw failed.err;
    announce.push(...segmenterFinish(segmenter).events);
    await drain();
    writable();
    await hold(() => live.setTimeline(name, serialiseTimeline(timeline), Math.max(ttlMs, TIMELINE_TTL_MS)));
  }

  function videoClock(): { inputPts: number; wallMs: number } | null {
    if (!lastVideo || !segmenter.clock) return null;
    return { inputPts: lastVideo.inputPts, wallMs: wallAt(segmenter.clock, lastVideo.pts) };
  }

  return { ingest, finish, videoClock };
}
