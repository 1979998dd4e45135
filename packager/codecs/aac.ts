/**
 * AAC helpers: ADTS headers (ISO/IEC 13818-7 §6.2 / 14496-3 §1.A.2) and the
 * AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
 */
import { badMedia } from '../errors';
import { createBitReader, writeBits } from './bit-reader';

export const SAMPLE_RATES: readonly number[] = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/** Channel count for a channelConfiguration (0 = defined by a program config element). */
export function channelsOf(channelConfig: number): number {
  if (channelConfig === 7) return 8;
  if (channelConfig >= 1 && channelConfig <= 6) return channelConfig;
  if (channelConfig === 0) return 0;
  throw badMedia(`AAC: unsupported channel configuration ${channelConfig}`);
}

export interface AdtsHeader {
  /** MPEG-4 audio object type (ADTS profile + 1: 2 = AAC-LC). */
  objectType: number;
  samplingFrequencyIndex: number;
  sampleRate: number;
  channelConfig: number;
  /** Length of the whole ADTS frame, header included. */
  frameLength: number;
  /** 7 bytes, or 9 with CRC. */
  headerLength: number;
  /** Raw data blocks in the frame (each holds 1024 PCM samples). */
  rawBlocks: number;
}

export function isAdts(buf: Buffer): boolean {
  return buf.length >= 7 && buf[0] === 0xff && ((buf[1] as number) & 0xf6) === 0xf0;
}

export function parseAdtsHeader(buf: Buffer, offset = 0): AdtsHeader {
  if (offset + 7 > buf.length) throw badMedia('AAC: truncated ADTS header');
  const h = buf.subarray(offset, offset + 7);
  if (!isAdts(h)) throw badMedia(`AAC: no ADTS sync word at byte ${offset}`);
  const b1 = h[1] as number;
  const b2 = h[2] as number;
  const b3 = h[3] as number;
  const protectionAbsent = b1 & 1;
  const objectType = (b2 >> 6) + 1;
  const samplingFrequencyIndex = (b2 >> 2) & 0xf;
  const sampleRate = SAMPLE_RATES[samplingFrequencyIndex];
  if (sampleRate === undefined) throw badMedia(`AAC: invalid ADTS sampling frequency index ${samplingFrequencyIndex}`);
  const channelConfig = ((b2 & 1) << 2) | (b3 >> 6);
  const frameLength = ((b3 & 3) << 11) | ((h[4] as number) << 3) | ((h[5] as number) >> 5);
  const headerLength = protectionAbsent ? 7 : 9;
  if (frameLength < headerLength) throw badMedia(`AAC: ADTS frame length ${frameLength} shorter than its header`);
  const rawBlocks = ((h[6] as number) & 3) + 1;
  return { objectType, samplingFrequencyIndex, sampleRate, channelConfig, frameLength, headerLength, rawBlocks };
}

export interface AdtsFrame {
  header: AdtsHeader;
  /** The raw AAC payload with the ADTS header (and CRC) removed. */
  payload: Buffer;
}

/** Splits a buffer holding one or more ADTS frames into raw AAC payloads. */
export function splitAdts(buf: Buffer): AdtsFrame[] {
  const frames: AdtsFrame[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const header = parseAdtsHeader(buf, pos);
    if (pos + header.frameLength > buf.length) {
      throw badMedia(`AAC: ADTS frame of ${header.frameLength} bytes overruns the packet at byte ${pos}`);
    }
    if (header.rawBlocks !== 1) throw badMedia('AAC: ADTS frames with several raw data blocks are not supported');
    frames.push({ header, payload: buf.subarray(pos + header.headerLength, pos + header.frameLength) });
    pos += header.frameLength;
  }
  if (frames.length === 0) throw badMedia('AAC: empty ADTS payload');
  return frames;
}

export interface AudioSpecificConfig {
  objectType: number;
  sampleRate: number;
  samplingFrequencyIndex: number;
  channelConfig: number;
  channels: number;
  /** PCM samples per frame: 1024, or 960 when frameLengthFlag is set. */
  frameLength: number;
  /** Output sample rate of SBR (HE-AAC) when explicitly signalled. */
  extensionSampleRate?: number;
}

const GA_OBJECT_TYPES = new Set([1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23]);

/** Builds a 2-byte (or 5-byte for non-table rates) AudioSpecificConfig. */
export function buildAsc(objectType: number, sampleRate: number, channelConfig: number, frameLength = 1024): Buffer {
  if (objectType < 1 || objectType > 30) throw badMedia(`AAC: unsupported audio object type ${objectType}`);
  if (channelConfig < 0 || channelConfig > 7) throw badMedia(`AAC: channel configuration ${channelConfig} out of range`);
  if (frameLength !== 1024 && frameLength !== 960) throw badMedia(`AAC: frame length ${frameLength} must be 1024 or 960`);
  const index = SAMPLE_RATES.indexOf(sampleRate);
  const freq: Array<[number, number]> = index >= 0 ? [[index, 4]] : [[15, 4], [sampleRate, 24]];
  if (index < 0 && (sampleRate <= 0 || sampleRate >= 2 ** 24)) throw badMedia(`AAC: sample rate ${sampleRate} out of range`);
  return writeBits([[objectType, 5], ...freq, [channelConfig, 4], [frameLength === 960 ? 1 : 0, 1], [0, 1], [0, 1]]);
}

/** AudioSpecificConfig from an ADTS header (what an ADTS-only stream implies). */
export function ascFromAdts(h: AdtsHeader): Buffer {
  return buildAsc(h.objectType, h.sampleRate, h.channelConfig);
}

export function parseAsc(buf: Buffer): AudioSpecificConfig {
  if (buf.length < 2) throw badMedia('AAC: AudioSpecificConfig shorter than 2 bytes');
  const r = createBitReader(buf, 'AAC AudioSpecificConfig');
  const readObjectType = (): number => {
    const t = r.bits(5);
    return t === 31 ? 32 + r.bits(6) : t;
  };
  const readRate = (): [number, number] => {
    const index = r.bits(4);
    if (index === 15) return [index, r.bits(24)];
    const rate = SAMPLE_RATES[index];
    if (rate === undefined) throw badMedia(`AAC: invalid sampling frequency index ${index}`);
    return [index, rate];
  };
  const objectType = readObjectType();
  if (objectType === 0) throw badMedia('AAC: AudioSpecificConfig has object type 0');
  const [samplingFrequencyIndex, sampleRate] = readRate();
  const channelConfig = r.bits(4);
  const asc: AudioSpecificConfig = {
    objectType, sampleRate, samplingFrequencyIndex, channelConfig, channels: channelsOf(channelConfig), frameLength: 1024,
  };
  let coreType = objectType;
  if (objectType === 5 || objectType === 29) {
    asc.extensionSampleRate = readRate()[1];
    coreType = readObjectType();
  }
  if (GA_OBJECT_TYPES.has(coreType) && r.bitsLeft() > 0) asc.frameLength = r.bit() ? 960 : 1024;
  return asc;
}
