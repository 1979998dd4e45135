/** Byte helpers for ISO BMFF boxes: a box is a 32-bit size, a fourcc and its payload. */
import { badMedia } from '../errors';

export type Bytes = Buffer | number[];

function asBuffer(part: Bytes): Buffer {
  return Buffer.isBuffer(part) ? part : Buffer.from(part);
}

function checkFourcc(type: string): void {
  if (type.length !== 4) throw badMedia(`MP4: box type "${type}" must be four characters`);
}

/** A plain box. */
export function box(type: string, ...payload: Bytes[]): Buffer {
  checkFourcc(type);
  const body = Buffer.concat(payload.map(asBuffer));
  const size = 8 + body.length;
  if (size > 0xffffffff) throw badMedia(`MP4: box ${type} of ${size} bytes exceeds 32-bit size`);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(size, 0);
  header.write(type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

/** A full box: version (8 bits) and flags (24 bits) before the payload. */
export function fullBox(type: string, version: number, flags: number, ...payload: Bytes[]): Buffer {
  return box(type, [version & 0xff, (flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff], ...payload);
}

export function u8(v: number): Buffer {
  return Buffer.from([v & 0xff]);
}

export function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

export function u24(v: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(v, 0, 3);
  return b;
}

export function u32(v: number): Buffer {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw badMedia(`MP4: ${v} does not fit an unsigned 32-bit field`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

export function i32(v: number): Buffer {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw badMedia(`MP4: ${v} does not fit a signed 32-bit field`);
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

export function u64(v: number): Buffer {
  if (!Number.isSafeInteger(v) || v < 0) throw badMedia(`MP4: ${v} does not fit an unsigned 64-bit field`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
}

export function fourcc(s: string): Buffer {
  checkFourcc(s);
  return Buffer.from(s, 'latin1');
}

export function zeros(n: number): Buffer {
  return Buffer.alloc(n);
}

/** The unity transformation matrix of mvhd/tkhd. */
export function unityMatrix(): Buffer {
  return Buffer.concat([0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map(u32));
}
