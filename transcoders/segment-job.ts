/**
 * One transcode job: one source segment of a channel → the same segment of every rung of its ladder, made
 * while the segment arrives. The job reads the channel's ladder when it starts (so a ladder edit applies from
 * the next segment), decides per rung (make, skip a finished one, or record a gap for one it must not or
 * cannot make), then follows the segment (segment-source.ts) and runs one SegmentTranscoder over it
 * (segment-run.ts), fed as the source packets arrive: each rung part that is complete is written to
 * `<ch>.<rung>`, recorded in the rung's progress (live store) and announced with
 * `rendition:ready {rendition, segment, part}` at once (rung-output.ts). At `segment:closed` the encoders
 * drain, the segment's alignment is checked, the segment is recorded as made and
 * `rendition:ready {rendition, segment}` is appended. A failure mid-segment records a gap
 * for the rungs left unfinished; a published rung segment is never rewritten. The result (segment-result.ts)
 * carries each rung's outcome, a gap with its pipeline error code.
 */

import type { Channel } from '../core/model/channel';
import { VIDEO_STREAM, type SegmentRecord } from '../core/model/live';
import type { Stream } from '../core/model/media';
import type { Store } from '../core/store/store';
import type { LiveStore } from '../core/store/live-store';
import type { RedisClient } from '../core/store/redis-connection';
import { planLadder, type PlannedRung } from './ladder';
import { DEFAULT_ENCODER_CONFIG, rungFrameRate, sourceFrameRate, type EncoderConfig } from './encoder-settings';
import { createSegmentTranscoder, type SegmentTranscoder, type SegmentTranscoderConfig } from './segment-transcoder';
import { isLate, planRungSegment, segmentPtsRange, sourceVideoOf, type ClosedSegment, type RungSegmentState, type TranscodeJobData } from './segment-plan';
import { renditionName } from './rendition-format';
import { followSegment } from './segment-source';
import { runTranscoder, type SegmentRun, type SegmentRunContext } from './segment-run';
import { announceSegmentMade, recordRungGap, recordRungMade, rungOutput, type RungOutput } from './rung-output';
import { failedRungResult, madeRungResult, rungResult, segmentJobResult, type RungResult, type SegmentJobResult } from './segment-result';

export type { RungResult, SegmentJobResult } from './segment-result';

export interface SegmentJobDeps {
  store: Store;
  live: LiveStore;
  channels: { get(name: string): Promise<Channel | null> };
  /** A dedicated connection: the job blocks on it reading the channel's events. */
  reader: RedisClient;
  now?: () => number;
  createTranscoder?: (config: SegmentTranscoderConfig) => SegmentTranscoder;
}

export interface SegmentJobConfig {
  encoder: EncoderConfig;
  /** A segment whose live edge is further ahead than this when its job starts is recorded as a gap. */
  maxSegmentsBehind: number;
  /** With no new part or close of the segment for this long, the job gives up (gap for what is unfinished). */
  idleTimeoutMs: number;
  /** Longest single blocking read of the events, ms. */
  blockMs: number;
  /**
   * While the segment is open, how often the store is asked for the source packets that arrived since (ms), so
   * they are transcoded before their part is announced; 0: a part is transcoded once announced.
   */
  prefetchMs: number;
}

export const DEFAULT_SEGMENT_JOB_CONFIG: SegmentJobConfig = { encoder: DEFAULT_ENCODER_CONFIG, maxSegmentsBehind: 1, idleTimeoutMs: 10000, blockMs: 500, prefetchMs: 25 };

/** How far before its enqueue time a job reads the channel's events: the segment's opening and parts announced meanwhile. */
export const EVENTS_LOOKBACK_MS = 2000;

/** What a job knows of itself besides its data. */
export interface SegmentJobInfo {
  /** When ingest enqueued the job (ms): the job's event cursor starts EVENTS_LOOKBACK_MS before. */
  enqueuedAtMs?: number;
}

/** What a job knows once it has found its channel, source video and segment. */
interface JobContext {
  channel: Channel;
  video: Stream;
  width: number;
  height: number;
  seg: SegmentRecord;
  /** The newest segment of the channel when the job started. */
  newest: number;
  late: boolean;
}

async function loadJob(deps: SegmentJobDeps, config: SegmentJobConfig, job: TranscodeJobData): Promise<{ ok: true; ctx: JobContext } | { ok: false; note: string }> {
  const { channel: name, segment: k } = job;
  // One round of reads: a job's first part is due a part target after its segment opened.
  const [channel, format, segs, last] = await Promise.all([deps.channels.get(name), deps.store.getFormat(name), deps.live.segments(name, k, k), deps.live.lastSegments(name, 1)]);
  if (!channel) return { ok: false, note: `channel '${name}' does not exist` };
  const source = sourceVideoOf(format);
  if (!source) return { ok: false, note: `channel '${name}' has no video stream with a size` };
  const seg = segs[0];
  if (!seg) return { ok: false, note: `segment ${k} of '${name}' is not in the store (expired or never opened)` };
  const newest = last[0]?.index ?? k;
  return { ok: true, ctx: { channel, ...source, seg, newest, late: isLate(k, newest, config.maxSegmentsBehind) } };
}

