/**
 * CMAF objects: a rendition's init segment, and its segments and LL-HLS parts built from the packets of
 * their windows. A segment or part not made yet but next in line is waited for (preload hints name it);
 * built objects go through the LRU with request coalescing (immutable once complete). An archived segment not in
 * the LRU is streamed from the archive instead (archived-segments.ts), with the same bytes and ETag; asked for
 * again, it is built into the LRU like a hot one.
 */
import type { PartRecord, SegmentRecord } from '../../core/model/live';
import { notFound } from '../../core/model/errors';
import type { ChannelReader } from '../channel-reader';
import type { EventFollowers } from './event-follower';
import { buildFragment, buildMuxedFragment, MUXED_AUDIO_TRACK_ID, type FragmentResult, type FragmentSource } from './fragment-builder';
import { buildInitSegment } from '../cmaf/segments';
import type { ResolvedTrack } from '../channel-reader';
import { isMuxed, stemOf, type RenditionRef } from './live-files';
import { CONTENT_TYPES, IMMUTABLE, type LiveResponse } from './live-response';
import type { LiveServiceConfig } from './live-service';
import type { PackagerMetrics } from './metrics';
import type { SegmentCache } from './segment-cache';
import { builtFragmentEtag, type ArchivedSegments } from './archived-segments';
import type { SnapshotCache } from './snapshot-cache';
import { frontierOf, isNext, partTarget, ready, targetDuration, trackOf, type Snapshot, type Track } from './snapshot';
import { partWindow, segmentWindow, type TickWindow, type WindowMode } from './windows';

/** Archived segment keys remembered as streamed once (a few hundred KB of strings at most). */
const STREAMED_REMEMBERED = 4096;
/** A segment cache at least this large takes archived segments asked for again (a tiny one would only churn). */
const CACHE_ARCHIVED_FROM_BYTES = 32 * 1024 * 1024;

/** What media objects are read from besides the snapshot. */
export type MediaReader = Pick<ChannelReader, 'track' | 'segments' | 'parts' | 'readWindow'>;

export interface MediaObjectsDeps {
  reader: MediaReader;
  followers: Pick<EventFollowers, 'follow'>;
  snapshots: SnapshotCache;
  cache: Pick<SegmentCache, 'get' | 'peek' | 'maxBytes'>;
  /** Archived segments streamed from the archive (see archived-segments.ts); without it they are built whole. */
  archived?: ArchivedSegments;
  metrics?: Pick<PackagerMetrics, 'buildSeconds'>;
  now: () => number;
}

export type MediaObjectsConfig = Pick<LiveServiceConfig, 'blockingTimeoutTargets' | 'partWaitFloorMs' | 'audioWaitMs'>;

export interface MediaObjects {
  init(channel: string, ref: RenditionRef): Promise<LiveResponse>;
  media(channel: string, ref: RenditionRef, segment: number, part: number | null): Promise<LiveResponse>;
}

/** Muxed init segments remembered at most (by the two tracks' format keys; then forgotten all at once). */
const MAX_MUXED_INITS = 256;

/** The init segment of a muxed rendition: the video track (id 1) and the audio track (MUXED_AUDIO_TRACK_ID). */
export function muxedInit(video: ResolvedTrack, audio: ResolvedTrack): Buffer {
  return buildInitSegment([video.track, { ...audio.track, id: MUXED_AUDIO_TRACK_ID }]);
}

export function contentTypeOf(ref: RenditionRef): string {
  return ref.kind === 'audio' ? CONTENT_TYPES.audio : CONTENT_TYPES.video;
}

/** `Segment 12` or `Part 12.3`, for messages. */
function objectName(segment: number, part: number | null): string {
  return part === null ? `Segment ${segment}` : `Part ${segment}.${part}`;
}

/** How long a request for the next segment or part may wait for it, ms. */
export function mediaWaitMs(snap: Snapshot, part: number | null, config: Pick<MediaObjectsConfig, 'blockingTimeoutTargets' | 'partWaitFloorMs'>): number {
  return part === null
    ? 1.5 * targetDuration(snap) * 1000
    : Math.max(config.blockingTimeoutTargets * partTarget(snap) * 1000, config.partWaitFloorMs);
}

