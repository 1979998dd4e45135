/**
 * The run of a publish once its streams are planned: record the channel's format and the connect event,
 * continue the channel's timeline and segment numbers, then feed every packet (through the audio converter
 * when there is one) to the segment writer until the publisher is gone, and close the open segment.
 */

import type { Channel } from '../../core/model/channel';
import { AUDIO_STREAM, type ChannelEvent, TIMELINE_HZ, VIDEO_STREAM } from '../../core/model/live';
import type { AudioToAac } from '../audio-to-aac';
import { channelFormat, formatChanged, type StreamPlan } from '../channel-format';
import type { Demuxer } from '../demuxer';
import { createSegmenterState } from '../segmenter';
import { beginSession, continueAfter, createTimelineState, parseTimeline } from '../timeline';
import type { SegmentRecord } from '../../core/model/live';
import type { MediaPacket } from '../../core/model/media';
import { createBoundaryBook } from './boundary-records';
import { createSegmentWriter, type SegmentWriter, type SegmentWriterStart } from './segment-writer';
import type { SessionStats } from './session-stats';
import type { PublishSessionConfig, PublishSessionDeps, PublishSource, SessionLog } from './types';
import type { LiveStore } from '../../core/store/live-store';
import { MARKER_LIMITS, spliceCues, splicesHit, type Marker } from '../../core/model/marker';
import { to90k } from '../timeline';
import { createPublisherSplices } from './publisher-splices';

/** How often a publish reads its channel's ad markers (splice points it cuts segments at), ms. */
export const MARKER_POLL_MS = 1000;

export interface PlannedRun {
  deps: PublishSessionDeps;
  config: PublishSessionConfig;
  channel: Channel;
  source: PublishSource;
  demuxer: Demuxer;
  converter: AudioToAac | null;
  /** Converters of the extra audio tracks that are not AAC, by channel stream index. */
  extraConverters?: ReadonlyMap<number, AudioToAac>;
  stats: SessionStats;
  now: () => number;
  /** Throws once nothing more may be written (the channel was deleted). */
  writable: () => void;
  discarded: () => boolean;
  /** The lease holder id this session writes boundaries as. */
  holder: string;
  /** The packets to write (default: all of the demuxer's); the run ends when they end. */
  packets?: AsyncIterable<MediaPacket>;
}

/** Stores the format (when new or changed) and the connect event; reads where this session continues. */
export async function openChannel(run: PlannedRun, plan: StreamPlan): Promise<SegmentWriterStart> {
  const { store, live } = run.deps;
  const name = run.channel.name;
  const extraAac = new Map([...(run.extraConverters ?? new Map<number, AudioToAac>())].map(([i, c]) => [i, c.stream]));
  const format = channelFormat(run.channel, plan, run.converter?.stream, extraAac);
  run.writable();
  const stored = await store.getFormat(name);
  const changed = !stored || formatChanged(stored, format);
  if (!stored) await store.createContent(format);
  else if (changed) await store.updateFormat(format);
  const events: ChannelEvent[] = [{ type: 'publisher:connected', protocol: run.source.protocol, peer: run.source.peer }];
  if (changed) events.push({ type: 'format:changed' });
  run.writable();
  await live.appendEvents(name, events);
  run.stats.publish(plan, run.converter); // codecs and size are known now: the dashboard need not wait for the first interval

  // Continue after everything the channel's previous writer announced or stored, even when it died
  // without closing its segment or saving its timeline (a killed process, a lost lease).
  const resume = await resumeChannel(run);
  const saved = await live.getTimeline(name);
  const timings = [{ index: VIDEO_STREAM, time_base: plan.video.time_base }];
  if (plan.audio) timings.push({ index: AUDIO_STREAM, time_base: (run.converter?.stream ?? plan.audio).time_base });
  for (const e of plan.extraAudio) timings.push({ index: e.index, time_base: (run.extraConverters?.get(e.index)?.stream ?? e.input).time_base });
  const timeline = beginSession(continueAfter(saved ? parseTimeline(saved) : createTimelineState(0), resume.afterDts), timings);

  const last = resume.last;
  const segmenter = createSegmenterState({
    videoStreamIndex: VIDEO_STREAM,
    audioStreamIndex: plan.audio ? AUDIO_STREAM : null,
    firstIndex: resume.nextIndex,
    targetDuration: Math.round(run.config.segmentSeconds * TIMELINE_HZ),
    partTarget: Math.round((run.channel.partTargetSeconds ?? run.config.partSeconds) * TIMELINE_HZ),
  });
  return { timeline, segmenter, book: createBoundaryBook(last?.discontinuitySequence ?? 0), hasAudio: plan.audio !== null, extraAudio: plan.extraAudio.map((e) => e.index) };
}

