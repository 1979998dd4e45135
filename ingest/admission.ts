/**
 * The admission point's helpers: an SRT caller is accepted by the key gate (in libsrt's listen callback,
 * which never waits for JS, let alone a webhook), so its admission is asked right after; what it sends
 * meanwhile is held here, up to a bound, and handed to the publish session once admitted (or dropped with
 * the connection when refused). RTMP needs no holding: the publisher sends no media before its `publish`
 * is answered.
 */

import type { PeerAddress } from '../core/webhooks/bodies';
import type { PublishSource } from './session/types';

/** Most bytes held per caller while its admission is asked (2 s of a 30 Mbps stream is 7.5 MB). */
export const HOLD_MAX_BYTES = 16 * 1024 * 1024;

export interface HeldSource {
  /** The source for the publish session: what was held first, in order, then the data as it comes. */
  readonly source: PublishSource;
  /** The connection's close reason when it closed while held, else null. */
  closedReason(): string | null;
  /** Bytes dropped (the oldest) because more than the bound arrived while held. */
  droppedBytes(): number;
  /** Forget what is held (the publisher was refused). */
  release(): void;
}

/**
 * Hold what `src` sends until the publish session takes it. Over `maxBytes`, the oldest chunks go first (a
 * stream that starts later is still a stream; MPEG-TS resynchronises on its next packet).
 */
export function holdSource(src: PublishSource, maxBytes = HOLD_MAX_BYTES): HeldSource {
  let chunks: Buffer[] = [];
  let bytes = 0;
  let dropped = 0;
  let released = false;
  let closed: string | null = null;
  const dataSinks: ((chunk: Buffer) => void)[] = [];
  const closeSinks: ((reason: string) => void)[] = [];

  src.onData((chunk) => {
    if (dataSinks.length > 0) {
      for (const fn of dataSinks) fn(chunk);
      return;
    }
    if (released) return;
    chunks.push(chunk);
    bytes += chunk.length;
    while (bytes > maxBytes && chunks.length > 1) {
      const old = chunks.shift() as Buffer;
      bytes -= old.length;
      dropped += old.length;
    }
  });
  src.onClose((reason) => {
    closed ??= reason;
    for (const fn of closeSinks) fn(reason);
  });

  const source: PublishSource = {
    ...src,
    onData(fn) {
      const held = chunks;
      chunks = [];
      bytes = 0;
      for (const c of held) fn(c);
      dataSinks.push(fn);
    },
    onClose(fn) {
      closeSinks.push(fn);
      if (closed !== null) fn(closed);
    },
  };
  return {
    source,
    closedReason: () => closed,
    droppedBytes: () => dropped,
    release() {
      released = true;
      chunks = [];
      bytes = 0;
    },
  };
}

/** Pure: `address:port` (IPv4, or IPv6 without brackets as the listeners give it) as an address and a port. */
export function peerAddress(peer: string): PeerAddress {
  const i = peer.lastIndexOf(':');
  if (i <= 0) return { address: peer, port: 0 };
  const port = Number(peer.slice(i + 1));
  return { address: peer.slice(0, i), port: Number.isInteger(port) ? port : 0 };
}
