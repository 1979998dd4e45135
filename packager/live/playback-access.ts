/**
 * Private channels in the packager: the token a request carried (checked by core/model/playback-token.ts
 * `playbackAccess` on the channel record of the request's snapshot) carried on into every URI of the playlist
 * or MPD answered, so a stock player passes it along without knowing of it.
 */
import { signMpd, signPlaylist } from '../../core/model/playback-token';
import type { LiveResponse } from './live-response';

/** Pure: a playlist (`hls`) or MPD (`mpd`) answer whose URIs carry `token`; others as they are. */
export function signedResponse(r: LiveResponse, token: string | null, kind: 'hls' | 'mpd'): LiveResponse {
  if (token === null || typeof r.body !== 'string') return r;
  return { ...r, body: kind === 'hls' ? signPlaylist(r.body, token) : signMpd(r.body, token) };
}
