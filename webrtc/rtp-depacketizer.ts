/**
 * Pure: what a WHIP publisher sends, from RTP packets back to media frames. RTP headers (RFC 3550, with CSRCs,
 * header extensions and padding), H.264 payloads (RFC 6184: single NAL unit, STAP-A, FU-A) into access units,
 * and Opus (RFC 7587: one frame per packet). The packets come from the network: every length is checked, an
 * access unit is bounded in bytes and NAL units, and a sequence gap drops the access unit it hits (the caller
 * then waits for the next keyframe and asks the publisher for one).
 */

import { NAL_IDR, NAL_PPS, NAL_SPS } from './h264-frames';

export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

/** The RTP header of `buf`, or null when it is not an RTP packet (too short, wrong version, lengths that do not fit). */
export function parseRtp(buf: Buffer): RtpPacket | null {
  if (buf.length < 12) return null;
  const b0 = buf[0] as number;
  if (b0 >> 6 !== 2) return null;
  const b1 = buf[1] as number;
  const payloadType = b1 & 0x7f;
  if (payloadType >= 72 && payloadType <= 95) return null; // RTCP on a muxed port (RFC 5761)
  let pos = 12 + 4 * (b0 & 0x0f);
  if (pos > buf.length) return null;
  if (b0 & 0x10) {
    if (pos + 4 > buf.length) return null;
    pos += 4 + 4 * buf.readUInt16BE(pos + 2);
    if (pos > buf.length) return null;
  }
  let end = buf.length;
  if (b0 & 0x20) {
    const pad = buf[buf.length - 1] as number;
    if (pad === 0 || end - pad < pos) return null;
    end -= pad;
  }
  return {
    payloadType,
    marker: (b1 & 0x80) !== 0,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(pos, end),
  };
}

export interface H264AccessUnit {
  /** RTP timestamp (90 kHz). */
  timestamp: number;
  nals: Buffer[];
  /** Holds an IDR slice. */
  keyframe: boolean;
}

export interface DepacketizerLimits {
  /** Largest access unit, bytes. */
  maxAccessUnitBytes: number;
  /** Most NAL units in one access unit. */
  maxNals: number;
}

export const DEFAULT_DEPACKETIZER_LIMITS: DepacketizerLimits = { maxAccessUnitBytes: 4 * 1024 * 1024, maxNals: 512 };

export interface DepacketizerStats {
  packets: number;
  accessUnits: number;
  /** Access units dropped: a sequence gap, a malformed payload or a bound exceeded. */
  dropped: number;
  /** Sequence gaps seen. */
  gaps: number;
}

export interface H264Depacketizer {
  /** One RTP packet of the video stream; returns the access units it completed (0, 1 or 2). */
  push(p: RtpPacket): H264AccessUnit[];
  /** The access unit still being collected, if complete enough to emit (end of stream). */
  flush(): H264AccessUnit[];
  stats(): DepacketizerStats;
}

const STAP_A = 24;
const FU_A = 28;

/**
 * H.264 RTP depacketiser. An access unit ends at the marker bit or when the timestamp changes. A lost packet
 * (sequence gap), a malformed aggregation or fragment, or an access unit over the limits drops that whole
 * access unit: a decoder given half a frame shows garbage until the next keyframe.
 */
