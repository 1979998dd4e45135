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
import { createChannelLease, type ChannelLease } from './session/channel-lease';
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
import type { MediaPacket } from '../core/model/media';
import { VIDEO_STREAM } from '../core/model/live';

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
  /** Whether the session writes the channel now (false: standby, a redundant input waiting, ingest/redundancy.ts). */
  onAir(): boolean;
  /**
   * A standby session goes on air once `after` settled (the writer it follows finished): it takes the lease and
   * continues the channel from the newest keyframe it holds. No-op when on air.
   */
  promote(after?: Promise<unknown>): void;
  /**
   * An on-air session stops writing (closing its open segment, saving the timeline, releasing the lease) and
   * waits in standby. Resolves once those writes are done (at once when in standby or ended).
   */
  demote(): Promise<void>;
}

/** Options of a redundant input's session. */
export interface SessionRole {
  /** Start in standby: demux and keep the newest GOP, write nothing until promoted. */
  standby?: boolean;
  /** Every demuxed packet the plan keeps, once the streams are planned (its health, redundancy.ts). */
  onMedia?: (video: boolean) => void;
  /**
   * A backup input: it takes the channel's lease only when free, never asking its holder to give it up (a primary
   * publishing through another ingest process keeps the channel); meanwhile it waits in standby.
   */
  polite?: boolean;
  /** The session took the channel's lease and starts writing (each time it goes on air). */
  onWriting?: () => void;
}

/** How often a polite (backup) session tries the channel's lease while another process holds it, ms. */
const POLITE_RETRY_MS = 250;

/** Bounds of the GOP a standby session keeps (beyond either it keeps nothing until the next keyframe). */
export const STANDBY_GOP_MAX_PACKETS = 4096;
export const STANDBY_GOP_MAX_BYTES = 32 * 1024 * 1024;

/**
 * Races promises, one at a time, against one long-lived `signal` that is subscribed to once. A `Promise.race` with
 * a promise that stays pending adds a reaction to it on every call, kept until it settles: raced per packet against
 * a session's stop, that was 520 bytes per packet (~150 MB per on-air hour of a 6 Mbps channel), all of it marked
 * again by every full garbage collection (issue 15).
 */
export function signalRace(signal: Promise<unknown>): { fired: () => boolean; race: (p: Promise<unknown>) => Promise<'settled' | 'signal'> } {
  let fired = false;
  let wake: (() => void) | null = null;
  const fire = (): void => {
    fired = true;
    wake?.();
  };
  void signal.then(fire, fire);
  return {
    fired: () => fired,
    race(p) {
      if (fired) return Promise.resolve('signal');
      return new Promise<'settled' | 'signal'>((resolve) => {
        const done = (v: 'settled' | 'signal'): void => {
          wake = null;
          resolve(v);
        };
        wake = () => done('signal');
        p.then(() => done('settled'), () => done('settled'));
      });
    },
  };
}

/**
 * The demuxer's packets, consumed by one pump: in standby the newest GOP (from a video keyframe) is kept,
 * bounded; on air they are handed out, the kept GOP first, until `stop` settles or the packets end.
 */