/** A segment of the snapshot (closed or open) with the snapshot's parts of it; null when it holds none such. */
export function snapshotSegment(snap: Snapshot, segment: number): { seg: SegmentRecord; parts: PartRecord[] } | null {
  const seg = [...snap.closed, ...(snap.open ? [snap.open] : [])].find((s) => s.index === segment);
  return seg ? { seg, parts: snap.parts.filter((p) => p.segment === segment) } : null;
}

/** The window of a segment (closed) or of one of its parts; 404 when there is no such object yet. */
export function mediaWindow(seg: SegmentRecord, parts: readonly PartRecord[], part: number | null, mode: WindowMode): TickWindow {
  if (part === null && seg.durationPts === null) throw notFound(`Segment ${seg.index} is still open.`);
  if (part !== null && !parts.some((p) => p.part === part)) throw notFound(`Segment ${seg.index} has no part ${part}.`);
  return part === null ? segmentWindow(seg, mode) : partWindow(seg, parts, part, mode);
}

export function createMediaObjects(deps: MediaObjectsDeps, config: MediaObjectsConfig): MediaObjects {
  const { reader, followers, snapshots, cache, metrics, now, archived } = deps;

  const muxedInits = new Map<string, Buffer>();

  /** The channel's main audio track, resolved (a muxed rendition's second track). */
  async function mainAudio(snap: Snapshot): Promise<{ track: Track; resolved: ResolvedTrack }> {
    const track = trackOf(snap, { kind: 'audio' });
    return { track, resolved: await reader.track(track.content, track.stream) };
  }

  async function init(channel: string, ref: RenditionRef): Promise<LiveResponse> {
    const snap = await snapshots.snapshot(channel);
    const track = trackOf(snap, ref);
    const resolved = await reader.track(track.content, track.stream);
    if (isMuxed(ref)) {
      const audio = (await mainAudio(snap)).resolved;
      const key = `${resolved.formatKey}+${audio.formatKey}`;
      let body = muxedInits.get(key);
      if (!body) {
        body = muxedInit(resolved, audio);
        if (muxedInits.size >= MAX_MUXED_INITS) muxedInits.clear();
        muxedInits.set(key, body);
      }
      return { body, contentType: contentTypeOf(ref), cacheControl: 'public, max-age=10', etag: `"${key}"` };
    }
    return { body: resolved.init, contentType: contentTypeOf(ref), cacheControl: 'public, max-age=10', etag: `"${resolved.formatKey}"` };
  }

  /** The segment's record and its parts: from the snapshot when it holds them, else read. */
  async function segmentRecord(snap: Snapshot, segment: number): Promise<{ seg: SegmentRecord; parts: PartRecord[] }> {
    const inSnap = snapshotSegment(snap, segment);
    const seg = inSnap?.seg ?? (await reader.segments(snap.channel.name, segment, segment))[0];
    if (!seg) throw notFound(`Segment ${segment} of channel '${snap.channel.name}' does not exist (expired or not yet made).`);
    const parts = inSnap?.parts ?? [];
    return { seg, parts: parts.length ? parts : await reader.parts(snap.channel.name, segment, segment) };
  }

  /** The snapshot once the object is ready: at once, or after a short wait when it is the next one. */
  async function readySnapshot(channel: string, ref: RenditionRef, segment: number, part: number | null): Promise<Snapshot> {
    const snap = await snapshots.snapshot(channel);
    trackOf(snap, ref); // no such rendition: its own 404 first
    if (ready(frontierOf(snap, ref), segment, part)) return snap;
    if (!isNext(frontierOf(snap, ref), segment, part)) throw notFound(`${objectName(segment, part)} of '${stemOf(ref)}' is not available.`);
    const isReady = (s: Snapshot) => ready(frontierOf(s, ref), segment, part);
    const ok = await snapshots.blockUntil(channel, part === null ? 'segment' : 'part', isReady, mediaWaitMs(snap, part, config));
    if (!ok) throw notFound(`${objectName(segment, part)} of '${stemOf(ref)}' did not become ready in time.`);
    return snapshots.snapshot(channel);
  }

  async function buildMedia(channel: string, ref: RenditionRef, segment: number, part: number | null): Promise<FragmentResult> {
    const snap = await readySnapshot(channel, ref, segment, part);
    const track = trackOf(snap, ref);
    const t0 = now();
    const { seg, parts } = await segmentRecord(snap, segment);
    const window = mediaWindow(seg, parts, part, track.mode);
    const resolved = await reader.track(track.content, track.stream);
    const source = (t: Track): FragmentSource => ({
      readWindow: (w) => reader.readWindow(t.content, t.stream, w),
      waitForMore: (ms) => followers.follow(channel).nextEvents(ms),
    });
    let result: FragmentResult;
    if (isMuxed(ref)) {
      const audio = await mainAudio(snap);
      result = await buildMuxedFragment(source(track), source(audio.track), {
        video: resolved, audio: audio.resolved, videoWindow: window, audioWindow: mediaWindow(seg, parts, part, audio.track.mode), segment, part, audioWaitMs: config.audioWaitMs,
      });
    } else {
      result = await buildFragment(source(track), { track: resolved, window, segment, part, audioWaitMs: config.audioWaitMs });
    }
    metrics?.buildSeconds.observe({ object: part === null ? 'segment' : 'part' }, (now() - t0) / 1000);
    return result;
  }

  /** A closed segment streamed from the archive; null when it is not wholly in one archived object. */
  async function streamArchived(archivedSegments: ArchivedSegments, channel: string, ref: RenditionRef, segment: number, key: string): Promise<LiveResponse | null> {
    const snap = await readySnapshot(channel, ref, segment, null);
    const track = trackOf(snap, ref);
    const { seg, parts } = await segmentRecord(snap, segment);
    if (seg.durationPts === null) return null;
    const window = mediaWindow(seg, parts, null, track.mode);
    const resolved = await reader.track(track.content, track.stream);
    const got = await archivedSegments.segment({ key, content: track.content, stream: track.stream, track: resolved, window, segment });
    return got ? { body: got.body, contentType: contentTypeOf(ref), etag: got.etag, cacheControl: IMMUTABLE } : null;
  }

  /** Archived segments streamed once, most recent last (bounded): the next request for one builds it into the cache. */
  const streamedOnce = new Set<string>();
  function rememberStreamed(key: string): void {
    streamedOnce.delete(key);
    streamedOnce.add(key);
    if (streamedOnce.size > STREAMED_REMEMBERED) streamedOnce.delete(streamedOnce.values().next().value as string);
  }

  async function media(channel: string, ref: RenditionRef, segment: number, part: number | null): Promise<LiveResponse> {
    const file = part === null ? `${stemOf(ref)}-${segment}` : `${stemOf(ref)}-${segment}.${part}`;
    const contentType = contentTypeOf(ref);
    const key = `${channel}/${file}`;
    // A segment not in the cache is streamed when it is archived; one asked for again (a popular catch-up
    // segment) is built once into the bounded segment cache like a hot one, so repeated requests cost no archive
    // read and no conversion. Else built.
    // (A muxed segment is built: its two tracks are archived apart.)
    const streamFrom = part === null && !isMuxed(ref) ? archived : undefined;
    const cached = streamFrom ? cache.peek(key) : undefined;
    if (streamFrom && !cached && !(cache.maxBytes >= CACHE_ARCHIVED_FROM_BYTES && streamedOnce.has(key))) {
      const streamed = await streamArchived(streamFrom, channel, ref, segment, key);
      if (streamed) {
        rememberStreamed(key);
        return streamed;
      }
    }
    const obj = cached ?? await cache.get(key, async () => {
      const r = await buildMedia(channel, ref, segment, part);
      return { body: r.body, etag: builtFragmentEtag(r.body), contentType, cacheable: r.complete };
    });
    return { body: obj.body, contentType: obj.contentType, etag: obj.etag, cacheControl: obj.cacheable ? IMMUTABLE : 'no-cache' };
  }

  return { init, media };
}
