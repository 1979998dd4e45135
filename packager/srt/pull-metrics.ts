/**
 * SRT pull metrics, registered on the registry the composition root passes in (one SRT pull per process).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface SrtPullMetrics {
  readers: Gauge<string>;
  feeds: Gauge<string>;
  bytes: Counter<string>;
  dropped: Counter<'reason'>;
}

export function createSrtPullMetrics(registry: Registry): SrtPullMetrics {
  const registers = [registry];
  return {
    readers: new Gauge({ name: 'beam_srt_readers', help: 'SRT readers (m=request) being sent a channel', registers }),
    feeds: new Gauge({ name: 'beam_srt_reader_feeds', help: 'Channel renditions muxed for SRT readers (one per channel and rung, shared by its readers)', registers }),
    bytes: new Counter({ name: 'beam_srt_reader_bytes_total', help: 'MPEG-TS bytes handed to SRT readers (every reader counted)', registers }),
    dropped: new Counter({ name: 'beam_srt_readers_dropped_total', help: 'SRT readers closed by the server, by reason (slow: its send buffer was full; limit: over the readers a process serves)', labelNames: ['reason'], registers }),
  };
}
