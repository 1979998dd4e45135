/**
 * The live model shared by ingest (writer), transcoders and packager (readers): segment and part
 * records decided once at ingest, and the typed events of a channel's event stream.
 * Timestamps are on the channel's one monotonic 90 kHz timeline.
 */

/** Ticks per second of every channel's timeline (and of a rendition's packets): the MPEG-TS 90 kHz clock. */
export const TIMELINE_HZ = 90000;

/**
 * Stream layout of a channel's content item (and of each rendition `<channel>.<rung>`): stream 0 is the video,
 * stream 1 the AAC audio (a rendition has only stream 0).
 */
export const VIDEO_STREAM = 0;
export const AUDIO_STREAM = 1;

export interface SegmentRecord {
  /** Media sequence number; starts at 1 and never resets for a channel. */
  index: number;
  startPts: number;
  /** Decode time of the segment's first packet: segments and parts tile the timeline by dts. */
  startDts: number;
  /** null while the segment is open. */
  durationPts: number | null;
  /** Ingest wall clock at the segment's first packet (ms since the epoch): EXT-X-PROGRAM-DATE-TIME. */
  wallClockMs: number;
  /** First segment after a publisher reconnect. */
  discontinuity: boolean;
  /**
   * Discontinuities at or before this segment since the channel began (written by ingest, so every packager
   * process derives the same EXT-X-DISCONTINUITY-SEQUENCE after older records left the DVR window).
   */
  discontinuitySequence?: number;
}

export interface PartRecord {
  segment: number;
  part: number;
  startPts: number;
  /** A part holds the packets with startDts <= dts < startDts + durationPts. */
  startDts: number;
  durationPts: number;
  independent: boolean;
}

export type ChannelEvent =
  | { type: 'publisher:connected'; protocol: 'srt' | 'rtmp' | 'whip'; peer: string }
  | { type: 'publisher:disconnected'; reason: string }
  | { type: 'format:changed' }
  | { type: 'segment:opened'; segment: number; startPts: number; wallClockMs: number; discontinuity: boolean }
  | { type: 'part:ready'; segment: number; part: number; startPts: number; startDts: number; durationPts: number; independent: boolean }
  | { type: 'segment:closed'; segment: number; startPts: number; durationPts: number }
  | { type: 'rendition:ready'; rendition: string; segment: number; part?: number }
  | { type: 'marker:added'; id: string; startMs: number }
  | { type: 'marker:removed'; id: string }
  | { type: 'marker:spliced'; id: string; splicedMs?: number; splicedInMs?: number }
  | { type: 'warning'; message: string };

export type ChannelEventType = ChannelEvent['type'];

/** Encode an event as flat Redis stream fields: `type` and `data` (JSON of the rest). */
export function encodeEvent(e: ChannelEvent): string[] {
  const { type, ...rest } = e;
  return ['type', type, 'data', JSON.stringify(rest)];
}

/** Decode stream fields back into an event; null for anything malformed. */
export function decodeEvent(fields: string[]): ChannelEvent | null {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  const type = map.get('type');
  if (!type) return null;
  try {
    return { type, ...(JSON.parse(map.get('data') ?? '{}') as object) } as ChannelEvent;
  } catch {
    return null;
  }
}
