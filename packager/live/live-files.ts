/**
 * The object names under `/live/<channel>/`, all siblings so every relative URI is a bare file name:
 *
 *   master.m3u8                    multivariant playlist
 *   manifest.mpd                   DASH MPD
 *   v-<rung>.m3u8                  media playlist of a video rung (`source` is the channel itself)
 *   v-<rung>-init.mp4              its CMAF header
 *   v-<rung>-<msn>.m4s             segment <msn> (the media sequence number = the segment index)
 *   v-<rung>-<msn>.<part>.m4s      LL-HLS part <part> of segment <msn>
 *   av-<rung>.m3u8, av-<rung>-init.mp4, av-<rung>-<msn>.m4s, av-<rung>-<msn>.<part>.m4s   the rung's video with the
 *                                  channel's audio muxed in (one fragment, two tracks): what the multivariant playlist
 *                                  lists for a channel with one audio track (see manifests.ts)
 *   audio.m3u8, audio-init.mp4, audio-<msn>.m4s, audio-<msn>.<part>.m4s   the main audio rendition
 *   audio<n>.m3u8, audio<n>-init.mp4, …   a further audio track (another language): channel stream <n>, 2–9
 *   ts-<rung>.m3u8                 legacy media playlist of MPEG-TS segments (rung video + channel audio)
 *   ts-<rung>-<msn>.ts             its segment <msn>
 *
 * Rung names are lowercase letters, digits, `_` and `-` (the ladder validates them), so the greedy
 * match from the right is unambiguous. Pure.
 */

/**
 * A video rung (`muxed`: with the channel's main audio in the same fragments), or an audio rendition: `track` is its
 * channel stream index when it is not the main one (1): another language.
 */
export type RenditionRef = { kind: 'video'; rung: string; muxed?: boolean } | { kind: 'audio'; track?: number };

export type LiveFile =
  | { type: 'master' }
  | { type: 'mpd' }
  | { type: 'playlist'; rendition: RenditionRef }
  | { type: 'init'; rendition: RenditionRef }
  | { type: 'media'; rendition: RenditionRef; segment: number; part: number | null }
  | { type: 'tsPlaylist'; rung: string }
  | { type: 'tsSegment'; rung: string; segment: number };

export const SOURCE_RUNG = 'source';
const RUNG = '([a-z0-9][a-z0-9_-]{0,63})';
const NUM = '(\\d{1,12})';
const MEDIA = new RegExp(`^(?:(a?v)-${RUNG}|audio([2-9])?)-${NUM}(?:\\.(\\d{1,4}))?\\.m4s$`);
const INIT = new RegExp(`^(?:(a?v)-${RUNG}|audio([2-9])?)-init\\.mp4$`);
const PLAYLIST = new RegExp(`^(?:(a?v)-${RUNG}|audio([2-9])?)\\.m3u8$`);
const TS_PLAYLIST = new RegExp(`^ts-${RUNG}\\.m3u8$`);
const TS_SEGMENT = new RegExp(`^ts-${RUNG}-${NUM}\\.ts$`);

function renditionOf(prefix: string | undefined, rung: string | undefined, track: string | undefined): RenditionRef {
  if (rung !== undefined) return prefix === 'av' ? { kind: 'video', rung, muxed: true } : { kind: 'video', rung };
  return track === undefined ? { kind: 'audio' } : { kind: 'audio', track: Number(track) };
}

/** The object a file name names, or null when it names nothing we serve. */
export function parseLiveFile(file: string): LiveFile | null {
  if (file === 'master.m3u8') return { type: 'master' };
  if (file === 'manifest.mpd') return { type: 'mpd' };
  let m = MEDIA.exec(file);
  if (m) {
    return { type: 'media', rendition: renditionOf(m[1], m[2], m[3]), segment: Number(m[4]), part: m[5] === undefined ? null : Number(m[5]) };
  }
  m = INIT.exec(file);
  if (m) return { type: 'init', rendition: renditionOf(m[1], m[2], m[3]) };
  m = PLAYLIST.exec(file);
  if (m) return { type: 'playlist', rendition: renditionOf(m[1], m[2], m[3]) };
  m = TS_SEGMENT.exec(file);
  if (m) return { type: 'tsSegment', rung: m[1] as string, segment: Number(m[2]) };
  m = TS_PLAYLIST.exec(file);
  if (m) return { type: 'tsPlaylist', rung: m[1] as string };
  return null;
}

/** Whether a rendition is a rung with the channel's main audio muxed in (`av-<rung>`). */
export function isMuxed(r: RenditionRef): boolean {
  return r.kind === 'video' && r.muxed === true;
}

/** File-name stem of a rendition: `v-<rung>`, `av-<rung>` (muxed), `audio` (the main track) or `audio<n>`. */
export function stemOf(r: RenditionRef): string {
  if (r.kind === 'video') return `${r.muxed ? 'av' : 'v'}-${r.rung}`;
  return r.track === undefined || r.track === 1 ? 'audio' : `audio${r.track}`;
}

export const playlistFile = (r: RenditionRef): string => `${stemOf(r)}.m3u8`;
export const initFile = (r: RenditionRef): string => `${stemOf(r)}-init.mp4`;
export const segmentFile = (r: RenditionRef, msn: number): string => `${stemOf(r)}-${msn}.m4s`;
export const tsPlaylistFile = (rung: string): string => `ts-${rung}.m3u8`;
export const tsSegmentFile = (rung: string, msn: number): string => `ts-${rung}-${msn}.ts`;
export const partFile = (r: RenditionRef, msn: number, part: number): string => `${stemOf(r)}-${msn}.${part}.m4s`;

/** A catch-up query string to carry from the master to the media playlists ('' when none). */
export function catchupQuery(query: Record<string, string | string[] | undefined>): string {
  const params = new URLSearchParams();
  for (const k of ['start', 'end']) {
    const v = query[k];
    if (typeof v === 'string') params.set(k, v);
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}
