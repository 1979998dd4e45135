/**
 * CMAF media playlists: the live one (LL-HLS parts, rendition reports, blocking reload and delta
 * updates), memoised on the snapshot, and catch-up ranges (an EVENT playlist that grows, or a VOD one
 * once the range is complete). The playlist values are decided by pure functions; gaps, the
 * discontinuity sequence and catch-up segments are read through the channel reader.
 */
import type { Channel } from '../../core/model/channel';
import type { SegmentRecord } from '../../core/model/live';
import { BeamError, notFound } from '../../core/model/errors';
import type { ChannelReader, Frontier } from '../channel-reader';
import { parseBlockingRequest } from '../hls/blocking-request';
import { renderMediaPlaylist } from '../hls/media-playlist';
import type { HlsMediaPlaylist } from '../hls/model';
import { badPackagerRequest } from '../errors';
import { parseCatchup, rangeComplete, segmentsInRange, type CatchupRange } from './catchup';
import type { EventFollowers } from './event-follower';
import { buildMediaPlaylist, positionOf, targetDurationOf } from './hls-builder';
import { stemOf, type RenditionRef } from './live-files';
import { playlistResponse, type LiveResponse, type Query } from './live-response';
import type { LiveServiceConfig } from './live-service';
import type { PackagerMetrics } from './metrics';
import type { SnapshotCache } from './snapshot-cache';
import {
  frontierOf, hasCompleteSegment, memoOn, newestSegment, partTarget, renditionReports, sameTarget, targetDuration, trackOf, type Snapshot, type Track,
} from './snapshot';

/** How far before a catch-up range's start segment records are read (the segment holding the start began earlier). */
const CATCHUP_LOOKBACK_MS = 35000;

/** What playlists read besides the snapshot. */
export type PlaylistReader = Pick<ChannelReader, 'rungGaps' | 'archiveGaps' | 'discontinuitySequence' | 'segmentsByTime'>;

export interface MediaPlaylistsDeps {
  reader: PlaylistReader;
  followers: Pick<EventFollowers, 'follow'>;
  snapshots: SnapshotCache;
  metrics?: Pick<PackagerMetrics, 'buildSeconds'>;
  now: () => number;
}

export type MediaPlaylistsConfig = Pick<LiveServiceConfig, 'liveWindowSegments' | 'blockingTimeoutTargets'>;

export interface MediaPlaylists {
  mediaPlaylist(channel: string, ref: RenditionRef, query: Query): Promise<LiveResponse>;
}

/** The catch-up range a query asks of a channel, within its DVR window (which ends now); null: live. */
export function catchupRangeOf(query: Query, channel: Channel, now: () => number): CatchupRange | null {
  return parseCatchup(query, now(), now() - channel.dvrWindowSeconds * 1000);
}

/** The closed segments of a catch-up range, read by wall-clock time. */
export async function catchupSegments(reader: Pick<ChannelReader, 'segmentsByTime'>, channel: string, range: CatchupRange, now: () => number): Promise<SegmentRecord[]> {
  const records = await reader.segmentsByTime(channel, range.startMs - CATCHUP_LOOKBACK_MS, range.endMs ?? now());
  return segmentsInRange(records, range);
}

/** The segments a live playlist lists: the newest closed ones the rendition has made, at most `windowSegments`. */
export function liveSegments(snap: Snapshot, f: Frontier, windowSegments: number): SegmentRecord[] {
  return snap.closed.filter((s) => s.index <= f.lastMsn).slice(-windowSegments);
}

/** The live playlist of a rendition whose frontier is `f`, listing `listed`. */
export function livePlaylist(snap: Snapshot, ref: RenditionRef, f: Frontier, listed: SegmentRecord[], gaps: Set<number>, discontinuitySequence: number): HlsMediaPlaylist {
  const segment = f.lastMsn + 1;
  // The record of the segment in progress here (a rung may be behind the source's open segment).
  const record = snap.open?.index === segment ? snap.open : snap.closed.find((s) => s.index === segment);
  const inProgress = snap.open || f.pendingParts > 0 ? { segment, readyParts: f.pendingParts, ...(record?.discontinuity ? { discontinuity: true } : {}) } : null;
  return buildMediaPlaylist({
    kind: 'live', ref, segments: listed, parts: snap.parts, inProgress, discontinuitySequence, lowLatency: snap.channel.lowLatency,
    partTarget: partTarget(snap), targetDuration: targetDuration(snap), gaps,
    // A rung has a keyframe wherever the source has one (transcoders/segment-transcoder.ts keyframeCarry), so its
    // parts are independent where the source's are.
    independence: ref.kind === 'audio' ? 'all' : 'record',
    renditionReports: renditionReports(snap, ref), ended: false, markers: snap.markers,
  });
}

/** A catch-up playlist listing `listed`: VOD once the range is complete, EVENT while it may grow. */
export function catchupPlaylist(snap: Snapshot, ref: RenditionRef, listed: SegmentRecord[], complete: boolean, gaps: Set<number>, discontinuitySequence: number): HlsMediaPlaylist {
  return buildMediaPlaylist({
    kind: complete ? 'vod' : 'event', ref, segments: listed, parts: [], inProgress: null, discontinuitySequence,
    lowLatency: false, partTarget: partTarget(snap), targetDuration: targetDurationOf(listed, 1), gaps,
    independence: 'record', renditionReports: [], ended: complete, markers: snap.markers,
  });
}

