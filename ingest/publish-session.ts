/**
 * One publisher's session on a channel: bytes → demuxer (mpegts or flv) → [audio that is not AAC: the
 * audio converter, once, to AAC] → timestamp normaliser → segmenter → batched store writes, with the segment/part index and the channel's events written as
 * boundaries pass. Packets are flushed before the boundary that covers them is announced, so a reader
 * woken by `part:ready` always finds the part's packets.
 */

import { DEFAULT_PART_TARGET_SECONDS, type Channel } from '../core/model/channel';
import { AUDIO_STREAM, type ChannelEvent, type PartRecord, type SegmentRecord, TIMELINE_HZ, VIDEO_STREAM } from '../core/model/live';
import type { MediaPacket, Stream } from '../core/model/media';
import { packetMetaOf } from '../core/model/media';
import type { Store, PacketWrite } from '../core/store/store';
import type { LiveStore } from '../core/store/live-store';
import type { ChannelStore } from '../core/store/channel-store';
import { createDemuxer, type Demuxer } from './demuxer';
import { beginSession, createTimelineState, normalisePacket, parseTimeline, serialiseTimeline, type TimelineState } from './timeline';
import { createSegmenterState, segmenterFinish, segmenterStep, type SegmenterEvent, type SegmenterState } from './segmenter';
import { channelFormat, formatChanged, planStreams, type StreamPlan } from './channel-format';
import { createStatsState, recordPacket, snapshot, type IngestDiagnostics } from './ingest-stats';
import { createAudioToAac, type AudioToAac } from './audio-to-aac';
import { classifyStoreError, type StoreErrorKind } from './store-errors';

/** What a publish session needs of an SRT or RTMP connection. */
export interface PublishSource {
  protocol: 'srt' | 'rtmp';
  peer: string;
  format: 'mpegts' | 'flv';
  onData(fn: (chunk: Buffer) => void): void;
  onClose(fn: (reason: string) => void): void;
  close(reason: string): void;
  srtStats?(): IngestDiagnostics['srt'];
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
}

export const DEFAULT_SESSION_CONFIG: PublishSessionConfig = {
  segmentSeconds: 2,
  partSeconds: DEFAULT_PART_TARGET_SECONDS,
  flushMs: 50,
  maxBatch: 64,
  streamsTimeoutMs: 10000,
  statsIntervalMs: 2000,
};

export interface PublishSession {
  readonly channel: string;
  readonly protocol: 'srt' | 'rtmp';
  /** Runs until the publisher goes away or close() is called; resolves with the reason. */
  readonly done: Promise<string>;
  /**
   * Ends the session. With `discard` (the channel was deleted) nothing more is written under the channel's
   * keys: no final flush, no closing segment, no timeline, no event.
   */
  close(reason: string, opts?: { discard?: boolean }): void;
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
  const { store, live, channels, log } = deps;
  const now = deps.now ?? Date.now;
  const name = channel.name;
  const ttlMs = channel.dvrWindowSeconds * 1000;
  const connectedAt = new Date(now()).toISOString();
  const demuxer: Demuxer = createDemuxer({ format: source.format, log: { warn: (m, d) => log.warn({ channel: name, ...d }, m) } });
  let closeReason: string | null = null;
  let plan: StreamPlan | null = null;
  let audioConverter: AudioToAac | null = null;
  let stats = createStatsState(now());
  let latest: IngestDiagnostics | null = null;
  let discarded = false;

  /** Thrown at the next store write once the session is discarded: the run ends without writing. */
  class Discarded extends Error {}
  const writable = (): void => {
    if (discarded) throw new Discarded('discarded');
  };

  source.onData((chunk) => demuxer.push(chunk));
  source.onClose((reason) => {
    closeReason ??= reason;
    demuxer.end();
  });

  function close(reason: string, opts: { discard?: boolean } = {}): void {
    closeReason ??= reason;
    if (opts.discard) discarded = true;
    try {
      source.close(reason);
    } catch (err) {
      log.warn({ channel: name, err: (err as Error).message }, 'could not close the publisher connection');
    }
    void demuxer.close();
  }

  function storeFailed(err: unknown, what: string): void {
    const f = classifyStoreError(err);
    if (f.kind !== 'other') deps.onStoreError?.(f.kind);
    log.warn({ channel: name, err: err instanceof Error ? err.message : String(err), kind: f.kind }, what);
  }

  function publishStats(): void {
    if (!plan) return;
    latest = snapshot(stats, now(), {
      protocol: source.protocol, peer: source.peer, connectedAt, video: plan.video, audio: plan.audio, srt: source.srtStats?.(),
      ...(audioConverter ? { audioTranscode: { decodeErrors: audioConverter.stats().decodeErrors } } : {}),
    });
    deps.onStats?.(name, latest);
    if (discarded) return;
    channels.setIngestStats(name, latest as unknown as Record<string, unknown>).catch((err: unknown) => storeFailed(err, 'could not store ingest diagnostics'));
  }

