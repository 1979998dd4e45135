/**
 * Pure: what a WebRTC viewer asks for in RTCP (RFC 4585 / RFC 5104). libdatachannel's NACK responder
 * answers generic NACKs itself; keyframe requests (PLI, FIR) are ours to answer.
 */

export interface RtcpFeedback {
  /** Picture Loss Indication or Full Intra Request: the viewer needs a keyframe. */
  keyframe: boolean;
  /** Generic NACK messages seen (each may list many packets). */
  nacks: number;
  /** Receiver reports seen. */
  reports: number;
}

/**
 * Walks a (compound) RTCP packet. Anything that is not RTCP, or is malformed, yields no feedback: the
 * input comes from the network.
 */
export function parseRtcpFeedback(buf: Uint8Array): RtcpFeedback {
  const fb: RtcpFeedback = { keyframe: false, nacks: 0, reports: 0 };
  let pos = 0;
  let guard = 0;
  while (pos + 4 <= buf.length && guard++ < 64) {
    const b0 = buf[pos] as number;
    if (b0 >> 6 !== 2) break;
    const fmt = b0 & 0x1f;
    const pt = buf[pos + 1] as number;
    const words = ((buf[pos + 2] as number) << 8) | (buf[pos + 3] as number);
    const len = (words + 1) * 4;
    if (pos + len > buf.length) break;
    if (pt === 201) fb.reports++;
    else if (pt === 205 && fmt === 1) fb.nacks++;
    else if (pt === 206 && (fmt === 1 || fmt === 4)) fb.keyframe = true;
    pos += len;
  }
  return fb;
}

/** True for RTCP rather than RTP on a muxed port (RFC 5761: payload types 192–223 are RTCP). */
export function isRtcp(buf: Uint8Array): boolean {
  if (buf.length < 4 || (buf[0] as number) >> 6 !== 2) return false;
  const pt = buf[1] as number;
  return pt >= 192 && pt <= 223;
}
