/**
 * The archiver: every interval, for each channel, moves closed segments that left the hot window (and are still
 * inside the DVR window) from Redis to the archive, for the channel's content item and each rendition
 * `<channel>.<rung>` of its ladder, stream by stream (store.archiveSegment: the object is written, then its
 * elements leave the hot index for the cold index). Progress per content is kept in Redis
 * (live.archiveProgress), so work is done once whichever process does it; a per-channel lock keeps two processes
 * off one channel. A rung segment waits until the rung made it or recorded it as a gap. Objects of segments that
 * left the DVR window are deleted with their cold index entries.
 *
 * A segment whose media was gone from Redis before it could be archived (payloads expired or evicted: a time-to-live
 * shorter than the hot window, a long archive outage) is an archive gap: counted (`beam_archive_gaps_total`),
 * logged once, and recorded (live.recordArchiveGap) so the packager lists it as EXT-X-GAP.
 *
 * Failures (disk full, permission, Redis) never escape a pass: they are logged, counted
 * (`beam_archive_failures_total`) and the same segment is tried again at the next pass.
 */

import { Counter, Gauge, type Registry } from 'prom-client';
import { BeamError } from '../model/errors';
import { renditionContent, type Channel } from '../model/channel';
import { TIMELINE_HZ, VIDEO_STREAM, type SegmentRecord } from '../model/live';
import type { Store } from '../store/store';
import type { LiveStore } from '../store/live-store';
import type { ChannelStore } from '../store/channel-store';
import { newHolderId } from '../store/holder-id';
import type { ArchiveCatalog } from './catalog';

export interface ArchiverLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ArchiverDeps {
  store: Pick<Store, 'getFormat' | 'getRelations' | 'archiveSegment' | 'deleteArchivedSegment'>;
  live: Pick<LiveStore, 'segments' | 'lastSegments' | 'dropParts' | 'rungMade' | 'rungGaps' | 'archiveProgress' | 'setArchiveProgress' | 'takeArchiveLock' | 'releaseArchiveLock' | 'recordArchiveGap' | 'dropArchiveGaps'>;
  channels: Pick<ChannelStore, 'list' | 'get'>;
  /** Where the settings and formats needed to rebuild Redis from the archive are kept (catalog.ts); none: not kept. */
  catalog?: ArchiveCatalog;
  log: ArchiverLog;
  registry?: Registry;
  now?: () => number;
}

export interface ArchiverConfig {
  /** Closed segments stay in Redis this long after their end. */
  hotWindowMs: number;
  intervalMs: number;
  /** Segments looked at per content and pass (default 200). */
  batch?: number;
}

export interface PassResult {
  /** (content, stream, segment) objects written. */
  objects: number;
  /** Payloads moved out of Redis. */
  moved: number;
  /** Objects removed because their segment left the DVR window. */
  deleted: number;
  /** Segments recorded as archive gaps (media gone before it could be archived). */
  gaps: number;
  failures: number;
  /** Age past the hot window of the oldest closed segment not archived yet, seconds (0: none waiting). */
  backlogSeconds: number;
  /**
   * The archive answered "unavailable" (down, unreachable, too slow, full) during this pass: the rest of the
   * pass only measures the backlog, it does not wait on the archive again for every channel.
   */
  archiveUnavailable: boolean;
}

export interface Archiver {
  start(): void;
  /** One pass over every channel (what the timer runs; tests call it directly). */
  runOnce(): Promise<PassResult>;
  close(): Promise<void>;
}

/** Pure: the wall-clock end of a closed segment, ms. */
export function segmentEndMs(seg: SegmentRecord): number {
  return seg.wallClockMs + ((seg.durationPts ?? 0) * 1000) / TIMELINE_HZ;
}

/**
 * Pure: the decode-time window whose packets go into one segment's object: the source video by dts as the
 * segmenter cut it; audio and rendition streams (dts == pts) by the segment's presentation times, as the
 * packager cuts them.
 */
export function archiveWindow(seg: SegmentRecord & { durationPts: number }, sourceVideo: boolean): [number, number] {
  const start = sourceVideo ? seg.startDts : seg.startPts;
  return [start, start + seg.durationPts];
}

/**
 * Part records are kept for the newest segments only once their segment is archived: a live playlist lists the
 * parts of its newest 5 segments (packager/live/snapshot-cache.ts partsFromIndex), catch-up lists none, and a
 * part is fetched only from a playlist that listed it.
 */
export const PARTS_KEPT_SEGMENTS = 8;

/** The progress field of a content's deleted-objects mark. */
export const deletedField = (content: string): string => `${content}#deleted`;

