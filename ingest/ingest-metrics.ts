/** Prometheus gauges of ingest health per channel, fed by publish-session diagnostics. */

import { Gauge, type Registry } from 'prom-client';
import type { IngestDiagnostics } from './ingest-stats';

export function createIngestMetrics(registry: Registry): (channel: string, d: IngestDiagnostics) => void {
  const g = (name: string, help: string) => new Gauge({ name, help, labelNames: ['channel'], registers: [registry] });
  const bitrate = g('beam_ingest_bitrate_kbps', 'Input bitrate of the channel, kbit/s');
  const fps = g('beam_ingest_fps', 'Input video frame rate');
  const keyint = g('beam_ingest_keyframe_interval_seconds', 'Longest recent keyframe interval (above 4 s: set the encoder to 2 s)');
  const bframes = g('beam_ingest_bframes', '1 when the input has B-frames');
  const rtt = g('beam_ingest_srt_rtt_ms', 'SRT round-trip time, ms');
  const loss = g('beam_ingest_srt_lost_packets', 'SRT packets lost since the publisher connected');
  const retrans = g('beam_ingest_srt_retransmitted_packets', 'SRT packets retransmitted since the publisher connected');
  const bytes = g('beam_ingest_bytes', 'Media bytes received in the current publish session');
  return (channel, d) => {
    bitrate.set({ channel }, d.bitrateKbps);
    fps.set({ channel }, d.fps);
    if (d.keyframeIntervalSeconds !== null) keyint.set({ channel }, d.keyframeIntervalSeconds);
    bframes.set({ channel }, d.bFrames ? 1 : 0);
    bytes.set({ channel }, d.bytes);
    if (d.srt) {
      rtt.set({ channel }, d.srt.rttMs);
      loss.set({ channel }, d.srt.lossPackets);
      retrans.set({ channel }, d.srt.retransmits);
    }
  };
}
