/**
 * Pure: the receive side of a WHIP publisher's video before depacketisation: packets put back in sequence
 * order, and the missing ones asked for again (RTCP generic NACK, RFC 4585 §6.2.1) while they may still come.
 * A publisher's libdatachannel (OBS's WHIP output) keeps what it sent and answers NACKs; a packet that arrives
 * late (reordered on the way) or retransmitted fills its gap, and its access unit is not lost. A gap still open
 * after `holdMs` is given up: the packets after it go on, and the depacketiser sees the jump (it drops the access
 * unit it hits and the session asks for a keyframe, as before).
 *
 * Bounded: at most `maxHeld` packets wait; a jump of more than that many sequence numbers (a long outage), a new
 * SSRC, or 64 packets in a row from behind (a publisher that restarted its numbering) release what waits and
 * start over; at most `maxNacksPerTick`
 * sequence numbers are asked for at a time, each at most `maxNacks` times.
 */

import type { RtpPacket } from './rtp-depacketizer';

export interface ReorderConfig {
  /** How long a gap may wait for its packet, ms. */
  holdMs: number;
  /** Most packets held behind gaps. */
  maxHeld: number;
  /** Time between two NACKs of one packet, ms. */
  nackIntervalMs: number;
  /** Times one packet is asked for. */
  maxNacks: number;
  maxNacksPerTick: number;
}

/** 120 ms of waiting: a few round trips on a continental path, short against a 2 s GOP. */
export const DEFAULT_REORDER: ReorderConfig = { holdMs: 120, maxHeld: 1024, nackIntervalMs: 40, maxNacks: 3, maxNacksPerTick: 64 };

export interface ReorderStats {
  /** Packets that arrived after a later one. */
  reordered: number;
  /** Gaps filled by a late or retransmitted packet. */
  recovered: number;
  /** Gaps given up. */
  lost: number;
  /** Sequence numbers asked for (each time). */
  nacked: number;
  /** Packets received twice, or after their gap was given up. */
  dropped: number;
}

export interface RtpReorder {
  /** A received packet; returns the packets now in order (none while a gap before it is open). */
  push(p: RtpPacket, nowMs: number): RtpPacket[];
  /** Time passed: packets released past gaps given up, and the sequence numbers (16-bit) to NACK now. */
  tick(nowMs: number): { released: RtpPacket[]; nack: number[] };
  stats(): ReorderStats;
}

/** Packets in a row behind the expected number that make it a restart of the numbering, not late packets. */
const RESTART_AFTER = 64;

