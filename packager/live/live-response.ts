/** What the live services answer with: a body, its content type, Cache-Control and (for media) a strong ETag. */
import type { Readable } from 'node:stream';
import type { QueryValue } from '../hls/blocking-request';

export type Query = Record<string, QueryValue>;

/**
 * A body too large to hold (an archived segment): its length, and any bytes [start, end) of it as a stream.
 * `open` resolves once the source is open (an archive fault rejects it, before anything is sent); the stream
 * fails when the source fails or holds fewer bytes than announced.
 */
export interface StreamedBody {
  readonly length: number;
  open(start: number, end: number): Promise<Readable>;
}

export function isStreamed(body: LiveResponse['body']): body is StreamedBody {
  return typeof body === 'object' && !Buffer.isBuffer(body);
}

export interface LiveResponse {
  body: string | Buffer | StreamedBody;
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
