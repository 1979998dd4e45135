/**
 * The output side of a transcode job: each rung's encoded packets waiting to be published, written to the
 * rendition `<channel>.<rung>` (its format made or updated on the first write), each complete rung part
 * recorded in the rung's progress and announced with `rendition:ready {rendition, segment, part}`, and the
 * rung's segment recorded as made or as a gap. Cutting the packets into a window is pure (`cutRungPackets`).
 */

import { VIDEO_STREAM } from '../core/model/live';
import { packetMetaOf, type Format, type Rational } from '../core/model/media';
import type { Store } from '../core/store/store';
import type { LiveStore } from '../core/store/live-store';
import type { PlannedRung } from './ladder';
import { rungFrameRate } from './encoder-settings';
import type { EncodedPacket, SegmentTranscoder } from './segment-transcoder';
import type { RungPacketTiming } from './alignment';
import type { PartWindow } from './segment-plan';
import { gapWarning, type RungResult } from './segment-result';
import { renditionChanged, renditionFormat, renditionName } from './rendition-format';

export interface RungOutput {
  rung: PlannedRung;
  /** Encoded packets not yet written, in pts order. */
  buffer: EncodedPacket[];
  /** Timings of the packets written, for the alignment check. */
  timings: RungPacketTiming[];
  formatReady: boolean;
  result: RungResult;
}

/** The segment of the channel the outputs belong to, and how long what they write lives. */
export interface RungOutputContext {
  store: Store;
  live: LiveStore;
  channel: string;
  segment: number;
  /** The source segment's startPts: packets before it (an open GOP's leading pictures) are never written. */
  startPts: number;
  sourceFps: Rational;
  dvrWindowSeconds: number;
  ttlMs: number;
  now: () => number;
}

export function rungOutput(rung: PlannedRung, result: RungResult): RungOutput {
  return { rung, buffer: [], timings: [], formatReady: false, result };
}

export type TimedRungPacket = RungPacketTiming & { data: Buffer };

/**
 * Pure: the packets of `buffer` to write for a window ending at `end` (pts in [startPts, end)), each lasting until
 * the next packet (or `end`, at least one tick), and the packets kept for later windows (pts >= end).
 */
export function cutRungPackets(buffer: readonly EncodedPacket[], end: number, startPts: number): { packets: TimedRungPacket[]; rest: EncodedPacket[] } {
  const rest = buffer.filter((p) => p.pts >= end);
  const inWindow = buffer.filter((p) => p.pts < end && p.pts >= startPts);
  const packets = inWindow.map((p, i) => {
    const next = inWindow[i + 1]?.pts ?? rest[0]?.pts ?? end;
    return { pts: p.pts, dts: p.pts, duration: Math.max(1, Math.min(next, end) - p.pts), keyframe: p.keyframe, data: p.data };
  });
  return { packets, rest };
}

/** Hand each rung the packets its encoder gave out. */
export function collectPackets(outputs: readonly RungOutput[], out: ReadonlyMap<string, EncodedPacket[]>): void {
  for (const o of outputs) o.buffer.push(...(out.get(o.rung.name) ?? []));
}

/**
 * Make each rendition's format (and its link to the channel) as soon as its encoder gave its first packet, so
 * that the reads and writes it takes are done while the first part fills, not when it is published.
 */
export async function prepareRenditions(ctx: RungOutputContext, outputs: readonly RungOutput[], tx: SegmentTranscoder): Promise<void> {
  await Promise.all(outputs.filter((o) => !o.formatReady && o.buffer.length > 0).map((o) => ensureRenditionFormat(ctx, o, tx)));
}

