/**
 * The live model of a channel at one moment (a snapshot shared by every request until the next event),
 * and the pure questions the service asks of it: which track a rendition is, how far each rendition
 * has been produced, PART-TARGET and TARGETDURATION, rendition reports, what is ready or next.
 */
import type { PartRecord, SegmentRecord } from '../../core/model/live';
import { DEFAULT_PART_TARGET_SECONDS, type Channel } from '../../core/model/channel';
import type { Marker } from '../../core/model/marker';
import type { Format } from '../../core/model/media';
import { notFound } from '../../core/model/errors';
import type { Frontier, RenditionInfo } from '../channel-reader';
import { blockingSatisfied, type BlockingTarget } from '../hls/blocking-request';
import type { HlsRenditionReport } from '../hls/model';
import { partTargetOf, targetDurationOf } from './hls-builder';
import { isMuxed, stemOf, type RenditionRef } from './live-files';
import type { WindowMode } from './windows';
import { AUDIO_STREAM, TIMELINE_HZ, VIDEO_STREAM } from '../../core/model/live';


/** The live model of a channel at one moment. */
export interface Snapshot {
  channel: Channel;
  format: Format;
  hasAudio: boolean;
  closed: SegmentRecord[];
  open: SegmentRecord | null;
  parts: PartRecord[];
  renditions: RenditionInfo[];
  rungFrontiers: Map<string, Frontier>;
  /** The channel's ad markers (SCTE-35), by start time: read with the snapshot, so playlists need no read of their own. */
  markers: Marker[];
  takenAt: number;
  version: number | null;
  /** Rendered objects derived from this snapshot (shared by every request it answers). */
  memo: Map<string, Promise<unknown>>;
}

export interface Track {
  ref: RenditionRef;
  content: string;
  stream: number;
  mode: WindowMode;
}


export function memoOn<T>(snap: Snapshot, key: string, fn: () => Promise<T>): Promise<T> {
  let p = snap.memo.get(key) as Promise<T> | undefined;
  if (!p) {
    p = fn();
    snap.memo.set(key, p);
    p.catch(() => snap.memo.delete(key));
  }
  return p;
}

/** One audio track of a channel: the main one (stream 1) and further languages (streams 2, 3, …). */
export interface AudioTrackInfo {
  ref: Extract<RenditionRef, { kind: 'audio' }>;
  stream: number;
  /** BCP 47, as ingest recorded it from the publisher's language descriptor. */
  language?: string;
}

const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$/;

/** The channel's audio tracks by stream index (none without the main one). */
export function audioTracksOf(snap: Pick<Snapshot, 'format' | 'hasAudio'>): AudioTrackInfo[] {
  if (!snap.hasAudio) return [];
  return snap.format.streams
    .filter((s) => s.codecpar.codec_type === 'audio' && s.index >= AUDIO_STREAM && s.index <= AUDIO_STREAM + 7)
    .sort((a, b) => a.index - b.index)
    .map((s) => {
      const lang = (s.metadata as Record<string, unknown> | undefined)?.language;
      return {
        ref: s.index === AUDIO_STREAM ? { kind: 'audio' as const } : { kind: 'audio' as const, track: s.index },
        stream: s.index,
        ...(typeof lang === 'string' && LANGUAGE_TAG.test(lang) ? { language: lang } : {}),
      };
    });
}

export function trackOf(snap: Snapshot, ref: RenditionRef): Track {
  const ch = snap.channel.name;
  if (ref.kind === 'audio') {
    if (!snap.hasAudio) throw notFound(`Channel '${ch}' has no audio.`);
    const stream = ref.track ?? AUDIO_STREAM;
    if (stream !== AUDIO_STREAM && !audioTracksOf(snap).some((t) => t.stream === stream)) throw notFound(`Channel '${ch}' has no audio track ${stream}.`);
    return { ref, content: ch, stream, mode: 'pts' };
  }
  if (ref.muxed && !canMuxAudio(snap)) {
    throw notFound(snap.hasAudio ? `Channel '${ch}' has several audio tracks: its video and audio are separate renditions (v-${ref.rung}, audio).` : `Channel '${ch}' has no audio to mux.`);
  }
  if (ref.rung === 'source') return { ref, content: ch, stream: VIDEO_STREAM, mode: 'dts' };
  const r = snap.renditions.find((x) => x.rung === ref.rung);
  if (!r) throw notFound(`Channel '${ch}' has no rendition '${ref.rung}'.`);
  return { ref, content: r.content, stream: VIDEO_STREAM, mode: 'pts' };
}

export function sourceFrontier(snap: Snapshot): Frontier {
  const lastClosed = snap.closed[snap.closed.length - 1];
  const lastMsn = lastClosed?.index ?? (snap.open ? snap.open.index - 1 : 0);
  const pendingParts = snap.open ? snap.parts.filter((p) => p.segment === snap.open?.index).length : 0;
  return { lastMsn, pendingParts };
}

