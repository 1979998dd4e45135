/**
 * Running the transcoder over one source segment while it arrives. Source packets are fed in decode order as
 * soon as the store has them: every `prefetchMs` the packets that arrived since are read and pushed (up to the
 * first keyframe after the segment's own, which may start the next segment: it waits for its part or the close),
 * so the frames of a part are mostly decoded and encoded while the part fills, and when its `part:ready` comes
 * only its last frames are left. Each rung part whose frames have all come out of the encoders is published at
 * once. When the segment closes, the source packets past its last part are fed, the encoders drain, and what is
 * left up to the segment end is written. Gives up after `idleTimeoutMs` with no new packet, part nor close, or
 * after ORPHAN_IDLE_MS of that when no ingest process holds the channel's lease (its writer died).
 */

import { TIMELINE_HZ } from '../core/model/live';
import { partWindows, readyWindows, closingWriteNeeded, sourceTail, isClosed, contiguousParts, prefetchable, pushBatches, type ClosedSegment } from './segment-plan';
import { readSourcePackets, type SegmentFollower } from './segment-source';
import { collectPackets, prepareRenditions, publishRungs, type RungOutput, type RungOutputContext } from './rung-output';
import type { SegmentTranscoder, SegmentTranscoderConfig, SourcePacket, SourceVideo } from './segment-transcoder';
import type { EncoderConfig } from './encoder-settings';

export interface SegmentRunConfig {
  encoder: EncoderConfig;
  idleTimeoutMs: number;
  /** Longest single blocking read of the channel's events, ms. */
  blockMs: number;
  /** While the segment is open, how often the store is asked for source packets that arrived (ms); 0: never, parts are transcoded when announced. */
  prefetchMs: number;
}

export interface SegmentRunContext extends RungOutputContext {
  source: SourceVideo;
  makeTranscoder: (config: SegmentTranscoderConfig) => SegmentTranscoder;
}

export interface SegmentRun {
  seg: ClosedSegment;
  stats: ReturnType<SegmentTranscoder['stats']>;
}

/** Packets per push: the decoder hands back every frame of a push at once (a 1080p frame is ~3 MB). */
export const MAX_PUSH_PACKETS = 8;
/** How far past the fed point one prefetch reads: bounds the payloads read at once after a pause. */
const PREFETCH_WINDOW = TIMELINE_HZ / 2;

/** Where a run is: the transcoder (made at the first look at the source), how far the source is fed, the rung parts published. */
interface RunState {
  ctx: SegmentRunContext;
  config: SegmentRunConfig;
  outputs: readonly RungOutput[];
  follower: SegmentFollower;
  transcoder: SegmentTranscoder | null;
  /** The segment start (dts) the transcoder was made for. */
  madeFor: number | null;
  /** Every source packet of the segment with dts below this has been pushed. */
  fedDts: number;
  emitted: number;
  lastProgress: number;
  /** When the channel's lease was last looked at while nothing came (ms). */
  leaseCheckedAt: number;
}

/**
 * With nothing new for this long, the job asks whether anyone still writes the channel: a segment whose
 * ingest process died stays open until its lease expires and a surviving process closes it (longer after a
 * Redis outage, see the ingest sweep); waiting for it the whole idle timeout would hold a worker slot, and
 * every other channel's segments behind it would go late.
 */
export const ORPHAN_IDLE_MS = 2000;
/** How often the lease is looked at meanwhile, ms. */
const LEASE_CHECK_MS = 500;

/** True when nothing came for ORPHAN_IDLE_MS and nobody holds the channel's lease (its writer is gone). */
async function writerGone(r: RunState): Promise<boolean> {
  const now = r.ctx.now();
  if (now - r.lastProgress < ORPHAN_IDLE_MS || now - r.leaseCheckedAt < LEASE_CHECK_MS) return false;
  r.leaseCheckedAt = now;
  return (await r.ctx.live.leaseHolder(r.ctx.channel)) === null;
}

function transcoderFor(r: RunState): SegmentTranscoder {
  const seg = r.follower.segment();
  if (r.transcoder && r.madeFor !== seg.startDts) {
    // The segment was announced anew with another start (a process continuing the channel takes over a segment
    // that had no part): what was fed belongs to nothing published, start again from its new start.
    if (r.emitted > 0) throw new Error(`segment ${r.ctx.segment} changed its start after parts of it were published`);
    r.transcoder = null;
    for (const o of r.outputs) o.buffer = [];
  }
  if (!r.transcoder) {
    r.transcoder = r.ctx.makeTranscoder({ rungs: r.outputs.map((o) => o.rung), source: r.ctx.source, startPts: seg.startPts, encoder: r.config.encoder });
    r.madeFor = seg.startDts;
    r.fedDts = seg.startDts;
  }
  return r.transcoder;
}

