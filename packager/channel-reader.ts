/**
 * The packager's one I/O seam: everything it knows of a channel comes through here, from the engine's
 * store. A channel model (settings, format, segment and part records, renditions and how far each has
 * been produced, from the live store's rung progress), packet ranges of a track by the media contract's windows, and the resolved CMAF
 * tracks and init segments, cached per content item and format (dropped on `format:changed`).
 */
import { createHash } from 'node:crypto';
import type { Channel } from '../core/model/channel';
import type { Marker } from '../core/model/marker';
import { TIMELINE_HZ, VIDEO_STREAM, type PartRecord, type SegmentRecord } from '../core/model/live';
import type { Format, Stream } from '../core/model/media';
import { notFound } from '../core/model/errors';
import type { ChannelStore } from '../core/store/channel-store';
import type { LiveStore } from '../core/store/live-store';
import type { PacketRead, Store } from '../core/store/store';
import { buildInitSegment } from './cmaf/segments';
import { buildAsc } from './codecs/aac';
import { resolveTrack } from './cmaf/prepare';
import { badMedia } from './errors';
import type { CmafTrack, Sample, TrackInfo } from './model';
import type { TickWindow } from './live/windows';

/** A video rendition (rung) of a channel: its content item and format. */
export interface RenditionInfo {
  rung: string;
  content: string;
  format: Format;
}

/** How far a rendition has been produced: the last complete segment and the parts after it. */
export interface Frontier {
  lastMsn: number;
  pendingParts: number;
}

/** A track ready to package: the demuxer-level description, the CMAF track and its init segment. */
export interface ResolvedTrack {
  info: TrackInfo;
  track: CmafTrack;
  init: Buffer;
  /** Identifies the codec configuration (changes with the format). */
  formatKey: string;
}

export interface ChannelReaderDeps {
  store: Store;
  live: LiveStore;
  channels: ChannelStore;
}

export interface ChannelReader {
  /** The channel's settings; 404 when there is no such channel. */
  channel(name: string): Promise<Channel>;
  format(content: string): Promise<Format | null>;
  lastSegments(channel: string, count: number): Promise<SegmentRecord[]>;
  segments(channel: string, from: number, to: number): Promise<SegmentRecord[]>;
  segmentsByTime(channel: string, fromMs: number, toMs: number): Promise<SegmentRecord[]>;
  parts(channel: string, fromSegment: number, toSegment: number): Promise<PartRecord[]>;
  renditions(channel: string): Promise<RenditionInfo[]>;
  /**
   * Per rung, how far it has been produced, from the live store's rung progress (what the transcoders
   * recorded, so it never moves backwards); absent: the rung has published nothing.
   */
  rungFrontiers(channel: string, rungs: readonly string[]): Promise<Map<string, Frontier>>;
  /** Which of the segment indexes the rung does not have (recorded gaps, or never made): EXT-X-GAP. */
  rungGaps(channel: string, rung: string, indexes: readonly number[]): Promise<Set<number>>;
  /** Which of the segment indexes of a content item (the channel's or a rendition's) lost media before it was archived: EXT-X-GAP. */
  archiveGaps(channel: string, content: string, indexes: readonly number[]): Promise<Set<number>>;
  /** EXT-X-DISCONTINUITY-SEQUENCE for a playlist whose first segment is `firstIndex`. */
  discontinuitySequence(channel: string, firstIndex: number): Promise<number>;
  /** The resolved track of stream `streamIndex` of a content item (cached per format). */
  track(content: string, streamIndex: number): Promise<ResolvedTrack>;
  /** The channel's ad markers, by start time (bounded per channel: MAX_MARKERS_PER_CHANNEL). */
  markers(channel: string): Promise<Marker[]>;
  /** Drop cached tracks of a channel and its renditions (format:changed). */
  invalidate(channel: string): void;
  /** Packets of a stream with window.from <= dts < window.to, in decode order, with payloads. */
  readWindow(content: string, streamIndex: number, window: TickWindow): Promise<PacketRead[]>;
  /** dts and size of every packet of a stream in [fromDts, toDts) (metadata only). */
  packetSizes(content: string, streamIndex: number, fromDts: number, toDts: number): Promise<{ dts: number; size: number }[]>;
}

/** Audio object types of FFmpeg's AAC profiles (its names, or its FF_PROFILE_AAC_* numbers) that an ASC carries plainly. */
const AOT_OF_PROFILE: Record<string, number> = { Main: 1, LC: 2, SSR: 3, LTP: 4, '0': 1, '1': 2, '2': 3, '3': 4 };

