/**
 * FLV from RTMP messages: the file header, one tag per audio/video/script message, and readers of the
 * first bytes of audio/video tag bodies (codec identification). Pure functions.
 *
 * FLV tag: type(1) dataSize(3) timestamp(3, low bits) timestampExtended(1, high bits) streamId(3 = 0),
 * body, then PreviousTagSize(4) = 11 + dataSize. The header is "FLV", version 1, flags, offset 9, followed
 * by PreviousTagSize0 = 0.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
import { amf0ToPlain, decodeAmf0, encodeAmf0, type Amf0Value } from './amf0';

export const FLV_TAG = { audio: 8, video: 9, script: 18 } as const;
export type FlvTagType = (typeof FLV_TAG)[keyof typeof FLV_TAG];

export const FLV_VIDEO_CODEC_AVC = 7;
export const FLV_SOUND_FORMAT_AAC = 10;

const VIDEO_CODEC_NAMES: Record<number, string> = {
  1: 'JPEG', 2: 'Sorenson H.263', 3: 'Screen video', 4: 'On2 VP6', 5: 'On2 VP6 with alpha',
  6: 'Screen video v2', 7: 'H.264/AVC', 12: 'HEVC (non-standard id 12)', 13: 'AV1 (non-standard id 13)',
};

const SOUND_FORMAT_NAMES: Record<number, string> = {
  0: 'Linear PCM (platform endian)', 1: 'ADPCM', 2: 'MP3', 3: 'Linear PCM (little endian)',
  4: 'Nellymoser 16 kHz', 5: 'Nellymoser 8 kHz', 6: 'Nellymoser', 7: 'G.711 A-law', 8: 'G.711 mu-law',
  9: 'enhanced RTMP audio (multitrack/FourCC)', 10: 'AAC', 11: 'Speex', 14: 'MP3 8 kHz', 15: 'device-specific sound',
};

/**
 * FFmpeg's codec for each FLV sound format its flv demuxer decodes (linear PCM: 8-bit unsigned or 16-bit
 * little endian, the byte order FFmpeg assumes for "platform endian" on the little-endian hosts Beamline runs
 * on). AAC passes through; the others are transcoded to AAC at ingest. Absent: enhanced RTMP audio (9),
 * reserved (12, 13) and device-specific sound (15).
 */
const SOUND_FORMAT_CODECS: Record<number, string> = {
  1: 'adpcm_swf', 2: 'mp3', 4: 'nellymoser', 5: 'nellymoser', 6: 'nellymoser', 7: 'pcm_alaw', 8: 'pcm_mulaw',
  10: 'aac', 11: 'speex', 14: 'mp3',
};
const FLV_SOUND_FORMAT_PCM = [0, 3];

export interface FlvHeaderFlags {
  audio: boolean;
  video: boolean;
}

/** The 9-byte FLV header followed by PreviousTagSize0 (13 bytes). */
export function flvHeader(flags: FlvHeaderFlags): Buffer {
  const b = Buffer.alloc(13);
  b.write('FLV', 0, 'latin1');
  b[3] = 1;
  b[4] = (flags.audio ? 0x04 : 0) | (flags.video ? 0x01 : 0);
  b.writeUInt32BE(9, 5);
  return b;
}

/** One FLV tag including its trailing PreviousTagSize. `timestamp` is in ms (uint32). */
export function flvTag(type: FlvTagType, timestamp: number, body: Buffer): Buffer {
  if (body.length > 0xffffff) throw new RangeError(`FLV tag body of ${body.length} bytes exceeds 16 MiB`);
  const ts = timestamp >>> 0;
  const out = Buffer.allocUnsafe(11 + body.length + 4);
  out[0] = type;
  out.writeUIntBE(body.length, 1, 3);
  out.writeUIntBE(ts & 0xffffff, 4, 3);
  out[7] = ts >>> 24;
  out.writeUIntBE(0, 8, 3);
  body.copy(out, 11);
  out.writeUInt32BE(11 + body.length, 11 + body.length);
  return out;
}

