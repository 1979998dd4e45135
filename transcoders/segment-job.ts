/**
 * One transcode job: one source segment of a channel → the same segment of every rung of its ladder, made
 * while the segment arrives. The job reads the channel's ladder when it starts (so a ladder edit applies from
 * the next segment), decides per rung (make, skip a finished one, or record a gap for one it must not or
 * cannot make), then follows the channel's events on a dedicated connection: each `part:ready` of its segment
 * feeds that part's source packets through one SegmentTranscoder, and each rung part that is complete is
 * written to `<ch>.<rung>`, recorded in the rung's progress (live store) and announced with `rendition:ready
 * {rendition, segment, part}` at once. At `segment:closed` the encoders drain, the segment's alignment is
 * checked, the segment is recorded as made and `rendition:ready {rendition, segment}` is appended. A failure mid-segment records a gap for the rungs left unfinished; a published rung
 * segment is never rewritten.
 */

import type { Channel } from '../core/model/channel';
import type { PartRecord, SegmentRecord } from '../core/model/live';
import type { Format } from '../core/model/media';
import { packetMetaOf } from '../core/model/media';
import type { Store } from '../core/store/store';
import type { LiveStore } from '../core/store/live-store';
import type { RedisClient } from '../core/store/redis-connection';
import { planLadder, type PlannedRung } from './ladder';
import { DEFAULT_ENCODER_CONFIG, rungFrameRate, sourceFrameRate, type EncoderConfig } from './encoder-settings';
import { createSegmentTranscoder, type EncodedPacket, type SegmentTranscoder, type SegmentTranscoderConfig } from './segment-transcoder';
import { decideRung, isLate, partWindows, type PartWindow, type TranscodeJobData } from './segment-plan';
import { checkAlignment, type RungPacketTiming } from './alignment';
import { renditionChanged, renditionFormat, renditionName } from './rendition-format';

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
}

export const DEFAULT_SEGMENT_JOB_CONFIG: SegmentJobConfig = { encoder: DEFAULT_ENCODER_CONFIG, maxSegmentsBehind: 1, idleTimeoutMs: 10000, blockMs: 500 };

export interface RungResult {
  rung: string;
  action: 'made' | 'skip' | 'gap';
  reason?: string;
  /** Seconds of media encoded and wall seconds spent encoding it (encode speed = media / encode). */
  mediaSeconds: number;
  encodeSeconds: number;
  alignmentProblems: string[];
  /** ms from a source part's `part:ready` to this rung's `rendition:ready` for it. */
  partDelaysMs: number[];
}

export interface SegmentJobResult {
  channel: string;
  segment: number;
  rungs: RungResult[];
  decodeSeconds: number;
  /** Why nothing was done, when so. */
  note: string | null;
}

function streamIdMs(id: string): number {
  return Number(id.split('-')[0]);
}

interface RungOutput {
  rung: PlannedRung;
  buffer: EncodedPacket[];
  timings: RungPacketTiming[];
  formatReady: boolean;
  result: RungResult;
}