  async function run(): Promise<string> {
    if (after) await after.catch(() => undefined);
    const streams = await withTimeout(demuxer.streams(), config.streamsTimeoutMs, `no media streams within ${config.streamsTimeoutMs / 1000} s`);
    const planned = planStreams(streams);
    if (!planned.ok) {
      close(planned.reason);
      return planned.reason;
    }
    plan = planned.plan;
    if (plan.audioTranscode) {
      const codec = String(plan.audioTranscode.codecpar.name);
      try {
        audioConverter = (deps.createAudioConverter ?? createAudioToAac)(plan.audioTranscode);
        log.info({ channel: name, codec, sampleRate: audioConverter.output.sampleRate, channels: audioConverter.output.channels }, `audio ${codec} → AAC`);
      } catch (err) {
        // Video still plays: the channel goes on without audio, and the operator reads why.
        const why = `audio stream ${plan.audioTranscode.index} (${codec}): cannot be transcoded to AAC (${(err as Error).message}), set the encoder to AAC`;
        log.warn({ channel: name, codec }, why);
        const map = new Map(plan.map);
        map.delete(plan.audioTranscode.index);
        plan = { ...plan, map, audio: null, audioTranscode: null };
      }
    }
    for (const why of plan.ignored) log.info({ channel: name }, `ignoring ${why}`);
    try {
      return await runPlanned(plan);
    } finally {
      audioConverter?.close();
    }
  }