export interface VideoTagInfo {
  /** 1 key frame, 2 inter frame, 3 disposable, 4 generated key frame, 5 video info/command. */
  frameType: number;
  codecId: number;
  /** Enhanced RTMP (ExVideoTagHeader) FourCC such as `hvc1`, `av01`, `vp09`; null for legacy tags. */
  fourCc: string | null;
  /** AVC: 0 sequence header, 1 NALUs, 2 end of sequence; null when not H.264. */
  avcPacketType: number | null;
  /** AVC composition time offset in ms (signed 24 bit); 0 when not H.264. */
  compositionTime: number;
}

export function parseVideoTagHeader(body: Buffer): VideoTagInfo {
  if (body.length < 1) throw new Error('FLV video tag body is empty');
  const b0 = body[0] as number;
  if (b0 & 0x80) {
    const fourCc = body.length >= 5 ? body.toString('latin1', 1, 5) : '????';
    return { frameType: (b0 >> 4) & 0x07, codecId: -1, fourCc, avcPacketType: null, compositionTime: 0 };
  }
  const frameType = b0 >> 4;
  const codecId = b0 & 0x0f;
  if (codecId !== FLV_VIDEO_CODEC_AVC || frameType === 5) {
    return { frameType, codecId, fourCc: null, avcPacketType: null, compositionTime: 0 };
  }
  if (body.length < 5) throw new Error(`FLV AVC video tag too short (${body.length} bytes)`);
  const raw = body.readUIntBE(2, 3);
  const compositionTime = raw & 0x800000 ? raw - 0x1000000 : raw;
  return { frameType, codecId, fourCc: null, avcPacketType: body[1] as number, compositionTime };
}

export interface AudioTagInfo {
  soundFormat: number;
  /** FFmpeg's decoder for the sound format, null when Beamline cannot take it. */
  codec: string | null;
  /** AAC: 0 sequence header (AudioSpecificConfig), 1 raw frame; null when not AAC. */
  aacPacketType: number | null;
}

export function parseAudioTagHeader(body: Buffer): AudioTagInfo {
  if (body.length < 1) throw new Error('FLV audio tag body is empty');
  const b0 = body[0] as number;
  const soundFormat = b0 >> 4;
  const codec = FLV_SOUND_FORMAT_PCM.includes(soundFormat) ? (b0 & 0x02 ? 'pcm_s16le' : 'pcm_u8') : (SOUND_FORMAT_CODECS[soundFormat] ?? null);
  if (soundFormat !== FLV_SOUND_FORMAT_AAC) return { soundFormat, codec, aacPacketType: null };
  if (body.length < 2) throw new Error('FLV AAC audio tag too short (1 byte)');
  return { soundFormat, codec, aacPacketType: body[1] as number };
}

/** Human name of a video tag's codec, for logs and close reasons. */
export function videoCodecName(info: VideoTagInfo): string {
  if (info.fourCc !== null) return `enhanced RTMP video '${info.fourCc}'`;
  return VIDEO_CODEC_NAMES[info.codecId] ?? `FLV video codec id ${info.codecId}`;
}

export function soundFormatName(soundFormat: number): string {
  return SOUND_FORMAT_NAMES[soundFormat] ?? `FLV sound format ${soundFormat}`;
}

export interface ScriptData {
  /** The handler name, e.g. `onMetaData`. */
  name: string;
  /** The handler's argument as plain data (ECMA arrays become objects). */
  value: unknown;
  /** The FLV script tag body: name + argument, with RTMP's `@setDataFrame` prefix removed. */
  body: Buffer;
}

/**
 * Reads an RTMP AMF0 data message (`@setDataFrame`, `onMetaData`, {…} or `onMetaData`, {…}) and
 * produces the FLV script tag body. Returns null for data messages that are not named handler calls.
 */
export function scriptDataFromMessage(payload: Buffer): ScriptData | null {
  let values: Amf0Value[] = decodeAmf0(payload);
  if (values[0] === '@setDataFrame') values = values.slice(1);
  const name = values[0];
  if (typeof name !== 'string' || values.length < 2) return null;
  return { name, value: amf0ToPlain(values[1] as Amf0Value), body: encodeAmf0(...values) };
}
