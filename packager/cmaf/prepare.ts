/**
 * Turns demuxer output into CMAF input: resolves a track's codec configuration (from extradata
 * or in-band parameter sets / ADTS headers), picks the media timescale, converts payloads
 * (Annex-B → 4-byte length prefixes without AUD/SPS/PPS; ADTS → raw AAC) and rescales timing.
 */
import { ascFromAdts, isAdts, parseAsc, parseAdtsHeader, splitAdts } from '../codecs/aac';
import { aacCodecString, avcCodecString } from '../codecs/codec-string';
import {
  NAL_AUD, NAL_FILLER, NAL_PPS, NAL_SPS, NAL_SPS_EXT, buildAvcC, isAnnexB, nalType, parseAvcC, parseSps,
  splitAnnexB, splitLengthPrefixed, toLengthPrefixed,
} from '../codecs/h264';
import { badMedia } from '../errors';
import type { AacConfig, AvcConfig, CmafSample, CmafTrack, Sample, TrackInfo } from '../model';
import type { SampleLayout } from './fragment-boxes';
import { TIMELINE_HZ } from '../../core/model/live';

const VIDEO_TIMESCALE = TIMELINE_HZ;
const DROPPED_NALS = new Set([NAL_AUD, NAL_SPS, NAL_PPS, NAL_FILLER, NAL_SPS_EXT]);

/** Rescales an integer timestamp between timescales, rounding to nearest. */
export function rescale(value: number, from: number, to: number): number {
  if (from === to) return value;
  return Math.round((value * to) / from);
}

function nalsOf(data: Buffer, lengthSize: number): Buffer[] {
  return isAnnexB(data) ? splitAnnexB(data) : splitLengthPrefixed(data, lengthSize);
}

function parameterSets(info: TrackInfo, samples: Sample[]): { sps: Buffer[]; pps: Buffer[]; lengthSize: number } {
  const extradata = info.extradata;
  if (extradata && extradata.length > 0) {
    if (extradata[0] === 1) {
      const rec = parseAvcC(extradata);
      if (rec.sps.length > 0 && rec.pps.length > 0) return { sps: rec.sps, pps: rec.pps, lengthSize: rec.nalLengthSize };
    } else if (isAnnexB(extradata)) {
      const nals = splitAnnexB(extradata);
      const sps = nals.filter((n) => nalType(n) === NAL_SPS);
      const pps = nals.filter((n) => nalType(n) === NAL_PPS);
      if (sps.length > 0 && pps.length > 0) return { sps, pps, lengthSize: 4 };
    } else {
      throw badMedia(`H.264 track ${info.id}: extradata is neither avcC nor Annex-B`);
    }
  }
  for (const s of samples) {
    if (!isAnnexB(s.data)) continue;
    const nals = splitAnnexB(s.data);
    const sps = nals.filter((n) => nalType(n) === NAL_SPS);
    const pps = nals.filter((n) => nalType(n) === NAL_PPS);
    if (sps.length > 0 && pps.length > 0) return { sps, pps, lengthSize: 4 };
  }
  throw badMedia(`H.264 track ${info.id}: no SPS/PPS in extradata or in the samples`);
}

function resolveAvc(info: TrackInfo, samples: Sample[]): AvcConfig {
  const { sps, pps, lengthSize } = parameterSets(info, samples);
  const parsed = parseSps(sps[0] as Buffer);
  const config: AvcConfig = {
    codec: 'h264',
    avcC: buildAvcC(sps, pps),
    nalLengthSize: lengthSize,
    width: parsed.width,
    height: parsed.height,
    codecString: avcCodecString(parsed.profileIdc, parsed.constraintFlags, parsed.levelIdc),
  };
  if (parsed.frameRate !== undefined) config.frameRate = parsed.frameRate;
  return config;
}

function resolveAac(info: TrackInfo, samples: Sample[]): AacConfig {
  let asc: Buffer;
  if (info.extradata && info.extradata.length > 0) asc = info.extradata;
  else {
    const first = samples.find((s) => isAdts(s.data));
    if (!first) throw badMedia(`AAC track ${info.id}: no AudioSpecificConfig and no ADTS header in the samples`);
    asc = ascFromAdts(parseAdtsHeader(first.data));
  }
  const parsed = parseAsc(asc);
  return {
    codec: 'aac',
    asc,
    objectType: parsed.objectType,
    sampleRate: parsed.sampleRate,
    channels: parsed.channels > 0 ? parsed.channels : info.channels ?? 2,
    frameLength: parsed.frameLength,
    codecString: aacCodecString(parsed),
  };
}

/**
 * Resolves a track for the CMAF writer. `samples` are only read when the configuration travels
 * in band (Annex-B SPS/PPS, ADTS headers): pass at least the first keyframe / first audio frame.
 */
