/**
 * A readable, indented text dump of an ISO BMFF box tree with the fields that matter for CMAF,
 * used for golden files and debugging. Unknown boxes are listed with their size only.
 */
import { badMedia } from '../errors';

const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'dinf', 'stbl', 'mvex', 'moof', 'traf', 'edts', 'udta', 'mfra']);
/** Boxes with a fixed header before their child boxes: bytes to skip. */
const HEADED_CONTAINERS: Record<string, number> = { stsd: 8, dref: 8, avc1: 78, avc3: 78, mp4a: 28 };
const MAX_ROWS = 64;

interface View {
  buf: Buffer;
  at: number;
}

function need(v: View, n: number, type: string): void {
  if (v.at + n > v.buf.length) throw badMedia(`MP4 dump: box ${type} truncated`);
}

function u(v: View, bytes: number, type: string): number {
  need(v, bytes, type);
  const value = bytes === 8 ? Number(v.buf.readBigUInt64BE(v.at)) : v.buf.readUIntBE(v.at, bytes);
  v.at += bytes;
  return value;
}

function s32(v: View, type: string): number {
  need(v, 4, type);
  const value = v.buf.readInt32BE(v.at);
  v.at += 4;
  return value;
}

function str(v: View, n: number, type: string): string {
  need(v, n, type);
  const s = v.buf.toString('latin1', v.at, v.at + n);
  v.at += n;
  return s;
}

function fullHeader(v: View, type: string): { version: number; flags: number } {
  return { version: u(v, 1, type), flags: u(v, 3, type) };
}

function hex(n: number, width = 6): string {
  return `0x${n.toString(16).padStart(width, '0')}`;
}

function brands(v: View, type: string): string {
  const major = str(v, 4, type);
  const minor = u(v, 4, type);
  const compat: string[] = [];
  while (v.at + 4 <= v.buf.length) compat.push(str(v, 4, type));
  return `major=${major} minor=${minor} compatible=[${compat.join(',')}]`;
}

function descriptors(buf: Buffer): string[] {
  const out: string[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const tag = buf[pos++] as number;
    let size = 0;
    for (let i = 0; i < 4; i++) {
      const b = buf[pos++];
      if (b === undefined) throw badMedia('MP4 dump: esds descriptor truncated');
      size = (size << 7) | (b & 0x7f);
      if ((b & 0x80) === 0) break;
    }
    const body = buf.subarray(pos, pos + size);
    if (body.length < size) throw badMedia('MP4 dump: esds descriptor overruns the box');
    pos += size;
    if (tag === 0x03) out.push(`ES_ID=${body.readUInt16BE(0)}`, ...descriptors(body.subarray(3)));
    else if (tag === 0x04) {
      out.push(`objectTypeIndication=${hex(body[0] ?? 0, 2)} streamType=${((body[1] ?? 0) >> 2)}`,
        `maxBitrate=${body.readUInt32BE(5)} avgBitrate=${body.readUInt32BE(9)}`, ...descriptors(body.subarray(13)));
    } else if (tag === 0x05) out.push(`decoderSpecificInfo=${body.toString('hex')}`);
    else if (tag === 0x06) out.push(`SLConfig predefined=${body[0] ?? 0}`);
  }
  return out;
}

