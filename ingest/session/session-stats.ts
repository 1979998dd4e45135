/**
 * A publish session's diagnostics: packets are counted as they pass, and a snapshot is published (metrics,
 * and the channel's stored ingest stats unless the session was discarded) on the stats beat and at the edges.
 */

import type { Channel } from '../../core/model/channel';
import type { ChannelStore } from '../../core/store/channel-store';
import type { AudioToAac } from '../audio-to-aac';
import type { StreamPlan } from '../channel-format';
import { createStatsState, recordPacket, snapshot, type IngestDiagnostics } from '../ingest-stats';
import type { PublishSource } from './types';

export interface SessionStatsDeps {
  channel: Channel['name'];
  source: PublishSource;
  channels: Pick<ChannelStore, 'setIngestStats'>;
  now: () => number;
  onStats?: (channel: string, d: IngestDiagnostics) => void;
  /** Whether the channel's keys must no longer be written (it was deleted). */
  discarded: () => boolean;
  storeFailed: (err: unknown, what: string) => void;
}

export interface SessionStats {
  record(p: { streamIndex: number; pts: number; dts: number; keyframe: boolean; size: number }): void;
  /** Publishes a snapshot once the streams are planned (no-op before). */
  publish(plan: StreamPlan | null, converter: AudioToAac | null): void;
  latest(): IngestDiagnostics | null;
}

export function createSessionStats(deps: SessionStatsDeps): SessionStats {
  const { now, source } = deps;
  const connectedAt = new Date(now()).toISOString();
  const stats = createStatsState(now());
  let latest: IngestDiagnostics | null = null;
  return {
    record: (p) => void recordPacket(stats, p),
    publish(plan, converter) {
      if (!plan) return;
      latest = snapshot(stats, now(), {
        protocol: source.protocol, peer: source.peer, connectedAt, video: plan.video, audio: plan.audio, srt: source.srtStats?.(), ...(source.rtpStats ? { rtp: source.rtpStats() } : {}),
        ...(converter ? { audioTranscode: { decodeErrors: converter.stats().decodeErrors } } : {}),
      });
      deps.onStats?.(deps.channel, latest);
      if (deps.discarded()) return;
      deps.channels.setIngestStats(deps.channel, latest as unknown as Record<string, unknown>).catch((err: unknown) => deps.storeFailed(err, 'could not store ingest diagnostics'));
    },
    latest: () => latest,
  };
}
