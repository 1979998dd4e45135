/**
 * Loads Beamline's libsrt binding (ingest/srt/native, built by infra/setup.sh with node-gyp) and
 * declares the narrow interface the TypeScript side uses. The compiled JS lives in dist/ingest/srt/,
 * so the .node file is found from the project root (the nearest folder with a package.json).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { join } from 'node:path';
import { requireNativeAddon } from '../../core/native-addon';

/** Per-session counters from srt_bistats (instantaneous rates, totals since the connection began). */
export interface SrtStats {
  rttMs: number;
  recvRateMbps: number;
  bandwidthMbps: number;
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  packetsRetransmitted: number;
  packetsDropped: number;
  packetsUndecrypted: number;
  latencyMs: number;
  receiveBufferMs: number;
  uptimeMs: number;
  /** Bytes Beamline dropped because the JS side did not keep up (not a network loss). */
  droppedBytes: number;
  /** Sender side (readers, m=request): rate, totals, losses the receiver reported, retransmissions, too-late drops. */
  sendRateMbps: number;
  bytesSent: number;
  packetsSent: number;
  packetsSendLost: number;
  packetsSendRetransmitted: number;
  packetsSendDropped: number;
  /** Sent and not yet acknowledged, in bytes and in ms of stream. */
  sendBufferBytes: number;
  sendBufferMs: number;
  /** The latency negotiated with the reader (the larger of its own and the listener's). */
  peerLatencyMs: number;
}

export type LibsrtLogLevel = 'critical' | 'error' | 'warning' | 'notice' | 'debug';

export interface NativeListenerOptions {
  host: string;
  port: number;
  latencyMs?: number;
  peerIdleTimeoutMs?: number;
  batchBytes?: number;
  batchMs?: number;
  maxQueuedMiB?: number;
  /** A reader with more bytes sent and not yet acknowledged than this is slow (default 8 MiB). */
  readerBufferBytes?: number;
  logLevel?: LibsrtLogLevel;
}

/**
 * ('session', id, streamId, address, port, channel, mode, rung) | ('data', id, Buffer) | ('closed', id, reason)
 * | ('refused', id, streamId, address, port, code, reason) | ('shutdown')
 */
export type NativeEventHandler = (
  type: string, id?: number, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown,
) => void;

/** What the streamid parser in C++ (the gate's) makes of a streamid; compared with parseStreamId in a unit test. */
export type NativeParsedStreamId = { ok: true; mode: 'publish' | 'request'; channel?: string; key: string; rung?: string } | { ok: false };

/** Sent; slow (over its buffer bound, nothing queued: close it); gone (closed meanwhile). */
export type NativeSendResult = 'sent' | 'slow' | 'gone';

export interface NativeListener {
  /** Binds and listens; returns the bound port. Throws on failure. */
  start(): number;
  /** Asks the receive thread to stop; true when a 'shutdown' event will follow. */
  stop(): boolean;
  /** Joins the receive thread and releases the callbacks. Idempotent. */
  finish(): void;
  closeSession(id: number, reason: string): boolean;
  stats(id: number): SrtStats | null;
  sessionIds(): number[];
  /** The key snapshot the listen callback decides from: replace it whole, or change one key. */
  setKeys(rows: [key: string, channel: string, passphrase: string | undefined][]): void;
  upsertKey(key: string, channel: string, passphrase?: string): void;
  deleteKey(key: string): void;
  keyCount(): number;
  /** To a reader (m=request): non-blocking, cut into 1316-byte live-mode messages. */
  send(id: number, data: Buffer): NativeSendResult;
  /** What readers may read: by channel, its rungs and its playback token (undefined: public). */
  /** token: a fixed string the reader must give as s=, or true: any non-empty s= (a signed token checked in JS). */
  setReadable(rows: [channel: string, rungs: string[], token: string | boolean | undefined][]): void;
  upsertReadable(channel: string, rungs: string[], token?: string | boolean): void;
  deleteReadable(channel: string): void;
}

export interface SrtBinding {
  SrtListener: new (options: NativeListenerOptions, onEvent: NativeEventHandler) => NativeListener;
  parseStreamId(streamId: string): NativeParsedStreamId;
  version: string;
}

export const SRT_ADDON_RELATIVE_PATH = join('ingest', 'srt', 'native', 'build', 'Release', 'beamline_srt.node');

export function loadSrtBinding(from: string = __dirname): SrtBinding {
  return requireNativeAddon(SRT_ADDON_RELATIVE_PATH, 'the SRT native addon', 'the Debian package libsrt-gnutls-dev and build-essential', from).addon as SrtBinding;
}
