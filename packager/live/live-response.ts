/** What the live services answer with: a body, its content type, Cache-Control and (for media) a strong ETag. */
import type { QueryValue } from '../hls/blocking-request';

export type Query = Record<string, QueryValue>;

export interface LiveResponse {
  body: string | Buffer;
  contentType: string;
  cacheControl: string;
  etag?: string;
}

export const CONTENT_TYPES = {
  m3u8: 'application/vnd.apple.mpegurl',
  mpd: 'application/dash+xml',
  video: 'video/mp4',
  audio: 'audio/mp4',
} as const;

export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** An HLS playlist (multivariant or media) kept `maxAge` seconds by caches. */
export function playlistResponse(body: string, maxAge: number): LiveResponse {
  return { body, contentType: CONTENT_TYPES.m3u8, cacheControl: `public, max-age=${maxAge}` };
}
