/**
 * Live data of a channel beside its packets: the segment and part index (written once at ingest, read by
 * transcoders and packagers), the per-channel event stream, and the timestamp normaliser's state that
 * carries one timeline across publisher sessions. Everything here is keyed by the channel's hash tag.
 */

import { decodeEvent, encodeEvent, type ChannelEvent, type PartRecord, type SegmentRecord } from '../model/live';
import { MARKER_LIMITS, parseMarker, type Marker, type SpliceFields } from '../model/marker';
import { PipelineError } from '../model/pipeline-errors';
import type { Keys } from './keys';
import { defineScripts, type ScriptCommands } from './scripts';
import type { RedisClient } from './redis-connection';
import { parseColdEntry } from './cold-index';

export interface LiveStoreConfig {
  /** Events kept per channel (approximate, XADD MAXLEN ~). */
  eventsMaxLen: number;
}

export interface BoundaryWrite {
  segments?: SegmentRecord[];
  parts?: PartRecord[];
  events?: ChannelEvent[];
  retainMs: number;
  /** The timestamp normaliser's state after these boundaries, saved with them. */
  timeline?: { state: string; ttlMs: number };
  /** The lease holder writing; omitted only by tools and tests that write without a lease. */
  holder?: string;
  /**
   * With `holder`: when the lease expired and nobody took it (a Redis outage or failover outlived it), the
   * holder takes it back for this long and the write goes on, as its next renewal would; without it such a
   * write is refused like one whose lease another holds.
   */
  leaseTtlMs?: number;
}

export interface ResumePoint {
  /** The newest segment record, open (its writer died before closing it) or closed; null when none. */
  last: SegmentRecord | null;
  /** The end dts of the newest closed segment (null: none closed). */
  sealedEndDts: number | null;
  /** The end of the newest packet stored in any of `streams` (dts + duration; null: none). */
  storedEndDts: number | null;
}

export interface ReadEvents {
  lastId: string;
  events: { id: string; event: ChannelEvent }[];
}

/**
 * How far one rung of a channel has been produced: the one contract between the transcoders that make
 * renditions and the packagers that list them. Built from what transcoders record (made and gap sets, the
 * parts they published), never from the event stream, so it only moves forward.
 */
export interface RungProgress {
  /** The highest segment the rung is done with (made, or recorded as a gap); -1 when only parts exist. */
  lastMsn: number;
  /** Parts of segment lastMsn + 1 the rung has published. */
  pendingParts: number;
  /** Segment indexes in [from, min(to, lastMsn)] the rung does not have (a recorded gap, or never made), ascending. */
  gaps: number[];
}

/** A segment of a content item (the channel's or a rendition's) whose media could not be archived. */
export interface ArchiveGap {
  content: string;
  segment: number;
}

/** The longest [from, to] range `rungProgress` lists gaps for (a DVR window of 1 s segments over a day). */
export const MAX_PROGRESS_RANGE = 100_000;

