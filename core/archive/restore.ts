/**
 * Rebuilding Redis from the archive after it was lost (a restart without persistence, a new Redis): the
 * channels the archive's catalog holds come back with their settings and stream keys, their content items'
 * formats and rendition links, the records of their archived segments, the index of the archived segments
 * and the archive progress, so catch-up over the archived DVR is served again and a new publish continues
 * the channel's segment numbering after it. Only the hot window (never archived) is lost.
 *
 * It runs once at start-up, before ingest takes publishers, and only when Redis holds no channel at all (a
 * Redis that kept some channels was not lost; a channel deleted on purpose must not come back). Each channel
 * is restored under its archiver lock, so two processes starting together restore it once.
 */

import { renditionContent, type Channel, type LadderValidator, type Rung } from '../model/channel';
import { TIMELINE_HZ, VIDEO_STREAM, type SegmentRecord } from '../model/live';
import type { Store } from '../store/store';
import type { LiveStore } from '../store/live-store';
import type { ChannelStore } from '../store/channel-store';
import { newHolderId } from '../store/holder-id';
import type { ArchiveCatalog } from './catalog';
import type { SegmentObjectHeader } from './segment-object';
import { segmentEndMs } from './archiver';

export interface RestoreLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface RestoreDeps {
  catalog: ArchiveCatalog;
  channels: Pick<ChannelStore, 'list' | 'get' | 'create'>;
  store: Pick<Store, 'getFormat' | 'createContent' | 'setRendition' | 'readArchivedHeader' | 'restoreArchivedSegment'>;
  live: Pick<LiveStore, 'writeBoundaries' | 'recordRungSegment' | 'recordArchiveGap' | 'setArchiveProgress' | 'takeArchiveLock' | 'releaseArchiveLock'>;
  validateLadder: LadderValidator;
  defaultLadder: Rung[];
  log: RestoreLog;
  now?: () => number;
}

export interface RestoreConfig {
  /** Header reads in flight at once (default 16). */
  concurrency?: number;
  /**
   * Segment numbers skipped past the newest one the catalog saw announced (`head`): segments announced after the
   * archiver's last save (at most one pass interval of them) were lost with the hot window and must not be
   * numbered again. Default 32.
   */
  headMargin?: number;
}

export interface RestoreResult {
  /** Why nothing was restored, when nothing was. */
  skipped: string | null;
  channels: string[];
  /** Segment records restored, over all channels. */
  segments: number;
  /** Of those, segments whose media was lost (the hot window, an unreadable object): EXT-X-GAP in catch-up. */
  lost: number;
  /** (content, stream, segment) objects indexed. */
  objects: number;
  /** Objects that could not be read or did not decode (left out, logged). */
  unreadable: number;
}

/** The channel's archiver lock while it is restored (renewed per content item). */
const LOCK_TTL_MS = 120_000;

/** Records announced per writeBoundaries call. */
const RECORD_BATCH = 500;

/** Run `fn` over `items` with at most `limit` in flight; results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

type Closed = SegmentRecord & { durationPts: number };

/** Pure: a closed record for a lost segment after `prev`, lasting `durationPts` (what the lost hot window held). */
function lostAfter(prev: Closed, durationPts: number): Closed {
  return {
    index: prev.index + 1,
    startPts: prev.startPts + prev.durationPts,
    startDts: prev.startDts + prev.durationPts,
    durationPts,
    wallClockMs: prev.wallClockMs + (prev.durationPts * 1000) / TIMELINE_HZ,
    discontinuity: false,
    ...(prev.discontinuitySequence !== undefined ? { discontinuitySequence: prev.discontinuitySequence } : {}),
  };
}

/**
 * Pure: the records to restore, ascending and without holes (the packager numbers a playlist's segments from its
 * first), up to `upto`: a segment whose record could not be read (between two that could) and the segments after
 * the last archived one up to `upto` (the lost hot window) become records of lost segments, listed in `lost`.
 * A hole between two records shares their time gap; a lost tail repeats the last duration.
 */
export function completeRecords(archived: readonly Closed[], upto: number): { records: Closed[]; lost: number[] } {
  const sorted = [...archived].sort((a, b) => a.index - b.index);
  const records: Closed[] = [];
  const lost: number[] = [];
  for (const r of sorted) {
    const prev = records.at(-1);
    if (prev && r.index > prev.index + 1) {
      const k = r.index - prev.index - 1;
      const each = Math.max(Math.floor(TIMELINE_HZ / 10), Math.floor((r.startDts - (prev.startDts + prev.durationPts)) / k));
      for (let i = 0; i < k; i++) {
        records.push(lostAfter(records.at(-1) as Closed, each));
        lost.push(prev.index + 1 + i);
      }
    }
    records.push(r);
  }
  while (records.length > 0 && (records.at(-1) as Closed).index < upto) {
    const prev = records.at(-1) as Closed;
    records.push(lostAfter(prev, prev.durationPts));
    lost.push(prev.index + 1);
  }
  return { records, lost };
}

/** Pure: whether a header's record is a closed segment record (what the archiver writes). */
export function closedRecordOf(header: SegmentObjectHeader): (SegmentRecord & { durationPts: number }) | null {
  const r = header.record;
  if (!r || !Number.isSafeInteger(r.index) || r.index !== header.segment || typeof r.durationPts !== 'number' || !Number.isFinite(r.wallClockMs)) return null;
  return r as SegmentRecord & { durationPts: number };
}

