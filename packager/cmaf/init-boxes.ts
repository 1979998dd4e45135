/**
 * The boxes of a CMAF header (init segment), one small function per box (ISO/IEC 14496-12,
 * 14496-14 for esds, 14496-15 for avc1/avcC).
 */
import { badMedia } from '../errors';
import type { AacConfig, AvcConfig, CmafTrack } from '../model';
import { box, fourcc, fullBox, u16, u32, u8, unityMatrix, zeros } from './box-writer';

export function ftyp(majorBrand: string, minorVersion: number, compatible: string[]): Buffer {
  return box('ftyp', fourcc(majorBrand), u32(minorVersion), ...compatible.map(fourcc));
}

/** Movie header: timescale for the (empty) movie duration, and the next free track id. */
export function mvhd(timescale: number, nextTrackId: number): Buffer {
  return fullBox('mvhd', 0, 0,
    u32(0), u32(0), u32(timescale), u32(0),
    u32(0x00010000), u16(0x0100), zeros(10),
    unityMatrix(), zeros(24), u32(nextTrackId));
}

/** Track header: enabled and in movie; 16.16 presentation size for video, full volume for audio. */
export function tkhd(track: CmafTrack): Buffer {
  const video = track.config.codec === 'h264' ? track.config : undefined;
  return fullBox('tkhd', 0, 3,
    u32(0), u32(0), u32(track.id), zeros(4), u32(0), zeros(8),
    u16(0), u16(0), u16(track.kind === 'audio' ? 0x0100 : 0), zeros(2),
    unityMatrix(),
    u32((video?.width ?? 0) * 65536), u32((video?.height ?? 0) * 65536));
}

function packLanguage(language: string): number {
  if (!/^[a-z]{3}$/.test(language)) throw badMedia(`MP4: language "${language}" must be three lowercase letters (ISO 639-2/T)`);
  return [...language].reduce((acc, c) => (acc << 5) | (c.charCodeAt(0) - 0x60), 0);
}

export function mdhd(timescale: number, language = 'und'): Buffer {
  return fullBox('mdhd', 0, 0, u32(0), u32(0), u32(timescale), u32(0), u16(packLanguage(language)), u16(0));
}

export function hdlr(handlerType: 'vide' | 'soun', name: string): Buffer {
  return fullBox('hdlr', 0, 0, u32(0), fourcc(handlerType), zeros(12), Buffer.from(`${name}\0`, 'utf8'));
}

export function vmhd(): Buffer {
  return fullBox('vmhd', 0, 1, u16(0), zeros(6));
}

export function smhd(): Buffer {
  return fullBox('smhd', 0, 0, u16(0), u16(0));
}

/** Data reference with one self-contained `url ` entry (flag 1: media in the same file). */
export function dref(): Buffer {
  return fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1));
}

export function dinf(): Buffer {
  return box('dinf', dref());
}

export function avcC(record: Buffer): Buffer {
  return box('avcC', record);
}

export function avc1(config: AvcConfig): Buffer {
  return box('avc1',
    zeros(6), u16(1),
    u16(0), u16(0), zeros(12),
    u16(config.width), u16(config.height),
    u32(0x00480000), u32(0x00480000), u32(0), u16(1),
    zeros(32), u16(0x0018), u16(0xffff),
    avcC(config.avcC));
}

/** An MPEG-4 descriptor: tag, size in the 7-bits-per-byte expandable form, body. */
function descriptor(tag: number, ...body: Buffer[]): Buffer {
  const content = Buffer.concat(body);
  const sizeBytes: number[] = [];
  let size = content.length;
  do {
    sizeBytes.unshift(size & 0x7f);
    size >>= 7;
  } while (size > 0);
  for (let i = 0; i < sizeBytes.length - 1; i++) sizeBytes[i] = (sizeBytes[i] as number) | 0x80;
  return Buffer.concat([u8(tag), Buffer.from(sizeBytes), content]);
}

/** Elementary stream descriptor box carrying the AudioSpecificConfig. */
export function esds(config: AacConfig, trackId: number, bitrate = 0): Buffer {
  const decoderSpecificInfo = descriptor(0x05, config.asc);
  const decoderConfig = descriptor(0x04,
    u8(0x40), u8((0x05 << 2) | 1), Buffer.from([0, 0, 0]), u32(bitrate), u32(bitrate),
    decoderSpecificInfo);
  const slConfig = descriptor(0x06, u8(0x02));
  return fullBox('esds', 0, 0, descriptor(0x03, u16(trackId & 0xffff), u8(0), decoderConfig, slConfig));
}

export function mp4a(config: AacConfig, trackId: number): Buffer {
  const rate = config.sampleRate <= 0xffff ? config.sampleRate : 0;
  return box('mp4a',
    zeros(6), u16(1),
    zeros(8), u16(config.channels > 0 ? config.channels : 2), u16(16), u16(0), u16(0),
    u32(rate * 65536),
    esds(config, trackId));
}

export function stsd(...entries: Buffer[]): Buffer {
  return fullBox('stsd', 0, 0, u32(entries.length), ...entries);
}

/** Empty sample tables: fragmented files carry their samples in moof/trun. */
export function stts(): Buffer {
  return fullBox('stts', 0, 0, u32(0));
}

export function stsc(): Buffer {
  return fullBox('stsc', 0, 0, u32(0));
}

export function stsz(): Buffer {
  return fullBox('stsz', 0, 0, u32(0), u32(0));
}

export function stco(): Buffer {
  return fullBox('stco', 0, 0, u32(0));
}

export function stbl(sampleEntry: Buffer): Buffer {
  return box('stbl', stsd(sampleEntry), stts(), stsc(), stsz(), stco());
}

export function minf(track: CmafTrack): Buffer {
  const header = track.kind === 'video' ? vmhd() : smhd();
  const entry = track.config.codec === 'h264' ? avc1(track.config) : mp4a(track.config, track.id);
  return box('minf', header, dinf(), stbl(entry));
}

export function mdia(track: CmafTrack): Buffer {
  const handler = track.kind === 'video' ? hdlr('vide', 'Beamline video') : hdlr('soun', 'Beamline audio');
  return box('mdia', mdhd(track.timescale, track.language), handler, minf(track));
}

export function trak(track: CmafTrack): Buffer {
  return box('trak', tkhd(track), mdia(track));
}

export function trex(trackId: number): Buffer {
  return fullBox('trex', 0, 0, u32(trackId), u32(1), u32(0), u32(0), u32(0));
}

export function mvex(trackIds: number[]): Buffer {
  return box('mvex', ...trackIds.map(trex));
}

export function moov(tracks: CmafTrack[]): Buffer {
  const nextTrackId = Math.max(...tracks.map((t) => t.id)) + 1;
  return box('moov', mvhd(1000, nextTrackId), ...tracks.map(trak), mvex(tracks.map((t) => t.id)));
}
