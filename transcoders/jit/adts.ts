/**
 * Pure: AAC in ADTS framing (what MPEG-TS carries) → raw AAC frames and the AudioSpecificConfig an MP4
 * needs. Used when a channel's audio has no extradata and its payloads start with the ADTS sync word.
 */

export interface AdtsHeader {
  /** MPEG-4 audio object type (profile + 1): 2 = AAC LC. */
  objectType: number;
  frequencyIndex: number;
  channelConfig: number;
  headerLength: number;
  frameLength: number;
}

export const ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

export function isAdts(b: Buffer): boolean {
  return b.length >= 7 && b[0] === 0xff && ((b[1] as number) & 0xf6) === 0xf0;
}

/** Parse the ADTS header at the start of `b`, or null when there is none. */
export function parseAdts(b: Buffer): AdtsHeader | null {
  if (!isAdts(b)) return null;
  const b1 = b[1] as number;
  const b2 = b[2] as number;
  const b3 = b[3] as number;
  const protectionAbsent = b1 & 1;
  const frequencyIndex = (b2 >> 2) & 0x0f;
  if (frequencyIndex >= ADTS_RATES.length) return null;
  const frameLength = ((b3 & 0x03) << 11) | ((b[4] as number) << 3) | ((b[5] as number) >> 5);
  const headerLength = protectionAbsent ? 7 : 9;
  if (frameLength < headerLength) return null;
  return { objectType: (b2 >> 6) + 1, frequencyIndex, channelConfig: ((b2 & 1) << 2) | (b3 >> 6), headerLength, frameLength };
}

/** The 2-byte AudioSpecificConfig for an ADTS header. */
export function audioSpecificConfig(h: Pick<AdtsHeader, 'objectType' | 'frequencyIndex' | 'channelConfig'>): Buffer {
  const v = (h.objectType << 11) | (h.frequencyIndex << 7) | (h.channelConfig << 3);
  return Buffer.from([v >> 8, v & 0xff]);
}

/** The raw AAC frames of a payload: ADTS headers removed (a payload may hold several ADTS frames). */
export function stripAdts(b: Buffer): Buffer {
  if (!isAdts(b)) return b;
  const parts: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    const h = parseAdts(b.subarray(at));
    if (!h) break;
    parts.push(b.subarray(at + h.headerLength, Math.min(b.length, at + h.frameLength)));
    at += h.frameLength;
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