export async function restoreFromArchive(deps: RestoreDeps, config: RestoreConfig = {}): Promise<RestoreResult> {
  const { catalog, channels, store, live, log } = deps;
  const now = deps.now ?? Date.now;
  const concurrency = config.concurrency ?? 16;
  const holder = newHolderId('restore');
  const headMargin = config.headMargin ?? 32;
  const result: RestoreResult = { skipped: null, channels: [], segments: 0, lost: 0, objects: 0, unreadable: 0 };
  if ((await channels.list()).length > 0) {
    result.skipped = 'Redis holds channels';
    return result;
  }

  /** Index one content item's archived objects; the headers of its first stream are returned by segment. */
  async function indexContent(content: string, streams: number, upto: number, dvrStartMs: number, retainMs: number): Promise<Map<number, SegmentObjectHeader>> {
    const first = new Map<number, SegmentObjectHeader>();
    for (let s = 0; s < streams; s++) {
      const segs = (await catalog.segments(content, s)).filter((n) => n <= upto);
      const headers = await mapLimited(segs, concurrency, async (n) => {
        try {
          return await store.readArchivedHeader(content, s, n);
        } catch (e) {
          log.warn({ content, stream: s, segment: n, err: (e as Error).message }, 'restore: an archived segment could not be read; left out');
          return null;
        }
      });
      for (const h of headers) {
        if (!h) {
          result.unreadable++;
          continue;
        }
        const rec = closedRecordOf(h);
        if (rec && segmentEndMs(rec) < dvrStartMs) continue; // left the DVR window; the archiver deletes it
        // Its elements expire as they would have: the DVR window after the segment's end (in Redis's clock).
        await store.restoreArchivedSegment(content, s, h, Date.now() + ((rec ? segmentEndMs(rec) : now()) + retainMs - now()));
        result.objects++;
        if (s === VIDEO_STREAM) first.set(h.segment, h);
      }
    }
    return first;
  }

  async function restoreChannel(ch: Channel, head: number): Promise<void> {
    const retainMs = ch.dvrWindowSeconds * 1000;
    const dvrStartMs = now() - retainMs;
    const contents: [string, string | null][] = [[ch.name, null], ...ch.ladder.map((r): [string, string] => [renditionContent(ch.name, r.name), r.name])];
    const progress: Record<string, number> = {};
    let records: (SegmentRecord & { durationPts: number })[] = [];
    for (const [content, rung] of contents) {
      if (!(await live.takeArchiveLock(ch.name, holder, LOCK_TTL_MS))) throw new Error('the channel\'s archiver lock was lost');
      const entry = await catalog.content(content);
      if (!entry) continue;
      if (!(await store.getFormat(content))) await store.createContent(entry.format);
      if (entry.renditionOf) await store.setRendition({ source: entry.renditionOf.source, target: content, streamMap: entry.renditionOf.streamMap });
      const upto = rung === null ? Number.MAX_SAFE_INTEGER : (records.at(-1)?.index ?? 0);
      const headers = await indexContent(content, entry.format.streams.length, upto, dvrStartMs, retainMs);
      const segs = [...headers.keys()].sort((a, b) => a - b);
      if (rung === null) {
        records = segs.flatMap((n) => {
          const r = closedRecordOf(headers.get(n) as SegmentObjectHeader);
          return r ? [r] : [];
        });
      } else {
        for (const n of segs) await live.recordRungSegment(ch.name, rung, n, 'made', retainMs);
      }
      const last = segs.at(-1);
      if (last !== undefined) {
        progress[content] = last;
        progress[`${content}#deleted`] = (segs[0] as number) - 1;
      }
    }
    const { records: all, lost } = completeRecords(records, records.length > 0 ? Math.max(head, records.at(-1)?.index ?? 0) + headMargin : 0);
    for (let i = 0; i < all.length; i += RECORD_BATCH) {
      await live.writeBoundaries(ch.name, { segments: all.slice(i, i + RECORD_BATCH), retainMs });
    }
    for (const n of lost) for (const [content] of contents) await live.recordArchiveGap(ch.name, content, n, retainMs);
    if (Object.keys(progress).length > 0) await live.setArchiveProgress(ch.name, progress, 2 * retainMs);
    // Last: ingest authorises publishers by the channel, which must find its history in place.
    await channels.create(ch);
    result.channels.push(ch.name);
    result.segments += all.length;
    result.lost += lost.length;
  }

  for await (const name of catalog.channelNames()) {
    if (!(await live.takeArchiveLock(name, holder, LOCK_TTL_MS))) continue;
    try {
      if (await channels.get(name)) continue;
      const entry = await catalog.channel(name, deps.validateLadder, deps.defaultLadder);
      if (!entry) continue;
      const t0 = Date.now();
      await restoreChannel(entry.channel, entry.head.index);
      log.info({ channel: name, ms: Date.now() - t0 }, 'restore: channel rebuilt from the archive');
    } catch (e) {
      log.warn({ channel: name, err: (e as Error).message }, 'restore: channel could not be rebuilt from the archive');
    } finally {
      await live.releaseArchiveLock(name, holder).catch(() => undefined);
    }
  }
  return result;
}
