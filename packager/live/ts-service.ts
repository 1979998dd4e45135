/**
 * MPEG-TS for legacy HLS players: `master.m3u8?format=ts` lists one variant per video rung with the
 * channel's audio muxed in (no AUDIO group, CODECS still given), `ts-<rung>.m3u8` are version 3
 * media playlists (no LL-HLS parts, no blocking reload) over the same segments and media sequence
 * numbers as the CMAF ones, and `ts-<rung>-<msn>.ts` mux the rung's video window with the channel's
 * audio window. Segments go through the same LRU (immutable once complete); catch-up ranges work
 * as for CMAF playlists. `part` muxes one LL-HLS part the same way, for the SRT pull (not cached).
 */
import type { PartRecord, SegmentRecord } from '../../core/model/live';
import { BeamError, notFound } from '../../core/model/errors';
import type { ChannelReader, ResolvedTrack } from '../channel-reader';
import { rescale } from '../cmaf/prepare';
import { renderMediaPlaylist } from '../hls/media-playlist';
import { renderMultivariant } from '../hls/multivariant';
import { CC_GROUP, closedCaptionRenditions } from './manifests';
import type { HlsMediaPlaylist } from '../hls/model';
import { badMedia } from '../errors';
import type { AacConfig, AvcConfig, Sample } from '../model';
import { muxTransportStream } from '../ts/ts-muxer';
import { parseCatchup, rangeComplete, segmentsInRange, type CatchupRange } from './catchup';
import type { EventFollowers } from './event-follower';
import { readTrackWindow, samplesOf, type FragmentSource } from './fragment-builder';
import { buildMediaPlaylist, targetDurationOf } from './hls-builder';
import { catchupQuery, tsPlaylistFile, tsSegmentFile, type RenditionRef } from './live-files';
import { IMMUTABLE, CONTENT_TYPES, type LiveResponse, type Query } from './live-response';
import type { LiveService, LiveServiceConfig } from './live-service';
import type { PackagerMetrics } from './metrics';
import { etagOf, type SegmentCache } from './segment-cache';
import { frontierOf, hasCompleteSegment, isNext, memoOn, newestSegment, ready, targetDuration, trackOf, type Snapshot } from './snapshot';
import { partWindow, segmentWindow, type WindowMode } from './windows';
import { TIMELINE_HZ } from '../../core/model/live';

export const TS_CONTENT_TYPE = 'video/mp2t';

export interface TsServiceDeps {
  reader: ChannelReader;
  followers: EventFollowers;
  cache: SegmentCache;
  /** The CMAF live service: its snapshots and measured variants are shared. */
  live: Pick<LiveService, 'snapshot' | 'variants'> & Partial<Pick<LiveService, 'captions'>>;
  metrics?: PackagerMetrics;
  now?: () => number;
}

export interface TsServiceConfig extends LiveServiceConfig {
  /** BANDWIDTH of a TS variant = measured elementary bit rate × this (TS and PES overhead). */
  tsOverhead: number;
}

export interface TsService {
  master(channel: string, query: Query): Promise<LiveResponse>;
  mediaPlaylist(channel: string, rung: string, query: Query): Promise<LiveResponse>;
  segment(channel: string, rung: string, msn: number): Promise<LiveResponse>;
  /** The TS of one part of a snapshot (SRT pull; not cached, not served over HTTP). */
  part(snap: Snapshot, rung: string, msn: number, part: number): Promise<Buffer>;
}

/** Samples of a window in 90 kHz ticks (the contract's time base; rescaled when a track differs). */
function samples90k(track: ResolvedTrack, packets: Parameters<typeof samplesOf>[0], window: { from: number; to: number }, video: boolean): Sample[] {
  const ts = track.info.timescale;
  const list = samplesOf(packets, window, video);
  if (ts === TIMELINE_HZ) return list;
  return list.map((s) => ({ ...s, pts: rescale(s.pts, ts, TIMELINE_HZ), dts: rescale(s.dts, ts, TIMELINE_HZ), duration: rescale(s.duration, ts, TIMELINE_HZ) }));
}

