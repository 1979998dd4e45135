/**
 * The live packager: answers `/live/<channel>/…` objects from the channel reader. A per-channel
 * snapshot of the live model (settings, format, newest segments and parts, renditions and their
 * frontiers) is shared by every request until the channel's next event, so a thousand players
 * reloading a playlist cause one read; media objects go through the LRU with request coalescing.
 *
 * Composed of one piece per responsibility: the snapshot cache and blocking reload (`snapshot-cache.ts`),
 * measured variants (`variants.ts`), media playlists live and catch-up (`media-playlists.ts`), the
 * multivariant playlist and MPD (`manifests.ts`), init segments, segments and parts (`media-objects.ts`).
 */
import type { ChannelReader } from '../channel-reader';
import type { EventFollowers } from './event-follower';
import { createManifests } from './manifests';
import { createCaptionDetector } from './caption-detector';
import type { CaptionService } from '../../core/model/captions';
import { createMediaObjects } from './media-objects';
import { createMediaPlaylists } from './media-playlists';
import type { LiveResponse, Query } from './live-response';
import type { RenditionRef } from './live-files';
import type { PackagerMetrics } from './metrics';
import type { SegmentCache } from './segment-cache';
import type { ArchivedSegments } from './archived-segments';
import { createSnapshotCache } from './snapshot-cache';
import type { Snapshot } from './snapshot';
import { createVariants, type Variants } from './variants';

export { CONTENT_TYPES, IMMUTABLE, type LiveResponse, type Query } from './live-response';
export type { VideoVariant, Variants } from './variants';

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
  /**
   * The multivariant playlist of a channel with one audio track and no captions lists muxed variants (`av-<rung>`:
   * video and audio in the same fragments) rather than video variants and an audio group; `?audio=` overrides it
   * per request.
   */
  muxedAudio: boolean;
}

export const DEFAULT_LIVE_SERVICE_CONFIG: LiveServiceConfig = {
  liveWindowSegments: 6,
  blockingTimeoutTargets: 3,
  partWaitFloorMs: 1000,
  audioWaitMs: 1000,
  snapshotTtlMs: 200,
  snapshotMaxAgeMs: 2000,
  utcTimingPath: '/live/time',
  muxedAudio: true,
};

export interface LiveServiceDeps {
  reader: ChannelReader;
  followers: EventFollowers;
  cache: SegmentCache;
  /** Archived segments streamed from the archive (see archived-segments.ts). */
  archived?: ArchivedSegments;
  metrics?: PackagerMetrics;
  now?: () => number;
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
  /** The closed-caption services the channel's manifests declare now. */
  captions(snap: Snapshot): Promise<readonly CaptionService[]>;
}

export function createLiveService(deps: LiveServiceDeps, config: LiveServiceConfig): LiveService {
  const { reader, followers, cache, metrics } = deps;
  const now = deps.now ?? Date.now;
  const snapshots = createSnapshotCache({ reader, followers, metrics, now }, config);
  const variants = createVariants({ reader });
  const playlists = createMediaPlaylists({ reader, followers, snapshots, metrics, now }, config);
  const captions = createCaptionDetector({ reader });
  const manifests = createManifests({ reader, followers, snapshots, variants, captions, now }, config);
  const objects = createMediaObjects({ reader, followers, snapshots, cache, metrics, now, ...(deps.archived ? { archived: deps.archived } : {}) }, config);
  return {
    master: manifests.master,
    mediaPlaylist: playlists.mediaPlaylist,
    init: objects.init,
    media: objects.media,
    mpd: manifests.mpd,
    snapshot: snapshots.snapshot,
    variants: variants.variants,
    captions: captions.captions,
  };
}
