/**
 * One publisher's session on a channel: bytes → demuxer (mpegts or flv) → [audio that is not AAC: the
 * audio converter, once, to AAC] → timestamp normaliser → segmenter → batched store writes, with the segment/part index and the channel's events written as
 * boundaries pass. Packets are flushed before the boundary that covers them is announced, so a reader
 * woken by `part:ready` always finds the part's packets.
 *
 * This file starts and closes a session; the pieces live in session/: the planned run (planned-run.ts),
 * timeline and segment writing (segment-writer.ts, boundary-records.ts) and diagnostics (session-stats.ts).
 * A session ends with a pipeline fault (end-faults.ts): the human reason and its code.
 */

import type { Channel } from '../core/model/channel';
import { fault, type PipelineFault } from '../core/model/pipeline-errors';
import { createChannelLease } from './session/channel-lease';
import { newHolderId } from '../core/store/holder-id';
import { createDemuxer, type Demuxer } from './demuxer';
import { numberExtraAudio, planStreams, streamMap, type ExtraAudio, type StreamPlan } from './channel-format';
import type { IngestDiagnostics } from './ingest-stats';
import { createAudioToAac, type AudioToAac } from './audio-to-aac';
import { classifyStoreError } from './store-errors';
import { failedFault, sourceEndFault, storeEndFault } from './end-faults';
import { createSessionStats } from './session/session-stats';
import { runPlanned } from './session/planned-run';
import type { PublishSessionConfig, PublishSessionDeps, PublishSource, SessionLog } from './session/types';

export { DEFAULT_SESSION_CONFIG } from './session/types';
export type { PublishSessionConfig, PublishSessionDeps, PublishSource, SessionLog };

export interface PublishSession {
  readonly channel: string;
  readonly protocol: 'srt' | 'rtmp' | 'whip';
  /** Runs until the publisher goes away or close() is called; resolves with how it ended. */
  readonly done: Promise<PipelineFault>;
  /**
   * Ends the session with `reason` (the first reason given wins). With `discard` (the channel was deleted)
   * nothing more is written under the channel's keys: no final flush, no closing segment, no timeline, no event.
   */
  close(reason: PipelineFault, opts?: { discard?: boolean }): void;
  diagnostics(): IngestDiagnostics | null;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(what)), ms);
    }),
  ]);
}

/** Thrown at the next store write once the session is discarded: the run ends without writing. */
class Discarded extends Error {}

/** The audio plan once the converter is made; a converter that cannot be made drops the audio (video still plays). */
function withAudioConverter(deps: PublishSessionDeps, name: string, plan: StreamPlan): { plan: StreamPlan; converter: AudioToAac | null } {
  if (!plan.audioTranscode) return { plan, converter: null };
  const codec = String(plan.audioTranscode.codecpar.name);
  try {
    const converter = (deps.createAudioConverter ?? createAudioToAac)(plan.audioTranscode);
    deps.log.info({ channel: name, codec, sampleRate: converter.output.sampleRate, channels: converter.output.channels }, `audio ${codec} → AAC`);
    return { plan, converter };
  } catch (err) {
    // The channel goes on without audio, and the operator reads why.
    const why = `audio stream ${plan.audioTranscode.index} (${codec}): cannot be transcoded to AAC (${(err as Error).message}), set the encoder to AAC`;
    deps.log.warn({ channel: name, codec }, why);
    // Without a main track there are no extra ones either (the first is the channel's audio).
    const next = { ...plan, audio: null, audioTranscode: null, extraAudio: [] };
    return { plan: { ...next, map: streamMap(next) }, converter: null };
  }
}

/**
 * Converters for the extra audio tracks that are not AAC (channel stream index → converter); a track whose
 * converter cannot be made is dropped (the others, renumbered, go on) with a log line.
 */
function withExtraConverters(deps: PublishSessionDeps, name: string, plan: StreamPlan): { plan: StreamPlan; extra: Map<number, AudioToAac> } {
  if (!plan.extraAudio.some((e) => e.transcode)) return { plan, extra: new Map() };
  const kept: { e: ExtraAudio; converter: AudioToAac | null }[] = [];
  for (const e of plan.extraAudio) {
    if (!e.transcode) {
      kept.push({ e, converter: null });
      continue;
    }
    const codec = String(e.input.codecpar.name);
    try {
      kept.push({ e, converter: (deps.createAudioConverter ?? createAudioToAac)(e.input) });
      deps.log.info({ channel: name, codec, track: e.input.index }, `audio track ${e.input.index}: ${codec} → AAC`);
    } catch (err) {
      deps.log.warn({ channel: name, codec }, `audio track ${e.input.index} (${codec}): cannot be transcoded to AAC (${(err as Error).message}); the channel goes on without it`);
    }
  }
  const extraAudio = numberExtraAudio(kept.map((k) => ({ input: k.e.input, transcode: k.e.transcode })));
  const extra = new Map<number, AudioToAac>();
  kept.forEach((k, i) => {
    if (k.converter) extra.set((extraAudio[i] as ExtraAudio).index, k.converter);
  });
  const next = { ...plan, extraAudio };
  return { plan: { ...next, map: streamMap(next) }, extra };
}

