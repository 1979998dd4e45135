/**
 * Private channels outside the packager: an anonymous read of a private channel's content items (the channel's
 * `/beams/<channel>…` and its rungs' `/beams/<channel>.<rung>…`: formats, packets, payloads, frame images,
 * latest.jpg, clips) and a WebRTC offer (`POST /live/<channel>/whep`) need its playback token (`?token=`), like
 * its playlists and segments (packager/live-plugin.ts); the API token opens everything. An onRequest hook after
 * authentication and before the rules' jobs, so no image or clip job is made for a refused request. One channel
 * read per such request; other paths cost a regular expression.
 */
import type { FastifyInstance } from 'fastify';
import { CHANNEL_NAME } from '../../core/model/channel';
import { playbackAccess, type PlaybackPolicy } from '../../core/model/playback-token';

const BEAMS_CONTENT = /^\/beams\/([^/]{1,512})/;
const WHEP_OFFER = /^\/live\/([^/]{1,64})\/whep\/?$/;

/** Pure: the channel whose playback rules a request falls under, or null (not a channel's media). */
export function guardedChannel(method: string, url: string): string | null {
  const path = url.split('?')[0] ?? '';
  let name: string | undefined;
  if (method === 'GET' || method === 'HEAD') {
    const m = BEAMS_CONTENT.exec(path);
    if (!m) return null;
    let content: string;
    try {
      content = decodeURIComponent(m[1] as string);
    } catch {
      return null; // the route answers the malformed name
    }
    name = content.split('.')[0];
  } else if (method === 'POST') {
    name = WHEP_OFFER.exec(path)?.[1];
  }
  return name !== undefined && CHANNEL_NAME.test(name) ? name : null;
}

export interface PrivateMediaDeps {
  /** A channel's playback policy (its record), null when there is none. */
  channel(name: string): Promise<PlaybackPolicy | null>;
  now?: () => number;
}

export function installPrivateMediaGuard(app: FastifyInstance, deps: PrivateMediaDeps): void {
  const now = deps.now ?? Date.now;
  app.addHook('onRequest', async (req) => {
    if (req.authorized) return;
    const name = guardedChannel(req.method, req.url);
    if (name === null) return;
    const ch = await deps.channel(name);
    if (ch) playbackAccess(ch, req.query, req.ip, now());
  });
}
