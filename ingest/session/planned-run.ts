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
import { beginSession, createTimelineState, parseTimeline } from '../timeline';
import { createBoundaryBook } from './boundary-records';
import { createSegmentWriter, type SegmentWriter, type SegmentWriterStart } from './segment-writer';
import type { SessionStats } from './session-stats';
import type { PublishSessionConfig, PublishSessionDeps, PublishSource } from './types';

export interface PlannedRun {
  deps: PublishSessionDeps;
  config: PublishSessionConfig;
  channel: Channel;
  source: PublishSource;
  demuxer: Demuxer;
  converter: AudioToAac | null;
  stats: SessionStats;
  now: () => number;
  /** Throws once nothing more may be written (the channel was deleted). */
  writable: () => void;
  discarded: () => boolean;
}

/** Stores the format (when new or changed) and the connect event; reads where this session continues. */
export async function openChannel(run: PlannedRun, plan: StreamPlan): Promise<SegmentWriterStart> {
  const { store, live } = run.deps;
  const name = run.channel.name;
  const format = channelFormat(run.channel, plan, run.converter?.stream);
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

  const saved = await live.getTimeline(name);
  const timings = [{ index: VIDEO_STREAM, time_base: plan.video.time_base }];
  if (plan.audio) timings.push({ index: AUDIO_STREAM, time_base: (run.converter?.stream ?? plan.audio).time_base });
  const timeline = beginSession(saved ? parseTimeline(saved) : createTimelineState(0), timings);

  const last = (await live.lastSegments(name, 1))[0];
  const segmenter = createSegmenterState({
    videoStreamIndex: 0,
    audioStreamIndex: plan.audio ? 1 : null,
    firstIndex: (last?.index ?? 0) + 1,
    targetDuration: Math.round(run.config.segmentSeconds * TIMELINE_HZ),
    partTarget: Math.round((run.channel.partTargetSeconds ?? run.config.partSeconds) * TIMELINE_HZ),
  });
  return { timeline, segmenter, book: createBoundaryBook(last?.discontinuitySequence ?? 0), hasAudio: plan.audio !== null };
}

/** Runs until the demuxer ends (the publisher left or the session was closed). */
export async function runPlanned(run: PlannedRun, plan: StreamPlan): Promise<void> {
  const { deps, config, channel, converter, now } = run;
  const start = await openChannel(run, plan);
  const writer = createSegmentWriter(
    {
      channel, store: deps.store, live: deps.live, log: deps.log, now, ttlMs: channel.dvrWindowSeconds * 1000,
      maxBatch: config.maxBatch, flushMs: config.flushMs, writable: run.writable, onPacket: run.stats.record,
      onSegmentOpened: deps.onSegmentOpened,
    },
    start,
  );
  const statsTimer = setInterval(() => run.stats.publish(plan, converter), config.statsIntervalMs);
  statsTimer.unref();
  try {
    for await (const raw of run.demuxer.packets()) {
      const index = plan.map.get(raw.streamIndex);
      if (index === undefined) continue;
      if (index === AUDIO_STREAM && converter) {
        for (const aac of await converter.push(raw)) await writer.ingest({ ...aac, streamIndex: AUDIO_STREAM });
        continue;
      }
      await writer.ingest({ ...raw, streamIndex: index });
    }
  } finally {
    clearInterval(statsTimer);
    // The publisher is gone (or the session was closed): close the open segment and save the timeline,
    // unless the channel was deleted. A failure here (Redis down) ends the session with that reason.
    if (!run.discarded()) await finish(run, plan, writer);
  }
}

async function finish(run: PlannedRun, plan: StreamPlan, writer: SegmentWriter): Promise<void> {
  if (run.converter) {
    try {
      for (const aac of await run.converter.flush()) await writer.ingest({ ...aac, streamIndex: AUDIO_STREAM });
    } catch (err) {
      run.deps.log.warn({ channel: run.channel.name, err: (err as Error).message }, 'could not drain the audio converter');
    }
  }
  await writer.finish();
  run.stats.publish(plan, run.converter);
}