/**
 * Start a session. `after` is the session it replaces: its final writes (closing its open segment, saving the
 * timeline) must land before this one reads the channel's state, so this one waits for it; bytes arriving
 * meanwhile are buffered by the demuxer.
 */
export function startPublishSession(
  deps: PublishSessionDeps,
  config: PublishSessionConfig,
  channel: Channel,
  source: PublishSource,
  after?: Promise<unknown>,
): PublishSession {
  const { live, channels, log } = deps;
  const now = deps.now ?? Date.now;
  const name = channel.name;
  const demuxer: Demuxer = createDemuxer({ format: source.format, log: { warn: (m, d) => log.warn({ channel: name, ...d }, m) } });
  let ended: PipelineFault | null = null;
  let discarded = false;
  let plan: StreamPlan | null = null;
  let converter: AudioToAac | null = null;

  const writable = (): void => {
    if (discarded) throw new Discarded('discarded');
  };

  function storeFailed(err: unknown, what: string): void {
    const f = classifyStoreError(err);
    if (f.kind !== 'other') deps.onStoreError?.(f.kind);
    log.warn({ channel: name, err: err instanceof Error ? err.message : String(err), kind: f.kind }, what);
  }

  const stats = createSessionStats({ channel: name, source, channels, now, onStats: deps.onStats, discarded: () => discarded, storeFailed });

  source.onData((chunk) => demuxer.push(chunk));
  source.onClose((reason) => {
    ended ??= sourceEndFault(source.protocol, reason);
    demuxer.end();
  });

  function closeSource(reason: PipelineFault): void {
    try {
      source.close(reason.message);
    } catch (err) {
      log.warn({ channel: name, err: (err as Error).message }, 'could not close the publisher connection');
    }
  }

  function close(reason: PipelineFault, opts: { discard?: boolean } = {}): void {
    ended ??= reason;
    if (opts.discard) discarded = true;
    closeSource(reason);
    void demuxer.close();
  }

  async function run(): Promise<PipelineFault> {
    if (after) await after.catch(() => undefined);
    const streams = await withTimeout(demuxer.streams(), config.streamsTimeoutMs, `no media streams within ${config.streamsTimeoutMs / 1000} s`);
    const planned = planStreams(streams);
    if (!planned.ok) {
      const refused = fault('INGEST_FAILED', planned.reason);
      close(refused);
      return refused;
    }
    // One publisher per channel across every ingest process: hold the channel's lease while writing.
    const lease = createChannelLease(
      { live, log, onLost: (f) => close(f), now },
      { channel: name, holder: newHolderId('publish'), ttlMs: config.leaseTtlMs },
    );
    await lease.acquire();
    try {
      if (ended) return ended; // the publisher left (or the session was closed) while waiting for the lease
      ({ plan, converter } = withAudioConverter(deps, name, planned.plan));
      let extraConverters = new Map<number, AudioToAac>();
      ({ plan, extra: extraConverters } = withExtraConverters(deps, name, plan));
      for (const why of plan.ignored) log.info({ channel: name }, `ignoring ${why}`);
      try {
        await runPlanned({ deps, config, channel, source, demuxer, converter, extraConverters, stats, now, writable, discarded: () => discarded, holder: lease.holder }, plan);
      } finally {
        converter?.close();
        for (const c of extraConverters.values()) c.close();
      }
    } finally {
      await lease.release();
    }
    return ended ?? fault('INGEST_ENDED');
  }

  /** How a run that threw ended: the deletion, Redis refusing or gone, or a failure. */
  function endOfError(err: unknown): PipelineFault {
    if (err instanceof Discarded || discarded) return ended ?? fault('INGEST_CHANNEL_DELETED');
    const f = classifyStoreError(err);
    if (f.kind !== 'other') {
      // Redis refused a write or went away: end this publish (the encoder's reconnect gets in once Redis is back).
      deps.onStoreError?.(f.kind);
      ended = storeEndFault(f);
    }
    log.warn({ channel: name, err: err instanceof Error ? err.message : String(err) }, 'publish session ended with an error');
    return ended ?? failedFault(err);
  }

  const done = run()
    .catch(endOfError)
    .then(async (reason) => {
      closeSource(reason);
      await demuxer.close().catch(() => undefined);
      if (!discarded) await live.appendEvents(name, [{ type: 'publisher:disconnected', reason: reason.message }]).catch(() => undefined);
      return reason;
    });

  return {
    channel: name,
    protocol: source.protocol,
    done,
    close,
    diagnostics: () => stats.latest(),
  };
}