export interface LiveStore {
  /**
   * Announce segments (open or closed) and/or parts, append events and save the timeline state, in one
   * atomic step that also moves the channel's sealed point forward. Refused with a PipelineError when
   * `holder` is given and another holds the channel's lease, or nobody does and no `leaseTtlMs` was given
   * to take it back (INGEST_LEASE_LOST), or when a record would change a segment already closed (INGEST_SEALED).
   */
  writeBoundaries(channel: string, w: BoundaryWrite): Promise<void>;
  /** Where a process continuing the channel must continue: after everything announced or stored. */
  resumePoint(channel: string, streams: readonly number[]): Promise<ResumePoint>;
  /**
   * Take the channel's ingest lease for `holder` when it is free (or already ours); when another holds it,
   * leave a takeover request that holder sees at its next renewal, and answer false. With `request: false`
   * (a backup input, which never takes a channel from its primary) no request is left.
   */
  acquireLease(channel: string, holder: string, ttlMs: number, opts?: { request?: boolean }): Promise<boolean>;
  /**
   * Renew a lease `holder` holds (or take it back when it expired and nobody took it): 'held'; 'takeover'
   * when another process asks for the channel (the holder should end its session and release); 'lost' when
   * another holds it.
   */
  renewLease(channel: string, holder: string, ttlMs: number): Promise<'held' | 'takeover' | 'lost'>;
  /** Release a lease `holder` holds (no effect otherwise). */
  releaseLease(channel: string, holder: string): Promise<void>;
  /** The lease's holder, or null. */
  leaseHolder(channel: string): Promise<string | null>;
  appendEvents(channel: string, events: ChannelEvent[]): Promise<void>;
  /** Segments with index in [from, to] (inclusive), ascending. */
  segments(channel: string, from: number, to: number): Promise<SegmentRecord[]>;
  /** The newest `count` segments, ascending. */
  lastSegments(channel: string, count: number): Promise<SegmentRecord[]>;
  /** Segment indexes whose wall-clock start lies in [fromMs, toMs]. */
  segmentsByTime(channel: string, fromMs: number, toMs: number): Promise<number[]>;
  parts(channel: string, fromSegment: number, toSegment: number): Promise<PartRecord[]>;
  /** Remove the part records of segments up to `upToSegment` (archived ones no playlist lists parts of). */
  dropParts(channel: string, upToSegment: number): Promise<number>;
  /** Block up to `blockMs` for events after `afterId` ('$' = only new ones). */
  readEvents(reader: RedisClient, channel: string, afterId: string, blockMs: number, count?: number): Promise<ReadEvents>;
  /** The id of the channel's newest event ('0-0' when it has none): a cursor for `readEvents` that misses nothing after now. */
  lastEventId(channel: string): Promise<string>;
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
  /** Record that rung `rung` published part `part` of `segment` (its packets are written). */
  recordRungPart(channel: string, rung: string, segment: number, part: number, retainMs: number): Promise<void>;
  /** How far the rung has been produced, with its gaps in [from, to]; null when it has published nothing. */
  rungProgress(channel: string, rung: string, from: number, to: number): Promise<RungProgress | null>;
  setTimeline(channel: string, state: string, ttlMs: number): Promise<void>;
  /** The channel's archive progress: field → segment index (see keys.archived). */
  archiveProgress(channel: string): Promise<Record<string, number>>;
  /** Record archive progress fields (the key expires with the channel's DVR window, renewed on each write). */
  setArchiveProgress(channel: string, fields: Record<string, number>, retainMs: number): Promise<void>;
  /** Take (or renew, when ours) the channel's archiver lock for `ttlMs`; whether `holder` holds it now. */
  takeArchiveLock(channel: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Release the channel's archiver lock when `holder` holds it. */
  releaseArchiveLock(channel: string, holder: string): Promise<void>;
  /**
   * Record that segment `segment` of `content` (the channel or one of its renditions) lost media before it could
   * be archived (its payloads expired or were evicted first): the packager lists it as EXT-X-GAP. Kept for
   * `retainMs` (renewed on each record) or until dropArchiveGaps.
   */
  recordArchiveGap(channel: string, content: string, segment: number, retainMs: number): Promise<void>;
  /** Archive gaps of the channel and its renditions with segment in [from, to], ascending. */
  archiveGaps(channel: string, from: number, to: number): Promise<ArchiveGap[]>;
  /** Forget the archive gaps of `content` up to segment `upTo` (they left the DVR window). */
  dropArchiveGaps(channel: string, content: string, upTo: number): Promise<void>;
  /**
   * Store an ad marker and announce it (`marker:added` on the event stream, in the same MULTI): markers that
   * began more than `retainMs` (the DVR window) plus the longest break ago go, and at most `maxCount` stay (the
   * oldest go first). The key expires when no marker was added for that long.
   */
  addMarker(channel: string, marker: Marker, retainMs: number, maxCount: number, nowMs: number): Promise<void>;
  /** The channel's markers by start time; `range`: only those starting in [fromMs, toMs]. */
  markers(channel: string, range?: { fromMs: number; toMs: number }): Promise<Marker[]>;
  /**
   * Record where ingest cut for a marker (`splicedMs` / `splicedInMs`, announced as `marker:spliced`); a field
   * already recorded is kept. Whether the marker was there.
   */
  spliceMarker(channel: string, id: string, fields: SpliceFields): Promise<boolean>;
  /** Remove a marker by id (announced as `marker:removed`); whether it was there. */
  removeMarker(channel: string, id: string): Promise<boolean>;
}

/** Pure: an archive gap's member in keys.archiveGaps (`<segment>|<content>`), and back. */
export function archiveGapMember(g: ArchiveGap): string {
  return `${g.segment}|${g.content}`;
}

export function parseArchiveGap(member: string): ArchiveGap | null {
  const m = /^(\d{1,15})\|(.+)$/.exec(member);
  return m ? { segment: Number(m[1]), content: m[2] as string } : null;
}

export function createLiveStore(deps: { redis: RedisClient; keys: Keys }, config: LiveStoreConfig): LiveStore {
  const { redis, keys } = deps;
  defineScripts(redis);
  const scripts = redis as unknown as ScriptCommands;

  function decodeEntries(entries: [string, string[]][], afterId: string): ReadEvents {
    const events: ReadEvents['events'] = [];
    for (const [id, fields] of entries) {
      const event = decodeEvent(fields);
      if (event) events.push({ id, event });
    }
    return { lastId: entries.length ? (entries[entries.length - 1] as [string, string[]])[0] : afterId, events };
  }

  function parseAll<T>(list: string[]): T[] {
    return list.map((j) => JSON.parse(j) as T);
  }

  return {
    async writeBoundaries(channel, w) {
      const args: (string | number)[] = [
        w.holder ?? '', w.retainMs, config.eventsMaxLen, w.timeline?.state ?? '', w.timeline?.ttlMs ?? 0,
        w.segments?.length ?? 0, w.parts?.length ?? 0, w.events?.length ?? 0, w.leaseTtlMs ?? 0,
      ];
      for (const r of w.segments ?? []) args.push(r.index, r.wallClockMs, r.durationPts === null ? -1 : r.startDts + r.durationPts, JSON.stringify(r));
      for (const p of w.parts ?? []) args.push(p.segment * 1000 + p.part, p.startDts + p.durationPts, JSON.stringify(p));
      for (const e of w.events ?? []) {
        const fields = encodeEvent(e);
        args.push(fields.length, ...fields);
      }
      const k = [keys.segments(channel), keys.segtime(channel), keys.parts(channel), keys.events(channel), keys.timeline(channel), keys.sealed(channel), keys.lease(channel)];
      const res = await scripts.writeBoundaries(...k, ...args);
      if (res === -2) throw new PipelineError('INGEST_LEASE_LOST');
      if (res === -1) throw new PipelineError('INGEST_SEALED', `refused for channel '${channel}': the write would change a segment or part already announced`);
    },

    async addMarker(channel, marker, retainMs, maxCount, nowMs) {
      const key = keys.markers(channel);
      const keepMs = retainMs + MARKER_LIMITS.maxDuration * 1000;
      await redis.multi()
        .zremrangebyscore(key, '-inf', `(${nowMs - keepMs}`)
        .zadd(key, marker.startMs, JSON.stringify(marker))
        .zremrangebyrank(key, 0, -(maxCount + 1))
        .pexpire(key, keepMs + MARKER_LIMITS.futureMs)
        .xadd(keys.events(channel), 'MAXLEN', '~', config.eventsMaxLen, '*', ...encodeEvent({ type: 'marker:added', id: marker.id, startMs: marker.startMs }))
        .exec();
    },

    async markers(channel, range) {
      const key = keys.markers(channel);
      const members = range ? await redis.zrangebyscore(key, range.fromMs, range.toMs) : await redis.zrange(key, 0, -1);
      return members.map(parseMarker).filter((m): m is Marker => m !== null);
    },

    async spliceMarker(channel, id, fields) {
      const key = keys.markers(channel);
      const member = (await redis.zrange(key, 0, -1)).find((j) => parseMarker(j)?.id === id);
      const m = member === undefined ? null : parseMarker(member);
      if (member === undefined || !m) return false;
      const applied: SpliceFields = {};
      if (fields.splicedMs !== undefined && m.splicedMs === undefined) {
        applied.splicedMs = fields.splicedMs;
        if (fields.splicedPts !== undefined) applied.splicedPts = fields.splicedPts;
      }
      if (fields.splicedInMs !== undefined && m.splicedInMs === undefined) {
        applied.splicedInMs = fields.splicedInMs;
        if (fields.splicedInPts !== undefined) applied.splicedInPts = fields.splicedInPts;
      }
      if (applied.splicedMs === undefined && applied.splicedInMs === undefined) return true;
      const next: Marker = { ...m, ...applied };
      const announced = { splicedMs: applied.splicedMs, splicedInMs: applied.splicedInMs };
      const res = await redis.multi()
        .zrem(key, member)
        .zadd(key, next.startMs, JSON.stringify(next))
        .xadd(keys.events(channel), 'MAXLEN', '~', config.eventsMaxLen, '*', ...encodeEvent({ type: 'marker:spliced', id, ...announced }))
        .exec();
      if (Number(res?.[0]?.[1] ?? 0) > 0) return true;
      await redis.zrem(key, JSON.stringify(next)); // removed meanwhile (DELETE): not brought back
      return false;
    },

    async removeMarker(channel, id) {
      const key = keys.markers(channel);
      const member = (await redis.zrange(key, 0, -1)).find((j) => parseMarker(j)?.id === id);
      if (member === undefined) return false;
      const res = await redis.multi()
        .zrem(key, member)
        .xadd(keys.events(channel), 'MAXLEN', '~', config.eventsMaxLen, '*', ...encodeEvent({ type: 'marker:removed', id }))
        .exec();
      return Number(res?.[0]?.[1] ?? 0) > 0;
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

    async dropParts(channel, upToSegment) {
      return redis.zremrangebyscore(keys.parts(channel), '-inf', upToSegment * 1000 + 999);
    },

    async readEvents(reader, channel, afterId, blockMs, count = 100) {
      const res = (await reader.xread('COUNT', count, 'BLOCK', blockMs, 'STREAMS', keys.events(channel), afterId)) as [string, [string, string[]][]][] | null;
      return decodeEntries(res?.[0]?.[1] ?? [], afterId);
    },

    async lastEventId(channel) {
      const last = (await redis.xrevrange(keys.events(channel), '+', '-', 'COUNT', 1)) as [string, string[]][];
      return last[0]?.[0] ?? '0-0';
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

    async recordRungPart(channel, rung, segment, part, retainMs) {
      const key = keys.rungParts(channel, rung);
      // Keep the newest segments only: progress needs the segment after the last one done.
      await redis.multi().zadd(key, segment * 1000 + part, `${segment}.${part}`).zremrangebyscore(key, '-inf', `(${(segment - 2) * 1000}`).pexpire(key, retainMs).exec();
    },

    async rungProgress(channel, rung, from, to) {
      const [made, gap, part] = await Promise.all([
        redis.zrevrange(keys.made(channel, rung), 0, 0),
        redis.zrevrange(keys.gaps(channel, rung), 0, 0),
        redis.zrevrange(keys.rungParts(channel, rung), 0, 0, 'WITHSCORES'),
      ]);
      const done = [made[0], gap[0]].filter((m): m is string => m !== undefined).map(Number);
      const newestPart = part[1] !== undefined ? Number(part[1]) : null;
      if (done.length === 0 && newestPart === null) return null;
      let lastMsn: number;
      let pendingParts = 0;
      if (done.length > 0) {
        lastMsn = Math.max(...done);
        const next = lastMsn + 1;
        const inNext = await redis.zrevrangebyscore(keys.rungParts(channel, rung), next * 1000 + 999, next * 1000, 'WITHSCORES', 'LIMIT', 0, 1);
        if (inNext[1] !== undefined) pendingParts = (Number(inNext[1]) % 1000) + 1;
      } else {
        // Parts published before any segment was done still tell where the segment before ends.
        const p = newestPart as number;
        lastMsn = Math.floor(p / 1000) - 1;
        pendingParts = (p % 1000) + 1;
      }
      const gaps: number[] = [];
      const last = Math.min(to, lastMsn, from + MAX_PROGRESS_RANGE - 1);
      if (last >= from) {
        const have = new Set((await redis.zrangebyscore(keys.made(channel, rung), from, last)).map(Number));
        for (let i = from; i <= last; i++) if (!have.has(i)) gaps.push(i);
      }
      return { lastMsn, pendingParts, gaps };
    },

    async resumePoint(channel, streams) {
      const [last, [sealedEnd, sealedRecord], ...newest] = await Promise.all([
        redis.zrange(keys.segments(channel), -1, -1),
        redis.hmget(keys.sealed(channel), 'lastEnd', 'record'),
        ...streams.map((s) => redis.zrange(keys.index(channel, s), -1, -1)),
        ...streams.map((s) => redis.zrange(keys.cold(channel, s), -1, -1)),
      ]);
      // The segment records leave with the DVR window; the sealed hash keeps the newest closed one (for a day, with
      // the timeline), so that a publisher back after a longer break continues the numbering instead of offering
      // segment 1 again, which the sealed point refuses.
      const newestJson = last[0] ?? sealedRecord ?? null;
      const rec = newestJson ? (JSON.parse(newestJson) as SegmentRecord) : null;
      let storedEnd: number | null = null;
      const metas = await Promise.all(streams.map((s, i) => {
        const member = newest[i]?.[0];
        return member ? redis.hget(keys.element(channel, s, member), 'json') : Promise.resolve(null);
      }));
      for (const m of metas) {
        if (!m) continue;
        const meta = JSON.parse(m) as { dts?: number; pts?: number; duration?: number };
        const end = (meta.dts ?? meta.pts ?? 0) + Math.max(0, meta.duration ?? 0);
        storedEnd = storedEnd === null ? end : Math.max(storedEnd, end);
      }
      // Archived segments left the index: the newest cold entry of each stream says where its packets end.
      for (const reply of newest.slice(streams.length)) {
        const e = parseColdEntry(reply[0]);
        if (e) storedEnd = storedEnd === null ? e.endDts : Math.max(storedEnd, e.endDts);
      }
      return { last: rec, sealedEndDts: sealedEnd === null ? null : Number(sealedEnd), storedEndDts: storedEnd };
    },

    async acquireLease(channel, holder, ttlMs, opts = {}) {
      // Without a request: the renew mode, which takes a free lease and leaves nothing when it is held.
      if (opts.request === false) return (await scripts.takeLease(keys.lease(channel), keys.leaseWant(channel), holder, ttlMs, 0)) !== 0;
      return (await scripts.takeLease(keys.lease(channel), keys.leaseWant(channel), holder, ttlMs, 1)) === 1;
    },

    async renewLease(channel, holder, ttlMs) {
      const r = await scripts.takeLease(keys.lease(channel), keys.leaseWant(channel), holder, ttlMs, 0);
      return r === 1 ? 'held' : r === 2 ? 'takeover' : 'lost';
    },

    async releaseLease(channel, holder) {
      await scripts.takeLease(keys.lease(channel), keys.leaseWant(channel), holder, 1000, -1);
    },

    async leaseHolder(channel) {
      return redis.get(keys.lease(channel));
    },

    async getTimeline(channel) {
      return redis.get(keys.timeline(channel));
    },

    async setTimeline(channel, state, ttlMs) {
      await redis.set(keys.timeline(channel), state, 'PX', ttlMs);
    },

    async archiveProgress(channel) {
      const all = await redis.hgetall(keys.archived(channel));
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(all)) if (/^\d+$/.test(v)) out[k] = Number(v);
      return out;
    },

    async setArchiveProgress(channel, fields, retainMs) {
      const entries = Object.entries(fields);
      if (entries.length === 0) return;
      const key = keys.archived(channel);
      await redis.multi().hset(key, ...entries.flatMap(([k, v]) => [k, String(v)])).pexpire(key, Math.max(1000, retainMs)).exec();
    },

    async takeArchiveLock(channel, holder, ttlMs) {
      // takeLease as a plain lock: no takeover requests (its own key as the request key), take-or-renew mode.
      const lock = keys.archiveLock(channel);
      return (await scripts.takeLease(lock, lock, holder, ttlMs, 0)) === 1;
    },

    async releaseArchiveLock(channel, holder) {
      const lock = keys.archiveLock(channel);
      await scripts.takeLease(lock, lock, holder, 1000, -1);
    },

    async recordArchiveGap(channel, content, segment, retainMs) {
      const key = keys.archiveGaps(channel);
      await redis.multi().zadd(key, segment, archiveGapMember({ content, segment })).pexpire(key, Math.max(1000, retainMs)).exec();
    },

    async archiveGaps(channel, from, to) {
      return (await redis.zrangebyscore(keys.archiveGaps(channel), from, to)).map(parseArchiveGap).filter((g): g is ArchiveGap => g !== null);
    },

    async dropArchiveGaps(channel, content, upTo) {
      const key = keys.archiveGaps(channel);
      const old = (await redis.zrangebyscore(key, '-inf', upTo)).filter((m) => parseArchiveGap(m)?.content === content);
      if (old.length > 0) await redis.zrem(key, ...old);
    },
  };
}
