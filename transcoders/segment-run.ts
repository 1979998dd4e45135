/**
 * Running the transcoder over one source segment while it arrives: every source part that is there is fed in
 * order through one SegmentTranscoder, and each rung part whose frames have all come out of the encoders is
 * published at once. When the segment closes, the source packets past its last part are fed, the encoders
 * drain, and what is left up to the segment end is written. Gives up after `idleTimeoutMs` with no new part
 * nor close.
 */

import { partWindows, readyWindows, closingWriteNeeded, sourceTail, isClosed, type ClosedSegment } from './segment-plan';
import { readSourcePackets, type SegmentFollower } from './segment-source';
import { collectPackets, publishRungs, type RungOutput, type RungOutputContext } from './rung-output';
import type { SegmentTranscoder, SegmentTranscoderConfig, SourceVideo } from './segment-transcoder';
import type { EncoderConfig } from './encoder-settings';

export interface SegmentRunConfig {
  encoder: EncoderConfig;
  idleTimeoutMs: number;
  blockMs: number;
}

export interface SegmentRunContext extends RungOutputContext {
  source: SourceVideo;
  makeTranscoder: (config: SegmentTranscoderConfig) => SegmentTranscoder;
}

export interface SegmentRun {
  seg: ClosedSegment;
  stats: ReturnType<SegmentTranscoder['stats']>;
}

/** Where a run is: the transcoder (made at the first part), the source parts fed, the rung parts published. */
interface RunState {
  ctx: SegmentRunContext;
  config: SegmentRunConfig;
  outputs: readonly RungOutput[];
  follower: SegmentFollower;
  transcoder: SegmentTranscoder | null;
  fed: number;
  emitted: number;
  lastProgress: number;
}

function transcoderFor(r: RunState): SegmentTranscoder {
  r.transcoder ??= r.ctx.makeTranscoder({ rungs: r.outputs.map((o) => o.rung), source: r.ctx.source, startPts: r.follower.segment().startPts, encoder: r.config.encoder });
  return r.transcoder;
}

/** Publish the rung parts complete below `readyBefore`, in order. */
async function publishReady(r: RunState, tx: SegmentTranscoder, readyBefore: number): Promise<void> {
  for (const w of readyWindows(partWindows(r.follower.segment(), r.follower.parts()), r.emitted, readyBefore)) {
    await publishRungs(r.ctx, r.outputs, tx, w, w.end, r.follower.announcedAt(w.part));
    r.emitted++;
  }
}

/** Feed every source part that is there, in order. */
async function feedArrivedParts(r: RunState): Promise<void> {
  for (let p = r.follower.part(r.fed); p !== undefined; p = r.follower.part(r.fed)) {
    const fedThrough = p.startDts + p.durationPts;
    const packets = await readSourcePackets(r.ctx.store, r.ctx.channel, p.startDts, fedThrough);
    const tx = transcoderFor(r);
    const out = await tx.push(packets, fedThrough);
    collectPackets(r.outputs, out.packets);
    await publishReady(r, tx, out.readyBefore);
    r.fed++;
    r.lastProgress = r.ctx.now();
  }
}

/** Feed parts as they arrive until the segment closes (or nothing comes for `idleTimeoutMs`). */
async function untilClosed(r: RunState): Promise<ClosedSegment> {
  for (;;) {
    await feedArrivedParts(r);
    const seg = r.follower.segment();
    if (isClosed(seg)) return seg;
    if (r.ctx.now() - r.lastProgress > r.config.idleTimeoutMs) throw new Error(`no part of segment ${r.ctx.segment} for ${r.config.idleTimeoutMs} ms`);
    await r.follower.poll(r.config.blockMs);
  }
}

/** The segment is closed: source packets past the last part (none when parts tile it), then drain. */
async function drain(r: RunState, seg: ClosedSegment): Promise<SegmentTranscoder> {
  const end = seg.startPts + seg.durationPts;
  const tx = r.transcoder;
  if (tx === null) throw new Error(`segment ${r.ctx.segment} closed with no parts`);
  const parts = r.follower.parts();
  const windows = partWindows(seg, parts);
  const tail = sourceTail(seg, parts);
  if (tail) collectPackets(r.outputs, (await tx.push(await readSourcePackets(r.ctx.store, r.ctx.channel, tail.fromDts, tail.toDts), tail.toDts)).packets);
  collectPackets(r.outputs, (await tx.finish()).packets);
  await publishReady(r, tx, Infinity);
  if (closingWriteNeeded(windows, r.emitted, end)) await publishRungs(r.ctx, r.outputs, tx, null, end);
  for (const o of r.outputs) o.buffer = [];
  return tx;
}

export async function runTranscoder(ctx: SegmentRunContext, config: SegmentRunConfig, outputs: readonly RungOutput[], follower: SegmentFollower): Promise<SegmentRun> {
  const r: RunState = { ctx, config, outputs, follower, transcoder: null, fed: 0, emitted: 0, lastProgress: ctx.now() };
  const seg = await untilClosed(r);
  const tx = await drain(r, seg);
  return { seg, stats: tx.stats() };
}
