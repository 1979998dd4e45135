/**
 * The live packager: answers `/live/<channel>/…` objects from the channel reader. A per-channel
 * snapshot of the live model (settings, format, newest segments and parts, renditions and their
 * frontiers) is shared by every request until the channel's next event, so a thousand players
 * reloading a playlist cause one read; media objects go through the LRU with request coalescing.
 */
import type { PartRecord, SegmentRecord } from '../../core/model/live';
import type { Channel } from '../../core/model/channel';
import { notFound } from '../../core/model/errors';
import type { ChannelReader, Frontier } from '../channel-reader';
import { parseBlockingRequest, type QueryValue } from '../hls/blocking-request';
import { renderMediaPlaylist } from '../hls/media-playlist';
import { badPackagerRequest } from '../errors';
import type { EventFollowers } from './event-follower';
import { buildFragment } from './fragment-builder';
import { buildMediaPlaylist, positionOf, targetDurationOf } from './hls-builder';
import { catchupQuery, stemOf, type RenditionRef } from './live-files';
import {
  allRefs, fallbackBandwidth, frameRateOf, frontierOf, isNext, memoOn, newestSegment, partTarget, ready, renditionReports,
  sameTarget, sourceFrontier, targetDuration, trackOf, type Snapshot, type Track,
} from './snapshot';
import type { PackagerMetrics } from './metrics';
import { etagOf, type SegmentCache } from './segment-cache';
import { bytesPerWindow, measureBandwidth, partWindow, segmentWindow } from './windows';
import { buildManifest } from './dash-builder';
import { renderMpd } from '../dash/mpd';
import { renderMultivariant } from '../hls/multivariant';
import { parseCatchup, rangeComplete, segmentsInRange, type CatchupRange } from './catchup';
import { TIMELINE_HZ } from '../../core/model/live';

export type Query = Record<string, QueryValue>;

export interface LiveResponse {
  body: string | Buffer;
  contentType: string;
  cacheControl: string;
  etag?: string;
}

export interface LiveServiceConfig {
  /** Segments in a live playlist / MPD window. */
  liveWindowSegments: number;
  /** A blocking reload waits at most this many target durations; a request for a part not yet made, this many part targets. */
  blockingTimeoutTargets: number;
  /** ... but a part request at least this long, ms (small parts on a busy ingest can come a few hundred ms late). */
  partWaitFloorMs: number;
  /** How long an audio window may be waited for when its end has not arrived yet, ms. */
  audioWaitMs: number;
  /** A snapshot without a running event follower is reused this long, ms. */
  snapshotTtlMs: number;
  /** A snapshot with a follower is reused until the next event, but at most this long, ms. */
  snapshotMaxAgeMs: number;
  /** Path of the UTCTiming endpoint. */
  utcTimingPath: string;
}

export const DEFAULT_LIVE_SERVICE_CONFIG: LiveServiceConfig = {
  liveWindowSegments: 6,
  blockingTimeoutTargets: 3,
  partWaitFloorMs: 1000,
  audioWaitMs: 1000,
  snapshotTtlMs: 200,
  snapshotMaxAgeMs: 2000,
  utcTimingPath: '/live/time',
};

export interface LiveServiceDeps {
  reader: ChannelReader;
  followers: EventFollowers;
  cache: SegmentCache;
  metrics?: PackagerMetrics;
  now?: () => number;
}

export const CONTENT_TYPES = {
  m3u8: 'application/vnd.apple.mpegurl',
  mpd: 'application/dash+xml',
  video: 'video/mp4',
  audio: 'audio/mp4',
} as const;

export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** A video rung as the multivariant playlist and the MPD describe it (bandwidth measured). */
export interface VideoVariant {
  ref: RenditionRef;
  track: Track;
  codecs: string;
  width: number;
  height: number;
  frameRate?: number;
  peak: number;
  average: number;
}

export interface Variants {
  video: VideoVariant[];
  audio: { codecs: string; channels: number; sampleRate: number; peak: number; average: number } | null;
}

export interface LiveService {
  master(channel: string, query: Query): Promise<LiveResponse>;
  mediaPlaylist(channel: string, ref: RenditionRef, query: Query): Promise<LiveResponse>;
  init(channel: string, ref: RenditionRef): Promise<LiveResponse>;
  media(channel: string, ref: RenditionRef, segment: number, part: number | null): Promise<LiveResponse>;
  mpd(channel: string, query: Query): Promise<LiveResponse>;
  /** The current live snapshot (tests, bench, the MPEG-TS service). */
  snapshot(channel: string): Promise<Snapshot>;
  /** The video rungs and the audio of a snapshot, measured (memoised on it). */
  variants(snap: Snapshot): Promise<Variants>;
}