export interface Resume {
  /** The newest segment record after the repair (its discontinuity sequence carries on). */
  last: SegmentRecord | undefined;
  /** The index this session's first segment takes. */
  nextIndex: number;
  /** The first dts this session may write at (null: the channel has nothing yet). */
  afterDts: number | null;
}

/**
 * Where a session continues a channel. A segment its previous writer left open is closed at the end of its
 * last announced part (what players may already hold); one with no announced part is taken over by this
 * session's first segment (nothing of it was published). This session then writes after the end of every
 * segment, part and packet stored, so nothing announced or stored changes.
 */
export async function resumeChannel(run: { deps: { live: LiveStore; log: SessionLog }; channel: Channel; holder: string }): Promise<Resume> {
  const { live } = run.deps;
  const name = run.channel.name;
  const point = await live.resumePoint(name, [VIDEO_STREAM, AUDIO_STREAM]);
  let last = point.last ?? undefined;
  let nextIndex = (last?.index ?? 0) + 1;
  let closedEnd: number | null = null;
  if (last && last.durationPts === null) {
    const parts = await live.parts(name, last.index, last.index);
    const end = parts.reduce((m, p) => Math.max(m, p.startDts + p.durationPts), -Infinity);
    if (parts.length > 0 && end > last.startDts) {
      const closed: SegmentRecord = { ...last, durationPts: end - last.startDts };
      await live.writeBoundaries(name, {
        segments: [closed], events: [{ type: 'segment:closed', segment: closed.index, startPts: closed.startPts, durationPts: end - last.startDts }],
        retainMs: run.channel.dvrWindowSeconds * 1000, holder: run.holder,
      });
      run.deps.log.warn({ channel: name, segment: closed.index }, 'closed the segment a previous ingest process left open, at the end of its last part');
      last = closed;
      closedEnd = end;
    } else {
      nextIndex = last.index;
      last = (await live.segments(name, last.index - 1, last.index - 1))[0] ?? { ...last, discontinuitySequence: last.discontinuitySequence ?? 0 };
    }
  }
  const ends = [point.sealedEndDts, point.storedEndDts, closedEnd].filter((d): d is number => d !== null);
  return { last, nextIndex, afterDts: ends.length ? Math.max(...ends) : null };
}