export function createTsService(deps: TsServiceDeps, config: TsServiceConfig): TsService {
  const { reader, followers, cache, metrics } = deps;
  const now = deps.now ?? Date.now;

  function videoRef(rung: string): Extract<RenditionRef, { kind: 'video' }> {
    return { kind: 'video', rung };
  }

  async function gapsOf(snap: Snapshot, ref: RenditionRef, segments: SegmentRecord[]): Promise<Set<number>> {
    if (segments.length === 0) return new Set();
    const track = trackOf(snap, ref);
    const indexes = segments.map((s) => s.index);
    const [rung, archived] = await Promise.all([
      ref.kind === 'audio' || ref.rung === 'source' ? Promise.resolve(new Set<number>()) : reader.rungGaps(snap.channel.name, ref.rung, indexes),
      reader.archiveGaps(snap.channel.name, track.content, indexes),
    ]);
    return new Set([...rung, ...archived]);
  }

  /** The CMAF playlist's values, re-pointed at TS segments, version 3, without LL-HLS or server control. */
  function asLegacy(p: HlsMediaPlaylist, rung: string): HlsMediaPlaylist {
    const segments = p.segments.map((s, i) => {
      const { parts: _parts, ...rest } = s;
      return { ...rest, uri: tsSegmentFile(rung, p.mediaSequence + i) };
    });
    const { map: _map, serverControl: _sc, lowLatency: _ll, renditionReports: _rr, ...rest } = p;
    return { ...rest, version: 3, segments };
  }

  async function playlistText(snap: Snapshot, rung: string, range: CatchupRange | null): Promise<{ text: string; maxAge: number }> {
    const ref = videoRef(rung);
    trackOf(snap, ref);
    const f = frontierOf(snap, ref);
    if (!f) throw notFound(`Rendition '${rung}' of channel '${snap.channel.name}' has no media yet.`);
    let listed: SegmentRecord[];
    let complete = false;
    if (range) {
      const records = await reader.segmentsByTime(snap.channel.name, range.startMs - 35000, range.endMs ?? now());
      listed = segmentsInRange(records, range).filter((s) => s.index <= f.lastMsn);
      if (listed.length === 0) throw notFound('No segments in the requested range: it is outside what the DVR window holds, or nothing was published then.');
      complete = rangeComplete(range, newestSegment(snap));
    } else {
      listed = snap.closed.filter((s) => s.index <= f.lastMsn).slice(-config.liveWindowSegments);
      // A live playlist without a segment is a fatal error to players: the client is asked to come back.
      if (listed.length === 0) throw new BeamError('BEAM_ERR_UNAVAILABLE', `Rendition '${rung}' of channel '${snap.channel.name}' has not completed its first segment yet; retry shortly.`);
    }
    const first = listed[0];
    const [gaps, ds] = await Promise.all([gapsOf(snap, ref, listed), first ? reader.discontinuitySequence(snap.channel.name, first.index) : Promise.resolve(0)]);
    const playlist = buildMediaPlaylist({
      kind: range ? (complete ? 'vod' : 'event') : 'live', ref, segments: listed, parts: [], inProgress: null,
      discontinuitySequence: ds, lowLatency: false, partTarget: 1,
      targetDuration: range ? targetDurationOf(listed, 1) : targetDuration(snap), gaps,
      independence: 'record', renditionReports: [], ended: complete, markers: snap.markers,
    });
    return { text: renderMediaPlaylist(asLegacy(playlist, rung)), maxAge: range ? (complete ? 3600 : 1) : 1 };
  }

  async function mediaPlaylist(channel: string, rung: string, query: Query): Promise<LiveResponse> {
    let snap = await deps.live.snapshot(channel);
    const range = parseCatchup(query, now(), now() - snap.channel.dvrWindowSeconds * 1000);
    const follower = followers.follow(channel);
    if (!range && !hasCompleteSegment(snap, videoRef(rung))) {
      // Held until the first segment is whole, as a CMAF playlist is (a playlist without a segment is fatal to players).
      trackOf(snap, videoRef(rung));
      const timeoutMs = config.blockingTimeoutTargets * targetDuration(snap) * 1000;
      await follower.waitUntil(async () => hasCompleteSegment(await deps.live.snapshot(channel), videoRef(rung)), timeoutMs);
      snap = await deps.live.snapshot(channel);
    }
    const r = range
      ? await playlistText(snap, rung, range)
      : await memoOn(snap, `ts:${rung}`, () => playlistText(snap, rung, null));
    return { body: r.text, contentType: CONTENT_TYPES.m3u8, cacheControl: `public, max-age=${r.maxAge}` };
  }

  async function master(channel: string, query: Query): Promise<LiveResponse> {
    const snap = await deps.live.snapshot(channel);
    const range = parseCatchup(query, now(), now() - snap.channel.dvrWindowSeconds * 1000);
    const q = catchupQuery(query);
    const body = await memoOn(snap, `ts-master:${q}`, async () => {
      const v = await deps.live.variants(snap);
      const audio = v.audio ?? { peak: 0, average: 0, codecs: '' };
      const captions = deps.live.captions ? await deps.live.captions(snap) : [];
      return renderMultivariant({
        version: 3,
        variants: v.video.map((x) => ({
          uri: `${tsPlaylistFile(x.ref.rung)}${q}`,
          bandwidth: Math.ceil((x.peak + audio.peak) * config.tsOverhead),
          averageBandwidth: Math.ceil((x.average + audio.average) * config.tsOverhead),
          codecs: v.audio ? [x.codecs, v.audio.codecs] : [x.codecs],
          resolution: { width: x.width, height: x.height },
          ...(x.frameRate ? { frameRate: x.frameRate } : {}),
          ...(captions.length ? { closedCaptionsGroup: CC_GROUP } : {}),
        })),
        ...(captions.length ? { closedCaptions: closedCaptionRenditions(captions) } : {}),
      });
    });
    return { body, contentType: CONTENT_TYPES.m3u8, cacheControl: `public, max-age=${range && range.endMs !== null ? 60 : 1}` };
  }

  /** Waits (briefly) for the next segment, as for CMAF segments; 404 for anything further ahead. */
  async function readySnapshot(channel: string, ref: RenditionRef, msn: number): Promise<Snapshot> {
    const snap = await deps.live.snapshot(channel);
    if (ready(frontierOf(snap, ref), msn, null)) return snap;
    if (!isNext(frontierOf(snap, ref), msn, null)) throw notFound(`Segment ${msn} of 'ts-${ref.kind === 'video' ? ref.rung : ''}' is not available.`);
    metrics?.blockedRequests.inc({ kind: 'segment' });
    const ok = await followers.follow(channel).waitUntil(async () => ready(frontierOf(await deps.live.snapshot(channel), ref), msn, null), 1.5 * targetDuration(snap) * 1000);
    if (!ok) throw notFound(`Segment ${msn} did not become ready in time.`);
    return deps.live.snapshot(channel);
  }

  /** The TS of a segment (`part` null) or of one of its parts: the rung's video window with the channel's audio window. */
  async function muxWindow(snap: Snapshot, rung: string, seg: SegmentRecord, part: { parts: PartRecord[]; part: number } | null): Promise<{ body: Buffer; complete: boolean }> {
    const channel = snap.channel.name;
    const msn = seg.index;
    const what = part === null ? `segment ${msn}` : `segment ${msn} part ${part.part}`;
    const windowOf = (mode: WindowMode) => (part === null ? segmentWindow(seg, mode) : partWindow(seg, part.parts, part.part, mode));
    const vt = trackOf(snap, videoRef(rung));
    const src = (content: string, stream: number): FragmentSource => ({
      readWindow: (w) => reader.readWindow(content, stream, w),
      waitForMore: (ms) => followers.follow(channel).nextEvents(ms),
    });
    const vWindow = windowOf(vt.mode);
    const [vTrack, vRead] = await Promise.all([reader.track(vt.content, vt.stream), readTrackWindow(src(vt.content, vt.stream), vWindow, true, 0)]);
    if (vRead.packets.length === 0) throw notFound(`No video in ${what}: it has expired from the DVR window or was never received.`);
    if (vTrack.track.config.codec !== 'h264') throw badMedia(`rendition ${rung} is not H.264`);
    let audio: { config: AacConfig; samples: Sample[] } | null = null;
    let complete = true;
    if (snap.hasAudio) {
      const at = trackOf(snap, { kind: 'audio' });
      const aWindow = windowOf('pts');
      const [aTrack, aRead] = await Promise.all([reader.track(at.content, at.stream), readTrackWindow(src(at.content, at.stream), aWindow, false, config.audioWaitMs)]);
      if (aTrack.track.config.codec !== 'aac') throw badMedia(`channel ${channel} audio is not AAC`);
      audio = { config: aTrack.track.config, samples: samples90k(aTrack, aRead.packets, aWindow, false) };
      complete = aRead.complete;
    }
    const body = muxTransportStream({
      video: { config: vTrack.track.config as AvcConfig, samples: samples90k(vTrack, vRead.packets, vWindow, true) },
      audio,
    });
    return { body, complete };
  }

  async function build(channel: string, rung: string, msn: number): Promise<{ body: Buffer; complete: boolean }> {
    const snap = await readySnapshot(channel, videoRef(rung), msn);
    const t0 = now();
    const seg = snap.closed.find((s) => s.index === msn) ?? (await reader.segments(channel, msn, msn))[0];
    if (!seg || seg.durationPts === null) throw notFound(`Segment ${msn} of channel '${channel}' does not exist (expired, open or not yet made).`);
    const r = await muxWindow(snap, rung, seg, null);
    metrics?.buildSeconds.observe({ object: 'segment' }, (now() - t0) / 1000);
    return r;
  }

  async function part(snap: Snapshot, rung: string, msn: number, index: number): Promise<Buffer> {
    const seg = [...snap.closed, ...(snap.open ? [snap.open] : [])].find((s) => s.index === msn);
    const parts = snap.parts.filter((p) => p.segment === msn);
    if (!seg || !parts.some((p) => p.part === index)) throw notFound(`Part ${index} of segment ${msn} of channel '${snap.channel.name}' is not in the snapshot.`);
    const t0 = now();
    const r = await muxWindow(snap, rung, seg, { parts, part: index });
    metrics?.buildSeconds.observe({ object: 'ts-part' }, (now() - t0) / 1000);
    return r.body;
  }

  async function segment(channel: string, rung: string, msn: number): Promise<LiveResponse> {
    const obj = await cache.get(`${channel}/${tsSegmentFile(rung, msn)}`, async () => {
      const r = await build(channel, rung, msn);
      return { body: r.body, etag: etagOf(r.body), contentType: TS_CONTENT_TYPE, cacheable: r.complete };
    });
    return { body: obj.body, contentType: obj.contentType, etag: obj.etag, cacheControl: obj.cacheable ? IMMUTABLE : 'no-cache' };
  }

  return { master, mediaPlaylist, segment, part };
}
