/** What a publish session is made of and configured with (re-exported by publish-session.ts). */

import { DEFAULT_PART_TARGET_SECONDS, type Channel } from '../../core/model/channel';
import type { Stream } from '../../core/model/media';
import type { Store } from '../../core/store/store';
import type { LiveStore } from '../../core/store/live-store';
import type { ChannelStore } from '../../core/store/channel-store';
import type { AudioToAac } from '../audio-to-aac';
import type { IngestDiagnostics } from '../ingest-stats';
import type { StoreErrorKind } from '../store-errors';

/** What a publish session needs of an SRT or RTMP connection. */
export interface PublishSource {
  protocol: 'srt' | 'rtmp' | 'whip';
  peer: string;
  format: 'mpegts' | 'flv';
  onData(fn: (chunk: Buffer) => void): void;
  /** The connection closed by itself; `reason` is its protocol layer's text (end-faults.ts sourceEndFault). */
  onClose(fn: (reason: string) => void): void;
  close(reason: string): void;
  srtStats?(): IngestDiagnostics['srt'];
  rtpStats?(): IngestDiagnostics['rtp'];
}

export interface SessionLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PublishSessionDeps {
  store: Store;
  live: LiveStore;
  channels: ChannelStore;
  log: SessionLog;
  /** Called with each diagnostics snapshot (metrics). */
  onStats?: (channel: string, d: IngestDiagnostics) => void;
  /** Called once a segment's opening is recorded (the transcoders' queue: one job per channel segment). */
  onSegmentOpened?: (channel: Channel, segment: number) => Promise<unknown>;
  /** Makes the converter for audio that is not AAC (default: FFmpeg's decoder and native AAC encoder). */
  createAudioConverter?: (input: Stream) => AudioToAac;
  /** A store call failed because Redis refused it or could not be reached (metrics). */
  onStoreError?: (kind: StoreErrorKind) => void;
  /** Packets the store refused (they would land in a closed segment): counted, the publish goes on. */
  onPacketsRefused?: (channel: string, count: number) => void;
  /** A write waits for Redis to come back (true), or the wait is over (false). */
  onOutage?: (channel: string, waiting: boolean) => void;
  /** An LL-HLS part was announced `delayMs` after its first frame reached the segmenter (metrics). */
  onPartReady?: (channel: string, delayMs: number) => void;
  now?: () => number;
}

export interface PublishSessionConfig {
  segmentSeconds: number;
  /** LL-HLS part target of channels that set none (`partTargetSeconds`), seconds (BEAM_PART_TARGET). */
  partSeconds: number;
  /** Longest time packets wait before a batch write, ms. */
  flushMs: number;
  /** Most packets in one batch. */
  maxBatch: number;
  /** A publisher that sends no streams within this time is dropped, ms. */
  streamsTimeoutMs: number;
  statsIntervalMs: number;
  /** The channel lease's time-to-live, ms (BEAM_INGEST_LEASE_TTL). */
  leaseTtlMs: number;
  /** How long writes are retried while Redis is unreachable or failing over, ms (BEAM_INGEST_OUTAGE_HOLD). */
  outageHoldMs: number;
}

export const DEFAULT_SESSION_CONFIG: PublishSessionConfig = {
  segmentSeconds: 2,
  partSeconds: DEFAULT_PART_TARGET_SECONDS,
  flushMs: 50,
  maxBatch: 64,
  streamsTimeoutMs: 10000,
  statsIntervalMs: 2000,
  leaseTtlMs: 6000,
  outageHoldMs: 30000,
};
