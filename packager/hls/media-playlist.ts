/**
 * Renders a media playlist (RFC 8216bis): VOD, EVENT or a live sliding window, with LL-HLS
 * parts, blocking-reload server control, preload hints, rendition reports and delta updates.
 */
import { badRenderInput } from '../errors';
import { attributes, decimal, isoDate, quoted, uriLine } from './format';
import type { HlsDateRange, HlsMediaPlaylist, HlsPart, HlsSegment, MediaPlaylistRenderOptions } from './model';

/** Parts are listed only for segments entirely within this many target durations of the end. */
export const PART_LISTING_TARGET_DURATIONS = 3;

export interface ServerControlValues {
  canBlockReload: boolean;
  canSkipUntil?: number;
  holdBack?: number;
  partHoldBack?: number;
}

/** TARGETDURATION: the configured value, raised so every EXTINF rounds to at most it. */
export function targetDurationOf(p: HlsMediaPlaylist): number {
  const needed = p.segments.reduce((m, s) => Math.max(m, Math.round(s.duration)), 1);
  return Math.max(needed, Math.ceil(p.targetDuration ?? 0));
}

/** PART-TARGET: the configured value, raised to the longest listed part. */
export function partTargetOf(p: HlsMediaPlaylist): number | undefined {
  const ll = p.lowLatency;
  if (!ll) return undefined;
  const parts = [...p.segments.flatMap((s) => s.parts ?? []), ...ll.pendingParts];
  return parts.reduce((m, part) => Math.max(m, part.duration), ll.partTarget);
}

/** Hold-back values with the spec's lower bounds applied (HOLD-BACK ≥ 3 TD, PART-HOLD-BACK ≥ 3 PART-TARGET, CAN-SKIP-UNTIL ≥ 6 TD). */
export function serverControlOf(p: HlsMediaPlaylist): ServerControlValues | undefined {
  if (p.kind === 'vod' || (!p.serverControl && !p.lowLatency)) return undefined;
  const td = targetDurationOf(p);
  const sc = p.serverControl ?? {};
  const values: ServerControlValues = { canBlockReload: sc.canBlockReload ?? p.lowLatency !== undefined };
  values.canSkipUntil = Math.max(sc.canSkipUntil ?? 0, 6 * td);
  values.holdBack = Math.max(sc.holdBack ?? 0, 3 * td);
  const partTarget = partTargetOf(p);
  if (partTarget !== undefined) values.partHoldBack = Math.max(p.lowLatency?.partHoldBack ?? 0, 3 * partTarget);
  return values;
}

/** Number of leading segments a delta update may replace with EXT-X-SKIP. */
export function skippableSegments(p: HlsMediaPlaylist): number {
  const sc = serverControlOf(p);
  if (!sc?.canSkipUntil) return 0;
  const total = playlistDuration(p);
  let elapsed = 0;
  let n = 0;
  for (const s of p.segments) {
    elapsed += s.duration;
    if (total - elapsed < sc.canSkipUntil) break;
    n++;
  }
  return n;
}

function playlistDuration(p: HlsMediaPlaylist): number {
  const pending = p.lowLatency?.pendingParts ?? [];
  return [...p.segments, ...pending].reduce((t, s) => t + s.duration, 0);
}

function partLine(part: HlsPart): string {
  if (!(part.duration > 0)) throw badRenderInput(`HLS: part ${part.uri} has duration ${part.duration}`);
  return `#EXT-X-PART:${attributes([
    ['DURATION', decimal(part.duration)],
    ['URI', quoted(uriLine(part.uri))],
    ['INDEPENDENT', part.independent ? 'YES' : undefined],
  ])}`;
}

function hexSequence(hex: string | undefined): string | undefined {
  if (hex === undefined) return undefined;
  if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length % 2 !== 0) throw badRenderInput(`HLS: ${JSON.stringify(hex.slice(0, 16))} is not a hexadecimal byte sequence`);
  return `0x${hex.toUpperCase()}`;
}

/** One EXT-X-DATERANGE line. */
export function dateRangeLine(d: HlsDateRange): string {
  return `#EXT-X-DATERANGE:${attributes([
    ['ID', quoted(d.id)],
    ['CLASS', d.class === undefined ? undefined : quoted(d.class)],
    ['START-DATE', quoted(isoDate(d.startDate))],
    ['DURATION', d.duration === undefined ? undefined : decimal(d.duration)],
    ['PLANNED-DURATION', d.plannedDuration === undefined ? undefined : decimal(d.plannedDuration)],
    ['SCTE35-CMD', hexSequence(d.scte35Cmd)],
    ['SCTE35-OUT', hexSequence(d.scte35Out)],
    ['SCTE35-IN', hexSequence(d.scte35In)],
  ])}`;
}

function serverControlLine(sc: ServerControlValues): string {
  return `#EXT-X-SERVER-CONTROL:${attributes([
    ['CAN-BLOCK-RELOAD', sc.canBlockReload ? 'YES' : undefined],
    ['CAN-SKIP-UNTIL', sc.canSkipUntil === undefined ? undefined : decimal(sc.canSkipUntil)],
    ['HOLD-BACK', sc.holdBack === undefined ? undefined : decimal(sc.holdBack)],
    ['PART-HOLD-BACK', sc.partHoldBack === undefined ? undefined : decimal(sc.partHoldBack)],
  ])}`;
}

