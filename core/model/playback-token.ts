/**
 * Pure: signed playback tokens of private channels (see the README's "Private channels").
 *
 *   token   = <expires>.<ip>.<signature>
 *   expires = the token's end, whole seconds since the Unix epoch (decimal, at most 12 digits)
 *   ip      = the only viewer address it opens for (IPv4 or IPv6 text), or empty for any address
 *   signature = base64url, no padding, of HMAC-SHA256(key = the channel's playbackSecret as ASCII text,
 *               message = "<channel>\n<expires>\n<ip>")  — always 43 characters
 *
 * It travels as `?token=<token>` on every /live/<channel>/… URL (and /beams/<channel>… image and clip URLs).
 * An IPv4 address holds dots, so the fields are split at the first and the last dot (the expiry is digits and
 * the signature base64url: neither holds one). Everything is bounded before any hashing.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { forbidden } from './errors';

/** Longest token text looked at: 12 digits, a 45-character IPv6 address, 43 signature characters, two dots. */
export const MAX_TOKEN_LENGTH = 12 + 1 + 45 + 1 + 43;

/** A channel's secret: 256 random bits, URL-safe text. */
export function newPlaybackSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** What a secret must look like (one a customer's backend also holds): 32-128 printable ASCII characters. */
export const PLAYBACK_SECRET = /^[\x21-\x7e]{32,128}$/;

export interface TokenFields {
  expires: number;
  ip: string;
  signature: string;
}

/** The message signed for a channel, expiry and address. */
export function tokenMessage(channel: string, expires: number, ip: string): string {
  return `${channel}\n${expires}\n${ip}`;
}

function signatureOf(secret: string, channel: string, expires: number, ip: string): string {
  return createHmac('sha256', secret).update(tokenMessage(channel, expires, ip)).digest('base64url');
}

/** A viewer address as tokens name it: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is its IPv4 address. */
export function normaliseIp(ip: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return (m ? (m[1] as string) : ip).toLowerCase();
}

/** Mint a token for `channel` that ends at `expires` (epoch seconds), for `ip` or (empty) any address. */
export function signPlaybackToken(secret: string, channel: string, expires: number, ip = ''): string {
  if (!Number.isSafeInteger(expires) || expires < 0 || expires >= 1e12) throw new RangeError(`expires must be whole epoch seconds, not ${expires}`);
  const addr = ip === '' ? '' : normaliseIp(ip);
  if (addr !== '' && isIP(addr) === 0) throw new RangeError(`'${ip.slice(0, 64)}' is not an IP address`);
  return `${expires}.${addr}.${signatureOf(secret, channel, expires, addr)}`;
}

/** Parse a token's fields; null when it is not one (too long, wrong shape). No cryptography here. */
export function parsePlaybackToken(text: string): TokenFields | null {
  if (text.length > MAX_TOKEN_LENGTH) return null;
  const first = text.indexOf('.');
  const last = text.lastIndexOf('.');
  if (first <= 0 || last === first) return null;
  const exp = text.slice(0, first);
  const ip = text.slice(first + 1, last);
  const signature = text.slice(last + 1);
  if (!/^\d{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{43}$/.test(signature)) return null;
  if (ip !== '' && (ip.length > 45 || !/^[0-9a-f.:]+$/.test(ip) || isIP(ip) === 0)) return null;
  return { expires: Number(exp), ip, signature };
}

export type TokenCheck = { ok: true; expires: number } | { ok: false; reason: string };

/**
 * Whether `token` opens `channel` for a viewer at `viewerIp` at `nowMs`: well formed, signed with `secret` for
 * this channel (compared in constant time), not expired, and, when it names an address, this viewer's.
 */
export function verifyPlaybackToken(secret: string, channel: string, token: string | undefined, viewerIp: string, nowMs: number): TokenCheck {
  if (token === undefined || token === '') return { ok: false, reason: `Channel '${channel}' is private: add ?token=<playback token> (POST /api/channels/${channel}/playback-tokens mints one).` };
  const f = parsePlaybackToken(token);
  if (!f) return { ok: false, reason: 'The playback token is malformed: expected <expires>.<ip or empty>.<43-character base64url signature>.' };
  const expected = Buffer.from(signatureOf(secret, channel, f.expires, f.ip));
  const given = Buffer.from(f.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: `The playback token is not valid for channel '${channel}'.` };
  if (f.expires * 1000 <= nowMs) return { ok: false, reason: `The playback token expired at ${new Date(f.expires * 1000).toISOString()}.` };
  if (f.ip !== '' && f.ip !== normaliseIp(viewerIp)) return { ok: false, reason: 'The playback token was issued for another viewer address.' };
  return { ok: true, expires: f.expires };
}

/** The token of a request's query (`?token=`); a repeated parameter counts as none. */
export function tokenOfQuery(query: unknown): string | undefined {
  if (query === null || typeof query !== 'object') return undefined;
  const t = (query as Record<string, unknown>).token;
  return typeof t === 'string' ? t : undefined;
}

/** `uri` with `token=<token>` added to its query (the token's characters need no escaping). */
export function withTokenQuery(uri: string, token: string): string {
  return `${uri}${uri.includes('?') ? '&' : '?'}token=${token}`;
}

/**
 * An HLS playlist (multivariant or media) whose every URI carries the token: URI lines and `URI="…"`
 * attributes (EXT-X-MEDIA, EXT-X-MAP, EXT-X-PART, EXT-X-PRELOAD-HINT, EXT-X-RENDITION-REPORT, …).
 * One pass over the text: the playlist itself is rendered once per snapshot, this per request.
 */
export function signPlaylist(text: string, token: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (line === '') return line;
      if (!line.startsWith('#')) return withTokenQuery(line, token);
      return line.includes('URI="') ? line.replace(/URI="([^"]*)"/g, (_m, uri: string) => `URI="${withTokenQuery(uri, token)}"`) : line;
    })
    .join('\n');
}

/** A DASH MPD whose segment templates (`media`, `initialization`) carry the token (`&amp;` inside XML). */
export function signMpd(xml: string, token: string): string {
  return xml.replace(/\b(media|initialization)="([^"]*)"/g, (_m, attr: string, uri: string) => `${attr}="${uri}${uri.includes('?') ? '&amp;' : '?'}token=${token}"`);
}

/** What access to a channel's media is decided on (a channel record's fields). */
export interface PlaybackPolicy {
  name: string;
  private?: boolean;
  playbackSecret?: string;
}

/**
 * Pure: null when the channel is public (no token to carry on); the request's token when it opens the private
 * channel; throws a 403 BeamError naming why not (missing, malformed, another channel's, expired, another address).
 */
export function playbackAccess(ch: PlaybackPolicy, query: unknown, viewerIp: string, nowMs: number): string | null {
  if (ch.private !== true) return null;
  // A private channel without a secret (the API never makes one) opens for nobody.
  if (!ch.playbackSecret) throw forbidden(`Channel '${ch.name}' is private and has no playback secret: make one with POST /api/channels/${ch.name}/playback-secret.`);
  const token = tokenOfQuery(query);
  const check = verifyPlaybackToken(ch.playbackSecret, ch.name, token, viewerIp, nowMs);
  if (!check.ok) throw forbidden(check.reason);
  return token as string;
}