export function createH264Depacketizer(limits: DepacketizerLimits = DEFAULT_DEPACKETIZER_LIMITS): H264Depacketizer {
  const stats: DepacketizerStats = { packets: 0, accessUnits: 0, dropped: 0, gaps: 0 };
  let lastSeq: number | null = null;
  let ts: number | null = null;
  let nals: Buffer[] = [];
  let bytes = 0;
  let broken = false;
  /** FU-A fragments of the NAL unit being reassembled. */
  let fu: Buffer[] | null = null;
  let fuBytes = 0;

  function reset(): void {
    ts = null;
    nals = [];
    bytes = 0;
    broken = false;
    fu = null;
    fuBytes = 0;
  }

  function finish(): H264AccessUnit[] {
    const ok = !broken && fu === null && nals.length > 0 && ts !== null;
    const out: H264AccessUnit[] = [];
    if (ok) {
      stats.accessUnits++;
      out.push({ timestamp: ts as number, nals, keyframe: nals.some((n) => ((n[0] as number) & 0x1f) === NAL_IDR) });
    } else if (nals.length > 0 || broken || fu !== null) stats.dropped++;
    reset();
    return out;
  }

  function add(nal: Buffer): void {
    if (broken) return;
    if (nal.length === 0 || ((nal[0] as number) & 0x80) !== 0) {
      broken = true; // empty, or forbidden_zero_bit set
      return;
    }
    if (nals.length >= limits.maxNals || bytes + nal.length > limits.maxAccessUnitBytes) {
      broken = true;
      return;
    }
    nals.push(nal);
    bytes += nal.length;
  }

  return {
    push(p) {
      stats.packets++;
      let gap = false;
      if (lastSeq !== null && p.sequence !== ((lastSeq + 1) & 0xffff)) {
        const ahead = (p.sequence - lastSeq) & 0xffff;
        if (ahead === 0 || ahead > 0x8000) return []; // a duplicate or a late packet: ignored
        stats.gaps++;
        gap = true;
        // The lost packets belong to the access unit being collected or to the next one: both are dropped.
        if (ts !== null) broken = true;
      }
      let out: H264AccessUnit[] = [];
      if (ts !== null && p.timestamp !== ts) out = finish();
      if (gap) broken = true;
      lastSeq = p.sequence;
      ts = p.timestamp;
      const pl = p.payload;
      if (pl.length === 0) {
        broken = true;
      } else {
        const type = (pl[0] as number) & 0x1f;
        if (type >= 1 && type <= 23) {
          if (fu) broken = true;
          add(pl);
        } else if (type === STAP_A) {
          if (fu) broken = true;
          let pos = 1;
          while (pos < pl.length && !broken) {
            if (pos + 2 > pl.length) {
              broken = true;
              break;
            }
            const len = pl.readUInt16BE(pos);
            pos += 2;
            if (len === 0 || pos + len > pl.length) {
              broken = true;
              break;
            }
            add(pl.subarray(pos, pos + len));
            pos += len;
          }
        } else if (type === FU_A) {
          if (pl.length < 3) broken = true;
          else {
            const start = ((pl[1] as number) & 0x80) !== 0;
            const end = ((pl[1] as number) & 0x40) !== 0;
            if (start) {
              if (fu) broken = true;
              fu = [Buffer.from([((pl[0] as number) & 0xe0) | ((pl[1] as number) & 0x1f)])];
              fuBytes = 1;
            }
            if (!fu) broken = true;
            else {
              const part = pl.subarray(2);
              fuBytes += part.length;
              if (fuBytes + bytes > limits.maxAccessUnitBytes) {
                broken = true;
                fu = null;
              } else {
                fu.push(part);
                if (end) {
                  const nal = Buffer.concat(fu, fuBytes);
                  fu = null;
                  fuBytes = 0;
                  add(nal);
                }
              }
            }
          }
        } else broken = true; // STAP-B, MTAP, FU-B: not in packetization-mode 1
      }
      if (p.marker) out.push(...finish());
      return out;
    },
    flush: () => finish(),
    stats: () => ({ ...stats }),
  };
}

/** The NAL types of an access unit that make it decodable from here: an IDR (with SPS/PPS in or before it). */
export function hasParameterSets(nals: readonly Buffer[]): boolean {
  const types = new Set(nals.map((n) => (n[0] as number) & 0x1f));
  return types.has(NAL_SPS) && types.has(NAL_PPS);
}

/**
 * Unwraps 32-bit RTP timestamps into a monotonic count from the first one seen: a step back of less than half
 * the range is a reordered or repeated timestamp (returned below the last), anything else a forward step.
 */
export function createTimestampUnwrapper(): (ts: number) => number {
  let first: number | null = null;
  let last = 0;
  let base = 0;
  return (ts) => {
    if (first === null) {
      first = ts;
      last = ts;
      return 0;
    }
    const diff = (ts - last) | 0; // signed 32-bit step
    base += diff;
    last = ts;
    return base;
  };
}