/**
 * Pure: the AudioSpecificConfig an AAC stream's parameters imply, for AAC stored without extradata (ADTS from an
 * MPEG-TS publisher): from its profile, sample rate and channels. Undefined when they do not settle it (HE-AAC,
 * whose SBR the ASC must signal; an unknown profile or layout): the configuration is then read in band.
 */
export function ascOfParameters(cp: Stream['codecpar']): Buffer | undefined {
  const aot = cp.profile === undefined || cp.profile === null ? undefined : AOT_OF_PROFILE[String(cp.profile)];
  const rate = Number(cp.sample_rate);
  const channels = Number(cp.channels);
  const config = channels >= 1 && channels <= 6 ? channels : channels === 8 ? 7 : undefined;
  if (aot === undefined || config === undefined || !Number.isInteger(rate) || rate <= 0) return undefined;
  try {
    return buildAsc(aot, rate, config);
  } catch {
    return undefined;
  }
}

function trackInfoOf(stream: Stream, content: string): TrackInfo {
  const cp = stream.codecpar;
  let extradata: Buffer | undefined = typeof cp.extradata === 'string' && cp.extradata.length > 0 ? Buffer.from(cp.extradata, 'base64') : undefined;
  // AAC without an AudioSpecificConfig (ADTS): from the stream's own parameters, so the configuration never
  // depends on which packets are stored (after a switch of publisher, the newest may be another source's).
  if (!extradata && cp.codec_type === 'audio' && cp.name === 'aac') extradata = ascOfParameters(cp);
  const [num, den] = stream.time_base;
  if (num !== 1 || !Number.isInteger(den) || den < 1) throw badMedia(`${content} stream ${stream.index}: time base ${num}/${den} is not 1/N`);
  const base = { id: 1, timescale: den, ...(extradata ? { extradata } : {}) };
  if (cp.codec_type === 'video' && cp.name === 'h264') {
    return { ...base, kind: 'video', codec: 'h264', ...(cp.width ? { width: cp.width } : {}), ...(cp.height ? { height: cp.height } : {}) };
  }
  if (cp.codec_type === 'audio' && cp.name === 'aac') {
    return { ...base, kind: 'audio', codec: 'aac', ...(cp.sample_rate ? { sampleRate: cp.sample_rate } : {}), ...(cp.channels ? { channels: cp.channels } : {}) };
  }
  throw badMedia(`${content} stream ${stream.index}: ${cp.codec_type} codec ${String(cp.name)} cannot be packaged (H.264 and AAC only)`);
}

function frontierOf(segment: number | null, part: { segment: number; part: number } | null): Frontier {
  const lastMsn = segment ?? -1;
  const pendingParts = part && part.segment === lastMsn + 1 ? part.part + 1 : 0;
  return { lastMsn, pendingParts };
}

