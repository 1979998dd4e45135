/**
 * Pure: stored H.264 packets (Annex-B from MPEG-TS, or length-prefixed from FLV) into the Annex-B access units
 * the RTP packetiser takes, with SPS/PPS in front of every keyframe (a WebRTC decoder starts only at an IDR
 * that carries its parameter sets), and the inverse for WHIP ingest (RTP-received NAL units into one Annex-B
 * access unit). AUD and filler NAL units are dropped: they only cost bytes on the wire.
 */

export const NAL_IDR = 5;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
const NAL_AUD = 9;
const NAL_FILLER = 12;

const START = Buffer.from([0, 0, 0, 1]);

export function nalType(nal: Uint8Array): number {
  return (nal[0] ?? 0) & 0x1f;
}

export function isAnnexB(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0 && buf[1] === 0 && (buf[2] === 1 || (buf[2] === 0 && buf[3] === 1));
}

/** NAL units of an Annex-B buffer (start codes and trailing zeros removed); [] when there is no start code. */
export function splitAnnexB(buf: Buffer): Buffer[] {
  const nals: Buffer[] = [];
  let begin = -1;
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      if (begin >= 0) {
        let end = i;
        while (end > begin && buf[end - 1] === 0) end--;
        if (end > begin) nals.push(buf.subarray(begin, end));
      }
      begin = i + 3;
      i += 2;
    }
  }
  if (begin >= 0 && begin < buf.length) nals.push(buf.subarray(begin));
  return nals;
}

/** NAL units of a length-prefixed sample; null when a length does not fit (not that format). */
export function splitLengthPrefixed(buf: Buffer, lengthSize: number): Buffer[] | null {
  const nals: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (pos + lengthSize > buf.length) return null;
    const len = buf.readUIntBE(pos, lengthSize);
    pos += lengthSize;
    if (len === 0 || pos + len > buf.length) return null;
    nals.push(buf.subarray(pos, pos + len));
    pos += len;
  }
  return nals;
}

export interface ParameterSets {
  sps: Buffer[];
  pps: Buffer[];
  /** NAL length size of length-prefixed samples (avcC), 4 when unknown. */
  lengthSize: number;
}

/** Parameter sets from codec extradata: an avcC record or Annex-B SPS/PPS. Empty lists when absent or malformed. */
export function parameterSetsOf(extradata: Buffer | null): ParameterSets {
  const none: ParameterSets = { sps: [], pps: [], lengthSize: 4 };
  if (!extradata || extradata.length < 4) return none;
  if (extradata[0] === 1) {
    if (extradata.length < 7) return none;
    const lengthSize = ((extradata[4] ?? 3) & 3) + 1;
    const sps: Buffer[] = [];
    const pps: Buffer[] = [];
    let pos = 5;
    const nSps = (extradata[pos++] ?? 0) & 0x1f;
    for (let i = 0; i < nSps; i++) {
      if (pos + 2 > extradata.length) return none;
      const len = extradata.readUInt16BE(pos);
      pos += 2;
      if (pos + len > extradata.length) return none;
      sps.push(extradata.subarray(pos, pos + len));
      pos += len;
    }
    if (pos >= extradata.length) return { sps, pps, lengthSize };
    const nPps = extradata[pos++] ?? 0;
    for (let i = 0; i < nPps; i++) {
      if (pos + 2 > extradata.length) break;
      const len = extradata.readUInt16BE(pos);
      pos += 2;
      if (pos + len > extradata.length) break;
      pps.push(extradata.subarray(pos, pos + len));
      pos += len;
    }
    return { sps, pps, lengthSize };
  }
  if (isAnnexB(extradata)) {
    const nals = splitAnnexB(extradata);
    return { sps: nals.filter((n) => nalType(n) === NAL_SPS), pps: nals.filter((n) => nalType(n) === NAL_PPS), lengthSize: 4 };
  }
  return none;
}

/** The NAL units of one stored packet, whichever framing it has. */
export function nalsOfPacket(data: Buffer, lengthSize: number): Buffer[] {
  if (isAnnexB(data)) return splitAnnexB(data);
  return splitLengthPrefixed(data, lengthSize) ?? [];
}

/**
 * One access unit for the packetiser: Annex-B with 4-byte start codes, AUD and filler dropped, and, on a
 * keyframe without in-band SPS/PPS, the extradata's parameter sets first. Null when nothing is left.
 */
export function accessUnit(data: Buffer, keyframe: boolean, ps: ParameterSets): Buffer | null {
  const nals = nalsOfPacket(data, ps.lengthSize).filter((n) => {
    const t = nalType(n);
    return t !== NAL_AUD && t !== NAL_FILLER && n.length > 0;
  });
  if (nals.length === 0) return null;
  const out: Buffer[] = [];
  if (keyframe && !nals.some((n) => nalType(n) === NAL_SPS)) {
    for (const n of [...ps.sps, ...ps.pps]) out.push(START, n);
  }
  for (const n of nals) out.push(START, n);
  return Buffer.concat(out);
}

/** Annex-B bytes of NAL units (WHIP ingest: what the depacketiser collected for one timestamp). */
export function toAnnexB(nals: readonly Buffer[]): Buffer {
  const out: Buffer[] = [];
  for (const n of nals) out.push(START, n);
  return Buffer.concat(out);
}