export function frontierOf(snap: Snapshot, ref: RenditionRef): Frontier | null {
  const src = sourceFrontier(snap);
  if (ref.kind === 'audio' || ref.rung === 'source') return src;
  const f = snap.rungFrontiers.get(ref.rung);
  if (!f) return null;
  if (f.lastMsn > src.lastMsn) return src;
  return f;
}

/**
 * PART-TARGET: the longest part of the snapshot; with none yet, the channel's part target (else the default).
 * No floor above the parts: a channel cut into parts shorter than the default (`partTargetSeconds` 0.12, say)
 * gets that PART-TARGET and a PART-HOLD-BACK of three of them, not of three default parts.
 */
export function partTarget(snap: Snapshot): number {
  return snap.parts.length ? partTargetOf(snap.parts, 0) : snap.channel.partTargetSeconds ?? DEFAULT_PART_TARGET_SECONDS;
}

export function targetDuration(snap: Snapshot): number {
  return targetDurationOf(snap.closed, 1);
}

export function allRefs(snap: Snapshot): RenditionRef[] {
  const refs: RenditionRef[] = [{ kind: 'video', rung: 'source' }];
  for (const r of snap.renditions) if (snap.rungFrontiers.has(r.rung)) refs.push({ kind: 'video', rung: r.rung });
  for (const t of audioTracksOf(snap)) refs.push(t.ref);
  return refs;
}

/**
 * Whether the channel's video can be served with its audio muxed in: it has exactly one audio track (several are
 * languages to choose from, which only separate renditions offer).
 */
export function canMuxAudio(snap: Pick<Snapshot, 'format' | 'hasAudio'>): boolean {
  return audioTracksOf(snap).length === 1;
}

/**
 * The renditions a playlist's reports name: those a player of it may switch to. A muxed rung's are the other muxed
 * rungs (its audio is in them); a separate rung's or audio track's, every separate rendition.
 */
function reportedRefs(snap: Snapshot, from: RenditionRef): RenditionRef[] {
  if (isMuxed(from)) return allRefs(snap).flatMap((r) => (r.kind === 'video' ? [{ ...r, muxed: true }] : []));
  return allRefs(snap);
}

export function renditionReports(snap: Snapshot, except: RenditionRef): HlsRenditionReport[] {
  const out: HlsRenditionReport[] = [];
  for (const ref of reportedRefs(snap, except)) {
    if (stemOf(ref) === stemOf(except)) continue;
    const f = frontierOf(snap, ref);
    if (!f || f.lastMsn < 1) continue;
    const uri = `${stemOf(ref)}.m3u8`;
    if (f.pendingParts > 0) out.push({ uri, lastMsn: f.lastMsn + 1, lastPart: f.pendingParts - 1 });
    else out.push({ uri, lastMsn: f.lastMsn, lastPart: Math.max(0, snap.parts.filter((p) => p.segment === f.lastMsn).length - 1) });
  }
  return out;
}

export function newestSegment(snap: Snapshot): SegmentRecord | undefined {
  return snap.open ?? snap.closed[snap.closed.length - 1];
}

export function sameTarget(a: BlockingTarget, pos: Frontier): boolean {
  return blockingSatisfied(a, { lastMsn: pos.lastMsn, pendingParts: pos.pendingParts });
}

export function fallbackBandwidth(snap: Snapshot, info: RenditionInfo | null): number {
  if (info) {
    const rung = snap.channel.ladder.find((r) => r.name === info.rung);
    const br = rung?.maxBitrate ?? rung?.videoBitrate ?? Number(info.format.streams[VIDEO_STREAM]?.codecpar.bit_rate ?? 0);
    if (br > 0) return br;
  }
  const br = Number(snap.format.streams[VIDEO_STREAM]?.codecpar.bit_rate ?? 0);
  return br > 0 ? br : 2_000_000;
}

export function frameRateOf(format: Format, configured?: number): number | undefined {
  const s = format.streams[VIDEO_STREAM];
  for (const r of [s?.avg_frame_rate, s?.r_frame_rate]) {
    if (Array.isArray(r) && r[0] > 0 && r[1] > 0 && r[0] / r[1] <= 240) return r[0] / r[1];
  }
  return configured;
}

export function ready(f: Frontier | null, segment: number, part: number | null): boolean {
  if (!f) return false;
  if (segment <= f.lastMsn) return true;
  return part !== null && segment === f.lastMsn + 1 && part < f.pendingParts;
}

/** The next object a player may ask for before it exists (LL-HLS preload): worth a short wait. */
export function isNext(f: Frontier | null, segment: number, part: number | null): boolean {
  if (!f) return false;
  if (part === null) return segment === f.lastMsn + 1;
  return (segment === f.lastMsn + 1 && part <= f.pendingParts + 1) || (segment === f.lastMsn + 2 && part === 0);
}

/** Whether a rendition's live playlist would list a complete segment (parts alone are not a playlist players accept). */
export function hasCompleteSegment(snap: Snapshot, ref: RenditionRef): boolean {
  const f = frontierOf(snap, ref);
  return f !== null && snap.closed.some((s) => s.index <= f.lastMsn);
}