/** Publish the rung parts complete below `readyBefore`, in order. */
async function publishReady(r: RunState, tx: SegmentTranscoder, readyBefore: number): Promise<void> {
  for (const w of readyWindows(partWindows(r.follower.segment(), r.follower.parts()), r.emitted, readyBefore)) {
    await publishRungs(r.ctx, r.outputs, tx, w, w.end, r.follower.announcedAt(w.part));
    r.emitted++;
  }
}

/** Push `packets` (read from the fed point on) and note that every packet below `fedThrough` is now in. */
async function feed(r: RunState, tx: SegmentTranscoder, packets: readonly SourcePacket[], fedThrough: number): Promise<void> {
  for (const batch of pushBatches(packets, fedThrough, MAX_PUSH_PACKETS)) {
    const out = await tx.push(batch.packets, batch.fedThrough);
    collectPackets(r.outputs, out.packets);
    await prepareRenditions(r.ctx, r.outputs, tx);
    await publishReady(r, tx, out.readyBefore);
  }
  if (packets.length > 0 || fedThrough > r.fedDts) r.lastProgress = r.ctx.now();
  r.fedDts = Math.max(r.fedDts, fedThrough);
}

/** Feed the announced parts up to their ends (what prefetching has not fed yet), part by part. */
async function feedAnnouncedParts(r: RunState): Promise<void> {
  for (const p of contiguousParts(r.follower.parts())) {
    const end = p.startDts + p.durationPts;
    const tx = transcoderFor(r);
    if (end <= r.fedDts) continue;
    await feed(r, tx, await readSourcePackets(r.ctx.store, r.ctx.channel, r.fedDts, end), end);
  }
}

/** Feed the packets of the open segment that arrived past the fed point, before their part is announced. */
async function prefetch(r: RunState): Promise<void> {
  const seg = r.follower.segment();
  if (!(r.config.prefetchMs > 0) || isClosed(seg)) return;
  const tx = transcoderFor(r);
  const packets = prefetchable(await readSourcePackets(r.ctx.store, r.ctx.channel, r.fedDts, r.fedDts + PREFETCH_WINDOW), seg.startDts);
  const last = packets[packets.length - 1];
  if (last) await feed(r, tx, packets, last.dts + 1);
}

/** How long one read of the events may block: up to the next prefetch while prefetching. */
export function pollMs(config: Pick<SegmentRunConfig, 'blockMs' | 'prefetchMs'>): number {
  return config.prefetchMs > 0 ? Math.min(config.blockMs, config.prefetchMs) : config.blockMs;
}

/**
 * Feed the source as it arrives until the segment closes (or nothing comes for `idleTimeoutMs`, or for
 * ORPHAN_IDLE_MS with nobody writing the channel).
 */
async function untilClosed(r: RunState): Promise<ClosedSegment> {
  for (;;) {
    await feedAnnouncedParts(r);
    const seg = r.follower.segment();
    if (isClosed(seg)) return seg;
    await prefetch(r);
    if (r.ctx.now() - r.lastProgress > r.config.idleTimeoutMs) throw new Error(`no part of segment ${r.ctx.segment} for ${r.config.idleTimeoutMs} ms`);
    if (await writerGone(r)) throw new Error(`segment ${r.ctx.segment} was left open: nothing came for ${ORPHAN_IDLE_MS} ms and no ingest process holds the channel`);
    await r.follower.poll(pollMs(r.config));
  }
}

/** The segment is closed: source packets past the last part (none when parts tile it), then drain. */
async function drain(r: RunState, seg: ClosedSegment): Promise<SegmentTranscoder> {
  const end = seg.startPts + seg.durationPts;
  const parts = r.follower.parts();
  if (parts.length === 0) throw new Error(`segment ${r.ctx.segment} closed with no parts`);
  const tx = transcoderFor(r);
  const windows = partWindows(seg, parts);
  const tail = sourceTail(seg, parts);
  if (tail && tail.toDts > r.fedDts) await feed(r, tx, await readSourcePackets(r.ctx.store, r.ctx.channel, Math.max(tail.fromDts, r.fedDts), tail.toDts), tail.toDts);
  collectPackets(r.outputs, (await tx.finish()).packets);
  await publishReady(r, tx, Infinity);
  if (closingWriteNeeded(windows, r.emitted, end)) await publishRungs(r.ctx, r.outputs, tx, null, end);
  for (const o of r.outputs) o.buffer = [];
  return tx;
}

export async function runTranscoder(ctx: SegmentRunContext, config: SegmentRunConfig, outputs: readonly RungOutput[], follower: SegmentFollower): Promise<SegmentRun> {
  const r: RunState = { ctx, config, outputs, follower, transcoder: null, madeFor: null, fedDts: follower.segment().startDts, emitted: 0, lastProgress: ctx.now(), leaseCheckedAt: 0 };
  const seg = await untilClosed(r);
  const tx = await drain(r, seg);
  return { seg, stats: tx.stats() };
}