export async function runSegmentJob(deps: SegmentJobDeps, config: SegmentJobConfig, job: TranscodeJobData): Promise<SegmentJobResult> {
  const { store, live } = deps;
  const now = deps.now ?? Date.now;
  const { channel: name, segment: k } = job;
  const result: SegmentJobResult = { channel: name, segment: k, rungs: [], decodeSeconds: 0, note: null };
  const rungResult = (rung: string, action: RungResult['action'], reason?: string): RungResult => ({
    rung, action, ...(reason ? { reason } : {}), mediaSeconds: 0, encodeSeconds: 0, alignmentProblems: [], partDelaysMs: [],
  });

  const channel = await deps.channels.get(name);
  if (!channel) return { ...result, note: `channel '${name}' does not exist` };
  const format = await store.getFormat(name);
  const video = format?.streams.find((s) => s.index === 0 && s.codecpar.codec_type === 'video');
  const width = Number(video?.codecpar.width);
  const height = Number(video?.codecpar.height);
  if (!video || !(width > 0 && height > 0)) return { ...result, note: `channel '${name}' has no video stream with a size` };
  let seg: SegmentRecord | undefined = (await live.segments(name, k, k))[0];
  if (!seg) return { ...result, note: `segment ${k} of '${name}' is not in the store (expired or never opened)` };
  const newest = (await live.lastSegments(name, 1))[0]?.index ?? k;
  const late = isLate(k, newest, config.maxSegmentsBehind);
  const ttlMs = channel.dvrWindowSeconds * 1000;
  const srcFps = sourceFrameRate(video);

  async function recordGap(rung: string, reason: string): Promise<void> {
    await live.recordRungSegment(name, rung, k, 'gap', ttlMs);
    await live.appendEvents(name, [{ type: 'warning', message: `rung ${rung}: segment ${k} is a gap (${reason})` }]);
  }

  const outputs: RungOutput[] = [];
  for (const rung of planLadder(channel.ladder, width, height)) {
    const [made, gaps, existing] = await Promise.all([
      live.rungMade(name, rung.name, k, k),
      live.rungGaps(name, rung.name, k, k),
      store.query(renditionName(name, rung.name), 0, { mode: 'score', min: seg.startPts, max: seg.durationPts === null ? '+inf' : seg.startPts + seg.durationPts - 1, offset: 0, limit: 1 }),
    ]);
    const action = decideRung({ made: made.length > 0, gap: gaps.length > 0, published: existing.length > 0 }, late);
    if (action === 'make') {
      outputs.push({ rung, buffer: [], timings: [], formatReady: false, result: rungResult(rung.name, 'made') });
    } else if (action === 'gap') {
      const reason = existing.length > 0 ? 'partly published by a worker that stopped' : `too late: the live edge is at segment ${newest}`;
      await recordGap(rung.name, reason);
      result.rungs.push(rungResult(rung.name, 'gap', reason));
    } else {
      result.rungs.push(rungResult(rung.name, 'skip', made.length ? 'already made' : 'already a gap'));
    }
  }
  if (outputs.length === 0) return result;

  // Remember where the event stream is before reading the parts already there: nothing falls in between.
  let cursor = await live.lastEventId(name);
  const parts = new Map<number, PartRecord>();
  for (const p of await live.parts(name, k, k)) parts.set(p.part, p);
  seg = (await live.segments(name, k, k))[0] ?? seg;
  const announcedAt = new Map<number, number>();

  const make = deps.createTranscoder ?? ((c: SegmentTranscoderConfig) => createSegmentTranscoder(c));
  let transcoder: SegmentTranscoder | null = null;
  let fed = 0; // source parts fed
  let emitted = 0; // rung parts written
  let lastProgress = now();

  async function ensureFormat(o: RungOutput, tx: SegmentTranscoder): Promise<void> {
    if (o.formatReady) return;
    const extradata = tx.extradata(o.rung.name);
    if (!extradata) throw new Error(`rung ${o.rung.name}: the encoder gave no extradata`);
    const wanted: Format = renditionFormat(name, o.rung, extradata, rungFrameRate(srcFps, o.rung.fps), channel!.dvrWindowSeconds);
    const stored = await store.getFormat(wanted.url);
    if (!stored) {
      try {
        await store.createContent(wanted);
      } catch {
        await store.updateFormat(wanted); // another job created it meanwhile
      }
    } else if (renditionChanged(stored, wanted)) await store.updateFormat(wanted);
    await store.setRendition({ source: name, target: wanted.url, streamMap: [{ target: 0, source: [0] }] });
    o.formatReady = true;
  }

  /** Write each rung's packets of `w` (pts below `w.end`) and announce them. */
  async function publish(tx: SegmentTranscoder, w: PartWindow | null, end: number): Promise<void> {
    for (const o of outputs) {
      const take = o.buffer.filter((p) => p.pts < end);
      o.buffer = o.buffer.filter((p) => p.pts >= end);
      const inWindow = take.filter((p) => p.pts >= seg!.startPts);
      if (inWindow.length === 0) continue;
      await ensureFormat(o, tx);
      const writes = inWindow.map((p, i) => {
        const next = inWindow[i + 1]?.pts ?? o.buffer[0]?.pts ?? end;
        const duration = Math.max(1, Math.min(next, end) - p.pts);
        o.timings.push({ pts: p.pts, dts: p.pts, duration, keyframe: p.keyframe });
        return { streamIndex: 0, meta: packetMetaOf({ streamIndex: 0, pts: p.pts, dts: p.pts, duration, keyframe: p.keyframe, data: p.data }), data: p.data };
      });
      await store.writePackets(renditionName(name, o.rung.name), writes, ttlMs);
    }
    if (w) {
      await Promise.all(outputs.map((o) => live.recordRungPart(name, o.rung.name, k, w.part, ttlMs)));
      await live.appendEvents(name, outputs.map((o) => ({ type: 'rendition:ready' as const, rendition: o.rung.name, segment: k, part: w.part })));
      const at = announcedAt.get(w.part);
      if (at !== undefined) for (const o of outputs) o.result.partDelaysMs.push(now() - at);
    }
  }

  function collect(out: Map<string, EncodedPacket[]>): void {
    for (const o of outputs) o.buffer.push(...(out.get(o.rung.name) ?? []));
  }

  async function emitReady(tx: SegmentTranscoder, readyBefore: number): Promise<void> {
    const windows = partWindows(seg!, [...parts.values()]);
    while (emitted < windows.length && (windows[emitted] as PartWindow).end <= readyBefore) {
      const w = windows[emitted] as PartWindow;
      await publish(tx, w, w.end);
      emitted++;
    }
  }

  try {
    for (;;) {
      // Feed every source part that is there, in order.
      while (parts.has(fed)) {
        const p = parts.get(fed) as PartRecord;
        const packets = await store.readPackets(name, 0, p.startDts, p.startDts + p.durationPts);
        transcoder ??= make({ rungs: outputs.map((o) => o.rung), source: { extradata: video.codecpar.extradata ? Buffer.from(video.codecpar.extradata, 'base64') : null, frameRate: srcFps }, startPts: seg.startPts, encoder: config.encoder });
        const out = await transcoder.push(packets.map((r) => ({ pts: r.meta.pts, dts: r.meta.dts, keyframe: r.meta.flags.KEY, data: r.data })), p.startDts + p.durationPts);
        collect(out.packets);
        await emitReady(transcoder, out.readyBefore);
        fed++;
        lastProgress = now();
      }
      if (seg.durationPts !== null) break;
      if (now() - lastProgress > config.idleTimeoutMs) throw new Error(`no part of segment ${k} for ${config.idleTimeoutMs} ms`);
      const read = await live.readEvents(deps.reader, name, cursor, config.blockMs, 200);
      cursor = read.lastId;
      for (const { id, event: e } of read.events) {
        if (e.type === 'part:ready' && e.segment === k && !parts.has(e.part)) {
          parts.set(e.part, { segment: k, part: e.part, startPts: e.startPts, startDts: e.startDts, durationPts: e.durationPts, independent: e.independent });
          announcedAt.set(e.part, streamIdMs(id));
        } else if (e.type === 'segment:closed' && e.segment === k) {
          seg = { ...seg, durationPts: e.durationPts };
        } else if ((e.type === 'segment:opened' && e.segment > k) || (e.type === 'publisher:disconnected')) {
          // The close may have come before our cursor: read the record.
          seg = (await live.segments(name, k, k))[0] ?? seg;
        }
      }
    }

    // The segment is closed: source packets past the last part (none when parts tile it), then drain.
    const end = seg.startPts + (seg.durationPts as number);
    if (transcoder === null) throw new Error(`segment ${k} closed with no parts`);
    const windows = partWindows(seg, [...parts.values()]);
    const lastDts = [...parts.values()].reduce((m, p) => Math.max(m, p.startDts + p.durationPts), seg.startDts);
    const segEndDts = seg.startDts + (seg.durationPts as number);
    if (lastDts < segEndDts) {
      const rest = await store.readPackets(name, 0, lastDts, segEndDts);
      collect((await transcoder.push(rest.map((r) => ({ pts: r.meta.pts, dts: r.meta.dts, keyframe: r.meta.flags.KEY, data: r.data })), segEndDts)).packets);
    }
    collect((await transcoder.finish()).packets);
    await emitReady(transcoder, Infinity);
    if (emitted < windows.length || windows.length === 0 || (windows[windows.length - 1] as PartWindow).end < end) await publish(transcoder, null, end);
    for (const o of outputs) o.buffer = [];

    const stats = transcoder.stats();
    result.decodeSeconds = stats.decodeSeconds;
    for (const o of outputs) {
      const fr = rungFrameRate(srcFps, o.rung.fps);
      const frameTicks = (90000 * fr[1]) / fr[0];
      o.result.alignmentProblems = checkAlignment({ startPts: seg.startPts, durationPts: seg.durationPts as number, maxTailTicks: Math.ceil(frameTicks * 2) }, o.timings);
      const s = stats.rungs.find((r) => r.rung === o.rung.name);
      o.result.encodeSeconds = s?.encodeSeconds ?? 0;
      o.result.mediaSeconds = (seg.durationPts as number) / 90000;
      await live.recordRungSegment(name, o.rung.name, k, 'made', ttlMs);
      result.rungs.push(o.result);
    }
    await live.appendEvents(name, outputs.map((o) => ({ type: 'rendition:ready' as const, rendition: o.rung.name, segment: k })));
    return result;
  } catch (e) {
    const reason = (e as Error).message;
    for (const o of outputs) {
      await recordGap(o.rung.name, reason).catch(() => undefined);
      result.rungs.push({ ...o.result, action: 'gap', reason });
    }
    result.note = reason;
    return result;
  }
}
