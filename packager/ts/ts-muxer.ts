/**
 * The MPEG-TS muxer: one self-contained segment (PAT, PMT, then the video and audio PES packets
 * interleaved by decode time) from an H.264 track and an optional AAC track. PCR rides the video
 * PID in the first packet of every video PES; keyframes set random_access_indicator. Continuity
 * counters start at 0 in every segment (segments are built independently, without state), so the
 * first packet of each elementary PID sets discontinuity_indicator: demuxers reading segments back
 * to back then accept the counter jump instead of flagging the packet corrupt. Pure.
 *
 * Timestamps are 90 kHz ticks and are written as they are (mod 2^33), so a TS segment carries the
 * same presentation times as the CMAF segment of the same window.
 */
import { badRenderInput } from '../errors';
import type { AacConfig, AvcConfig, Sample } from '../model';
import { adtsFrames, adtsParamsOf, annexBAccessUnit, parameterSetsOf } from './elementary';
import { STREAM_ID_AUDIO, STREAM_ID_VIDEO, pesHeader, wrap33 } from './pes';
import { PAT_PID, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264, buildPat, buildPmt, psiPacket } from './psi';
import { packetize } from './ts-packet';

export const PMT_PID = 0x1000;
export const VIDEO_PID = 0x100;
export const AUDIO_PID = 0x101;
const PROGRAM_NUMBER = 1;

export interface TsMuxInput {
  video: { config: AvcConfig; samples: readonly Sample[] };
  audio?: { config: AacConfig; samples: readonly Sample[] } | null;
  /** PCR runs this many 90 kHz ticks behind the video DTS (decoder buffering); default 0.1 s. */
  pcrDelay?: number;
}

interface Unit {
  pid: number;
  dts: number;
  order: number;
  pes: Buffer;
  keyframe: boolean;
}

function videoUnits(input: TsMuxInput['video']): Unit[] {
  const ps = parameterSetsOf(input.config);
  return input.samples.map((s, i) => {
    const es = annexBAccessUnit(s.data, s.keyframe, ps);
    const header = pesHeader({ streamId: STREAM_ID_VIDEO, pts: s.pts, dts: s.dts, payloadLength: es.length, unbounded: true });
    return { pid: VIDEO_PID, dts: s.dts, order: i, pes: Buffer.concat([header, es]), keyframe: s.keyframe };
  });
}

function audioUnits(input: NonNullable<TsMuxInput['audio']>): Unit[] {
  const params = adtsParamsOf(input.config);
  return input.samples.map((s, i) => {
    const es = adtsFrames(s.data, params);
    const header = pesHeader({ streamId: STREAM_ID_AUDIO, pts: s.pts, payloadLength: es.length });
    return { pid: AUDIO_PID, dts: s.dts, order: i, pes: Buffer.concat([header, es]), keyframe: false };
  });
}

/** Muxes one segment; throws a clear error on an empty video track or malformed samples. */
export function muxTransportStream(input: TsMuxInput): Buffer {
  if (input.video.samples.length === 0) throw badRenderInput('TS: a segment needs at least one video sample');
  const audio = input.audio && input.audio.samples.length > 0 ? input.audio : null;
  const pcrDelay = input.pcrDelay ?? 9000;
  const streams = [{ streamType: STREAM_TYPE_H264, pid: VIDEO_PID }];
  if (input.audio) streams.push({ streamType: STREAM_TYPE_AAC_ADTS, pid: AUDIO_PID });
  const out: Buffer[] = [
    psiPacket(PAT_PID, buildPat(PROGRAM_NUMBER, PMT_PID), 0),
    psiPacket(PMT_PID, buildPmt({ programNumber: PROGRAM_NUMBER, pmtPid: PMT_PID, pcrPid: VIDEO_PID, streams }), 0),
  ];
  const units = [...videoUnits(input.video), ...(audio ? audioUnits(audio) : [])];
  units.sort((a, b) => a.dts - b.dts || a.pid - b.pid || a.order - b.order);
  const cc = new Map<number, number>();
  for (const u of units) {
    const first = !cc.has(u.pid);
    const opts = u.pid === VIDEO_PID ? { pcr: wrap33(u.dts - pcrDelay) * 300, randomAccess: u.keyframe, discontinuity: first } : { discontinuity: first };
    const r = packetize(u.pid, u.pes, cc.get(u.pid) ?? 0, opts);
    cc.set(u.pid, r.nextCc);
    out.push(...r.packets);
  }
  return Buffer.concat(out);
}
