/**
 * SCTE-35 a publisher sends in its MPEG-TS (a SCTE-35 PID, ffmpeg's `scte_35` data stream) becomes the channel's
 * ad markers, as `POST /api/channels/<name>/markers` makes them: stored with the channel's markers (source
 * `publisher`, the section kept as sent), cut at by this publish's segmenter, written by the packager as
 * EXT-X-DATERANGE and DASH Events. A splice time in the publisher's clock is placed on the PROGRAM-DATE-TIME
 * clock through the newest video packet; an immediate splice is at that packet.
 *
 * Encoders repeat a splice before it happens: a repeat (the same marker id) is dropped. A splice_insert's or a
 * segmentation descriptor's cancel removes the marker it names. Bounded: a section is parsed only up to 4 KiB,
 * at most 10 new markers per 10 s from one publish (a flood is dropped and logged once per window), and a
 * splice placed outside the API's bounds (10 s ago to an hour ahead) is dropped.
 */
import { MARKER_LIMITS, MAX_MARKERS_PER_CHANNEL, markerId, type Marker } from '../../core/model/marker';
import { parseSpliceInfoSection, ptsDistance, publisherMarker, spliceAction } from '../../core/model/scte35';
import type { LiveStore } from '../../core/store/live-store';
import type { SessionLog } from './types';

export const SPLICE_RATE = { count: 10, windowMs: 10_000 } as const;
/** Marker ids remembered to drop repeats. */
const SEEN_LIMIT = 128;

export interface PublisherSplicesDeps {
  live: Pick<LiveStore, 'addMarker' | 'removeMarker'>;
  log: SessionLog;
  channel: { name: string; dvrWindowSeconds: number };
  now: () => number;
  /** The newest video packet in the publisher's 90 kHz clock and its wall clock (ms); null before the first segment. */
  videoClock: () => { pts90k: number; wallMs: number } | null;
  /** Markers this publish already knows of (the channel's, as last read). */
  known: () => readonly Marker[];
  /** A marker was stored: cut at it from now on. */
  onAdded: (m: Marker) => void;
}

export interface PublisherSplices {
  /** One packet of the SCTE-35 stream (a whole splice_info_section). */
  push(section: Buffer): void;
  /** Markers stored so far. */
  readonly added: number;
}

export function createPublisherSplices(deps: PublisherSplicesDeps): PublisherSplices {
  const { log, channel } = deps;
  const seen = new Set<string>();
  const recent: number[] = [];
  let floodWarnedAt = -Infinity;
  let added = 0;

  const remember = (id: string) => {
    seen.add(id);
    if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value as string);
  };
  const known = (id: string) => seen.has(id) || deps.known().some((m) => m.id === id);

  function push(section: Buffer): void {
    const parsed = parseSpliceInfoSection(section);
    if (!parsed.ok) {
      log.warn({ channel: channel.name, reason: parsed.reason }, 'ignored a SCTE-35 section from the publisher');
      return;
    }
    const action = spliceAction(parsed.info);
    if (action.kind === 'none') return;
    if (action.kind === 'cancel') {
      if (!known(action.id)) return;
      seen.delete(action.id);
      deps.live.removeMarker(channel.name, action.id).then(
        (was) => was && log.info({ channel: channel.name, marker: action.id }, "the publisher's SCTE-35 cancelled a marker"),
        (err: Error) => log.warn({ channel: channel.name, marker: action.id, err: err.message }, 'could not remove a cancelled marker'),
      );
      return;
    }
    const now = deps.now();
    const clock = deps.videoClock();
    if (!clock) return; // before the first segment: nothing to place it against (encoders repeat it)
    let id = markerId(action.eventId);
    // The end of a break sent with the break's own event id (time_signal segmentation ends do) is a marker of its own.
    if (action.type === 'ad-end') id = `${id}-IN`;
    if (known(id)) return;
    const at = action.immediate || parsed.info.pts === null ? clock.wallMs : clock.wallMs + ptsDistance(clock.pts90k, parsed.info.pts) / 90;
    if (at < now - MARKER_LIMITS.pastMs || at > now + MARKER_LIMITS.futureMs) {
      remember(id);
      log.warn({ channel: channel.name, marker: id, atMs: Math.round(at) }, "dropped a SCTE-35 splice from the publisher: its time is more than 10 s ago or an hour ahead");
      return;
    }
    while (recent.length && (recent[0] as number) <= now - SPLICE_RATE.windowMs) recent.shift();
    if (recent.length >= SPLICE_RATE.count) {
      if (now - floodWarnedAt >= SPLICE_RATE.windowMs) {
        floodWarnedAt = now;
        log.warn({ channel: channel.name }, `dropped SCTE-35 splices from the publisher: more than ${SPLICE_RATE.count} new ones in ${SPLICE_RATE.windowMs / 1000} s`);
      }
      return;
    }
    recent.push(now);
    remember(id);
    const marker = { ...publisherMarker(action, section, at, now), id };
    deps.onAdded(marker);
    added++;
    deps.live.addMarker(channel.name, marker, channel.dvrWindowSeconds * 1000, MAX_MARKERS_PER_CHANNEL, now).then(
      () => log.info({ channel: channel.name, marker: id, type: marker.type, start: new Date(marker.startMs).toISOString() }, "ad marker from the publisher's SCTE-35"),
      (err: Error) => {
        seen.delete(id); // a repeat may store it
        log.warn({ channel: channel.name, marker: id, err: err.message }, "could not store an ad marker from the publisher's SCTE-35");
      },
    );
  }

  return {
    push,
    get added() {
      return added;
    },
  };
}
