/**
 * The source side of a transcode job: following one segment of a channel as it arrives (its parts and its
 * close, from the channel's event stream on a dedicated connection) and reading its video packets. What an
 * event means for the followed segment is decided purely by `segmentEventEffect`. The follower also keeps when
 * each part was announced (the event's stream id: Redis's clock), for the rung part lag.
 */

import { VIDEO_STREAM, type ChannelEvent, type PartRecord, type SegmentRecord } from '../core/model/live';
import type { Store } from '../core/store/store';
import type { LiveStore } from '../core/store/live-store';
import type { RedisClient } from '../core/store/redis-connection';
import type { SourcePacket } from './segment-transcoder';

/** A Redis stream id's milliseconds (`<ms>-<seq>`): when the event was appended. */
export function streamIdMs(id: string): number {
  return Number(id.split('-')[0]);
}

export type SegmentEventEffect =
  | { kind: 'part'; part: PartRecord; announcedAtMs: number }
  | { kind: 'closed'; durationPts: number }
  /** Read the segment's record again: its close may be behind the cursor, or it was announced anew. */
  | { kind: 'reread' }
  | { kind: 'none' };

/**
 * Pure: what one event of the channel means for segment `segment`. A part of it (new, or known from its record
 * and now met as an event: then only its announcement time is news); its close; a segment opening at or after it
 * or the publisher leaving, after which its record is read again (the close may be behind the cursor, and a
 * process continuing the channel re-announces a segment that had no part with a new start).
 */
export function segmentEventEffect(segment: number, id: string, e: ChannelEvent): SegmentEventEffect {
  if (e.type === 'part:ready' && e.segment === segment) {
    return { kind: 'part', part: { segment, part: e.part, startPts: e.startPts, startDts: e.startDts, durationPts: e.durationPts, independent: e.independent }, announcedAtMs: streamIdMs(id) };
  }
  if (e.type === 'segment:closed' && e.segment === segment) return { kind: 'closed', durationPts: e.durationPts };
  if ((e.type === 'segment:opened' && e.segment >= segment) || e.type === 'publisher:disconnected') return { kind: 'reread' };
  return { kind: 'none' };
}

/** The source segment as known so far. */
export interface SegmentFollower {
  segment(): SegmentRecord;
  part(n: number): PartRecord | undefined;
  parts(): PartRecord[];
  /** ms (stream id time) when part `n` was announced, when its event was read (from `sinceMs` on). */
  announcedAt(n: number): number | undefined;
  /** Read the next events (blocking up to `blockMs`) and apply them. */
  poll(blockMs: number): Promise<void>;
}

export interface SegmentSourceDeps {
  live: LiveStore;
  /** A dedicated connection: the job blocks on it reading the channel's events. */
  reader: RedisClient;
}

/** Events read at once by a follower. */
const EVENTS_PER_READ = 200;

/**
 * Start following segment `k` of `channel` (known as `seg`): the event cursor is taken before the parts already
 * there are read, so nothing falls in between. With `sinceMs` (Redis's clock) the cursor starts there instead of
 * at the newest event, and the events since are read before it returns: the parts announced before the job
 * started are met as events too and their announcement times are known.
 */
export async function followSegment(deps: SegmentSourceDeps, channel: string, k: number, seg: SegmentRecord, sinceMs?: number): Promise<SegmentFollower> {
  const { live } = deps;
  let cursor = sinceMs !== undefined && Number.isFinite(sinceMs) && sinceMs > 0 ? `${Math.floor(sinceMs)}-0` : await live.lastEventId(channel);
  const parts = new Map<number, PartRecord>();
  for (const p of await live.parts(channel, k, k)) parts.set(p.part, p);
  let current = (await live.segments(channel, k, k))[0] ?? seg;
  const announcedAt = new Map<number, number>();

  async function apply(effect: SegmentEventEffect): Promise<void> {
    if (effect.kind === 'part') {
      if (!parts.has(effect.part.part)) parts.set(effect.part.part, effect.part);
      if (!announcedAt.has(effect.part.part)) announcedAt.set(effect.part.part, effect.announcedAtMs);
    } else if (effect.kind === 'closed') {
      current = { ...current, durationPts: effect.durationPts };
    } else if (effect.kind === 'reread') {
      current = (await live.segments(channel, k, k))[0] ?? current;
    }
  }

  async function poll(blockMs: number): Promise<number> {
    const read = await live.readEvents(deps.reader, channel, cursor, blockMs, EVENTS_PER_READ);
    cursor = read.lastId;
    for (const { id, event } of read.events) await apply(segmentEventEffect(k, id, event));
    return read.events.length;
  }
  // From an earlier point, catch up at once: the parts already there then have their announcement times.
  if (sinceMs !== undefined) while ((await poll(1)) === EVENTS_PER_READ);

  return {
    segment: () => current,
    part: (n) => parts.get(n),
    parts: () => [...parts.values()],
    announcedAt: (n) => announcedAt.get(n),
    async poll(blockMs) {
      await poll(blockMs);
    },
  };
}

/** The channel's video packets with `fromDts <= dts < toDts`, as the transcoder takes them. */
export async function readSourcePackets(store: Store, channel: string, fromDts: number, toDts: number): Promise<SourcePacket[]> {
  const packets = await store.readPackets(channel, VIDEO_STREAM, fromDts, toDts);
  return packets.map((r) => ({ pts: r.meta.pts, dts: r.meta.dts, keyframe: r.meta.flags.KEY, data: r.data }));
}