function noMediaYet(ref: RenditionRef, channel: string): Error {
  return notFound(`Rendition '${stemOf(ref)}' of channel '${channel}' has no media yet.`);
}

/** A live rendition that has not finished its first segment yet: the client is asked to come back (503, Retry-After). */
function firstSegmentPending(ref: RenditionRef, channel: string): Error {
  return new BeamError('BEAM_ERR_UNAVAILABLE', `Rendition '${stemOf(ref)}' of channel '${channel}' has not completed its first segment yet; retry shortly.`);
}

export function createMediaPlaylists(deps: MediaPlaylistsDeps, config: MediaPlaylistsConfig): MediaPlaylists {
  const { reader, followers, snapshots, metrics, now } = deps;

  /** EXT-X-GAP segments: a rung's missing segments, and any track's segments that lost media before they were archived. */
  async function gapsOf(snap: Snapshot, track: Track, segments: SegmentRecord[]): Promise<Set<number>> {
    if (segments.length === 0) return new Set();
    const indexes = segments.map((s) => s.index);
    const ref = track.ref;
    const [rung, archived] = await Promise.all([
      ref.kind === 'audio' || ref.rung === 'source' ? Promise.resolve(new Set<number>()) : reader.rungGaps(snap.channel.name, ref.rung, indexes),
      reader.archiveGaps(snap.channel.name, track.content, indexes),
    ]);
    return new Set([...rung, ...archived]);
  }

  function livePlaylistText(snap: Snapshot, ref: RenditionRef, skip: boolean): Promise<string> {
    return memoOn(snap, `hls:${stemOf(ref)}:${skip ? 'skip' : 'full'}`, async () => {
      const t0 = now();
      const track = trackOf(snap, ref);
      const f = frontierOf(snap, ref);
      if (!f) throw noMediaYet(ref, snap.channel.name);
      const listed = liveSegments(snap, f, config.liveWindowSegments);
      const first = listed[0];
      const [gaps, ds] = await Promise.all([gapsOf(snap, track, listed), first ? reader.discontinuitySequence(snap.channel.name, first.index) : Promise.resolve(0)]);
      const text = renderMediaPlaylist(livePlaylist(snap, ref, f, listed, gaps, ds), { skip });
      metrics?.buildSeconds.observe({ object: 'playlist' }, (now() - t0) / 1000);
      return text;
    });
  }

  async function catchupResponse(snap: Snapshot, ref: RenditionRef, range: CatchupRange): Promise<LiveResponse> {
    const track = trackOf(snap, ref);
    const f = frontierOf(snap, ref);
    if (!f) throw noMediaYet(ref, snap.channel.name);
    const listed = (await catchupSegments(reader, snap.channel.name, range, now)).filter((s) => s.index <= f.lastMsn);
    const first = listed[0];
    if (!first) throw notFound('No segments in the requested range: it is outside what the DVR window holds, or nothing was published then.');
    const complete = rangeComplete(range, newestSegment(snap));
    const [gaps, ds] = await Promise.all([gapsOf(snap, track, listed), reader.discontinuitySequence(snap.channel.name, first.index)]);
    return playlistResponse(renderMediaPlaylist(catchupPlaylist(snap, ref, listed, complete, gaps, ds)), complete ? 3600 : 1);
  }

  async function mediaPlaylist(channel: string, ref: RenditionRef, query: Query): Promise<LiveResponse> {
    let snap = await snapshots.snapshot(channel);
    const range = catchupRangeOf(query, snap.channel, now);
    if (range) return catchupResponse(snap, ref, range);
    const follower = followers.follow(channel);
    trackOf(snap, ref);
    // A playlist of parts alone is valid LL-HLS, but stock players (hls.js, AVPlayer) take a playlist without a
    // segment as a fatal error: such a request is held until the first segment is complete, as a blocking
    // reload is, then answered 503 with Retry-After, which every player retries.
    if (!hasCompleteSegment(snap, ref)) {
      const timeoutMs = config.blockingTimeoutTargets * targetDuration(snap) * 1000;
      await snapshots.blockUntil(channel, 'playlist', (s) => hasCompleteSegment(s, ref), timeoutMs, follower);
      snap = await snapshots.snapshot(channel);
      if (!hasCompleteSegment(snap, ref)) throw firstSegmentPending(ref, channel);
    }
    const f = frontierOf(snap, ref);
    if (!f) throw noMediaYet(ref, channel);
    const decision = parseBlockingRequest(query, positionOf(f.lastMsn, f.pendingParts, snap.channel.lowLatency, partTarget(snap), false));
    if (decision.kind === 'error') throw badPackagerRequest(decision.message);
    if (decision.kind === 'wait') {
      const target = decision.target;
      const timeoutMs = config.blockingTimeoutTargets * targetDuration(snap) * 1000;
      await snapshots.blockUntil(channel, 'playlist', (s) => {
        const fr = frontierOf(s, ref);
        return fr !== null && sameTarget(target, fr);
      }, timeoutMs, follower);
      snap = await snapshots.snapshot(channel);
    }
    return playlistResponse(await livePlaylistText(snap, ref, decision.skip), 1);
  }

  return { mediaPlaylist };
}
