/**
 * SRT pull: MPEG-TS of a channel's rendition, in real time, to the SRT readers (`m=request` callers) the
 * ingest's listener accepted. One feed per channel and rung follows the channel's events and, for each new
 * LL-HLS part of the rendition, has the TS service mux the part's video window with the channel's audio
 * window (PAT and PMT first), continues the continuity counters (../ts/continuity.ts) and paces the bytes
 * out over the part's duration in 1316-byte multiples to every reader of that feed: one mux per channel and
 * rung, however many readers.
 *
 * A feed starts at the first part of the newest segment (a keyframe) and sends the parts up to the newest
 * at once; a reader joining a running feed gets, at once, what the others had of the current segment from
 * its first part (a keyframe, with the parameter sets: a decoder can start there, not mid-GOP), then follows
 * them; the feed keeps that segment's bytes (one segment of the rendition) for it. A reader whose send buffer is over its bound (the listener says 'slow') is closed; the
 * others never wait.
 *
 *   const pull = createSrtPull({ live, ts, followers }, {});
 *   srt.on('reader', (r) => pull.attach(r));   // the composition root wires the two roles
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { BeamError } from '../../core/model/errors';
import { TIMELINE_HZ, type SegmentRecord } from '../../core/model/live';
import { continueCounters, type CounterState } from '../ts/continuity';
import type { EventFollowers } from '../live/event-follower';
import type { LiveService } from '../live/live-service';
import type { TsService } from '../live/ts-service';
import { frontierOf, ready, type Snapshot } from '../live/snapshot';
import type { SrtPullMetrics } from './pull-metrics';

/** The narrow face of one SRT reader (ingest's SrtReader fits it). */
export interface PullReader {
  readonly id: number;
  readonly channel: string;
  readonly rung: string;
  /** The caller's address (readers per address are bounded). */
  readonly peer?: { address: string };
  /** Non-blocking: 'slow' when the reader's send buffer is over its bound, 'gone' once it is closed. */
  send(data: Buffer): 'sent' | 'slow' | 'gone';
  close(reason: string): void;
  on(event: 'close', listener: (reason: string) => void): unknown;
  /** The reader's SRT statistics (logged when it is dropped), or null once closed. */
  stats?(): object | null;
}

