/**
 * Live data of a channel beside its packets: the segment and part index (written once at ingest, read by
 * transcoders and packagers), the per-channel event stream, and the timestamp normaliser's state that
 * carries one timeline across publisher sessions. Everything here is keyed by the channel's hash tag.
 */

import { decodeEvent, encodeEvent, type ChannelEvent, type PartRecord, type SegmentRecord } from '../model/live';
import type { Keys } from './keys';
import type { RedisClient } from './redis-connection';

export interface LiveStoreConfig {
  /** Events kept per channel (approximate, XADD MAXLEN ~). */
  eventsMaxLen: number;
}

export interface ReadEvents {
  lastId: string;
  events: { id: string; event: ChannelEvent }[];
}

export interface LiveStore {
  /** Record a segment (open or closed) and/or parts, and append events, in one transaction. */
  writeBoundaries(channel: string, w: { segments?: SegmentRecord[]; parts?: PartRecord[]; events?: ChannelEvent[]; retainMs: number }): Promise<void>;
  appendEvents(channel: string, events: ChannelEvent[]): Promise<void>;
  /** Segments with index in [from, to] (inclusive), ascending. */
  segments(channel: string, from: number, to: number): Promise<SegmentRecord[]>;
  /** The newest `count` segments, ascending. */
  lastSegments(channel: string, count: number): Promise<SegmentRecord[]>;
  /** Segment indexes whose wall-clock start lies in [fromMs, toMs]. */
  segmentsByTime(channel: string, fromMs: number, toMs: number): Promise<number[]>;
  parts(channel: string, fromSegment: number, toSegment: number): Promise<PartRecord[]>;
  /** Block up to `blockMs` for events after `afterId` ('$' = only new ones). */
  readEvents(reader: RedisClient, channel: string, afterId: string, blockMs: number, count?: number): Promise<ReadEvents>;
  getTimeline(channel: string): Promise<string | null>;
  /**
   * Record the outcome of a rung's segment: 'made' (all its packets are written) or 'gap' (it will never be
   * made; the packager emits EXT-X-GAP). A segment is never both: a gap is not recorded over a made segment.
   * Both sets expire with the DVR window (their TTL is renewed on every write).
   */
  recordRungSegment(channel: string, rung: string, segment: number, outcome: 'made' | 'gap', retainMs: number): Promise<void>;
  /** Segment indexes in [from, to] that rung `rung` of the channel has as gaps, ascending. */
  rungGaps(channel: string, rung: string, from: number, to: number): Promise<number[]>;
  /** Segment indexes in [from, to] that rung `rung` of the channel finished, ascending. */
  rungMade(channel: string, rung: string, from: number, to: number): Promise<number[]>;
  setTimeline(channel: string, state: string, ttlMs: number): Promise<void>;
}

export function createLiveStore(deps: { redis: RedisClient; keys: Keys }, config: LiveStoreConfig): LiveStore {
  const { redis, keys } = deps;

  function parseAll<T>(list: string[]): T[] {
    return list.map((j) => JSON.parse(j) as T);
  }

  return {
    async writeBoundaries(channel, w) {
      const tx = redis.multi();
      const now = Date.now();
      for (const s of w.segments ?? []) {
        tx.zremrangebyscore(keys.segments(channel), s.index, s.index);
        tx.zadd(keys.segments(channel), s.index, JSON.stringify(s));
        tx.zadd(keys.segtime(channel), s.wallClockMs, String(s.index));
      }
      for (const p of w.parts ?? []) {
        const score = p.segment * 1000 + p.part;
        tx.zremrangebyscore(keys.parts(channel), score, score);
        tx.zadd(keys.parts(channel), score, JSON.stringify(p));
      }
      if (w.segments?.length) {
        // Trim what fell out of the DVR window (by wall clock), then keep the keys alive as long.
        const cutoff = now - w.retainMs;
        tx.zremrangebyscore(keys.segtime(channel), '-inf', cutoff);
        for (const k of [keys.segments(channel), keys.segtime(channel), keys.parts(channel), keys.events(channel)]) tx.pexpire(k, w.retainMs);
      }
      for (const e of w.events ?? []) tx.xadd(keys.events(channel), 'MAXLEN', '~', config.eventsMaxLen, '*', ...encodeEvent(e));
      const res = await tx.exec();
      const failed = res?.find(([err]) => err);
      if (failed?.[0]) throw failed[0];
      if (w.segments?.length) {
        // Drop segment and part records older than the oldest segment still in the time index.
        const oldest = await redis.zrange(keys.segtime(channel), 0, 0);
        if (oldest[0] !== undefined) {
          const first = Number(oldest[0]);
          await redis.multi().zremrangebyscore(keys.segments(channel), '-inf', `(${first}`).zremrangebyscore(keys.parts(channel), '-inf', `(${first * 1000}`).exec();
        }
      }
    },

    async appendEvents(channel, events) {
      if (events.length === 0) return;
      const p = redis.pipeline();
      for (const e of events) p.xadd(keys.events(channel), 'MAXLEN', '~', config.eventsMaxLen, '*', ...encodeEvent(e));
      await p.exec();
    },

    async segments(channel, from, to) {
      return parseAll<SegmentRecord>(await redis.zrangebyscore(keys.segments(channel), from, to));
    },

    async lastSegments(channel, count) {
      return parseAll<SegmentRecord>(await redis.zrange(keys.segments(channel), -count, -1));
    },

    async segmentsByTime(channel, fromMs, toMs) {
      return (await redis.zrangebyscore(keys.segtime(channel), fromMs, toMs)).map(Number).sort((a, b) => a - b);
    },

    async parts(channel, fromSegment, toSegment) {
      return parseAll<PartRecord>(await redis.zrangebyscore(keys.parts(channel), fromSegment * 1000, toSegment * 1000 + 999));
    },

    async readEvents(reader, channel, afterId, blockMs, count = 100) {
      const res = (await reader.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', keys.events(channel), afterId)) as [string, [string, string[]][]][] | null;
      const entries = res?.[0]?.[1] ?? [];
      const events: ReadEvents['events'] = [];
      for (const [id, fields] of entries) {
        const event = decodeEvent(fields);
        if (event) events.push({ id, event });
      }
      return { lastId: entries.length ? (entries[entries.length - 1] as [string, string[]])[0] : afterId, events };
    },

    async recordRungSegment(channel, rung, segment, outcome, retainMs) {
      const key = outcome === 'made' ? keys.made(channel, rung) : keys.gaps(channel, rung);
      if (outcome === 'gap' && (await redis.zscore(keys.made(channel, rung), String(segment))) !== null) return;
      await redis.multi().zadd(key, segment, String(segment)).pexpire(key, retainMs).exec();
    },

    async rungGaps(channel, rung, from, to) {
      return (await redis.zrangebyscore(keys.gaps(channel, rung), from, to)).map(Number);
    },

    async rungMade(channel, rung, from, to) {
      return (await redis.zrangebyscore(keys.made(channel, rung), from, to)).map(Number);
    },

    async getTimeline(channel) {
      return redis.get(keys.timeline(channel));
    },

    async setTimeline(channel, state, ttlMs) {
      await redis.set(keys.timeline(channel), state, 'PX', ttlMs);
    },
  };
}