export function createArchiver(deps: ArchiverDeps, config: ArchiverConfig): Archiver {
  const { store, live, log } = deps;
  const now = deps.now ?? Date.now;
  const batch = config.batch ?? 200;
  const lockTtlMs = Math.max(30_000, 3 * config.intervalMs);
  const holder = newHolderId('archiver');
  const registers = deps.registry ? [deps.registry] : [];
  const failuresTotal = new Counter({ name: 'beam_archive_failures_total', help: 'Archive passes of one content that failed (disk full, permission, Redis); retried at the next pass', registers });
  const backlog = new Gauge({ name: 'beam_archive_backlog_seconds', help: 'Age past the hot window of the oldest closed segment whose payloads are not archived yet, seconds', registers });
  const movedTotal = new Counter({ name: 'beam_archive_payloads_total', help: 'Packet payloads moved from Redis to the archive', registers });
  const bytesTotal = new Counter({ name: 'beam_archive_bytes_total', help: 'Bytes written to the archive', registers });
  const gapsTotal = new Counter({ name: 'beam_archive_gaps_total', help: 'Segments whose media was gone from Redis before it could be archived (listed as EXT-X-GAP in catch-up)', registers });

  /** What the backlog gauge shows. */
  let lastBacklog = 0;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<PassResult> | null = null;
  let closed = false;

  /**
   * A segment waiting `waiting` s past the hot window: the pass's backlog, and the gauge at once when it grew
   * (a pass held up by a slow archive must not hide a growing backlog until it ends).
   */
  function noteBacklog(out: PassResult, waiting: number): void {
    out.backlogSeconds = Math.max(out.backlogSeconds, waiting);
    if (out.backlogSeconds > lastBacklog) backlog.set((lastBacklog = out.backlogSeconds));
  }

  /** Whether a rung made a segment, recorded it as a gap, or neither yet. */
  async function rungOutcome(channel: string, rung: string, segment: number): Promise<'made' | 'gap' | null> {
    if ((await live.rungMade(channel, rung, segment, segment)).length > 0) return 'made';
    return (await live.rungGaps(channel, rung, segment, segment)).length > 0 ? 'gap' : null;
  }

  /** Archive what is due of one content item of a channel; progress is saved before it returns. */
  async function passContent(ch: Channel, content: string, rung: string | null, progress: Record<string, number>, t: number, out: PassResult): Promise<void> {
    const format = await store.getFormat(content);
    if (!format) return;
    const dvrMs = ch.dvrWindowSeconds * 1000;
    const last = progress[content] ?? 0;
    const segs = await live.segments(ch.name, last + 1, last + batch);
    const updates: Record<string, number> = {};
    let done = last;
    for (const seg of segs) {
      if (seg.durationPts === null) break;
      const end = segmentEndMs(seg);
      if (end > t - config.hotWindowMs) break;
      if (end >= t - dvrMs) {
        const waiting = (t - config.hotWindowMs - end) / 1000;
        if (out.archiveUnavailable) {
          noteBacklog(out, waiting);
          break;
        }
        const outcome = rung === null ? null : await rungOutcome(ch.name, rung, seg.index);
        if (rung !== null && outcome === null) {
          noteBacklog(out, waiting);
          break;
        }
        try {
          const lost: string[] = [];
          let retry = false;
          for (let s = 0; s < format.streams.length; s++) {
            const [from, to] = archiveWindow(seg as SegmentRecord & { durationPts: number }, rung === null && s === VIDEO_STREAM);
            const r = await store.archiveSegment(content, s, seg.index, from, to, seg);
            if (r.bytes > 0 && !r.refused) out.objects++;
            out.moved += r.moved;
            movedTotal.inc(r.moved);
            bytesTotal.inc(r.bytes);
            if (r.refused === 'changed' || r.refused === 'interleaved') {
              // Written while something changed: nothing was compacted; the object is written again next pass.
              log.info({ content, stream: s, segment: seg.index, refused: r.refused }, 'archive: a segment changed while it was archived; retrying at the next pass');
              retry = true;
              break;
            }
            if (r.left > 0) log.warn({ content, stream: s, segment: seg.index, left: r.left, refused: r.refused }, 'archive: elements left in Redis (archived by an earlier release, or lying in archived time)');
            if (r.missing > 0) lost.push(`stream ${s}: ${r.missing} payloads gone`);
            // A video segment (source, or a rung that made it) always has packets: none at all means they expired.
            else if (r.empty && s === VIDEO_STREAM && outcome !== 'gap') lost.push(`stream ${s}: no packets left`);
          }
          if (retry) {
            noteBacklog(out, waiting);
            break;
          }
          if (lost.length > 0) {
            await live.recordArchiveGap(ch.name, content, seg.index, 2 * dvrMs);
            out.gaps++;
            gapsTotal.inc();
            log.warn({ content, segment: seg.index, lost: lost.join('; ') }, 'archive: media of a segment was gone from Redis before it could be archived; recorded as a gap');
          }
        } catch (e) {
          out.failures++;
          failuresTotal.inc();
          noteBacklog(out, waiting);
          if (e instanceof BeamError && e.code === 'BEAM_ERR_UNAVAILABLE') out.archiveUnavailable = true;
          log.warn({ content, segment: seg.index, err: (e as Error).message }, 'archive: could not archive a segment; retrying at the next pass');
          break;
        }
      }
      done = seg.index;
    }
    if (done !== last) {
      updates[content] = done;
      if (rung === null) {
        const newest = (await live.lastSegments(ch.name, 1))[0]?.index ?? 0;
        const upTo = Math.min(done, newest - PARTS_KEPT_SEGMENTS);
        if (upTo > 0) await live.dropParts(ch.name, upTo);
      }
      if (progress[deletedField(content)] === undefined && segs[0]) updates[deletedField(content)] = segs[0].index - 1;
    }
    const deletedFrom = updates[deletedField(content)] ?? progress[deletedField(content)];
    if (deletedFrom !== undefined && deletedFrom < done && !out.archiveUnavailable) {
      const upto = Math.min(done, deletedFrom + batch);
      const recs = await live.segments(ch.name, deletedFrom + 1, upto);
      let firstKept = upto + 1;
      for (const r of recs) {
        if (r.durationPts === null || segmentEndMs(r) >= t - dvrMs) {
          firstKept = r.index;
          break;
        }
      }
      if (firstKept > deletedFrom + 1) {
        try {
          for (let i = deletedFrom + 1; i < firstKept; i++) {
            for (let s = 0; s < format.streams.length; s++) if (await store.deleteArchivedSegment(content, s, i)) out.deleted++;
          }
          await live.dropArchiveGaps(ch.name, content, firstKept - 1);
          updates[deletedField(content)] = firstKept - 1;
        } catch (e) {
          out.failures++;
          failuresTotal.inc();
          log.warn({ content, err: (e as Error).message }, 'archive: could not delete objects that left the DVR window; retrying at the next pass');
        }
      }
    }
    await live.setArchiveProgress(ch.name, updates, 2 * dvrMs);
  }

  /**
   * Keep what rebuilding Redis from the archive needs beside what was archived: the content item's format and
   * rendition link and, for the channel's own content, its settings. A channel deleted meanwhile has its
   * settings removed again, so a rebuild does not bring it back.
   */
  async function saveCatalog(ch: Channel, content: string): Promise<void> {
    const catalog = deps.catalog;
    if (!catalog) return;
    const format = await store.getFormat(content);
    if (!format) return;
    await catalog.saveContent(content, { format, renditionOf: (await store.getRelations(content)).renditionOf });
    if (content !== ch.name) return;
    const [newest] = await live.lastSegments(ch.name, 1);
    await catalog.saveChannel(ch, { index: newest?.index ?? 0, savedAtMs: now() });
    if (!(await deps.channels.get(ch.name))) await catalog.forgetChannel(ch.name);
  }

  async function passChannel(ch: Channel, t: number, out: PassResult): Promise<void> {
    if (!(await live.takeArchiveLock(ch.name, holder, lockTtlMs))) return;
    try {
      const progress = await live.archiveProgress(ch.name);
      const contents: [string, string | null][] = [[ch.name, null], ...ch.ladder.map((r): [string, string] => [renditionContent(ch.name, r.name), r.name])];
      for (const [content, rung] of contents) {
        if (closed) return;
        if (!(await live.takeArchiveLock(ch.name, holder, lockTtlMs))) return;
        try {
          const before = out.objects;
          await passContent(ch, content, rung, progress, t, out);
          if (out.objects > before) await saveCatalog(ch, content);
        } catch (e) {
          out.failures++;
          failuresTotal.inc();
          log.warn({ content, err: (e as Error).message }, 'archive: pass failed; retrying at the next pass');
        }
      }
    } finally {
      await live.releaseArchiveLock(ch.name, holder).catch(() => undefined);
    }
  }

  async function pass(): Promise<PassResult> {
    const out: PassResult = { objects: 0, moved: 0, deleted: 0, gaps: 0, failures: 0, backlogSeconds: 0, archiveUnavailable: false };
    try {
      const t = now();
      for (const ch of await deps.channels.list()) {
        if (closed) break;
        try {
          await passChannel(ch, t, out);
        } catch (e) {
          out.failures++;
          failuresTotal.inc();
          log.warn({ channel: ch.name, err: (e as Error).message }, 'archive: pass over a channel failed; retrying at the next pass');
        }
      }
    } catch (e) {
      out.failures++;
      failuresTotal.inc();
      log.warn({ err: (e as Error).message }, 'archive: could not list channels; retrying at the next pass');
    }
    backlog.set((lastBacklog = out.backlogSeconds));
    return out;
  }

  function runOnce(): Promise<PassResult> {
    running ??= pass().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    start() {
      if (timer || closed) return;
      timer = setInterval(() => {
        if (!running) void runOnce();
      }, config.intervalMs);
      timer.unref();
    },
    runOnce,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}
