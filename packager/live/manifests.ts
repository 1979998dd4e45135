/**
 * The channel-level manifests: the HLS multivariant playlist (one variant per video rung, the audio as
 * a rendition group) and the DASH MPD (the rungs close enough to the source, over the segments all of
 * them have), live or for a catch-up range, memoised on the snapshot. What they list is decided by pure
 * functions over the snapshot and the measured variants.
 */
import { notFound } from '../../core/model/errors';
import type { Marker } from '../../core/model/marker';
import type { CaptionService } from '../../core/model/captions';
import type { CaptionDetector } from './caption-detector';
import type { SegmentRecord } from '../../core/model/live';
import type { ChannelReader } from '../channel-reader';
import { renderMpd } from '../dash/mpd';
import { renderMultivariant } from '../hls/multivariant';
import type { HlsClosedCaptionRendition } from '../hls/model';
import { rangeComplete } from './catchup';
import { buildManifest, type DashInput } from './dash-builder';
import type { EventFollowers } from './event-follower';
import { targetDurationOf } from './hls-builder';
import { catchupQuery, stemOf } from './live-files';
import { CONTENT_TYPES, playlistResponse, type LiveResponse, type Query } from './live-response';
import type { LiveServiceConfig } from './live-service';
import { catchupRangeOf, catchupSegments } from './media-playlists';
import type { SnapshotCache } from './snapshot-cache';
import { canMuxAudio, frontierOf, memoOn, newestSegment, sourceFrontier, type Snapshot } from './snapshot';
import { badPackagerRequest } from '../errors';
import type { AudioVariant, Variants, VariantsSource, VideoVariant } from './variants';

export interface ManifestsDeps {
  reader: Pick<ChannelReader, 'segmentsByTime'>;
  followers: Pick<EventFollowers, 'follow'>;
  snapshots: Pick<SnapshotCache, 'snapshot'>;
  variants: Pick<VariantsSource, 'variants'>;
  /** The caption services to declare (absent: none). */
  captions?: CaptionDetector;
  now: () => number;
}

export type ManifestsConfig = Pick<LiveServiceConfig, 'liveWindowSegments' | 'utcTimingPath' | 'muxedAudio'>;

export interface Manifests {
  master(channel: string, query: Query): Promise<LiveResponse>;
  mpd(channel: string, query: Query): Promise<LiveResponse>;
}

/**
 * The NAME of each audio track: its language in English ("French"), the main track "Main" when it has none, else
 * "Audio <n>"; a name two tracks would share gets the track's number (NAME is unique in a group).
 */
export function audioNames(tracks: readonly Pick<AudioVariant, 'language' | 'ref'>[]): string[] {
  const display = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'code' });
  const base = tracks.map((t, i) => {
    if (t.language) {
      try {
        return display.of(t.language) ?? t.language;
      } catch {
        return t.language;
      }
    }
    return i === 0 ? 'Main' : `Audio ${i + 1}`;
  });
  return base.map((n, i) => (base.indexOf(n) !== i || base.lastIndexOf(n) !== i ? `${n} (${i + 1})` : n));
}

/** GROUP-ID of the closed-caption renditions. */
export const CC_GROUP = 'cc';

/**
 * The EXT-X-MEDIA of caption services: AUTOSELECT (a player may turn them on from the viewer's accessibility
 * settings), never DEFAULT (captions are off until asked for).
 */
export function closedCaptionRenditions(captions: readonly CaptionService[]): HlsClosedCaptionRendition[] {
  return captions.map((c) => ({ groupId: CC_GROUP, name: c.name, instreamId: c.channel, ...(c.language ? { language: c.language } : {}), default: false, autoselect: true }));
}

/**
 * Which form the multivariant playlist lists: muxed (each variant's segments and parts carry the video and the
 * channel's one audio track) or separate (video variants and an audio rendition group). `?audio=separate` or
 * `?audio=muxed` asks for one (400 for any other value); else the server's setting, but separate for a channel
 * whose video carries captions: hls.js (1.7) adds the caption cues it reads from the video to its text track
 * only when a `video` buffer is appended, which a muxed stream (one `audiovideo` buffer) never has, so its
 * captions would never show. Muxed only when the channel has one audio track: several are languages, which need
 * the group.
 */
export function wantsMuxed(query: Query, configured: boolean, muxable: boolean, captioned: boolean): boolean {
  const asked = query.audio;
  if (asked !== undefined && asked !== 'separate' && asked !== 'muxed') throw badPackagerRequest(`audio must be 'muxed' or 'separate'`);
  return muxable && (asked === undefined ? configured && !captioned : asked === 'muxed');
}

/**
 * The multivariant playlist of the variants; `q` is the catch-up query every URI carries on. Caption services
 * (CEA-608 in every rung's video) become one CLOSED-CAPTIONS group every variant names; none, no group. `muxed`:
 * each variant is the rung with the main audio in its own fragments (`av-<rung>`, CODECS of both, no AUDIO group),
 * which players start faster (hls.js does not ask for separate audio before it has parsed video); only for a
 * channel with one audio track.
 */
