/** Prometheus gauges of ingest health per channel, fed by publish-session diagnostics. */

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { IngestDiagnostics } from './ingest-stats';

export interface IngestMetrics {
  /** The registry these metrics are in: the ingest role's fault reporter counts `beam_pipeline_errors_total` there too. */
  readonly registry?: Registry;
  stats(channel: string, d: IngestDiagnostics): void;
  connected(channel: string, protocol: string, reconnect: boolean): void;
  refused(protocol: string, reason: string): void;
  /** A Redis write or read ingest needed failed; kind: oom | readonly | connection | other. */
  storeError(kind: string): void;
  /** An LL-HLS part was announced `seconds` after its first frame reached the segmenter. */
  partReady(seconds: number): void;
  /** A channel with redundant publishers switched its on-air input (reason: ingest/redundancy.ts SwitchReason). */
  backupSwitch(channel: string, reason: string): void;
}

/**
 * Buckets of `beam_part_ready_delay_seconds`: a part's first frame to its announcement is the part's own
 * duration (0.1-1 s, less one frame) plus ingest's work, so they are fine around the usual part targets.
 */
export const PART_READY_BUCKETS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 5];

/** Refusal reasons as a small label set (never the raw text, which can carry a client's input). */
export function refusalLabel(reason: string): string {
  // First: the webhook's own words follow this prefix and may say anything.
  if (/^(refused by the admission webhook|the admission webhook)/.test(reason)) return 'webhook';
  if (/unknown stream key|does not belong/.test(reason)) return 'bad-key';
  // SRT readers (m=request): no such channel or rung to read (or readers not served), a private channel's token.
  if (/readable over SRT|has no rendition/.test(reason)) return 'not-readable';
  if (/playback token/.test(reason)) return 'bad-token';
  if (/m=request|playback/.test(reason)) return 'bad-mode';
  if (/application/.test(reason)) return 'bad-app';
  return 'bad-request';
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  const g = (name: string, help: string) => new Gauge({ name, help, labelNames: ['channel'], registers: [registry] });
  const bitrate = g('beam_ingest_bitrate_kbps', 'Input bitrate of the channel, kbit/s');
  const fps = g('beam_ingest_fps', 'Input video frame rate');
  const keyint = g('beam_ingest_keyframe_interval_seconds', 'Longest recent keyframe interval (above 4 s: set the encoder to 2 s)');
  const bframes = g('beam_ingest_bframes', '1 when the input has B-frames');
  const rtt = g('beam_ingest_srt_rtt_ms', 'SRT round-trip time, ms');
  const loss = g('beam_ingest_srt_lost_packets', 'SRT packets lost since the publisher connected');
  const retrans = g('beam_ingest_srt_retransmitted_packets', 'SRT packets retransmitted since the publisher connected');
  const bytes = g('beam_ingest_bytes', 'Media bytes received in the current publish session');
  const audioTranscoded = g('beam_ingest_audio_transcoded', '1 when the channel\'s source audio is not AAC and is transcoded to AAC at ingest');
  const connects = new Counter({ name: 'beam_ingest_publisher_connects_total', help: 'Publishers accepted, by channel and protocol', labelNames: ['channel', 'protocol'], registers: [registry] });
  const reconnects = new Counter({ name: 'beam_ingest_reconnects_total', help: 'Publishers that came back within the reconnect window or replaced a session', labelNames: ['channel'], registers: [registry] });
  const refusals = new Counter({ name: 'beam_ingest_refusals_total', help: 'Publishers refused before any media was accepted, by protocol and reason', labelNames: ['protocol', 'reason'], registers: [registry] });
  const partReady = new Histogram({
    name: 'beam_part_ready_delay_seconds',
    help: 'LL-HLS part announced (part:ready written) after its first frame reached the segmenter, seconds: the part duration plus ingest\'s delay',
    buckets: PART_READY_BUCKETS,
    registers: [registry],
  });
  const storeErrors = new Counter({ name: 'beam_ingest_store_errors_total', help: 'Redis calls of ingest that failed (a publish ends on one), by kind: oom, readonly, connection, other', labelNames: ['reason'], registers: [registry] });
  const switches = new Counter({ name: 'beam_backup_switches_total', help: 'On-air input switches of channels with redundant publishers, by channel and reason (primary-disconnected, primary-stalled, primary-lost-video, primary-restored, backup-disconnected, backup-stalled, backup-lost-video)', labelNames: ['channel', 'reason'], registers: [registry] });
  const stats = (channel: string, d: IngestDiagnostics) => {
    bitrate.set({ channel }, d.bitrateKbps);
    fps.set({ channel }, d.fps);
    if (d.keyframeIntervalSeconds !== null) keyint.set({ channel }, d.keyframeIntervalSeconds);
    bframes.set({ channel }, d.bFrames ? 1 : 0);
    bytes.set({ channel }, d.bytes);
    audioTranscoded.set({ channel }, d.audioTranscoded ? 1 : 0);
    if (d.srt) {
      rtt.set({ channel }, d.srt.rttMs);
      loss.set({ channel }, d.srt.lossPackets);
      retrans.set({ channel }, d.srt.retransmits);
    }
  };
  return {
    registry,
    stats,
    connected(channel, protocol, reconnect) {
      connects.inc({ channel, protocol });
      if (reconnect) reconnects.inc({ channel });
    },
    refused(protocol, reason) {
      refusals.inc({ protocol, reason: refusalLabel(reason) });
    },
    storeError(kind) {
      storeErrors.inc({ reason: kind });
    },
    partReady(seconds) {
      partReady.observe(seconds);
    },
    backupSwitch(channel, reason) {
      switches.inc({ channel, reason });
    },
  };
}
