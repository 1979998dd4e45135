/**
 * What one RTMP peer may cost the server, as data and pure checks. Two sets of chunk-stream limits: small
 * ones until a `publish` is accepted (nothing about the peer is known yet), and ones sized for real video
 * after it. Connection limits are per address (IPv6 per /64, the block one host usually holds) and global.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { addressBucket } from '../../core/model/address-bucket';
import { MSG } from './messages';

/** Limits the chunk reader enforces; the connection swaps them when a publish is accepted or ends. */
export interface ReaderLimits {
  /** Largest message accepted (its declared length). */
  maxMessageBytes: number;
  /** Most chunk streams holding an unfinished message at once. */
  maxPartialMessages: number;
  /** Cap on the declared bytes of unfinished messages across chunk streams (memory is committed per declaration). */
  maxBufferedBytes: number;
  /** Most messages (complete or dropped) since the limits were set. */
  maxMessages: number;
  /** Most chunk-stream bytes since the limits were set. */
  maxBytes: number;
  /** Zero-length messages: all refused, or zero-length audio/video dropped (others refused). */
  emptyMessages: 'refuse' | 'drop-media';
}

export interface RtmpLimits {
  /** Until a publish is accepted (after the handshake: connect, createStream, publish and friends). */
  preAuth: ReaderLimits;
  /** While a publish is live. */
  published: ReaderLimits;
  /** Handshake + connect + publish must be done this long after the TCP accept (ms). */
  publishTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

/**
 * Pre-publish limits: ffmpeg sends 6 messages (about 600 bytes) before publish, OBS a few more; a
 * connect with a long tcUrl is still a few KiB. At most 64 KiB of partial messages per connection, so the
 * global connection limit (1000) bounds what unauthenticated peers can hold to about 64 MiB.
 */
export const PRE_AUTH_LIMITS: ReaderLimits = {
  maxMessageBytes: 64 * 1024,
  maxPartialMessages: 2,
  maxBufferedBytes: 64 * 1024,
  maxMessages: 64,
  maxBytes: 256 * 1024,
  emptyMessages: 'refuse',
};

/** Published limits for a given largest message (a key frame): audio, video, data and command may interleave. */
export function publishedLimits(maxMessageBytes: number): ReaderLimits {
  return {
    maxMessageBytes,
    maxPartialMessages: 8,
    maxBufferedBytes: 2 * maxMessageBytes,
    maxMessages: Number.POSITIVE_INFINITY,
    maxBytes: Number.POSITIVE_INFINITY,
    emptyMessages: 'drop-media',
  };
}

/** What the reader tracks against the limits. */
export interface ReaderUsage {
  /** Chunk streams with an unfinished message. */
  partial: number;
  /** Declared bytes of unfinished messages. */
  buffered: number;
  messages: number;
  bytes: number;
}

export type MessageStartVerdict = 'accept' | 'drop' | { violation: string };

/**
 * A message header has been read (its first chunk): may it be assembled? `drop` = a zero-length
 * message to skip without a trace; a violation closes the connection.
 */
export function checkMessageStart(limits: ReaderLimits, usage: ReaderUsage, msg: { typeId: number; length: number }): MessageStartVerdict {
  if (usage.messages >= limits.maxMessages) return { violation: `more than ${limits.maxMessages} messages before publish` };
  if (msg.length === 0) {
    const media = msg.typeId === MSG.audio || msg.typeId === MSG.video;
    if (limits.emptyMessages === 'drop-media' && media) return 'drop';
    return { violation: `zero-length message (type ${msg.typeId})` };
  }
  if (msg.length > limits.maxMessageBytes) {
    return { violation: `message of ${msg.length} bytes (type ${msg.typeId}) exceeds the ${limits.maxMessageBytes}-byte limit` };
  }
  if (usage.partial >= limits.maxPartialMessages) {
    return { violation: `more than ${limits.maxPartialMessages} chunk streams with unfinished messages` };
  }
  if (usage.buffered + msg.length > limits.maxBufferedBytes) {
    return { violation: `more than ${limits.maxBufferedBytes} bytes of unfinished messages across chunk streams` };
  }
  return 'accept';
}

/** Bytes received under the current limits: a violation when over. */
export function checkBytes(limits: ReaderLimits, bytes: number): string | null {
  return bytes > limits.maxBytes ? `more than ${limits.maxBytes} bytes before publish` : null;
}

/** Connection limits count per address bucket (core/model/address-bucket.ts). */
export { addressBucket };

/** May one more connection be accepted? `fromBucket`: connections already open from the same bucket. */
export function admitConnection(limits: Pick<RtmpLimits, 'maxConnections' | 'maxConnectionsPerAddress'>, open: { total: number; fromBucket: number }): string | null {
  if (open.total >= limits.maxConnections) return `too many connections (${limits.maxConnections})`;
  if (open.fromBucket >= limits.maxConnectionsPerAddress) return `too many connections from one address (${limits.maxConnectionsPerAddress})`;
  return null;
}

/** Pure: whether a connection's deadline passed. Publishing: no media for idleTimeoutMs; else: no publish by `publishBy`. */
export function idleVerdict(
  limits: { idleTimeoutMs: number; publishTimeoutMs: number },
  state: { media: { startedAt: number; lastMediaAt: number | null } | null; publishBy: number },
  now: number,
): { expired: string } | { waitMs: number } {
  const due = state.media ? (state.media.lastMediaAt ?? state.media.startedAt) + limits.idleTimeoutMs : state.publishBy;
  if (now >= due) {
    return { expired: state.media ? `no media for ${limits.idleTimeoutMs} ms` : `no publish within ${limits.publishTimeoutMs} ms` };
  }
  return { waitMs: Math.max(10, due - now) };
}