export function multivariantText(v: Variants, q: string, captions: readonly CaptionService[] = [], muxed = false): string {
  const inVariant = muxed && v.audio && (v.audioTracks?.length ?? 1) === 1 ? v.audio : null;
  // BANDWIDTH counts the group's largest audio rendition (RFC 8216bis §4.4.6.2), or the audio muxed in.
  const tracks = v.audioTracks?.length ? v.audioTracks : v.audio ? [v.audio] : [];
  const audioBw = tracks.length
    ? { peak: Math.max(...tracks.map((t) => t.peak)), average: Math.max(...tracks.map((t) => t.average)) }
    : { peak: 0, average: 0 };
  const names = audioNames(tracks);
  return renderMultivariant({
    variants: v.video.map((x) => ({
      uri: `${stemOf(inVariant ? { ...x.ref, muxed: true } : x.ref)}.m3u8${q}`,
      bandwidth: x.peak + audioBw.peak,
      averageBandwidth: x.average + audioBw.average,
      codecs: inVariant ? [x.codecs, inVariant.codecs] : [x.codecs],
      resolution: { width: x.width, height: x.height },
      ...(x.frameRate ? { frameRate: x.frameRate } : {}),
      ...(v.audio && !inVariant ? { audioGroup: 'audio' } : {}),
      ...(captions.length ? { closedCaptionsGroup: CC_GROUP } : {}),
    })),
    ...(tracks.length && !inVariant ? {
      audio: tracks.map((t, i) => ({
        groupId: 'audio', name: names[i] as string, uri: `${stemOf(t.ref ?? { kind: 'audio' })}.m3u8${q}`, default: i === 0, autoselect: true,
        ...(t.language ? { language: t.language } : {}), channels: t.channels, codecs: t.codecs,
      })),
    } : {}),
    ...(captions.length
      ? { closedCaptions: closedCaptionRenditions(captions) }
      : {}),
  });
}

/**
 * The video variants an MPD lists (those at most two segments behind the source) and `cap`, the newest
 * segment every one of them has (Infinity when none is listed).
 */
export function mpdRungs(snap: Snapshot, video: readonly VideoVariant[]): { included: VideoVariant[]; cap: number } {
  const src = sourceFrontier(snap);
  const included: VideoVariant[] = [];
  const lastMsns: number[] = [];
  for (const x of video) {
    const f = frontierOf(snap, x.ref);
    if (f === null || f.lastMsn < src.lastMsn - 2) continue;
    included.push(x);
    lastMsns.push(f.lastMsn);
  }
  return { included, cap: Math.min(...lastMsns) };
}

/** The DASH model of `listed` segments of the included rungs and the audio. */
export function dashInput(listed: SegmentRecord[], included: readonly VideoVariant[], audio: AudioVariant | null, complete: boolean, nowMs: number, utcTimingUrl: string, markers: readonly Marker[] = [], captions: readonly CaptionService[] = [], moreAudio: readonly AudioVariant[] = []): DashInput {
  return {
    segments: listed,
    video: included.map((x) => ({ rung: x.ref.rung, bandwidth: x.peak, codecs: x.codecs, width: x.width, height: x.height, ...(x.frameRate ? { frameRate: x.frameRate } : {}) })),
    audio: audio ? { bandwidth: audio.peak, codecs: audio.codecs, sampleRate: audio.sampleRate, channels: audio.channels, ...(audio.language ? { lang: audio.language } : {}) } : null,
    ...(moreAudio.length ? {
      moreAudio: moreAudio.map((a) => ({ stem: stemOf(a.ref ?? { kind: 'audio' }), bandwidth: a.peak, codecs: a.codecs, sampleRate: a.sampleRate, channels: a.channels, ...(a.language ? { lang: a.language } : {}) })),
    } : {}),
    complete,
    nowMs,
    utcTimingUrl,
    presentationDelay: 3 * targetDurationOf(listed, 1),
    ...(markers.length ? { markers } : {}),
    ...(captions.length ? { captions } : {}),
  };
}

export function createManifests(deps: ManifestsDeps, config: ManifestsConfig): Manifests {
  const { reader, followers, snapshots, now } = deps;
  const captionsOf = (snap: Snapshot) => (deps.captions ? deps.captions.captions(snap) : Promise.resolve([]));

  async function master(channel: string, query: Query): Promise<LiveResponse> {
    const snap = await snapshots.snapshot(channel);
    const range = catchupRangeOf(query, snap.channel, now);
    const q = catchupQuery(query);
    const captions = await captionsOf(snap);
    const muxed = wantsMuxed(query, config.muxedAudio, canMuxAudio(snap), captions.length > 0);
    const body = await memoOn(snap, `master:${muxed ? 'muxed' : 'separate'}:${q}`, async () => multivariantText(await deps.variants.variants(snap), q, captions, muxed));
    return playlistResponse(body, range && range.endMs !== null ? 60 : 1);
  }

  async function mpd(channel: string, query: Query): Promise<LiveResponse> {
    const snap = await snapshots.snapshot(channel);
    followers.follow(channel);
    const range = catchupRangeOf(query, snap.channel, now);
    const key = `mpd:${range ? `${range.startMs}-${range.endMs ?? ''}` : 'live'}`;
    const body = await memoOn(snap, key, async () => {
      const v = await deps.variants.variants(snap);
      const { included, cap } = mpdRungs(snap, v.video);
      const segments = (range ? await catchupSegments(reader, snap.channel.name, range, now) : snap.closed).filter((s) => s.index <= cap);
      const listed = range ? segments : segments.slice(-config.liveWindowSegments);
      if (listed.length === 0) throw notFound(range ? 'No segments in the requested range.' : `Channel '${channel}' has no complete segment yet.`);
      const complete = range !== null && rangeComplete(range, newestSegment(snap));
      return renderMpd(buildManifest(dashInput(listed, included, v.audio, complete, now(), config.utcTimingPath, snap.markers, await captionsOf(snap), (v.audioTracks ?? []).slice(1))));
    });
    return { body, contentType: CONTENT_TYPES.mpd, cacheControl: range?.endMs ? 'public, max-age=60' : 'public, max-age=1' };
  }

  return { master, mpd };
}