/** Create (or update, when the encoder's settings changed) the rendition's format and its link to the channel. */
async function ensureRenditionFormat(ctx: RungOutputContext, o: RungOutput, tx: SegmentTranscoder): Promise<void> {
  if (o.formatReady) return;
  const extradata = tx.extradata(o.rung.name);
  if (!extradata) throw new Error(`rung ${o.rung.name}: the encoder gave no extradata`);
  const wanted: Format = renditionFormat(ctx.channel, o.rung, extradata, rungFrameRate(ctx.sourceFps, o.rung.fps), ctx.dvrWindowSeconds);
  const stored = await ctx.store.getFormat(wanted.url);
  if (!stored) {
    try {
      await ctx.store.createContent(wanted);
    } catch {
      await ctx.store.updateFormat(wanted); // another job created it meanwhile
    }
  } else if (renditionChanged(stored, wanted)) await ctx.store.updateFormat(wanted);
  await ctx.store.setRendition({ source: ctx.channel, target: wanted.url, streamMap: [{ target: VIDEO_STREAM, source: [VIDEO_STREAM] }] });
  o.formatReady = true;
}

/** Write each rung's buffered packets with pts below `end` to its rendition (the rungs at once). */
async function writeRungPackets(ctx: RungOutputContext, outputs: readonly RungOutput[], tx: SegmentTranscoder, end: number): Promise<void> {
  await Promise.all(outputs.map(async (o) => {
    const { packets, rest } = cutRungPackets(o.buffer, end, ctx.startPts);
    o.buffer = rest;
    if (packets.length === 0) return;
    o.timings.push(...packets.map(({ pts, dts, duration, keyframe }) => ({ pts, dts, duration, keyframe })));
    await ensureRenditionFormat(ctx, o, tx);
    const writes = packets.map((p) => ({ streamIndex: VIDEO_STREAM, meta: packetMetaOf({ streamIndex: VIDEO_STREAM, ...p }), data: p.data }));
    await ctx.store.writePackets(renditionName(ctx.channel, o.rung.name), writes, ctx.ttlMs);
  }));
}

/** Record part `part` of every rung and announce it; `announcedAtMs` (the source part's announcement) gives the delay. */
async function announceRungPart(ctx: RungOutputContext, outputs: readonly RungOutput[], part: number, announcedAtMs: number | undefined): Promise<void> {
  const { live, channel, segment } = ctx;
  await Promise.all(outputs.map((o) => live.recordRungPart(channel, o.rung.name, segment, part, ctx.ttlMs)));
  await live.appendEvents(channel, outputs.map((o) => ({ type: 'rendition:ready' as const, rendition: o.rung.name, segment, part })));
  if (announcedAtMs !== undefined) for (const o of outputs) o.result.partDelaysMs.push(ctx.now() - announcedAtMs);
}

/** Write every rung's packets of window `w` (pts below `end`) and, for a part window, record and announce it. */
export async function publishRungs(ctx: RungOutputContext, outputs: readonly RungOutput[], tx: SegmentTranscoder, w: PartWindow | null, end: number, announcedAtMs?: number): Promise<void> {
  await writeRungPackets(ctx, outputs, tx, end);
  if (w) await announceRungPart(ctx, outputs, w.part, announcedAtMs);
}

export async function recordRungMade(ctx: RungOutputContext, rung: string): Promise<void> {
  await ctx.live.recordRungSegment(ctx.channel, rung, ctx.segment, 'made', ctx.ttlMs);
}

export async function announceSegmentMade(ctx: RungOutputContext, outputs: readonly RungOutput[]): Promise<void> {
  await ctx.live.appendEvents(ctx.channel, outputs.map((o) => ({ type: 'rendition:ready' as const, rendition: o.rung.name, segment: ctx.segment })));
}

/** Record the rung's segment as a gap and say why on the channel's event stream. */
export async function recordRungGap(ctx: Pick<RungOutputContext, 'live' | 'channel' | 'segment' | 'ttlMs'>, rung: string, reason: string): Promise<void> {
  await ctx.live.recordRungSegment(ctx.channel, rung, ctx.segment, 'gap', ctx.ttlMs);
  await ctx.live.appendEvents(ctx.channel, [{ type: 'warning', message: gapWarning(rung, ctx.segment, reason) }]);
}
