/** RFC 6381 `codecs` parameter values derived from the bitstream itself. */
import { badMedia } from '../errors';
import { isAdts, parseAdtsHeader, parseAsc, type AudioSpecificConfig } from './aac';
import { parseAvcC, parseSps } from './h264';

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** `avc1.PPCCLL` from profile_idc, the constraint flags byte and level_idc. */
export function avcCodecString(profileIdc: number, constraintFlags: number, levelIdc: number): string {
  for (const [name, v] of [['profile', profileIdc], ['constraint flags', constraintFlags], ['level', levelIdc]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 255) throw badMedia(`H.264 codec string: ${name} ${v} out of range`);
  }
  return `avc1.${hex2(profileIdc)}${hex2(constraintFlags)}${hex2(levelIdc)}`;
}

/** `mp4a.40.<audio object type>` (for example `mp4a.40.2` for AAC-LC, `mp4a.40.5` for HE-AAC). */
export function aacCodecString(asc: Pick<AudioSpecificConfig, 'objectType'>): string {
  if (!Number.isInteger(asc.objectType) || asc.objectType < 1) {
    throw badMedia(`AAC codec string: object type ${asc.objectType} out of range`);
  }
  return `mp4a.40.${asc.objectType}`;
}

/** `avc1.PPCCLL` read from an SPS NAL unit or an avcC record (whichever `bytes` is). */
export function avcCodecStringOf(bytes: Buffer): string {
  if (bytes[0] === 1) {
    const rec = parseAvcC(bytes);
    return avcCodecString(rec.profileIdc, rec.constraintFlags, rec.levelIdc);
  }
  const sps = parseSps(bytes);
  return avcCodecString(sps.profileIdc, sps.constraintFlags, sps.levelIdc);
}

/** `mp4a.40.N` read from an AudioSpecificConfig or from the first ADTS header of a payload. */
export function aacCodecStringOf(bytes: Buffer): string {
  return aacCodecString(isAdts(bytes) ? parseAdtsHeader(bytes) : parseAsc(bytes));
}
