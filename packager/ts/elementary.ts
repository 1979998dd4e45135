/**
 * Elementary stream payloads as MPEG-TS carries them: H.264 access units in Annex-B with an access
 * unit delimiter and SPS/PPS before every IDR, AAC frames with ADTS headers. Input samples may be
 * Annex-B or length-prefixed (H.264), ADTS or raw (AAC). Pure.
 */
import { SAMPLE_RATES, isAdts, parseAsc, splitAdts } from '../codecs/aac';
import { NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS, isAnnexB, nalType, parseAvcC, splitAnnexB, splitLengthPrefixed } from '../codecs/h264';
import { badMedia } from '../errors';
import type { AacConfig, AvcConfig } from '../model';

const START_CODE = Buffer.from([0, 0, 0, 1]);
const AUD = Buffer.from([0x09, 0xf0]);

export interface ParameterSets {
  sps: Buffer[];
  pps: Buffer[];
  nalLengthSize: number;
}

export function parameterSetsOf(config: AvcConfig): ParameterSets {
  const avcc = parseAvcC(config.avcC);
  return { sps: avcc.sps, pps: avcc.pps, nalLengthSize: config.nalLengthSize };
}

/**
 * One access unit in Annex-B: AUD, then (on keyframes or IDR slices, when the sample has none)
 * the SPS and PPS, then the sample's NAL units without their own AUDs.
 */
export function annexBAccessUnit(data: Buffer, keyframe: boolean, ps: ParameterSets): Buffer {
  const nals = (isAnnexB(data) ? splitAnnexB(data) : splitLengthPrefixed(data, ps.nalLengthSize)).filter((n) => nalType(n) !== NAL_AUD);
  if (nals.length === 0) throw badMedia('H.264: access unit has no NAL units');
  const types = new Set(nals.map(nalType));
  const out: Buffer[] = [START_CODE, AUD];
  if ((keyframe || types.has(NAL_IDR)) && !types.has(NAL_SPS)) {
    for (const n of ps.sps) out.push(START_CODE, n);
    if (!types.has(NAL_PPS)) for (const n of ps.pps) out.push(START_CODE, n);
  }
  for (const n of nals) out.push(START_CODE, n);
  return Buffer.concat(out);
}

export interface AdtsParams {
  /** ADTS profile = object type − 1 (AAC Main, LC, SSR, LTP only). */
  objectType: number;
  samplingFrequencyIndex: number;
  channelConfig: number;
}

/** ADTS parameters of an AAC configuration; HE-AAC is carried as its AAC-LC core (implicit SBR). */
export function adtsParamsOf(config: AacConfig): AdtsParams {
  const asc = parseAsc(config.asc);
  const objectType = asc.objectType === 5 || asc.objectType === 29 ? 2 : asc.objectType;
  if (objectType < 1 || objectType > 4) throw badMedia(`AAC: object type ${asc.objectType} cannot be carried in ADTS`);
  const index = SAMPLE_RATES.indexOf(asc.sampleRate);
  if (index < 0) throw badMedia(`AAC: sample rate ${asc.sampleRate} has no ADTS index`);
  if (asc.channelConfig < 1 || asc.channelConfig > 7) throw badMedia(`AAC: channel configuration ${asc.channelConfig} cannot be carried in ADTS`);
  return { objectType, samplingFrequencyIndex: index, channelConfig: asc.channelConfig };
}

/** The 7-byte ADTS header (no CRC) of a frame with `payloadLength` bytes of raw AAC. */
export function adtsHeader(p: AdtsParams, payloadLength: number): Buffer {
  const frameLength = payloadLength + 7;
  if (frameLength > 0x1fff) throw badMedia(`AAC: frame of ${payloadLength} bytes is too long for ADTS`);
  return Buffer.from([
    0xff,
    0xf1, // MPEG-4, layer 0, protection_absent
    (((p.objectType - 1) & 3) << 6) | (p.samplingFrequencyIndex << 2) | ((p.channelConfig >> 2) & 1),
    ((p.channelConfig & 3) << 6) | ((frameLength >> 11) & 3),
    (frameLength >> 3) & 0xff,
    ((frameLength & 7) << 5) | 0x1f, // buffer fullness 0x7FF (variable)
    0xfc, // one raw data block
  ]);
}

/** An audio sample as ADTS: kept when it already is (checked), else framed with a header. */
export function adtsFrames(data: Buffer, p: AdtsParams): Buffer {
  if (isAdts(data)) {
    splitAdts(data);
    return data;
  }
  if (data.length === 0) throw badMedia('AAC: empty audio frame');
  return Buffer.concat([adtsHeader(p, data.length), data]);
}