async function rungSegmentState(deps: SegmentJobDeps, job: TranscodeJobData, seg: SegmentRecord, rung: string): Promise<RungSegmentState> {
  const { channel: name, segment: k } = job;
  const [made, gaps, existing] = await Promise.all([
    deps.live.rungMade(name, rung, k, k),
    deps.live.rungGaps(name, rung, k, k),
    deps.store.query(renditionName(name, rung), VIDEO_STREAM, { mode: 'score', ...segmentPtsRange(seg), offset: 0, limit: 1 }),
  ]);
  return { made: made.length > 0, gap: gaps.length > 0, published: existing.length > 0 };
}

/** Decide every rung of the ladder: the ones to make, and the results of the others (gaps recorded). */
async function planRungs(deps: SegmentJobDeps, job: TranscodeJobData, ctx: JobContext): Promise<{ make: PlannedRung[]; decided: RungResult[] }> {
  const make: PlannedRung[] = [];
  const decided: RungResult[] = [];
  const gapCtx = { live: deps.live, channel: job.channel, segment: job.segment, ttlMs: ctx.channel.dvrWindowSeconds * 1000 };
  const rungs = planLadder(ctx.channel.ladder, ctx.width, ctx.height);
  const states = await Promise.all(rungs.map((rung) => rungSegmentState(deps, job, ctx.seg, rung.name)));
  for (const [i, rung] of rungs.entries()) {
    const d = planRungSegment(states[i] as RungSegmentState, ctx.late, ctx.newest);
    if (d.action === 'make') {
      make.push(rung);
    } else if (d.action === 'gap') {
      await recordRungGap(gapCtx, rung.name, d.reason);
      decided.push(rungResult(rung.name, 'gap', d.reason, d.code));
    } else {
      decided.push(rungResult(rung.name, 'skip', d.reason));
    }
  }
  return { make, decided };
}

function runContext(deps: SegmentJobDeps, job: TranscodeJobData, ctx: JobContext): SegmentRunContext {
  const sourceFps = sourceFrameRate(ctx.video);
  return {
    store: deps.store,
    live: deps.live,
    channel: job.channel,
    segment: job.segment,
    startPts: ctx.seg.startPts,
    sourceFps,
    dvrWindowSeconds: ctx.channel.dvrWindowSeconds,
    ttlMs: ctx.channel.dvrWindowSeconds * 1000,
    now: deps.now ?? Date.now,
    source: { extradata: ctx.video.codecpar.extradata ? Buffer.from(ctx.video.codecpar.extradata, 'base64') : null, frameRate: sourceFps },
    makeTranscoder: deps.createTranscoder ?? ((c: SegmentTranscoderConfig) => createSegmentTranscoder(c)),
  };
}

/** Every rung made: measure it, record it as made, then announce the segment of every rung. */
async function finishRungs(run: SegmentRunContext, outputs: readonly RungOutput[], made: SegmentRun, result: SegmentJobResult): Promise<void> {
  const seg: ClosedSegment = made.seg;
  result.decodeSeconds = made.stats.decodeSeconds;
  for (const o of outputs) {
    const encodeSeconds = made.stats.rungs.find((r) => r.rung === o.rung.name)?.encodeSeconds ?? 0;
    o.result = madeRungResult(o.result, { startPts: seg.startPts, durationPts: seg.durationPts, frameRate: rungFrameRate(run.sourceFps, o.rung.fps), timings: o.timings, encodeSeconds });
    await recordRungMade(run, o.rung.name);
    result.rungs.push(o.result);
  }
  await announceSegmentMade(run, outputs);
}

/** The job failed mid-segment: every rung it was making becomes a gap (recorded as far as the store lets). */
async function failRungs(run: SegmentRunContext, outputs: readonly RungOutput[], result: SegmentJobResult, reason: string): Promise<void> {
  for (const o of outputs) {
    await recordRungGap(run, o.rung.name, reason).catch(() => undefined);
    result.rungs.push(failedRungResult(o.result, reason));
  }
  result.note = reason;
}

export async function runSegmentJob(deps: SegmentJobDeps, config: SegmentJobConfig, job: TranscodeJobData, info: SegmentJobInfo = {}): Promise<SegmentJobResult> {
  const loaded = await loadJob(deps, config, job);
  if (!loaded.ok) return segmentJobResult(job.channel, job.segment, loaded.note);
  const { ctx } = loaded;
  const result = segmentJobResult(job.channel, job.segment);
  const { make, decided } = await planRungs(deps, job, ctx);
  result.rungs.push(...decided);
  if (make.length === 0) return result;

  const run = runContext(deps, job, ctx);
  const outputs = make.map((rung) => rungOutput(rung, rungResult(rung.name, 'made')));
  const since = info.enqueuedAtMs !== undefined ? info.enqueuedAtMs - EVENTS_LOOKBACK_MS : undefined;
  const follower = await followSegment(deps, job.channel, job.segment, ctx.seg, since);
  try {
    await finishRungs(run, outputs, await runTranscoder(run, config, outputs, follower), result);
  } catch (e) {
    await failRungs(run, outputs, result, (e as Error).message);
  }
  return result;
}
