/**
 * SRT pull: MPEG-TS of a channel's rendition, in real time, to the SRT readers (`m=request` callers) the
 * ingest's listener accepted. One feed per channel and rung follows the channel's events, takes each new
 * closed segment as the TS service muxes it (the same bytes, cached, that `ts-<rung>-<msn>.ts` serves),
 * continues its continuity counters (../ts/continuity.ts) and paces it out over its duration in
 * 1316-byte multiples to every reader of that feed: one mux per channel and rung, however many readers.
 *
 * A reader starts at the newest complete segment (a keyframe, PAT and PMT first): a reader joining a feed
 * gets the part of the segment being paced that the others already had, at once, then follows them. A
 * reader whose send buffer is over its bound (the listener says 'slow') is closed; the others never wait.
 *
 *   const pull = createSrtPull({ live, ts, followers }, {});
 *   srt.on('reader', (r) => pull.attach(asPullReader(r)));   // the composition root wires the two roles
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { BeamError } from '../../core/model/errors';
import { TIMELINE_HZ, type SegmentRecord } from '../../core/model/live';
import { continueCounters, type CounterState } from '../ts/continuity';
import type { EventFollowers } from '../live/event-follower';
import type { LiveService } from '../live/live-service';
import type { TsService } from '../live/ts-service';
import { frontierOf, type Snapshot } from '../live/snapshot';
import type { SrtPullMetrics } from './pull-metrics';

/** The narrow face of one SRT reader (ingest's SrtReader fits it). */
export interface PullReader {
  readonly id: number;
  readonly channel: string;
  readonly rung: string;
  /** Non-blocking: 'slow' when the reader's send buffer is over its bound, 'gone' once it is closed. */
  send(data: Buffer): 'sent' | 'slow' | 'gone';
  close(reason: string): void;
  on(event: 'close', listener: (reason: string) => void): unknown;
  /** The reader's SRT statistics (logged when it is dropped), or null once closed. */
  stats?(): object | null;
}

export interface SrtPullDeps {
  live: Pick<LiveService, 'snapshot'>;
  ts: Pick<TsService, 'segment'>;
  followers: Pick<EventFollowers, 'follow'>;
  metrics?: SrtPullMetrics;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

export interface SrtPullConfig {
  /** Pacing tick, ms: each tick sends what the segment's clock says is due. */
  tickMs: number;
  /** A segment is paced over this share of its duration (the next one then never waits for the last bytes). */
  paceShare: number;
  /** A feed further behind than this many segments jumps to the newest. */
  maxBehindSegments: number;
  /** Readers served at once by this process (callers need no credentials on a public channel); more are closed. */
  maxReaders: number;
}

export const DEFAULT_SRT_PULL_CONFIG: SrtPullConfig = { tickMs: 20, paceShare: 0.9, maxBehindSegments: 3, maxReaders: 1000 };

export interface SrtPull {
  attach(reader: PullReader): void;
  /** Readers attached now, of one channel or of all. */
  readerCount(channel?: string): number;
  close(): Promise<void>;
}

/** TS packets per SRT live-mode message. */
export const SRT_TS_CHUNK = 1316;

/** Pure: the bytes of a segment of `total` bytes due after `elapsedMs` of a pacing over `spanMs`, in whole 1316-byte chunks. */
export function dueBytes(total: number, elapsedMs: number, spanMs: number): number {
  if (spanMs <= 0 || elapsedMs >= spanMs) return total;
  const due = Math.ceil((total * Math.max(0, elapsedMs)) / spanMs / SRT_TS_CHUNK) * SRT_TS_CHUNK;
  return Math.min(total, due);
}

/** Pure: the next segment a feed sends, or null when none is ready: the one after `last`, or the newest when it starts or fell behind. */
export function nextSegment(ready: readonly SegmentRecord[], last: number | null, maxBehind: number): SegmentRecord | null {
  const newest = ready[ready.length - 1];
  if (!newest) return null;
  if (last === null || newest.index - last > maxBehind) return newest;
  return ready.find((s) => s.index === last + 1) ?? ready.find((s) => s.index > last) ?? null;
}

/** Closed segments of the rendition, complete on its side too, oldest first. */
function readySegments(snap: Snapshot, rung: string): SegmentRecord[] {
  const f = frontierOf(snap, { kind: 'video', rung });
  if (!f) return [];
  return snap.closed.filter((s) => s.index <= f.lastMsn && s.durationPts !== null);
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
  let closed = false;

  class Feed {
    readonly readers = new Map<number, PullReader>();
    private readonly counters: CounterState = new Map();
    private last: number | null = null;
    private current: Paced | null = null;
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
      // Joins the segment being paced: what the others already had, at once.
      if (this.current && this.current.sent > 0) this.deliver(r, this.current.bytes.subarray(0, this.current.sent));
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

    /** Starts pacing a segment; what was left of the previous one goes out first, at once. */
    private pace(bytes: Buffer, durationMs: number, burst: boolean): void {
      const prev = this.current;
      if (prev && prev.sent < prev.bytes.length) this.fanOut(prev.bytes.subarray(prev.sent));
      this.current = { bytes, sent: 0, startedAt: Date.now(), spanMs: burst ? 0 : durationMs * cfg.paceShare };
      this.tick();
      if (!this.timer && this.current.sent < bytes.length) {
        this.timer = setInterval(() => this.tick(), cfg.tickMs);
        this.timer.unref();
      }
    }

    private async loop(): Promise<void> {
      let failures = 0;
      while (!this.stopped && !closed) {
        let stage: 'snapshot' | 'segment' = 'snapshot';
        try {
          const snap = await deps.live.snapshot(this.channel);
          const seg = nextSegment(readySegments(snap, this.rung), this.last, cfg.maxBehindSegments);
          if (!seg) {
            await this.waitForMore();
            failures = 0;
            continue;
          }
          stage = 'segment';
          const r = await deps.ts.segment(this.channel, this.rung, seg.index);
          if (this.stopped) break;
          const body = typeof r.body === 'string' ? Buffer.from(r.body) : (r.body as Buffer);
          const continuous = this.last !== null && seg.index === this.last + 1 && !seg.discontinuity;
          const first = this.last === null;
          this.last = seg.index;
          this.pace(continueCounters(body, this.counters, continuous), ((seg.durationPts ?? 0) / TIMELINE_HZ) * 1000, first);
          failures = 0;
        } catch (e) {
          if (this.stopped) break;
          const message = (e as Error).message;
          if (stage === 'snapshot' && isNotFound(e)) {
            if (/was not found/.test(message)) {
              this.closeAll('the channel was deleted');
              break;
            }
            await this.waitForMore(); // not published yet: its first segment is waited for
            continue;
          }
          failures++;
          log?.warn({ channel: this.channel, rung: this.rung, err: message }, 'SRT pull: could not read the next segment; retrying');
          if (stage === 'segment' && isNotFound(e) && this.last !== null) this.last++; // an expired or missing segment is skipped
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