export function resolveTrack(info: TrackInfo, samples: Sample[] = []): CmafTrack {
  if (!Number.isInteger(info.timescale) || info.timescale < 1) {
    throw badMedia(`track ${info.id}: timescale ${info.timescale} is invalid`);
  }
  if (info.codec === 'h264') {
    if (info.kind !== 'video') throw badMedia(`track ${info.id}: h264 must be a video track`);
    return { id: info.id, kind: 'video', timescale: VIDEO_TIMESCALE, config: resolveAvc(info, samples) };
  }
  if (info.codec === 'aac') {
    if (info.kind !== 'audio') throw badMedia(`track ${info.id}: aac must be an audio track`);
    const config = resolveAac(info, samples);
    return { id: info.id, kind: 'audio', timescale: config.sampleRate, config };
  }
  throw badMedia(`track ${String(info.id)}: unsupported codec ${String((info as { codec: unknown }).codec)}`);
}

/** Fills durations from decode-time deltas so a fragment's samples tile its time exactly. */
function tileDurations<T extends SampleLayout>(samples: T[], lastDuration: (s: T) => number): T[] {
  return samples.map((s, i) => {
    const next = samples[i + 1];
    const duration = next ? next.dts - s.dts : lastDuration(s);
    if (duration < 0) throw badMedia(`CMAF: decode times go backwards at sample ${i} (${s.dts} → ${next?.dts})`);
    return { ...s, duration };
  });
}

function checkTiming(s: SampleTiming, i: number): void {
  for (const [k, v] of [['pts', s.pts], ['dts', s.dts], ['duration', s.duration]] as const) {
    if (!Number.isSafeInteger(v)) throw badMedia(`sample ${i}: ${k} ${v} is not an integer`);
  }
}

/** A demuxed sample without its payload. */
export type SampleTiming = Omit<Sample, 'data'>;

/**
 * The CMAF payloads one demuxed sample becomes: H.264 as 4-byte length-prefixed NAL units without AUD, SPS, PPS
 * and filler (one payload); AAC without ADTS headers (one payload per ADTS frame, or the raw frame as it is).
 */
export function cmafPayloads(track: CmafTrack, s: Sample, i: number): Buffer[] {
  const config = track.config;
  if (config.codec === 'h264') {
    const nals = nalsOf(s.data, config.nalLengthSize).filter((n) => !DROPPED_NALS.has(nalType(n)));
    if (nals.length === 0) throw badMedia(`H.264 sample ${i} (dts ${s.dts}) holds no picture data`);
    return [toLengthPrefixed(nals, 4)];
  }
  const payloads = isAdts(s.data) ? splitAdts(s.data).map((f) => f.payload) : [s.data];
  for (const data of payloads) if (data.length === 0) throw badMedia(`AAC sample ${i} (dts ${s.dts}) is empty`);
  return payloads;
}

type Laid<T> = Omit<CmafSample, 'data'> & { data: T };

function videoLayout<T extends { readonly length: number }>(info: TrackInfo, track: CmafTrack, samples: readonly SampleTiming[], payloads: readonly T[][]): Laid<T>[] {
  const converted = samples.map((s, i): Laid<T> => {
    checkTiming(s, i);
    const dts = rescale(s.dts, info.timescale, track.timescale);
    return {
      dts,
      compositionOffset: rescale(s.pts, info.timescale, track.timescale) - dts,
      duration: rescale(s.duration, info.timescale, track.timescale),
      keyframe: s.keyframe,
      data: (payloads[i] as T[])[0] as T,
    };
  });
  const fallback = converted.length > 1 ? (converted[1] as Laid<T>).dts - (converted[0] as Laid<T>).dts : 0;
  return tileDurations(converted, (s) => (s.duration > 0 ? s.duration : fallback));
}

function audioLayout<T extends { readonly length: number }>(info: TrackInfo, track: CmafTrack, config: AacConfig, samples: readonly SampleTiming[], payloads: readonly T[][]): Laid<T>[] {
  const out: Laid<T>[] = [];
  samples.forEach((s, i) => {
    checkTiming(s, i);
    const base = rescale(s.dts, info.timescale, track.timescale);
    (payloads[i] as T[]).forEach((data, k) => {
      out.push({ dts: base + k * config.frameLength, compositionOffset: 0, duration: config.frameLength, keyframe: true, data });
    });
  });
  return tileDurations(out, () => config.frameLength);
}

/**
 * CMAF samples (in the track's media timescale) from demuxed samples' timing and their CMAF payloads as
 * `cmafPayloads` gives them, or only those payloads' sizes (`{length}`): a fragment's head can be built without
 * holding its payloads.
 */
export function cmafLayout<T extends { readonly length: number }>(info: TrackInfo, track: CmafTrack, samples: readonly SampleTiming[], payloads: readonly T[][]): Laid<T>[] {
  return track.config.codec === 'h264'
    ? videoLayout(info, track, samples, payloads)
    : audioLayout(info, track, track.config, samples, payloads);
}

/** Converts demuxed samples of one track into CMAF samples in the track's media timescale. */
export function toCmafSamples(info: TrackInfo, track: CmafTrack, samples: Sample[]): CmafSample[] {
  return cmafLayout(info, track, samples, samples.map((s, i) => cmafPayloads(track, s, i)));
}