  async function runPlanned(plan: StreamPlan): Promise<string> {
    const format = channelFormat(channel, plan, audioConverter?.stream);
    writable();
    const stored = await store.getFormat(name);
    const changed = !stored || formatChanged(stored, format);
    if (!stored) await store.createContent(format);
    else if (changed) await store.updateFormat(format);
    const events: ChannelEvent[] = [{ type: 'publisher:connected', protocol: source.protocol, peer: source.peer }];
    if (changed) events.push({ type: 'format:changed' });
    writable();
    await live.appendEvents(name, events);
    publishStats(); // codecs and size are known now: the dashboard need not wait for the first interval

    const saved = await live.getTimeline(name);
    let timeline: TimelineState = saved ? parseTimeline(saved) : createTimelineState(0);
    const timings = [{ index: VIDEO_STREAM, time_base: plan.video.time_base }];
    if (plan.audio) timings.push({ index: AUDIO_STREAM, time_base: (audioConverter?.stream ?? plan.audio).time_base });
    timeline = beginSession(timeline, timings);

    const last = (await live.lastSegments(name, 1))[0];
    let segmenter: SegmenterState = createSegmenterState({
      videoStreamIndex: 0,
      audioStreamIndex: plan.audio ? 1 : null,
      firstIndex: (last?.index ?? 0) + 1,
      targetDuration: Math.round(config.segmentSeconds * TIMELINE_HZ),
      partTarget: Math.round((channel.partTargetSeconds ?? config.partSeconds) * TIMELINE_HZ),
    });
    const open = new Map<number, SegmentRecord>();
    let discontinuitySequence = last?.discontinuitySequence ?? 0;
    let pending: PacketWrite[] = [];
    let lastFlush = now();
    /** End (pts) of the last announced part until an audio packet reaching it is written: players wait for it. */
    let audioAwaited: number | null = null;

    async function flush(): Promise<void> {
      writable();
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      lastFlush = now();
      await store.writePackets(name, batch, ttlMs);
    }

    async function boundaries(evs: SegmenterEvent[]): Promise<void> {
      const segments: SegmentRecord[] = [];
      const parts: PartRecord[] = [];
      const out: ChannelEvent[] = [];
      for (const e of evs) {
        if (e.type === 'segment:opened') {
          if (e.discontinuity) discontinuitySequence++;
          const rec: SegmentRecord = { index: e.index, startPts: e.startPts, startDts: e.startDts, durationPts: null, wallClockMs: e.wallClockMs, discontinuity: e.discontinuity, discontinuitySequence };
          open.set(e.index, rec);
          segments.push(rec);
          out.push({ type: 'segment:opened', segment: e.index, startPts: e.startPts, wallClockMs: e.wallClockMs, discontinuity: e.discontinuity });
        } else if (e.type === 'part:ready') {
          parts.push({ segment: e.segmentIndex, part: e.partIndex, startPts: e.startPts, startDts: e.startDts, durationPts: e.durationPts, independent: e.independent });
          if (plan.audio) audioAwaited = e.startPts + e.durationPts;
          out.push({ type: 'part:ready', segment: e.segmentIndex, part: e.partIndex, startPts: e.startPts, startDts: e.startDts, durationPts: e.durationPts, independent: e.independent });
        } else if (e.type === 'segment:closed') {
          const rec = open.get(e.index);
          open.delete(e.index);
          segments.push({
            index: e.index, startPts: e.startPts, startDts: rec?.startDts ?? e.startPts, durationPts: e.durationPts,
            wallClockMs: rec?.wallClockMs ?? now(), discontinuity: rec?.discontinuity ?? false, discontinuitySequence: rec?.discontinuitySequence ?? discontinuitySequence,
          });
          out.push({ type: 'segment:closed', segment: e.index, startPts: e.startPts, durationPts: e.durationPts });
        } else {
          out.push({ type: 'warning', message: e.message });
          log.warn({ channel: name }, e.message);
        }
      }
      writable();
      await live.writeBoundaries(name, { segments, parts, events: out, retainMs: ttlMs });
      if (deps.onSegmentOpened) {
        for (const e of evs) {
          if (e.type !== 'segment:opened') continue;
          deps.onSegmentOpened(channel, e.index).catch((err: Error) => log.warn({ channel: name, segment: e.index, err: err.message }, 'could not enqueue the segment for transcoding'));
        }
      }
    }

    /** One packet on its channel stream index: normalise, segment, batch the write, announce boundaries. */
    async function ingestPacket(input: MediaPacket): Promise<void> {
      const r = normalisePacket(timeline, input);
      timeline = r.state;
      const normalised = r.packet;
      if (!normalised) return;
      const step = segmenterStep(segmenter, normalised, now());
      segmenter = step.state;
      // A frame that came before the start the segmenter predicted for its part is moved to it.
      const p = step.shift ? { ...normalised, dts: normalised.dts + step.shift, pts: normalised.pts + step.shift } : normalised;
      recordPacket(stats, { streamIndex: p.streamIndex, pts: p.pts, dts: p.dts, keyframe: p.keyframe, size: p.data.length });
      if (step.placement === null) return; // before the first keyframe: nothing can play it
      const write: PacketWrite = { streamIndex: p.streamIndex, meta: packetMetaOf(p), data: p.data };
      if (step.events.length) {
        // Every boundary is announced after the packets it covers: what closed before this packet, once
        // the earlier packets are written; what this packet opened or completed, once it is written.
        await flush();
        const covered = step.events.slice(0, step.before);
        const after = step.events.slice(step.before);
        if (covered.length) await boundaries(covered);
        pending.push(write);
        if (after.length) {
          await flush();
          await boundaries(after);
        }
        return;
      }
      pending.push(write);
      // The audio that completes the newest part is written at once (the packager waits for it), the rest in batches.
      const completesPart = audioAwaited !== null && p.streamIndex === AUDIO_STREAM && p.pts + p.duration >= audioAwaited;
      if (completesPart) audioAwaited = null;
      if (completesPart || pending.length >= config.maxBatch || now() - lastFlush >= config.flushMs) await flush();
    }

    const converter = audioConverter;
    const statsTimer = setInterval(publishStats, config.statsIntervalMs);
    statsTimer.unref();
    try {
      for await (const raw of demuxer.packets()) {
        const index = plan.map.get(raw.streamIndex);
        if (index === undefined) continue;
        if (index === AUDIO_STREAM && converter) {
          for (const aac of await converter.push(raw)) await ingestPacket({ ...aac, streamIndex: AUDIO_STREAM });
          continue;
        }
        await ingestPacket({ ...raw, streamIndex: index });
      }
    } finally {
      clearInterval(statsTimer);
      // The publisher is gone (or the session was closed): close the open segment and save the timeline,
      // unless the channel was deleted. A failure here (Redis down) ends the session with that reason.
      if (!discarded) await finish();
    }
    return closeReason ?? 'publisher ended the stream';

    async function finish(): Promise<void> {
      if (converter) {
        try {
          for (const aac of await converter.flush()) await ingestPacket({ ...aac, streamIndex: AUDIO_STREAM });
        } catch (err) {
          log.warn({ channel: name, err: (err as Error).message }, 'could not drain the audio converter');
        }
      }
      const fin = segmenterFinish(segmenter);
      await flush();
      if (fin.events.length) await boundaries(fin.events);
      writable();
      await live.setTimeline(name, serialiseTimeline(timeline), Math.max(ttlMs, 24 * 3600 * 1000));
      publishStats();
    }
  }

  const done = run()
    .catch((err: unknown) => {
      if (err instanceof Discarded || discarded) return closeReason ?? 'the channel was deleted';
      const f = classifyStoreError(err);
      if (f.kind !== 'other') {
        // Redis refused a write or went away: end this publish (the encoder's reconnect gets in once Redis is back).
        deps.onStoreError?.(f.kind);
        closeReason = `ingest stopped: ${f.reason}`;
      }
      const reason = closeReason ?? `ingest failed: ${err instanceof Error ? err.message : String(err)}`;
      log.warn({ channel: name, err: err instanceof Error ? err.message : String(err) }, 'publish session ended with an error');
      return reason;
    })
    .then(async (reason) => {
      try {
        source.close(reason);
      } catch (err) {
        log.warn({ channel: name, err: (err as Error).message }, 'could not close the publisher connection');
      }
      await demuxer.close().catch(() => undefined);
      if (!discarded) await live.appendEvents(name, [{ type: 'publisher:disconnected', reason }]).catch(() => undefined);
      return reason;
    });

  return {
    channel: name,
    protocol: source.protocol,
    done,
    close,
    diagnostics: () => latest,
  };
}
