/**
 * A channel's ad markers as a data stream of the Content Beam API: the channel's format gets one more stream,
 * its last (`codec_type` data, `scte_35`, 90 kHz: what FFmpeg's MPEG-TS demuxer makes of a SCTE-35 PID), whose
 * packets are the splice_info_sections at the pts ingest cut at for them: an ad break's start (`scte35`), its
 * return (`scte35In`), an ad end. `GET /beams/<channel>/data/<media_ref>` answers every media_ref form as a
 * stored stream would, and `…/data` gives the section's bytes.
 *
 * The stream is made on read from the channel's markers (keys.markers), never stored: its index follows the
 * channel's stored streams (`1 + audio tracks`), and a publisher whose track count changes moves it without
 * leaving section packets under an index an audio track takes next. Markers no live publish cut at (made while
 * nothing was published, or less than the ingest's poll ahead) have no place in the media and are not in it;
 * they still are in the channel's markers and playlists. Read-only: markers are made with the channel API.
 */

import type { IndexQuery } from '../model/query-plan';
import type { Format, PacketMeta, Stream } from '../model/media';
import { emptyFlags } from '../model/media';
import type { Marker } from '../model/marker';
import { TIMELINE_HZ } from '../model/live';
import { answerTiers, planTiers, type HotItem, type Item, type TierReply } from './tier-query';
import type { LiveStore } from './live-store';
import type { Store } from './store';

/** The codec name of the data stream (FFmpeg's name for SCTE-35 in MPEG-TS). */
export const MARKER_STREAM_CODEC = 'scte_35';

/** One packet of the data stream: a section at a pts. */
export interface MarkerPacket {
  pts: number;
  section: Buffer;
  /** The marker it comes from, and which of its splices. */
  marker: string;
  splice: 'out' | 'in';
}

/** Pure: whether a format is a channel's (the format ingest writes: `metadata.channel` names the content itself). */
export function isChannelFormat(format: Format): boolean {
  return format.metadata?.channel === format.url;
}

/** Pure: the data stream a channel's format ends with (index: after its stored streams). */
export function markerStream(format: Format): Stream {
  return {
    type: 'Stream',
    index: format.streams.length,
    time_base: [1, TIMELINE_HZ],
    codecpar: { codec_type: 'data', name: MARKER_STREAM_CODEC },
    metadata: { source: 'markers', note: "the channel's ad markers (POST /api/channels/<name>/markers); read-only" },
  };
}

/** Pure: a channel's format with its data stream, or any other format as it is. */
export function withMarkerStream(format: Format): Format {
  return isChannelFormat(format) ? { ...format, streams: [...format.streams, markerStream(format)] } : format;
}

/** Pure: whether `stream` is the data stream of `format` (as extended by withMarkerStream). */
export function isMarkerStream(format: Format, stream: Stream): boolean {
  return isChannelFormat(format) && stream.codecpar.name === MARKER_STREAM_CODEC && stream.index === format.streams.length - 1 && stream.metadata !== undefined && (stream.metadata as Record<string, unknown>).source === 'markers';
}

/**
 * Pure: the packets of the markers ingest cut at, by pts. Two splices at one pts (a break's return where the
 * next break starts) are one packet: the later splice, which is what a player acts on.
 */
export function markerPackets(markers: readonly Marker[]): MarkerPacket[] {
  const at = new Map<number, MarkerPacket>();
  const splices: { pts: number; hex: string; marker: string; splice: 'out' | 'in'; order: number }[] = [];
  for (const m of markers) {
    if (m.splicedPts !== undefined && Number.isSafeInteger(m.splicedPts)) splices.push({ pts: m.splicedPts, hex: m.scte35, marker: m.id, splice: 'out', order: m.startMs });
    if (m.splicedInPts !== undefined && Number.isSafeInteger(m.splicedInPts) && m.scte35In) splices.push({ pts: m.splicedInPts, hex: m.scte35In, marker: m.id, splice: 'in', order: m.startMs + (m.durationSeconds ?? 0) * 1000 });
  }
  splices.sort((a, b) => a.pts - b.pts || a.order - b.order || (a.splice === b.splice ? 0 : a.splice === 'in' ? -1 : 1));
  for (const s of splices) at.set(s.pts, { pts: s.pts, section: Buffer.from(s.hex, 'hex'), marker: s.marker, splice: s.splice });
  return [...at.values()];
}