export function createChannelReader(deps: ChannelReaderDeps): ChannelReader {
  const { store, live, channels } = deps;
  const tracks = new Map<string, Promise<ResolvedTrack>>();
  /** Per channel: discontinuity segment indexes seen, and the highest index scanned. */
  const discontinuities = new Map<string, { scanned: number; indexes: number[] }>();

  async function format(content: string): Promise<Format | null> {
    return store.getFormat(content);
  }

  async function resolve(content: string, streamIndex: number, stream: Stream, formatKey: string): Promise<ResolvedTrack> {
    const info = trackInfoOf(stream, content);
    let samples: Sample[] = [];
    const needsSamples = !info.extradata || (info.codec === 'h264' && info.extradata[0] !== 1 && info.extradata.length < 8);
    if (needsSamples) {
      // The configuration travels in band: read the first packets after the newest keyframe.
      const latest = await store.query(content, streamIndex, { mode: 'atOrBefore', pts: Number.MAX_SAFE_INTEGER });
      const last = latest[0]?.meta;
      if (last) {
        const from = Math.max(0, last.pts - 10 * TIMELINE_HZ);
        const read = await store.readPackets(content, streamIndex, from, last.pts + 1);
        // The newest keyframe (video), the newest packets (audio): those of the source the format now describes.
        const keyAt = info.kind === 'video' ? read.findLastIndex((p) => p.meta.flags.KEY) : read.length - 4;
        samples = read.slice(Math.max(0, keyAt), Math.max(0, keyAt) + 4).map((p) => ({
          pts: p.meta.pts, dts: p.meta.dts, duration: p.meta.duration, keyframe: p.meta.flags.KEY, data: p.data,
        }));
      }
    }
    const track = resolveTrack(info, samples);
    return { info, track, init: buildInitSegment([track]), formatKey };
  }

  return {
    async channel(name) {
      const ch = await channels.get(name);
      if (!ch) throw notFound(`Channel '${name}' was not found.`);
      return ch;
    },

    format,

    lastSegments: (channel, count) => live.lastSegments(channel, count),
    segments: (channel, from, to) => live.segments(channel, from, to),

    async segmentsByTime(channel, fromMs, toMs) {
      const indexes = await live.segmentsByTime(channel, fromMs, toMs);
      if (indexes.length === 0) return [];
      return live.segments(channel, indexes[0] as number, indexes[indexes.length - 1] as number);
    },

    parts: (channel, fromSegment, toSegment) => live.parts(channel, fromSegment, toSegment),

    markers: (channel) => live.markers(channel),

    async renditions(channel) {
      const rel = await store.getRelations(channel);
      const out: RenditionInfo[] = [];
      const prefix = `${channel}.`;
      const formats = await Promise.all(rel.renditions.map((r) => format(r.target)));
      rel.renditions.forEach((r, i) => {
        const f = formats[i];
        const video = f?.streams[VIDEO_STREAM];
        if (!f || !r.target.startsWith(prefix) || video?.codecpar.codec_type !== 'video') return;
        out.push({ rung: r.target.slice(prefix.length), content: r.target, format: f });
      });
      return out;
    },

    async rungFrontiers(channel, rungs) {
      const progress = await Promise.all(rungs.map((rung) => live.rungProgress(channel, rung, 0, -1)));
      const out = new Map<string, Frontier>();
      rungs.forEach((rung, i) => {
        const p = progress[i];
        if (p) out.set(rung, { lastMsn: p.lastMsn, pendingParts: p.pendingParts });
      });
      return out;
    },

    async rungGaps(channel, rung, indexes) {
      if (indexes.length === 0) return new Set();
      const p = await live.rungProgress(channel, rung, Math.min(...indexes), Math.max(...indexes));
      const wanted = new Set(indexes);
      return new Set((p?.gaps ?? []).filter((i) => wanted.has(i)));
    },

    async archiveGaps(channel, content, indexes) {
      if (indexes.length === 0) return new Set();
      const wanted = new Set(indexes);
      const gaps = await live.archiveGaps(channel, Math.min(...indexes), Math.max(...indexes));
      return new Set(gaps.filter((g) => g.content === content && wanted.has(g.segment)).map((g) => g.segment));
    },

    async discontinuitySequence(channel, firstIndex) {
      const first = (await live.segments(channel, firstIndex, firstIndex))[0];
      if (first?.discontinuitySequence !== undefined) return first.discontinuitySequence - (first.discontinuity ? 1 : 0);
      // Records written before ingest kept the count: count what this process can still see.
      let d = discontinuities.get(channel);
      if (!d) discontinuities.set(channel, (d = { scanned: 0, indexes: [] }));
      if (firstIndex - 1 > d.scanned) {
        const recs = await live.segments(channel, d.scanned + 1, firstIndex - 1);
        for (const r of recs) if (r.discontinuity && !d.indexes.includes(r.index)) d.indexes.push(r.index);
        d.scanned = firstIndex - 1;
      }
      return d.indexes.filter((i) => i < firstIndex).length;
    },

    async track(content, streamIndex) {
      const f = await format(content);
      const stream = f?.streams.find((s) => s.index === streamIndex);
      if (!f || !stream) throw notFound(`'${content}' has no stream ${streamIndex}.`);
      const formatKey = createHash('sha1').update(JSON.stringify([stream.time_base, stream.codecpar])).digest('hex').slice(0, 16);
      const key = `${content}\u0000${streamIndex}\u0000${formatKey}`;
      let p = tracks.get(key);
      if (!p) {
        p = resolve(content, streamIndex, stream, formatKey);
        tracks.set(key, p);
        p.catch(() => tracks.delete(key));
      }
      return p;
    },

    invalidate(channel) {
      for (const k of [...tracks.keys()]) {
        const content = k.split('\u0000')[0] as string;
        if (content === channel || content.startsWith(`${channel}.`)) tracks.delete(k);
      }
    },

    readWindow(content, streamIndex, window) {
      return store.readPackets(content, streamIndex, window.from, window.to);
    },

    async packetSizes(content, streamIndex, fromDts, toDts) {
      const found = await store.query(content, streamIndex, { mode: 'score', min: fromDts, max: toDts + TIMELINE_HZ, offset: 0, limit: 100000 });
      const out: { dts: number; size: number }[] = [];
      for (const e of found) {
        const m = e.meta as { dts?: number; size?: number };
        if (typeof m.dts === 'number' && typeof m.size === 'number' && m.dts >= fromDts && m.dts < toDts) out.push({ dts: m.dts, size: m.size });
      }
      return out;
    },
  };
}
