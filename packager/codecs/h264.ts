/**
 * H.264 bitstream helpers: Annex-B NAL splitting, length-prefixed conversion, the avcC record
 * (ISO/IEC 14496-15 §5.3.3) and the sequence parameter set (ITU-T H.264 §7.3.2.1.1).
 */
import { badMedia } from '../errors';
import { createBitReader, type BitReader } from './bit-reader';

export const NAL_SLICE = 1;
export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;
export const NAL_FILLER = 12;
export const NAL_SPS_EXT = 13;

export function nalType(nal: Buffer): number {
  return (nal[0] ?? 0) & 0x1f;
}

/** True when the buffer begins with an Annex-B start code (00 00 01 or 00 00 00 01). */
export function isAnnexB(buf: Buffer): boolean {
  if (buf.length < 4) return false;
  if (buf[0] !== 0 || buf[1] !== 0) return false;
  return buf[2] === 1 || (buf[2] === 0 && buf[3] === 1);
}

/** Splits an Annex-B byte stream into NAL units (start codes and trailing zero bytes removed). */
export function splitAnnexB(buf: Buffer): Buffer[] {
  const starts: number[] = [];
  const codeStarts: number[] = [];
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      codeStarts.push(i);
      starts.push(i + 3);
      i += 2;
    }
  }
  if (starts.length === 0) throw badMedia('H.264: no Annex-B start code found');
  const nals: Buffer[] = [];
  for (let k = 0; k < starts.length; k++) {
    const begin = starts[k] as number;
    let end = k + 1 < starts.length ? (codeStarts[k + 1] as number) : buf.length;
    while (end > begin && buf[end - 1] === 0) end--;
    if (end > begin) nals.push(buf.subarray(begin, end));
  }
  return nals;
}

/** Splits a length-prefixed (AVCC) sample into NAL units, checking every length. */
export function splitLengthPrefixed(buf: Buffer, lengthSize: number): Buffer[] {
  if (![1, 2, 4].includes(lengthSize)) throw badMedia(`H.264: invalid NAL length size ${lengthSize}`);
  const nals: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (pos + lengthSize > buf.length) throw badMedia('H.264: truncated NAL length prefix');
    const len = buf.readUIntBE(pos, lengthSize);
    pos += lengthSize;
    if (len === 0 || pos + len > buf.length) throw badMedia(`H.264: NAL length ${len} overruns the sample`);
    nals.push(buf.subarray(pos, pos + len));
    pos += len;
  }
  return nals;
}

/** Joins NAL units with big-endian length prefixes of `lengthSize` bytes (4 by default). */
export function toLengthPrefixed(nals: Buffer[], lengthSize = 4): Buffer {
  const parts: Buffer[] = [];
  const max = 2 ** (8 * lengthSize) - 1;
  for (const nal of nals) {
    if (nal.length > max) throw badMedia(`H.264: NAL of ${nal.length} bytes does not fit a ${lengthSize}-byte length`);
    const prefix = Buffer.alloc(lengthSize);
    prefix.writeUIntBE(nal.length, 0, lengthSize);
    parts.push(prefix, nal);
  }
  return Buffer.concat(parts);
}

/** Removes emulation-prevention bytes (00 00 03 → 00 00) to get the RBSP of a NAL unit. */
export function unescapeRbsp(nal: Buffer): Buffer {
  const out = Buffer.alloc(nal.length);
  let n = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i] as number;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[n++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, n);
}