function checkPlaylist(p: HlsMediaPlaylist): void {
  if (!Number.isInteger(p.mediaSequence) || p.mediaSequence < 0) {
    throw badRenderInput(`HLS: media sequence ${p.mediaSequence} must be a non-negative integer`);
  }
  const ds = p.discontinuitySequence ?? 0;
  if (!Number.isInteger(ds) || ds < 0) throw badRenderInput(`HLS: discontinuity sequence ${ds} must be a non-negative integer`);
  for (const s of p.segments) {
    if (!(s.duration > 0)) throw badRenderInput(`HLS: segment ${s.uri} has duration ${s.duration}`);
  }
  if (p.lowLatency && !(p.lowLatency.partTarget > 0)) throw badRenderInput('HLS: PART-TARGET must be positive');
}

function headerLines(p: HlsMediaPlaylist, version: number): string[] {
  const lines = ['#EXTM3U', `#EXT-X-VERSION:${version}`];
  if (p.independentSegments) lines.push('#EXT-X-INDEPENDENT-SEGMENTS');
  lines.push(`#EXT-X-TARGETDURATION:${targetDurationOf(p)}`);
  const sc = serverControlOf(p);
  if (sc) lines.push(serverControlLine(sc));
  const partTarget = partTargetOf(p);
  if (partTarget !== undefined) lines.push(`#EXT-X-PART-INF:PART-TARGET=${decimal(partTarget)}`);
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${p.mediaSequence}`);
  lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${p.discontinuitySequence ?? 0}`);
  if (p.kind === 'vod') lines.push('#EXT-X-PLAYLIST-TYPE:VOD');
  else if (p.kind === 'event') lines.push('#EXT-X-PLAYLIST-TYPE:EVENT');
  return lines;
}

/** Indexes of segments whose parts are still listed: those wholly within 3 target durations of the end. */
function segmentsWithParts(p: HlsMediaPlaylist): Set<number> {
  const listed = new Set<number>();
  if (!p.lowLatency) return listed;
  const limit = PART_LISTING_TARGET_DURATIONS * targetDurationOf(p);
  let fromEnd = (p.lowLatency.pendingParts ?? []).reduce((t, part) => t + part.duration, 0);
  for (let i = p.segments.length - 1; i >= 0; i--) {
    fromEnd += (p.segments[i] as HlsSegment).duration;
    if (fromEnd > limit + 1e-9) break;
    listed.add(i);
  }
  return listed;
}

function segmentLines(s: HlsSegment, withParts: boolean, currentMap: { uri: string | undefined }): string[] {
  const lines: string[] = [];
  if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
  if (s.map !== undefined && s.map !== currentMap.uri) {
    lines.push(`#EXT-X-MAP:URI=${quoted(uriLine(s.map))}`);
    currentMap.uri = s.map;
  }
  if (s.programDateTime !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${isoDate(s.programDateTime)}`);
  for (const d of s.dateRanges ?? []) lines.push(dateRangeLine(d));
  if (withParts && !s.gap) for (const part of s.parts ?? []) lines.push(partLine(part));
  if (s.gap) lines.push('#EXT-X-GAP');
  lines.push(`#EXTINF:${decimal(s.duration)},`, uriLine(s.uri));
  return lines;
}

/** Serialises a media playlist; `options.skip` renders a delta update when the playlist allows one. */
export function renderMediaPlaylist(p: HlsMediaPlaylist, options: MediaPlaylistRenderOptions = {}): string {
  checkPlaylist(p);
  const skipped = options.skip ? skippableSegments(p) : 0;
  const lines = headerLines(p, skipped > 0 ? 9 : (p.version ?? 6));
  const currentMap = { uri: p.map };
  if (p.map !== undefined) lines.push(`#EXT-X-MAP:URI=${quoted(uriLine(p.map))}`);
  if (skipped > 0) {
    lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
    let effective = p.map;
    for (const s of p.segments.slice(0, skipped)) if (s.map !== undefined) effective = s.map;
    if (effective !== undefined && effective !== currentMap.uri) {
      lines.push(`#EXT-X-MAP:URI=${quoted(uriLine(effective))}`);
      currentMap.uri = effective;
    }
    // No CAN-SKIP-DATERANGES: a delta update keeps every EXT-X-DATERANGE of the segments it skips.
    for (const s of p.segments.slice(0, skipped)) for (const d of s.dateRanges ?? []) lines.push(dateRangeLine(d));
  }
  const withParts = segmentsWithParts(p);
  p.segments.forEach((s, i) => {
    if (i >= skipped) lines.push(...segmentLines(s, withParts.has(i), currentMap));
  });
  const ll = p.lowLatency;
  const ended = p.kind === 'vod' || p.ended === true;
  if (ll && !ended) {
    if (ll.pendingDiscontinuity && ll.pendingParts.length > 0) lines.push('#EXT-X-DISCONTINUITY');
    for (const part of ll.pendingParts) lines.push(partLine(part));
    if (ll.preloadHint !== undefined) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI=${quoted(uriLine(ll.preloadHint))}`);
  }
  for (const r of p.renditionReports ?? []) {
    lines.push(`#EXT-X-RENDITION-REPORT:${attributes([
      ['URI', quoted(uriLine(r.uri))],
      ['LAST-MSN', r.lastMsn],
      ['LAST-PART', r.lastPart],
    ])}`);
  }
  if (ended) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}