export function createPacketFeed(packets: AsyncIterable<MediaPacket>, isVideo: (p: MediaPacket) => boolean | null, onPacket: (p: MediaPacket, video: boolean) => void) {
  const it = packets[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<MediaPacket>> | null = null;
  let gop: MediaPacket[] = [];
  let gopBytes = 0;
  let ended = false;
  const next = (): Promise<IteratorResult<MediaPacket>> => (pending ??= it.next());
  /** The packet that came (the plan keeps it), 'skip' (it does not), or null once they end. Called once next() settled. */
  async function take(): Promise<MediaPacket | 'skip' | null> {
    const r = await next();
    pending = null;
    if (r.done) {
      ended = true;
      return null;
    }
    const video = isVideo(r.value);
    if (video === null) return 'skip';
    onPacket(r.value, video);
    return r.value;
  }
  function keep(p: MediaPacket): void {
    if (isVideo(p) && p.keyframe) {
      gop = [];
      gopBytes = 0;
    } else if (gop.length === 0) {
      return; // nothing plays before a keyframe
    }
    gop.push(p);
    gopBytes += p.data.length;
    if (gop.length > STANDBY_GOP_MAX_PACKETS || gopBytes > STANDBY_GOP_MAX_BYTES) {
      gop = [];
      gopBytes = 0;
    }
  }
  /** Resolves once `wake` settles or the packets end (kept packets wait for on air). */
  async function standby(wake: Promise<unknown>): Promise<void> {
    const woken = signalRace(wake);
    while (!woken.fired() && !ended) {
      if ((await woken.race(next())) === 'signal') return;
      const p = await take();
      if (p && p !== 'skip') keep(p);
    }
  }
  async function* live(stop: Promise<unknown>): AsyncGenerator<MediaPacket> {
    const stopped = signalRace(stop);
    const held = gop;
    gop = [];
    gopBytes = 0;
    for (const p of held) {
      if (stopped.fired()) return;
      yield p;
    }
    while (!stopped.fired() && !ended) {
      if ((await stopped.race(next())) === 'signal') return;
      const p = await take();
      if (!p) return;
      if (p !== 'skip') yield p;
    }
  }
  return { standby, live, ended: () => ended };
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

/** A one-shot promise fired from outside. */
function signal(): { promise: Promise<void>; fire: () => void; fired: () => boolean } {
  let resolve: () => void = () => undefined;
  let done = false;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, fire: () => { done = true; resolve(); }, fired: () => done };
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
  role: SessionRole = {},
): PublishSession {
  const { live, channels, log } = deps;
  const now = deps.now ?? Date.now;
  const name = channel.name;
  const demuxer: Demuxer = createDemuxer({ format: source.format, log: { warn: (m, d) => log.warn({ channel: name, ...d }, m) } });
  let ended: PipelineFault | null = null;
  let discarded = false;
  let plan: StreamPlan | null = null;
  let converter: AudioToAac | null = null;
  /** Writing the channel (false: standby). */
  let writing = !role.standby;
  let everOnAir = writing;
  let wake = signal();
  let waitFor: Promise<unknown> | undefined;
  let stop = signal();
  let demoted = signal();
  let wakeEnd = signal();
  /** The lease a polite session took before its run (writeRun holds it then). */
  let held: ChannelLease | null = null;
  let waitingLogged = false;

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
    wakeEnd.fire();
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
    const mapped = planned.plan.map;
    // The SCTE-35 stream is no channel stream, but its sections go on to the run (ad markers).
    const scte35 = planned.plan.scte35?.index;
    const feed = createPacketFeed(demuxer.packets(), (p) => {
      const index = mapped.get(p.streamIndex);
      if (index === undefined) return p.streamIndex === scte35 ? false : null;
      return index === VIDEO_STREAM;
    }, (_p, video) => role.onMedia?.(video));
    for (;;) {
      if (!writing) {
        await feed.standby(Promise.race([wake.promise, wakeEnd.promise]));
        if (ended || feed.ended()) break;
        wake = signal();
        writing = true;
        everOnAir = true;
        if (waitFor) await waitFor.catch(() => undefined);
        waitFor = undefined;
        if (ended) break;
      }
      if (role.polite) {
        // Wait in standby (packets demuxed, the newest GOP kept) until the lease is free, asking nobody for it.
        let outcome: 'taken' | 'ended' | 'stopped' = 'ended';
        // Each retry waits for its timer or the session's end or stop, subscribed to once for the whole wait.
        const endOrStop = signalRace(Promise.race([wakeEnd.promise, stop.promise]));
        while (!ended && !feed.ended()) {
          if (stop.fired()) {
            outcome = 'stopped';
            break;
          }
          const lease = newLease();
          if (await lease.tryAcquire()) {
            held = lease;
            outcome = 'taken';
            break;
          }
          if (!waitingLogged) log.info({ channel: name }, 'a backup input waits: another ingest process holds the channel');
          waitingLogged = true;
          await feed.standby(endOrStop.race(new Promise((r) => setTimeout(r, POLITE_RETRY_MS))));
        }
        if (outcome === 'ended') break;
        if (outcome === 'stopped') {
          // Demoted while waiting: back to standby without having written.
          writing = false;
          stop = signal();
          const d = demoted;
          demoted = signal();
          d.fire();
          continue;
        }
      }
      const ranOut = await writeRun(planned.plan, feed.live(Promise.race([stop.promise, wakeEnd.promise])));
      writing = false;
      stop = signal();
      const d = demoted;
      demoted = signal();
      d.fire();
      if (ranOut || ended || feed.ended()) break;
    }
    return ended ?? fault('INGEST_ENDED');
  }

  function newLease() {
    return createChannelLease(
      { live, log, onLost: (f) => close(f), now },
      { channel: name, holder: newHolderId('publish'), ttlMs: config.leaseTtlMs },
    );
  }

  /** One stretch on air: the lease, the channel's continuation and the writes. True when the session must end. */
  async function writeRun(planned: StreamPlan, packets: AsyncIterable<MediaPacket>): Promise<boolean> {
    // One publisher per channel across every ingest process: hold the channel's lease while writing.
    let lease = held;
    held = null;
    if (!lease) {
      lease = newLease();
      await lease.acquire();
    }
    try {
      if (ended) return true; // the publisher left (or the session was closed) while waiting for the lease
      role.onWriting?.();
      ({ plan, converter } = withAudioConverter(deps, name, planned));
      let extraConverters = new Map<number, AudioToAac>();
      ({ plan, extra: extraConverters } = withExtraConverters(deps, name, plan));
      for (const why of plan.ignored) log.info({ channel: name }, `ignoring ${why}`);
      try {
        await runPlanned({ deps, config, channel, source, demuxer, converter, extraConverters, stats, now, writable, discarded: () => discarded, holder: lease.holder, packets }, plan);
      } finally {
        converter?.close();
        converter = null;
        for (const c of extraConverters.values()) c.close();
      }
    } finally {
      await lease.release();
    }
    return false;
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
      if (!discarded && everOnAir) await live.appendEvents(name, [{ type: 'publisher:disconnected', reason: reason.message }]).catch(() => undefined);
      writing = false;
      demoted.fire();
      return reason;
    });

  return {
    channel: name,
    protocol: source.protocol,
    done,
    close,
    diagnostics: () => stats.latest(),
    onAir: () => writing,
    promote(afterWriter) {
      if (writing) return;
      waitFor = afterWriter;
      wake.fire();
    },
    demote() {
      if (!writing || ended) return Promise.resolve();
      const d = demoted.promise;
      stop.fire();
      return d;
    },
  };
}