/** Pure: a marker packet's metadata in the Content Beam API's shape. */
export function markerPacketMeta(p: MarkerPacket, streamIndex: number): PacketMeta {
  return { type: 'Packet', pts: p.pts, dts: p.pts, size: p.section.length, stream_index: streamIndex, flags: emptyFlags(true), duration: 0, pos: -1, marker: p.marker, splice: p.splice };
}

/**
 * Pure: the answer of an index query over packets held in memory (ascending pts, one per pts): the same
 * elements the store's index answers for the same packets. Every scan of the query's plan is given all
 * packets in its direction; answerTiers keeps what lies within each scan's range.
 */
export async function queryMarkerPackets(q: IndexQuery, packets: readonly MarkerPacket[], streamIndex: number): Promise<{ member: string; meta: PacketMeta }[]> {
  const items: HotItem[] = packets.map((p, i) => ({ kind: 'hot', rank: i, member: `packet_${p.pts}`, pts: p.pts, json: JSON.stringify(markerPacketMeta(p, streamIndex)), sizes: null }));
  const plan = planTiers(q);
  let reply: TierReply;
  if (plan.op === 'rank') {
    const total = items.length;
    let from = plan.from < 0 ? total + plan.from : plan.from;
    let to = plan.to < 0 ? total + plan.to : plan.to;
    if (to >= total) to = total - 1;
    if (from < 0) from = 0;
    let first = 0;
    let last = -1;
    if (from <= to && total > 0) {
      const offset = plan.offset < 0 ? Math.max(0, to - from + 1 + plan.offset) : plan.offset;
      first = from + offset;
      last = Math.min(to, first + plan.limit - 1);
    }
    reply = { op: 'rank', first, last, items: items.filter((it) => it.rank >= first && it.rank <= last) };
  } else {
    const down: Item[] = [...items].reverse().map((it) => ({ ...it, rank: -1 }));
    const up: Item[] = items.map((it) => ({ ...it, rank: -1 }));
    reply = { op: 'scan', scans: plan.scans.map((s) => (s.dir === 'f' ? up : down)) };
  }
  const found = await answerTiers(q, reply, async () => null);
  return found.map((e) => ({ member: e.member, meta: JSON.parse(e.json as string) as PacketMeta }));
}

/** What the Content Beam API reads of a stream's media elements: the store's reads, or a data stream's. */
export type MediaReader = Pick<Store, 'getElement' | 'getPayload' | 'query'>;

/** The Content Beam API's view of channels' data streams (engine/api/beams.ts). */
export interface MarkerStreams {
  /** The format as the API shows it: a channel's with its data stream. */
  format(stored: Format): Format;
  /** Whether `stream` of the shown `format` is a data stream made here. */
  owns(format: Format, stream: Stream): boolean;
  /** The data stream's elements, read as the store reads a stored stream's (the markers read once, when first needed). */
  reader(format: Format): MediaReader;
}

export function createMarkerStreams(deps: { live: Pick<LiveStore, 'markers'> }): MarkerStreams {
  return {
    format: withMarkerStream,
    owns: isMarkerStream,
    reader(format) {
      let loaded: Promise<MarkerPacket[]> | null = null;
      const packets = () => (loaded ??= deps.live.markers(format.url).then(markerPackets));
      /** Only packets: a data stream has no frames. */
      const at = async (kind: string, pts: number) => (kind === 'packet' ? (await packets()).find((p) => p.pts === pts) : undefined);
      return {
        async getElement(_name, streamIndex, kind, pts) {
          const p = await at(kind, pts);
          return p ? markerPacketMeta(p, streamIndex) : null;
        },
        async getPayload(_name, _streamIndex, kind, pts) {
          const p = await at(kind, pts);
          return p ? { data: p.section, bufSizes: null } : null;
        },
        async query(_name, streamIndex, q) {
          return queryMarkerPackets(q, await packets(), streamIndex);
        },
      };
    },
  };
}
