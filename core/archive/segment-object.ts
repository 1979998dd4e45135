/**
 * Pure: the archive object of one (content, stream, segment). Self-describing, so the index could be rebuilt
 * from the objects alone:
 *
 *   4 bytes   header length N, big-endian
 *   N bytes   header JSON {version, content, stream, segment, startDts, endDts, packets: [{member, meta, offset, size}]}
 *   …         the payloads concatenated in the header's order; `offset` counts from the first payload byte
 */

import type { PacketMeta } from '../model/media';

export const SEGMENT_OBJECT_VERSION = 1;

export interface ObjectPacket {
  member: string;
  meta: PacketMeta;
  /** Offset of the payload from the start of the payload area. */
  offset: number;
  size: number;
}

export interface SegmentObjectHeader {
  version: number;
  content: string;
  stream: number;
  segment: number;
  startDts: number;
  endDts: number;
  packets: ObjectPacket[];
}

export interface SegmentObjectInput {
  content: string;
  stream: number;
  segment: number;
  startDts: number;
  endDts: number;
  packets: readonly { member: string; meta: PacketMeta; data: Buffer }[];
}

export interface EncodedSegmentObject {
  body: Buffer;
  header: SegmentObjectHeader;
  /** Where the payload area starts in `body`: a packet's bytes are body[payloadStart + offset, + size). */
  payloadStart: number;
}

export function encodeSegmentObject(o: SegmentObjectInput): EncodedSegmentObject {
  let offset = 0;
  const packets = o.packets.map((p) => {
    const entry = { member: p.member, meta: p.meta, offset, size: p.data.length };
    offset += p.data.length;
    return entry;
  });
  const header: SegmentObjectHeader = {
    version: SEGMENT_OBJECT_VERSION, content: o.content, stream: o.stream, segment: o.segment, startDts: o.startDts, endDts: o.endDts, packets,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length, 0);
  const body = Buffer.concat([len, json, ...o.packets.map((p) => p.data)]);
  return { body, header, payloadStart: 4 + json.length };
}

export class SegmentObjectError extends Error {
  override name = 'SegmentObjectError';
}

/** Decode an object; throws SegmentObjectError when it is truncated or not one. */
export function decodeSegmentObject(body: Buffer): { header: SegmentObjectHeader; payloadStart: number; payload(i: number): Buffer } {
  if (body.length < 4) throw new SegmentObjectError('archive object shorter than its length field');
  const n = body.readUInt32BE(0);
  if (4 + n > body.length) throw new SegmentObjectError(`archive object header of ${n} bytes runs past its end (${body.length} bytes)`);
  let header: SegmentObjectHeader;
  try {
    header = JSON.parse(body.subarray(4, 4 + n).toString('utf8')) as SegmentObjectHeader;
  } catch (e) {
    throw new SegmentObjectError(`archive object header is not JSON: ${(e as Error).message}`);
  }
  if (header.version !== SEGMENT_OBJECT_VERSION || !Array.isArray(header.packets)) throw new SegmentObjectError(`unknown archive object version ${String(header.version)}`);
  const payloadStart = 4 + n;
  for (const p of header.packets) {
    if (!Number.isSafeInteger(p.offset) || !Number.isSafeInteger(p.size) || p.offset < 0 || p.size < 0 || payloadStart + p.offset + p.size > body.length) {
      throw new SegmentObjectError(`archive object packet ${String(p.member)} lies outside the object`);
    }
  }
  return {
    header,
    payloadStart,
    payload: (i) => {
      const p = header.packets[i];
      if (!p) throw new SegmentObjectError(`no packet ${i} in the archive object`);
      return body.subarray(payloadStart + p.offset, payloadStart + p.offset + p.size);
    },
  };
}