export interface Sps {
  profileIdc: number;
  /** The constraint_set flags byte (constraint_set0_flag is its most significant bit). */
  constraintFlags: number;
  levelIdc: number;
  spsId: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** Display width and height after frame cropping. */
  width: number;
  height: number;
  frameMbsOnly: boolean;
  /** Frames per second from VUI timing info (time_scale / (2 × num_units_in_tick)). */
  frameRate?: number;
  /** Sample aspect ratio from VUI, when signalled. */
  sar?: [number, number];
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

const SAR_TABLE: Array<[number, number]> = [
  [0, 0], [1, 1], [12, 11], [10, 11], [16, 11], [40, 33], [24, 11], [20, 11], [32, 11],
  [80, 33], [18, 11], [15, 11], [64, 33], [160, 99], [4, 3], [3, 2], [2, 1],
];

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

interface Vui {
  frameRate?: number;
  sar?: [number, number];
}

function parseVui(r: BitReader): Vui {
  const vui: Vui = {};
  if (r.bit()) {
    const idc = r.bits(8);
    if (idc === 255) vui.sar = [r.bits(16), r.bits(16)];
    else if (idc > 0 && idc < SAR_TABLE.length) vui.sar = SAR_TABLE[idc];
  }
  if (r.bit()) r.skip(1);
  if (r.bit()) {
    r.skip(4);
    if (r.bit()) r.skip(24);
  }
  if (r.bit()) {
    r.ue();
    r.ue();
  }
  if (r.bit()) {
    const units = r.bits(32);
    const scale = r.bits(32);
    if (units > 0 && scale > 0) vui.frameRate = scale / (2 * units);
  }
  return vui;
}

/** Parses a sequence parameter set NAL unit (with its NAL header byte). */
export function parseSps(nal: Buffer): Sps {
  if (nal.length < 4 || nalType(nal) !== NAL_SPS) throw badMedia('H.264: not an SPS NAL unit');
  const r = createBitReader(unescapeRbsp(nal.subarray(1)), 'H.264 SPS');
  const profileIdc = r.bits(8);
  const constraintFlags = r.bits(8);
  const levelIdc = r.bits(8);
  const spsId = r.ue();
  if (spsId > 31) throw badMedia(`H.264 SPS: seq_parameter_set_id ${spsId} out of range`);
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  if (HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue();
    if (chromaFormatIdc > 3) throw badMedia(`H.264 SPS: chroma_format_idc ${chromaFormatIdc} out of range`);
    if (chromaFormatIdc === 3) separateColourPlane = r.bit() === 1;
    bitDepthLuma = r.ue() + 8;
    bitDepthChroma = r.ue() + 8;
    r.skip(1);
    if (r.bit()) {
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) if (r.bit()) skipScalingList(r, i < 6 ? 16 : 64);
    }
  }
  r.ue();
  const pocType = r.ue();
  if (pocType === 0) r.ue();
  else if (pocType === 1) {
    r.skip(1);
    r.se();
    r.se();
    const cycle = r.ue();
    if (cycle > 255) throw badMedia('H.264 SPS: num_ref_frames_in_pic_order_cnt_cycle out of range');
    for (let i = 0; i < cycle; i++) r.se();
  } else if (pocType !== 2) throw badMedia(`H.264 SPS: pic_order_cnt_type ${pocType} out of range`);
  r.ue();
  r.skip(1);
  const widthMbs = r.ue() + 1;
  const heightMapUnits = r.ue() + 1;
  const frameMbsOnly = r.bit() === 1;
  if (!frameMbsOnly) r.skip(1);
  r.skip(1);
  let crop = [0, 0, 0, 0];
  if (r.bit()) crop = [r.ue(), r.ue(), r.ue(), r.ue()];
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaArrayType === 3 ? 1 : 2;
  const subHeightC = chromaArrayType === 1 ? 2 : 1;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * (frameMbsOnly ? 1 : 2);
  const [left, right, top, bottom] = crop as [number, number, number, number];
  const width = widthMbs * 16 - cropUnitX * (left + right);
  const height = (frameMbsOnly ? 1 : 2) * heightMapUnits * 16 - cropUnitY * (top + bottom);
  if (width <= 0 || height <= 0) throw badMedia(`H.264 SPS: cropping leaves ${width}x${height}`);
  const sps: Sps = {
    profileIdc, constraintFlags, levelIdc, spsId, chromaFormatIdc, bitDepthLuma, bitDepthChroma,
    width, height, frameMbsOnly,
  };
  if (r.bitsLeft() > 0 && r.bit()) {
    try {
      const vui = parseVui(r);
      if (vui.frameRate !== undefined) sps.frameRate = vui.frameRate;
      if (vui.sar) sps.sar = vui.sar;
    } catch {
      // A truncated VUI leaves the optional fields unset; the picture size above is complete.
    }
  }
  return sps;
}

export interface AvcDecoderConfig {
  profileIdc: number;
  constraintFlags: number;
  levelIdc: number;
  nalLengthSize: number;
  sps: Buffer[];
  pps: Buffer[];
}

/** Builds an AVCDecoderConfigurationRecord from SPS and PPS NAL units (4-byte NAL lengths). */
export function buildAvcC(spsList: Buffer[], ppsList: Buffer[]): Buffer {
  const first = spsList[0];
  if (!first) throw badMedia('H.264: no SPS to build avcC from');
  if (ppsList.length === 0) throw badMedia('H.264: no PPS to build avcC from');
  if (spsList.length > 31 || ppsList.length > 255) throw badMedia('H.264: too many parameter sets for avcC');
  const sps = parseSps(first);
  const parts: Buffer[] = [
    Buffer.from([1, sps.profileIdc, sps.constraintFlags, sps.levelIdc, 0xfc | 3, 0xe0 | spsList.length]),
  ];
  const withLength = (nal: Buffer): Buffer[] => {
    if (nal.length > 0xffff) throw badMedia('H.264: parameter set too large for avcC');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(nal.length);
    return [len, nal];
  };
  for (const s of spsList) parts.push(...withLength(s));
  parts.push(Buffer.from([ppsList.length]));
  for (const p of ppsList) parts.push(...withLength(p));
  if (HIGH_PROFILES.has(sps.profileIdc) && sps.profileIdc !== 44 && sps.profileIdc !== 244) {
    parts.push(Buffer.from([
      0xfc | sps.chromaFormatIdc, 0xf8 | (sps.bitDepthLuma - 8), 0xf8 | (sps.bitDepthChroma - 8), 0,
    ]));
  }
  return Buffer.concat(parts);
}

/** Parses an AVCDecoderConfigurationRecord. */
export function parseAvcC(buf: Buffer): AvcDecoderConfig {
  if (buf.length < 7 || buf[0] !== 1) throw badMedia('H.264: extradata is not an avcC record (version must be 1)');
  const nalLengthSize = ((buf[4] as number) & 3) + 1;
  if (nalLengthSize === 3) throw badMedia('H.264: avcC declares an invalid 3-byte NAL length');
  let pos = 6;
  const readSets = (count: number): Buffer[] => {
    const sets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (pos + 2 > buf.length) throw badMedia('H.264: avcC truncated');
      const len = buf.readUInt16BE(pos);
      pos += 2;
      if (pos + len > buf.length || len === 0) throw badMedia('H.264: avcC parameter set overruns the record');
      sets.push(buf.subarray(pos, pos + len));
      pos += len;
    }
    return sets;
  };
  const sps = readSets((buf[5] as number) & 0x1f);
  if (pos >= buf.length) throw badMedia('H.264: avcC truncated before the PPS count');
  const ppsCount = buf[pos++] as number;
  const pps = readSets(ppsCount);
  return {
    profileIdc: buf[1] as number,
    constraintFlags: buf[2] as number,
    levelIdc: buf[3] as number,
    nalLengthSize,
    sps,
    pps,
  };
}