/** Runs until the demuxer ends (the publisher left or the session was closed). */
export async function runPlanned(run: PlannedRun, plan: StreamPlan): Promise<void> {
  const { deps, config, channel, converter, now } = run;
  const start = await openChannel(run, plan);
  const writer = createSegmentWriter(
    {
      channel, store: deps.store, live: deps.live, log: deps.log, now, ttlMs: channel.dvrWindowSeconds * 1000,
      maxBatch: config.maxBatch, flushMs: config.flushMs, writable: run.writable, onPacket: run.stats.record,
      onSegmentOpened: deps.onSegmentOpened, holder: run.holder, leaseTtlMs: config.leaseTtlMs, outageHoldMs: config.outageHoldMs,
      onPacketsRefused: deps.onPacketsRefused, onOutage: deps.onOutage, onPartReady: deps.onPartReady,
      cues: () => cues,
      onSplice: (hit, atMs, atPts) => {
        for (const m of markers) {
          const fields = splicesHit(m, hit, atMs, atPts);
          if (fields.splicedMs === undefined && fields.splicedInMs === undefined) continue;
          Object.assign(m, fields);
          deps.live.spliceMarker(channel.name, m.id, fields).catch((err: Error) => deps.log.warn({ channel: channel.name, marker: m.id, err: err.message }, 'could not record where a marker was spliced'));
        }
      },
    },
    start,
  );
  // SCTE-35 the publisher sends in its TS: ad markers like the API's, cut at by this publish at once.
  const scteIndex = plan.scte35?.index ?? null;
  const videoTb = plan.video.time_base;
  const splices = scteIndex === null ? null : createPublisherSplices({
    live: deps.live, log: deps.log, channel, now,
    videoClock: () => {
      const c = writer.videoClock();
      return c ? { pts90k: to90k(c.inputPts, videoTb), wallMs: c.wallMs } : null;
    },
    known: () => markers,
    onAdded: (m) => {
      markers = [...markers, m];
      cues = spliceCues(markers, now());
    },
  });
  const statsTimer = setInterval(() => run.stats.publish(plan, converter), config.statsIntervalMs);
  statsTimer.unref();
  // Ad markers cut segments (their splice points start a segment): read every second, a failed read keeps the last list.
  let cues: number[] = [];
  let markers: Marker[] = [];
  const readCues = () => {
    // Those whose start or break end may still be cut at: started at most the longest break (and 10 s) ago.
    const t = now();
    Promise.resolve().then(() => deps.live.markers(channel.name, { fromMs: t - MARKER_LIMITS.maxDuration * 1000 - 10_000, toMs: t + MARKER_LIMITS.futureMs })).then((ms) => {
      // Keep the publisher's markers this read may have missed (stored after it began).
      const fresh = markers.filter((m) => m.source === 'publisher' && !ms.some((x) => x.id === m.id) && Date.parse(m.createdAt) >= t - 10_000);
      markers = fresh.length ? [...ms, ...fresh] : ms;
      cues = spliceCues(markers, now());
    }, () => undefined);
  };
  readCues();
  const cueTimer = setInterval(readCues, MARKER_POLL_MS);
  cueTimer.unref();
  try {
    for await (const raw of run.packets ?? run.demuxer.packets()) {
      const index = plan.map.get(raw.streamIndex);
      if (index === undefined) {
        if (raw.streamIndex === scteIndex) splices?.push(raw.data);
        continue;
      }
      if (index === AUDIO_STREAM && converter) {
        for (const aac of await converter.push(raw)) await writer.ingest({ ...aac, streamIndex: AUDIO_STREAM });
        continue;
      }
      const extra = index > AUDIO_STREAM ? run.extraConverters?.get(index) : undefined;
      if (extra) {
        for (const aac of await extra.push(raw)) await writer.ingest({ ...aac, streamIndex: index });
        continue;
      }
      await writer.ingest({ ...raw, streamIndex: index });
    }
  } finally {
    clearInterval(statsTimer);
    clearInterval(cueTimer);
    // The publisher is gone (or the session was closed): close the open segment and save the timeline,
    // unless the channel was deleted. A failure here (Redis down) ends the session with that reason.
    if (!run.discarded()) await finish(run, plan, writer);
  }
}

async function finish(run: PlannedRun, plan: StreamPlan, writer: SegmentWriter): Promise<void> {
  const converters: [number, AudioToAac][] = [...(run.converter ? [[AUDIO_STREAM, run.converter] as [number, AudioToAac]] : []), ...(run.extraConverters ?? new Map<number, AudioToAac>())];
  for (const [index, c] of converters) {
    try {
      for (const aac of await c.flush()) await writer.ingest({ ...aac, streamIndex: index });
    } catch (err) {
      run.deps.log.warn({ channel: run.channel.name, track: index, err: (err as Error).message }, 'could not drain the audio converter');
    }
  }
  await writer.finish();
  run.stats.publish(plan, run.converter);
}