export function createLiveService(deps: LiveServiceDeps, config: LiveServiceConfig): LiveService {
  const { reader, followers, cache, metrics } = deps;
  const now = deps.now ?? Date.now;
  const snapshots = new Map<string, Snapshot>();
  const refreshing = new Map<string, { version: number | null; promise: Promise<Snapshot> }>();
  const bandwidths = new Map<string, { peak: number; average: number } | null>();

  async function takeSnapshot(name: string): Promise<Snapshot> {
    const t0 = now();
    const version = followers.versionOf(name);
    const [channel, format, segments, renditions] = await Promise.all([
      reader.channel(name), reader.format(name), reader.lastSegments(name, config.liveWindowSegments + 4), reader.renditions(name),
    ]);
    if (!format) throw notFound(`Channel '${name}' has not been published yet: nothing to play.`);
    const last = segments[segments.length - 1];
    const open = last && last.durationPts === null ? last : null;
    const closed = segments.filter((s) => s.durationPts !== null);
    const from = segments[Math.max(0, segments.length - 5)]?.index ?? 0;
    const [parts, rungFrontiers] = await Promise.all([
      last ? reader.parts(name, from, last.index) : Promise.resolve([]),
      renditions.length ? reader.rungFrontiers(name, renditions.map((r) => r.rung)) : Promise.resolve(new Map<string, Frontier>()),
    ]);
    const hasAudio = format.streams.some((s) => s.index === 1 && s.codecpar.codec_type === 'audio');
    metrics?.buildSeconds.observe({ object: 'snapshot' }, (now() - t0) / 1000);
    return { channel, format, hasAudio, closed, open, parts, renditions, rungFrontiers, takenAt: t0, version, memo: new Map() };
  }

  function isFresh(s: Snapshot, version: number | null): boolean {
    const age = now() - s.takenAt;
    return version !== null && s.version === version ? age < config.snapshotMaxAgeMs : age < config.snapshotTtlMs;
  }

  /** The channel's current snapshot: reused while fresh, one read shared by concurrent callers. */
  function snapshot(name: string): Promise<Snapshot> {
    const version = followers.versionOf(name);
    const cached = snapshots.get(name);
    if (cached && isFresh(cached, version)) return Promise.resolve(cached);
    const running = refreshing.get(name);
    if (running && running.version === version) return running.promise;
    const promise = takeSnapshot(name).then((snap) => {
      const cur = snapshots.get(name);
      if (!cur || cur.takenAt <= snap.takenAt) snapshots.set(name, snap);
      return snap;
    });
    const entry = { version, promise };
    refreshing.set(name, entry);
    void promise.finally(() => {
      if (refreshing.get(name) === entry) refreshing.delete(name);
    }).catch(() => undefined);
    return promise;
  }

  async function gapsOf(snap: Snapshot, track: Track, segments: SegmentRecord[]): Promise<Set<number>> {
    if (track.ref.kind === 'audio' || track.ref.rung === 'source' || segments.length === 0) return new Set();
    return reader.rungGaps(snap.channel.name, track.ref.rung, segments.map((s) => s.index));
  }

  function dvrStart(channel: Channel): number {
    return now() - channel.dvrWindowSeconds * 1000;
  }

  async function catchupSegments(snap: Snapshot, range: CatchupRange): Promise<SegmentRecord[]> {
    const name = snap.channel.name;
    const records = await reader.segmentsByTime(name, range.startMs - 35000, range.endMs ?? now());
    return segmentsInRange(records, range);
  }

  async function livePlaylistText(snap: Snapshot, ref: RenditionRef, skip: boolean): Promise<string> {
    return memoOn(snap, `hls:${stemOf(ref)}:${skip ? 'skip' : 'full'}`, async () => {
      const t0 = now();
      const track = trackOf(snap, ref);
      const f = frontierOf(snap, ref);
      if (!f) throw notFound(`Rendition '${stemOf(ref)}' of channel '${snap.channel.name}' has no media yet.`);
      const listed = snap.closed.filter((s) => s.index <= f.lastMsn).slice(-config.liveWindowSegments);
      const first = listed[0];
      const ll = snap.channel.lowLatency;
      const inProgress = snap.open || f.pendingParts > 0 ? { segment: f.lastMsn + 1, readyParts: f.pendingParts } : null;
      const [gaps, ds] = await Promise.all([gapsOf(snap, track, listed), first ? reader.discontinuitySequence(snap.channel.name, first.index) : Promise.resolve(0)]);
      const playlist = buildMediaPlaylist({
        kind: 'live', ref, segments: listed, parts: snap.parts, inProgress, discontinuitySequence: ds, lowLatency: ll,
        partTarget: partTarget(snap), targetDuration: targetDuration(snap), gaps,
        independence: ref.kind === 'audio' ? 'all' : ref.rung === 'source' ? 'record' : 'first',
        renditionReports: renditionReports(snap, ref), ended: false,
      });
      const text = renderMediaPlaylist(playlist, { skip });
      metrics?.buildSeconds.observe({ object: 'playlist' }, (now() - t0) / 1000);
      return text;
    });
  }

  function playlistResponse(body: string, maxAge: number): LiveResponse {
    return { body, contentType: CONTENT_TYPES.m3u8, cacheControl: `public, max-age=${maxAge}` };
  }

  async function catchupPlaylist(snap: Snapshot, ref: RenditionRef, range: CatchupRange): Promise<LiveResponse> {
    const track = trackOf(snap, ref);
    const f = frontierOf(snap, ref);
    if (!f) throw notFound(`Rendition '${stemOf(ref)}' of channel '${snap.channel.name}' has no media yet.`);
    const listed = (await catchupSegments(snap, range)).filter((s) => s.index <= f.lastMsn);
    const first = listed[0];
    if (!first) throw notFound('No segments in the requested range: it is outside what the DVR window holds, or nothing was published then.');
    const complete = rangeComplete(range, newestSegment(snap));
    const [gaps, ds] = await Promise.all([gapsOf(snap, track, listed), reader.discontinuitySequence(snap.channel.name, first.index)]);
    const playlist = buildMediaPlaylist({
      kind: complete ? 'vod' : 'event', ref, segments: listed, parts: [], inProgress: null, discontinuitySequence: ds,
      lowLatency: false, partTarget: partTarget(snap), targetDuration: targetDurationOf(listed, 1), gaps,
      independence: 'record', renditionReports: [], ended: complete,
    });
    return playlistResponse(renderMediaPlaylist(playlist), complete ? 3600 : 1);
  }

  async function mediaPlaylist(channel: string, ref: RenditionRef, query: Query): Promise<LiveResponse> {
    let snap = await snapshot(channel);
    const range = parseCatchup(query, now(), dvrStart(snap.channel));
    if (range) return catchupPlaylist(snap, ref, range);
    const follower = followers.follow(channel);
    trackOf(snap, ref);
    const f = frontierOf(snap, ref);
    if (!f) throw notFound(`Rendition '${stemOf(ref)}' of channel '${channel}' has no media yet.`);
    const ll = snap.channel.lowLatency;
    const decision = parseBlockingRequest(query, positionOf(f.lastMsn, f.pendingParts, ll, partTarget(snap), false));
    if (decision.kind === 'error') throw badPackagerRequest(decision.message);
    if (decision.kind === 'wait') {
      metrics?.blockedRequests.inc({ kind: 'playlist' });
      const t0 = now();
      const target = decision.target;
      const timeoutMs = config.blockingTimeoutTargets * targetDuration(snap) * 1000;
      const ok = await follower.waitUntil(async () => {
        const s = await snapshot(channel);
        const fr = frontierOf(s, ref);
        return fr !== null && sameTarget(target, fr);
      }, timeoutMs);
      metrics?.blockedSeconds.observe({ outcome: ok ? 'ready' : 'timeout' }, (now() - t0) / 1000);
      snap = await snapshot(channel);
    }
    return playlistResponse(await livePlaylistText(snap, ref, decision.skip), 1);
  }

  async function measured(snap: Snapshot, track: Track): Promise<{ peak: number; average: number } | null> {
    const f = frontierOf(snap, track.ref);
    const segs = snap.closed.filter((s) => f !== null && s.index <= f.lastMsn).slice(-3);
    const last = segs[segs.length - 1];
    if (!last) return null;
    const key = `${track.content}/${track.stream}/${last.index}`;
    if (bandwidths.has(key)) return bandwidths.get(key) ?? null;
    const windows = segs.map((s) => segmentWindow(s, track.mode));
    const packets = await reader.packetSizes(track.content, track.stream, windows[0]?.from ?? 0, windows[windows.length - 1]?.to ?? 0);
    const bytes = bytesPerWindow(packets, windows);
    const value = measureBandwidth(segs.map((s, i) => ({ bytes: bytes[i] ?? 0, duration: (s.durationPts as number) / TIMELINE_HZ })));
    if (bandwidths.size > 1000) bandwidths.clear();
    bandwidths.set(key, value);
    return value;
  }

  async function variants(snap: Snapshot): Promise<Variants> {
    return memoOn(snap, 'variants', async () => {
      const refs = allRefs(snap).filter((r): r is Extract<RenditionRef, { kind: 'video' }> => r.kind === 'video');
      const video = await Promise.all(refs.map(async (ref): Promise<VideoVariant> => {
        const track = trackOf(snap, ref);
        const resolved = await reader.track(track.content, track.stream);
        const cfg = resolved.track.config;
        if (cfg.codec !== 'h264') throw badPackagerRequest(`rendition ${ref.rung} is not H.264`);
        const info = ref.rung === 'source' ? null : snap.renditions.find((r) => r.rung === ref.rung) ?? null;
        const bw = await measured(snap, track);
        const fallback = fallbackBandwidth(snap, info);
        const fr = frameRateOf(info ? info.format : snap.format, cfg.frameRate);
        return { ref, track, codecs: cfg.codecString, width: cfg.width, height: cfg.height, ...(fr ? { frameRate: fr } : {}), peak: bw?.peak ?? fallback, average: bw?.average ?? fallback };
      }));
      let audio = null;
      if (snap.hasAudio) {
        const track = trackOf(snap, { kind: 'audio' });
        const resolved = await reader.track(track.content, track.stream);
        const cfg = resolved.track.config;
        if (cfg.codec === 'aac') {
          const bw = await measured(snap, track);
          audio = { codecs: cfg.codecString, channels: cfg.channels, sampleRate: cfg.sampleRate, peak: bw?.peak ?? 128000, average: bw?.average ?? 128000 };
        }
      }
      return { video, audio };
    });
  }

  async function master(channel: string, query: Query): Promise<LiveResponse> {
    const snap = await snapshot(channel);
    const range = parseCatchup(query, now(), dvrStart(snap.channel));
    const q = catchupQuery(query);
    const body = await memoOn(snap, `master:${q}`, async () => {
      const v = await variants(snap);
      const audioBw = v.audio ? { peak: v.audio.peak, average: v.audio.average } : { peak: 0, average: 0 };
      return renderMultivariant({
        variants: v.video.map((x) => ({
          uri: `${stemOf(x.ref)}.m3u8${q}`,
          bandwidth: x.peak + audioBw.peak,
          averageBandwidth: x.average + audioBw.average,
          codecs: [x.codecs],
          resolution: { width: x.width, height: x.height },
          ...(x.frameRate ? { frameRate: x.frameRate } : {}),
          ...(v.audio ? { audioGroup: 'audio' } : {}),
        })),
        ...(v.audio ? { audio: [{ groupId: 'audio', name: 'Main', uri: `audio.m3u8${q}`, default: true, autoselect: true, channels: v.audio.channels, codecs: v.audio.codecs }] } : {}),
      });
    });
    return playlistResponse(body, range && range.endMs !== null ? 60 : 1);
  }

  async function mpd(channel: string, query: Query): Promise<LiveResponse> {
    const snap = await snapshot(channel);
    followers.follow(channel);
    const range = parseCatchup(query, now(), dvrStart(snap.channel));
    const key = `mpd:${range ? `${range.startMs}-${range.endMs ?? ''}` : 'live'}`;
    const body = await memoOn(snap, key, async () => {
      const v = await variants(snap);
      const src = sourceFrontier(snap);
      const included = v.video.filter((x) => {
        const f = frontierOf(snap, x.ref);
        return f !== null && f.lastMsn >= src.lastMsn - 2;
      });
      const cap = Math.min(...included.map((x) => (frontierOf(snap, x.ref) as Frontier).lastMsn));
      const segments = (range ? await catchupSegments(snap, range) : snap.closed).filter((s) => s.index <= cap);
      const listed = range ? segments : segments.slice(-config.liveWindowSegments);
      if (listed.length === 0) throw notFound(range ? 'No segments in the requested range.' : `Channel '${channel}' has no complete segment yet.`);
      const complete = range !== null && rangeComplete(range, newestSegment(snap));
      return renderMpd(buildManifest({
        segments: listed,
        video: included.map((x) => ({ rung: x.ref.kind === 'video' ? x.ref.rung : 'source', bandwidth: x.peak, codecs: x.codecs, width: x.width, height: x.height, ...(x.frameRate ? { frameRate: x.frameRate } : {}) })),
        audio: v.audio ? { bandwidth: v.audio.peak, codecs: v.audio.codecs, sampleRate: v.audio.sampleRate, channels: v.audio.channels } : null,
        complete,
        nowMs: now(),
        utcTimingUrl: config.utcTimingPath,
        presentationDelay: 3 * targetDurationOf(listed, 1),
      }));
    });
    return { body, contentType: CONTENT_TYPES.mpd, cacheControl: range?.endMs ? 'public, max-age=60' : 'public, max-age=1' };
  }

  async function init(channel: string, ref: RenditionRef): Promise<LiveResponse> {
    const snap = await snapshot(channel);
    const track = trackOf(snap, ref);
    const resolved = await reader.track(track.content, track.stream);
    return { body: resolved.init, contentType: ref.kind === 'audio' ? CONTENT_TYPES.audio : CONTENT_TYPES.video, cacheControl: 'public, max-age=10', etag: `"${resolved.formatKey}"` };
  }

  async function segmentRecord(snap: Snapshot, segment: number): Promise<{ seg: SegmentRecord; parts: PartRecord[] }> {
    const inSnap = [...snap.closed, ...(snap.open ? [snap.open] : [])].find((s) => s.index === segment);
    const seg = inSnap ?? (await reader.segments(snap.channel.name, segment, segment))[0];
    if (!seg) throw notFound(`Segment ${segment} of channel '${snap.channel.name}' does not exist (expired or not yet made).`);
    const parts = inSnap ? snap.parts.filter((p) => p.segment === segment) : [];
    return { seg, parts: parts.length ? parts : await reader.parts(snap.channel.name, segment, segment) };
  }

  async function buildMedia(channel: string, ref: RenditionRef, segment: number, part: number | null): Promise<{ body: Buffer; complete: boolean }> {
    let snap = await snapshot(channel);
    let track = trackOf(snap, ref);
    if (!ready(frontierOf(snap, ref), segment, part)) {
      if (!isNext(frontierOf(snap, ref), segment, part)) {
        throw notFound(`${part === null ? `Segment ${segment}` : `Part ${segment}.${part}`} of '${stemOf(ref)}' is not available.`);
      }
      metrics?.blockedRequests.inc({ kind: part === null ? 'segment' : 'part' });
      const t0 = now();
      const wait = part === null
        ? 1.5 * targetDuration(snap) * 1000
        : Math.max(config.blockingTimeoutTargets * partTarget(snap) * 1000, config.partWaitFloorMs);
      const ok = await followers.follow(channel).waitUntil(async () => ready(frontierOf(await snapshot(channel), ref), segment, part), wait);
      metrics?.blockedSeconds.observe({ outcome: ok ? 'ready' : 'timeout' }, (now() - t0) / 1000);
      if (!ok) throw notFound(`${part === null ? `Segment ${segment}` : `Part ${segment}.${part}`} of '${stemOf(ref)}' did not become ready in time.`);
      snap = await snapshot(channel);
      track = trackOf(snap, ref);
    }
    const t0 = now();
    const { seg, parts } = await segmentRecord(snap, segment);
    if (part === null && seg.durationPts === null) throw notFound(`Segment ${segment} is still open.`);
    if (part !== null && !parts.some((p) => p.part === part)) throw notFound(`Segment ${segment} has no part ${part}.`);
    const window = part === null ? segmentWindow(seg, track.mode) : partWindow(seg, parts, part, track.mode);
    const resolved = await reader.track(track.content, track.stream);
    const result = await buildFragment({
      readWindow: (w) => reader.readWindow(track.content, track.stream, w),
      waitForMore: (ms) => followers.follow(channel).nextEvents(ms),
    }, { track: resolved, window, segment, part, audioWaitMs: config.audioWaitMs });
    metrics?.buildSeconds.observe({ object: part === null ? 'segment' : 'part' }, (now() - t0) / 1000);
    return result;
  }

  async function media(channel: string, ref: RenditionRef, segment: number, part: number | null): Promise<LiveResponse> {
    const file = part === null ? `${stemOf(ref)}-${segment}` : `${stemOf(ref)}-${segment}.${part}`;
    const contentType = ref.kind === 'audio' ? CONTENT_TYPES.audio : CONTENT_TYPES.video;
    const obj = await cache.get(`${channel}/${file}`, async () => {
      const r = await buildMedia(channel, ref, segment, part);
      return { body: r.body, etag: etagOf(r.body), contentType, cacheable: r.complete };
    });
    return { body: obj.body, contentType: obj.contentType, etag: obj.etag, cacheControl: obj.cacheable ? IMMUTABLE : 'no-cache' };
  }

  return { master, mediaPlaylist, init, media, mpd, snapshot, variants };
}