export interface SrtPullDeps {
  live: Pick<LiveService, 'snapshot'>;
  ts: Pick<TsService, 'part'>;
  followers: Pick<EventFollowers, 'follow'>;
  metrics?: SrtPullMetrics;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export interface SrtPullConfig {
  /** Pacing tick, ms: each tick sends what the part's clock says is due. */
  tickMs: number;
  /** A part is paced over this share of its duration (the next one then never waits for the last bytes). */
  paceShare: number;
  /** A feed further behind than this many segments jumps to the newest. */
  maxBehindSegments: number;
  /** Readers served at once by this process (callers need no credentials on a public channel); more are closed. */
  maxReaders: number;
  /**
   * Readers one address may hold at once in this process: each may pin up to its send-buffer bound (8 MiB) of
   * sent, unacknowledged bytes, so one anonymous client may not take them all.
   */
  maxReadersPerAddress: number;
}

export const DEFAULT_SRT_PULL_CONFIG: SrtPullConfig = { tickMs: 20, paceShare: 0.9, maxBehindSegments: 3, maxReaders: 1000, maxReadersPerAddress: 20 };

export interface SrtPull {
  attach(reader: PullReader): void;
  /** Readers attached now, of one channel or of all. */
  readerCount(channel?: string): number;
  close(): Promise<void>;
}

/** TS packets per SRT live-mode message. */
export const SRT_TS_CHUNK = 1316;

/** Pure: the bytes of a part of `total` bytes due after `elapsedMs` of a pacing over `spanMs`, in whole 1316-byte chunks. */
export function dueBytes(total: number, elapsedMs: number, spanMs: number): number {
  if (spanMs <= 0 || elapsedMs >= spanMs) return total;
  const due = Math.ceil((total * Math.max(0, elapsedMs)) / spanMs / SRT_TS_CHUNK) * SRT_TS_CHUNK;
  return Math.min(total, due);
}

/** A part of a channel's timeline: segment (media sequence number) and part index. */
export interface PartPos {
  segment: number;
  part: number;
}

/**
 * Pure: the next part a feed sends, or null when none is ready. `ready` lists the rendition's ready parts in
 * order, `lastMsn` its last closed segment. A feed starts (or, further behind than `maxBehind` segments,
 * restarts) at the first part of the newest segment: a keyframe. It then follows part by part, and moves to
 * the next segment once the one it is in is closed (a part left out of the snapshot is stepped over).
 */
export function nextPart(ready: readonly PartPos[], lastMsn: number, last: PartPos | null, maxBehind: number): PartPos | null {
  const newest = ready[ready.length - 1];
  if (!newest) return null;
  if (last === null || newest.segment - last.segment > maxBehind) return ready.find((p) => p.segment === newest.segment) ?? null;
  const after = ready.find((p) => p.segment > last.segment || (p.segment === last.segment && p.part > last.part));
  if (!after) return null;
  if (after.segment === last.segment) return after;
  return last.segment <= lastMsn ? after : null;
}

/** Pure: whether `next` directly follows `last` (the same timeline, unless its segment starts after a reconnect). */
export function follows(last: PartPos | null, next: PartPos, seg: SegmentRecord | undefined): boolean {
  if (last === null) return false;
  if (next.segment === last.segment) return next.part === last.part + 1;
  return next.segment === last.segment + 1 && next.part === 0 && seg?.discontinuity !== true;
}

/** The rendition's ready parts, in order, and its last closed segment. */
function readyParts(snap: Snapshot, rung: string): { parts: PartPos[]; lastMsn: number; durations: Map<string, number> } {
  const f = frontierOf(snap, { kind: 'video', rung });
  if (!f) return { parts: [], lastMsn: 0, durations: new Map() };
  const own = snap.parts.filter((p) => ready(f, p.segment, p.part)).sort((a, b) => a.segment - b.segment || a.part - b.part);
  return { parts: own.map((p) => ({ segment: p.segment, part: p.part })), lastMsn: f.lastMsn, durations: new Map(own.map((p) => [`${p.segment}/${p.part}`, p.durationPts])) };
}

function isNotFound(e: unknown): boolean {
  return e instanceof BeamError && e.code === 'BEAM_ERR_NOT_FOUND';
}

interface Paced {
  bytes: Buffer;
  sent: number;
  startedAt: number;
  spanMs: number;
}

export function createSrtPull(deps: SrtPullDeps, config: Partial<SrtPullConfig> = {}): SrtPull {
  const cfg = { ...DEFAULT_SRT_PULL_CONFIG, ...config };
  const { metrics, log } = deps;
  const feeds = new Map<string, Feed>();
  /** Readers attached per caller address. */
  const perAddress = new Map<string, number>();
  let closed = false;

  class Feed {
    readonly readers = new Map<number, PullReader>();
    private readonly counters: CounterState = new Map();
    private current: Paced | null = null;
    /** The parts of the current segment paced before the current one: what a joiner gets first. */
    private segmentParts: Buffer[] = [];
    private timer: NodeJS.Timeout | null = null;
    private stopped = false;
    private wake: () => void = () => undefined;
    private readonly stoppedSignal = new Promise<void>((resolve) => (this.wake = resolve));
    readonly done: Promise<void>;

    constructor(readonly channel: string, readonly rung: string, readonly key: string) {
      this.done = this.loop();
    }

    add(r: PullReader): void {
      this.readers.set(r.id, r);
      // Joins at the current segment's first part (a keyframe): what the others already had of it, at once.
      const had = [...this.segmentParts, ...(this.current && this.current.sent > 0 ? [this.current.bytes.subarray(0, this.current.sent)] : [])];
      if (had.length > 0) this.deliver(r, had.length === 1 ? (had[0] as Buffer) : Buffer.concat(had));
    }

    remove(id: number): void {
      this.readers.delete(id);
      if (this.readers.size === 0) this.stop();
    }

    stop(): void {
      this.stopped = true;
      this.wake();
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      if (feeds.get(this.key) === this) feeds.delete(this.key);
      metrics?.feeds.set(feeds.size);
    }

    closeAll(reason: string): void {
      for (const r of [...this.readers.values()]) r.close(reason);
      this.readers.clear();
      this.stop();
    }

    /** One reader, one slice; a slow reader is closed here (the others are not waited for). */
    private deliver(r: PullReader, slice: Buffer): void {
      const res = r.send(slice);
      if (res === 'sent') {
        metrics?.bytes.inc(slice.length);
        return;
      }
      this.readers.delete(r.id);
      if (res === 'slow') {
        metrics?.dropped.inc({ reason: 'slow' });
        log?.info({ channel: this.channel, rung: this.rung, reader: r.id, srt: r.stats?.() ?? null }, 'SRT reader dropped: it does not keep up');
        r.close('slow reader: its send buffer is full');
      }
    }

    private fanOut(slice: Buffer): void {
      for (const r of [...this.readers.values()]) this.deliver(r, slice);
    }

    private tick(): void {
      const p = this.current;
      if (!p) return;
      const due = dueBytes(p.bytes.length, Date.now() - p.startedAt, p.spanMs);
      if (due > p.sent) {
        this.fanOut(p.bytes.subarray(p.sent, due));
        p.sent = due;
      }
      if (p.sent >= p.bytes.length && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    }

    /** Starts pacing a part (`burst`: at once); what was left of the previous one goes out first, at once. */
    private pace(bytes: Buffer, durationMs: number, burst: boolean, startsSegment: boolean): void {
      const prev = this.current;
      if (prev && prev.sent < prev.bytes.length) this.fanOut(prev.bytes.subarray(prev.sent));
      if (startsSegment) this.segmentParts = [];
      else if (prev) this.segmentParts.push(prev.bytes);
      this.current = { bytes, sent: 0, startedAt: Date.now(), spanMs: burst ? 0 : durationMs * cfg.paceShare };
      this.tick();
      if (!this.timer && this.current.sent < bytes.length) {
        this.timer = setInterval(() => this.tick(), cfg.tickMs);
        this.timer.unref();
      }
    }

    private async loop(): Promise<void> {
      let failures = 0;
      let last: PartPos | null = null;
      while (!this.stopped && !closed) {
        let stage: 'snapshot' | 'part' = 'snapshot';
        let next: PartPos | null = null;
        try {
          const snap = await deps.live.snapshot(this.channel);
          const r = readyParts(snap, this.rung);
          next = nextPart(r.parts, r.lastMsn, last, cfg.maxBehindSegments);
          if (!next) {
            await this.waitForMore();
            failures = 0;
            continue;
          }
          stage = 'part';
          const body = await deps.ts.part(snap, this.rung, next.segment, next.part);
          if (this.stopped) break;
          const seg = [...snap.closed, ...(snap.open ? [snap.open] : [])].find((x) => x.index === next?.segment);
          const continuous = follows(last, next, seg);
          const newest = r.parts[r.parts.length - 1];
          const isNewest = newest !== undefined && newest.segment === next.segment && newest.part === next.part;
          last = next;
          // The newest part is paced over its duration; parts behind it (a start, a catch-up) go at once.
          const durationMs = ((r.durations.get(`${next.segment}/${next.part}`) ?? 0) / TIMELINE_HZ) * 1000;
          this.pace(continueCounters(body, this.counters, continuous), durationMs, !isNewest, next.part === 0);
          failures = 0;
        } catch (e) {
          if (this.stopped) break;
          const message = (e as Error).message;
          if (stage === 'snapshot' && isNotFound(e)) {
            if (/was not found/.test(message)) {
              this.closeAll('the channel was deleted');
              break;
            }
            await this.waitForMore(); // not published yet: its first part is waited for
            continue;
          }
          failures++;
          log?.warn({ channel: this.channel, rung: this.rung, part: next, err: message }, 'SRT pull: could not mux the next part; retrying');
          if (stage === 'part' && next && failures >= 3) {
            last = next; // a part that cannot be muxed (expired, no video in it) is stepped over
            failures = 0;
          }
          await Promise.race([new Promise((res) => setTimeout(res, Math.min(2000, 100 * failures))), this.stoppedSignal]);
        }
      }
    }

    /** Until the channel's next events (or 5 s), or until the feed stops. */
    private async waitForMore(): Promise<void> {
      await Promise.race([deps.followers.follow(this.channel).nextEvents(5000), this.stoppedSignal]);
    }
  }

  function attach(r: PullReader): void {
    if (closed) {
      r.close('server closing');
      return;
    }
    if (count() >= cfg.maxReaders) {
      metrics?.dropped.inc({ reason: 'limit' });
      log?.warn({ channel: r.channel, limit: cfg.maxReaders }, 'SRT reader refused: this process serves as many as it may');
      r.close('too many SRT readers');
      return;
    }
    const address = r.peer?.address;
    if (address !== undefined && (perAddress.get(address) ?? 0) >= cfg.maxReadersPerAddress) {
      metrics?.dropped.inc({ reason: 'limit' });
      log?.warn({ channel: r.channel, address, limit: cfg.maxReadersPerAddress }, 'SRT reader refused: its address holds as many readers as it may');
      r.close('too many SRT readers from this address');
      return;
    }
    if (address !== undefined) perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    const key = `${r.channel}\n${r.rung}`;
    let feed = feeds.get(key);
    if (!feed) {
      feed = new Feed(r.channel, r.rung, key);
      feeds.set(key, feed);
      metrics?.feeds.set(feeds.size);
    }
    const f = feed;
    f.add(r);
    metrics?.readers.inc();
    r.on('close', () => {
      metrics?.readers.dec();
      f.remove(r.id);
      if (address !== undefined) {
        const left = (perAddress.get(address) ?? 1) - 1;
        if (left > 0) perAddress.set(address, left);
        else perAddress.delete(address);
      }
    });
  }

  function count(channel?: string): number {
    let n = 0;
    for (const f of feeds.values()) if (channel === undefined || f.channel === channel) n += f.readers.size;
    return n;
  }

  return {
    attach,
    readerCount: count,
    async close() {
      closed = true;
      const all = [...feeds.values()];
      for (const f of all) f.closeAll('server closing');
      await Promise.allSettled(all.map((f) => f.done));
    },
  };
}