export function createRtpReorder(config: ReorderConfig = DEFAULT_REORDER): RtpReorder {
  /** The extended sequence number expected next (null before the first packet). */
  let next: number | null = null;
  let ssrc: number | null = null;
  /** Packets in a row that were behind `next`: many mean the publisher restarted its numbering. */
  let stale = 0;
  const held = new Map<number, RtpPacket>();
  const missing = new Map<number, { since: number; asked: number; lastAsk: number }>();
  const stats: ReorderStats = { reordered: 0, recovered: 0, lost: 0, nacked: 0, dropped: 0 };

  /** The extended number of a 16-bit sequence number, nearest to `ref`. */
  const extend = (seq: number, ref: number): number => ref + ((((seq - ref) & 0xffff) + 0x8000) & 0xffff) - 0x8000;

  /** Emits the held packets from `next` on while they are contiguous. */
  function drain(out: RtpPacket[]): void {
    while (next !== null && held.has(next)) {
      out.push(held.get(next) as RtpPacket);
      held.delete(next);
      next++;
    }
  }

  /** Releases everything held, in order, and forgets the gaps (counted lost). */
  function releaseAll(out: RtpPacket[]): void {
    const keys = [...held.keys()].sort((a, b) => a - b);
    for (const k of keys) out.push(held.get(k) as RtpPacket);
    stats.lost += missing.size;
    held.clear();
    missing.clear();
    if (keys.length) next = (keys[keys.length - 1] as number) + 1;
  }

  /** Gives up the gap at `next` (and any right after it) and emits what follows it. */
  function skipGap(out: RtpPacket[]): void {
    if (next === null) return;
    while (!held.has(next) && held.size > 0) {
      if (missing.delete(next)) stats.lost++;
      next++;
    }
    drain(out);
  }

  return {
    push(p, nowMs) {
      const out: RtpPacket[] = [];
      if (next !== null && ssrc !== p.ssrc) releaseAll(out); // a new source: its numbering starts anew
      if (next === null || ssrc !== p.ssrc) {
        ssrc = p.ssrc;
        next = p.sequence + 1;
        stale = 0;
        out.push(p);
        return out;
      }
      const ext = extend(p.sequence, next);
      if (ext < next && ++stale > RESTART_AFTER) {
        releaseAll(out);
        next = p.sequence + 1;
        stale = 0;
        out.push(p);
        return out;
      }
      if (ext < next || held.has(ext)) {
        stats.dropped++;
        return out;
      }
      stale = 0;
      if (ext === next) {
        if (missing.delete(ext)) stats.recovered++;
        next++;
        out.push(p);
        drain(out);
        return out;
      }
      if (ext - next > config.maxHeld) {
        // A restart or a long outage: nothing held will be completed.
        releaseAll(out);
        stats.lost += ext - (next as number);
        next = ext + 1;
        out.push(p);
        return out;
      }
      if (missing.delete(ext)) {
        stats.recovered++;
        stats.reordered++;
      }
      held.set(ext, p);
      for (let s = next; s < ext; s++) if (!held.has(s) && !missing.has(s)) missing.set(s, { since: nowMs, asked: 0, lastAsk: -Infinity });
      if (held.size > config.maxHeld) skipGap(out);
      return out;
    },
    tick(nowMs) {
      const released: RtpPacket[] = [];
      while (next !== null && held.size > 0) {
        const gap = missing.get(next);
        if (gap && nowMs - gap.since < config.holdMs) break;
        skipGap(released);
      }
      const nack: number[] = [];
      for (const [s, m] of missing) {
        if (nack.length >= config.maxNacksPerTick) break;
        if (m.asked >= config.maxNacks || nowMs - m.lastAsk < config.nackIntervalMs) continue;
        m.asked++;
        m.lastAsk = nowMs;
        nack.push(s & 0xffff);
      }
      stats.nacked += nack.length;
      return { released, nack };
    },
    stats: () => ({ ...stats }),
  };
}

/**
 * An RTCP generic NACK (RFC 4585 §6.2.1: PT 205, FMT 1) from `senderSsrc` about `mediaSsrc` asking for the
 * 16-bit sequence numbers `seqs`: each FCI entry names a packet (PID) and the 16 after it it also asks for (BLP).
 */
export function buildNack(senderSsrc: number, mediaSsrc: number, seqs: readonly number[]): Buffer {
  const sorted = [...new Set(seqs.map((s) => s & 0xffff))].sort((a, b) => a - b);
  const fci: [number, number][] = [];
  for (const s of sorted) {
    const last = fci[fci.length - 1];
    const d = last ? (s - last[0]) & 0xffff : 0;
    if (last && d >= 1 && d <= 16) last[1] |= 1 << (d - 1);
    else fci.push([s, 0]);
  }
  const out = Buffer.alloc(12 + 4 * fci.length);
  out[0] = 0x80 | 1;
  out[1] = 205;
  out.writeUInt16BE(2 + fci.length, 2);
  out.writeUInt32BE(senderSsrc >>> 0, 4);
  out.writeUInt32BE(mediaSsrc >>> 0, 8);
  fci.forEach(([pid, blp], i) => {
    out.writeUInt16BE(pid, 12 + 4 * i);
    out.writeUInt16BE(blp, 14 + 4 * i);
  });
  return out;
}
