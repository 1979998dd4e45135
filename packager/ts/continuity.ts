/**
 * Continuity counters across independently muxed TS chunks. Every segment the muxer builds starts its
 * counters at 0 and flags the first packet of each PID with discontinuity_indicator (ts-muxer.ts); a
 * stream made of such segments back to back (SRT pull) instead carries one counter per PID from chunk
 * to chunk, and clears those flags when the chunk continues the previous one's timeline. Pure.
 */
import { badRenderInput } from '../errors';
import { TS_PACKET_SIZE } from './ts-packet';

/** The next continuity counter of each PID of one output stream. */
export type CounterState = Map<number, number>;

/**
 * A copy of `chunk` (whole 188-byte packets) whose counters continue `state` (updated). `continuous`: the
 * chunk follows the previous one on the same timeline, so a discontinuity_indicator on a PID already seen
 * is cleared; otherwise the flags are kept (a publisher's reconnect, a skipped segment, the first chunk).
 */
export function continueCounters(chunk: Buffer, state: CounterState, continuous: boolean): Buffer {
  if (chunk.length % TS_PACKET_SIZE !== 0) throw badRenderInput(`TS: ${chunk.length} bytes is not a whole number of packets`);
  const out = Buffer.from(chunk);
  for (let off = 0; off < out.length; off += TS_PACKET_SIZE) {
    if (out[off] !== 0x47) throw badRenderInput(`TS: no sync byte at offset ${off}`);
    const b1 = out[off + 1] as number;
    const b3 = out[off + 3] as number;
    const pid = ((b1 & 0x1f) << 8) | (out[off + 2] as number);
    const hasAdaptation = (b3 & 0x20) !== 0;
    const hasPayload = (b3 & 0x10) !== 0;
    const next = state.get(pid);
    let cc = b3 & 0x0f;
    if (next !== undefined) {
      // A packet without payload repeats the previous counter.
      cc = hasPayload ? next : (next + 15) & 0x0f;
      if (continuous && hasAdaptation && (out[off + 4] as number) > 0) out[off + 5] = (out[off + 5] as number) & 0x7f;
    }
    out[off + 3] = (b3 & 0xf0) | cc;
    state.set(pid, hasPayload ? (cc + 1) & 0x0f : cc);
  }
  return out;
}