function fields(type: string, v: View): string[] {
  switch (type) {
    case 'ftyp':
    case 'styp':
      return [brands(v, type)];
    case 'mvhd': {
      const { version } = fullHeader(v, type);
      v.at += version === 1 ? 16 : 8;
      const timescale = u(v, 4, type);
      const duration = u(v, version === 1 ? 8 : 4, type);
      v.at += 76;
      return [`version=${version} timescale=${timescale} duration=${duration} next_track_ID=${u(v, 4, type)}`];
    }
    case 'tkhd': {
      const { version, flags } = fullHeader(v, type);
      v.at += version === 1 ? 16 : 8;
      const trackId = u(v, 4, type);
      v.at += 4;
      const duration = u(v, version === 1 ? 8 : 4, type);
      v.at += 8 + 4;
      const volume = u(v, 2, type);
      v.at += 2 + 36;
      const w = u(v, 4, type) / 65536;
      const h = u(v, 4, type) / 65536;
      return [`flags=${hex(flags)} track_ID=${trackId} duration=${duration} volume=${volume / 256} width=${w} height=${h}`];
    }
    case 'mdhd': {
      const { version } = fullHeader(v, type);
      v.at += version === 1 ? 16 : 8;
      const timescale = u(v, 4, type);
      const duration = u(v, version === 1 ? 8 : 4, type);
      const lang = u(v, 2, type);
      const language = [10, 5, 0].map((sh) => String.fromCharCode(((lang >> sh) & 0x1f) + 0x60)).join('');
      return [`timescale=${timescale} duration=${duration} language=${language}`];
    }
    case 'hdlr': {
      fullHeader(v, type);
      v.at += 4;
      const handler = str(v, 4, type);
      v.at += 12;
      const end = v.buf.indexOf(0, v.at);
      const name = v.buf.toString('utf8', v.at, end < 0 ? v.buf.length : end);
      return [`handler_type=${handler} name="${name}"`];
    }
    case 'url ':
    case 'vmhd':
    case 'smhd':
      return [`flags=${hex(fullHeader(v, type).flags)}`];
    case 'stsd':
    case 'dref':
      fullHeader(v, type);
      return [`entry_count=${u(v, 4, type)}`];
    case 'avc1':
    case 'avc3': {
      v.at += 6;
      const dri = u(v, 2, type);
      v.at += 16;
      const w = u(v, 2, type);
      const h = u(v, 2, type);
      v.at += 46;
      return [`data_reference_index=${dri} width=${w} height=${h} depth=${u(v, 2, type)}`];
    }
    case 'avcC': {
      const rec = v.buf.subarray(v.at);
      const lines = [`profile=${rec[1]} compatibility=${hex(rec[2] ?? 0, 2)} level=${rec[3]} nal_length_size=${((rec[4] ?? 0) & 3) + 1}`];
      v.at += 5;
      const nSps = u(v, 1, type) & 0x1f;
      for (let i = 0; i < nSps; i++) lines.push(`sps=${lengthPrefixed(v, type).toString('hex')}`);
      const nPps = u(v, 1, type);
      for (let i = 0; i < nPps; i++) lines.push(`pps=${lengthPrefixed(v, type).toString('hex')}`);
      return lines;
    }
    case 'mp4a': {
      v.at += 6;
      const dri = u(v, 2, type);
      v.at += 8;
      const channels = u(v, 2, type);
      const sampleSize = u(v, 2, type);
      v.at += 4;
      return [`data_reference_index=${dri} channelcount=${channels} samplesize=${sampleSize} samplerate=${u(v, 4, type) / 65536}`];
    }
    case 'esds':
      fullHeader(v, type);
      return descriptors(v.buf.subarray(v.at));
    case 'stts':
    case 'stsc':
    case 'stco':
      fullHeader(v, type);
      return [`entry_count=${u(v, 4, type)}`];
    case 'stsz':
      fullHeader(v, type);
      return [`sample_size=${u(v, 4, type)} sample_count=${u(v, 4, type)}`];
    case 'trex':
      fullHeader(v, type);
      return [`track_ID=${u(v, 4, type)} default_sample_description_index=${u(v, 4, type)} default_duration=${u(v, 4, type)} default_size=${u(v, 4, type)} default_flags=${hex(u(v, 4, type), 8)}`];
    case 'mfhd':
      fullHeader(v, type);
      return [`sequence_number=${u(v, 4, type)}`];
    case 'tfhd': {
      const { flags } = fullHeader(v, type);
      return [`flags=${hex(flags)} track_ID=${u(v, 4, type)}`];
    }
    case 'tfdt': {
      const { version } = fullHeader(v, type);
      return [`version=${version} baseMediaDecodeTime=${u(v, version === 1 ? 8 : 4, type)}`];
    }
    case 'trun':
      return trunFields(v);
    default:
      return [];
  }
}

/** A 16-bit length followed by that many bytes (avcC parameter sets). */
function lengthPrefixed(v: View, type: string): Buffer {
  const len = u(v, 2, type);
  need(v, len, type);
  const out = v.buf.subarray(v.at, v.at + len);
  v.at += len;
  return out;
}

function trunFields(v: View): string[] {
  const type = 'trun';
  const { version, flags } = fullHeader(v, type);
  const count = u(v, 4, type);
  const head = [`version=${version} flags=${hex(flags)} sample_count=${count}`];
  if (flags & 0x1) head[0] += ` data_offset=${s32(v, type)}`;
  if (flags & 0x4) head[0] += ` first_sample_flags=${hex(u(v, 4, type), 8)}`;
  for (let i = 0; i < count; i++) {
    const cols: string[] = [];
    if (flags & 0x100) cols.push(`duration=${u(v, 4, type)}`);
    if (flags & 0x200) cols.push(`size=${u(v, 4, type)}`);
    if (flags & 0x400) cols.push(`flags=${hex(u(v, 4, type), 8)}`);
    if (flags & 0x800) cols.push(`cto=${version === 1 ? s32(v, type) : u(v, 4, type)}`);
    if (i < MAX_ROWS) head.push(`[${i}] ${cols.join(' ')}`);
  }
  if (count > MAX_ROWS) head.push(`... ${count - MAX_ROWS} more samples`);
  return head;
}

function walk(buf: Buffer, depth: number, lines: string[]): void {
  let pos = 0;
  while (pos < buf.length) {
    if (pos + 8 > buf.length) throw badMedia(`MP4 dump: ${buf.length - pos} stray bytes at the end of a box list`);
    let size = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    let headerSize = 8;
    if (size === 1) {
      if (pos + 16 > buf.length) throw badMedia(`MP4 dump: box ${type} truncated`);
      size = Number(buf.readBigUInt64BE(pos + 8));
      headerSize = 16;
    } else if (size === 0) size = buf.length - pos;
    if (size < headerSize || pos + size > buf.length) {
      throw badMedia(`MP4 dump: box ${type} at byte ${pos} claims ${size} bytes, ${buf.length - pos} available`);
    }
    const body = buf.subarray(pos + headerSize, pos + size);
    const indent = '  '.repeat(depth);
    const info = fields(type, { buf: body, at: 0 });
    lines.push(`${indent}${type} size=${size}${info[0] ? ` ${info[0]}` : ''}`);
    for (const extra of info.slice(1)) lines.push(`${indent}  | ${extra}`);
    if (CONTAINERS.has(type)) walk(body, depth + 1, lines);
    else {
      const skip = HEADED_CONTAINERS[type];
      if (skip !== undefined) walk(body.subarray(skip), depth + 1, lines);
    }
    pos += size;
  }
}

/** Dumps every top-level box of `buf` (an init segment, a fragment, or both concatenated). */
export function dumpBoxes(buf: Buffer): string {
  const lines: string[] = [];
  walk(buf, 0, lines);
  return `${lines.join('\n')}\n`;
}
