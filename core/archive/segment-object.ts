/**
 * Pure: the archive object of one (content, stream, segment). Self-describing, so the index could be rebuilt
 * from the objects alone:
 *
 *   4 bytes   header length N, big-endian
 *   N bytes   header JSON {version, content, stream, segment, startDts, endDts, packets: [{member, meta, offset, size}],
 *                          tag?, record?}
 *   …         the payloads concatenated in the header's order; `offset` counts from the first payload byte
 *
 * Optional fields (version 1 stays readable without them): `tag` (a digest of the object written without it, which
 * the cold index entry repeats, so a reader never takes another object under the same key for this one), `record` (the segment's record: wall clock,
 * duration, dts/pts windows), and per packet `sizes` (plane sizes, when the element had several) and `nodata`
 * (metadata only: its payload was gone before the segment was archived; `size` is then 0).
 */

import type { ElementMeta } from '../model/media';
import type { SegmentRecord } from '../model/live';

export const SEGMENT_OBJECT_VERSION = 1;

export interface ObjectPacket {
  member: string;
  meta: ElementMeta;
  /** Offset of the payload from the start of the payload area. */
  offset: number;
  size: number;
  /** Plane sizes of a payload with several planes (the element hash's `sizes`). */
  sizes?: number[];
  /** The element was archived without a payload (it had none left). */
  nodata?: true;
}

export interface SegmentObjectHeader {
  version: number;
  content: string;
  stream: number;
  segment: number;
  startDts: number;
  endDts: number;
  packets: ObjectPacket[];
  tag?: string;
  record?: SegmentRecord;
}

export interface SegmentObjectInput {
  content: string;
  stream: number;
  segment: number;
  startDts: number;
  endDts: number;
  /** In the object's order (decode order); `data` null for an element without a payload. */
  packets: readonly { member: string; meta: ElementMeta; data: Buffer | null; sizes?: number[] }[];
  tag?: string;
  record?: SegmentRecord;
}

export interface EncodedSegmentObject {
  body: Buffer;
  header: SegmentObjectHeader;
  /** Where the payload area starts in `body`: a packet's bytes are body[payloadStart + offset, + size). */
  payloadStart: number;
}

export function encodeSegmentObject(o: SegmentObjectInput): EncodedSegmentObject {
  let offset = 0;
  const packets = o.packets.map((p): ObjectPacket => {
    const size = p.data?.length ?? 0;
    const entry: ObjectPacket = { member: p.member, meta: p.meta, offset, size };
    if (p.sizes) entry.sizes = p.sizes;
    if (!p.data) entry.nodata = true;
    offset += size;
    return entry;
  });
  const header: SegmentObjectHeader = {
    version: SEGMENT_OBJECT_VERSION, content: o.content, stream: o.stream, segment: o.segment, startDts: o.startDts, endDts: o.endDts, packets,
  };
  if (o.tag !== undefined) header.tag = o.tag;
  if (o.record !== undefined) header.record = o.record;
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length, 0);
  const body = Buffer.concat([len, json, ...o.packets.flatMap((p) => (p.data ? [p.data] : []))]);
  return { body, header, payloadStart: 4 + json.length };
}

export class SegmentObjectError extends Error {
  override name = 'SegmentObjectError';
}

/** The largest header a reader accepts (a segment of a few thousand packets is well below it). */
export const MAX_HEADER_BYTES = 64 * 1024 * 1024;

/** Parse and check a header's JSON; `payloadBytes` (when known) bounds the packets' ranges. */
function parseHeader(json: Buffer, payloadBytes: number | null): SegmentObjectHeader {
  let header: SegmentObjectHeader;
  try {
    header = JSON.parse(json.toString('utf8')) as SegmentObjectHeader;
  } catch (e) {
    throw new SegmentObjectError(`archive object header is not JSON: ${(e as Error).message}`);
  }
  if (!header || typeof header !== 'object' || header.version !== SEGMENT_OBJECT_VERSION || !Array.isArray(header.packets)) {
    throw new SegmentObjectError(`unknown archive object version ${String((header as { version?: unknown } | null)?.version)}`);
  }
  for (const p of header.packets) {
    if (!p || typeof p.member !== 'string' || !p.meta || typeof p.meta !== 'object' || typeof p.meta.pts !== 'number') {
      throw new SegmentObjectError('archive object packet without member or metadata');
    }
    if (!Number.isSafeInteger(p.offset) || !Number.isSafeInteger(p.size) || p.offset < 0 || p.size < 0 || (payloadBytes !== null && p.offset + p.size > payloadBytes)) {
      throw new SegmentObjectError(`archive object packet ${String(p.member)} lies outside the object`);
    }
  }
  return header;
}

/**
 * The header from the first bytes of an object (a reader asks for a prefix, then for the rest when the header is
 * longer): `{need}` when `prefix` is shorter than the header, else the header and where the payloads start.
 * Throws SegmentObjectError when the bytes are not an object's.
 */
export function decodeSegmentHeader(prefix: Buffer): { need: number } | { header: SegmentObjectHeader; payloadStart: number } {
  if (prefix.length < 4) throw new SegmentObjectError('archive object shorter than its length field');
  const n = prefix.readUInt32BE(0);
  if (n < 2 || n > MAX_HEADER_BYTES) throw new SegmentObjectError(`archive object header length ${n} is not plausible`);
  if (prefix.length < 4 + n) return { need: 4 + n };
  return { header: parseHeader(prefix.subarray(4, 4 + n), null), payloadStart: 4 + n };
}

/** Decode an object; throws SegmentObjectError when it is truncated or not one. */
export function decodeSegmentObject(body: Buffer): { header: SegmentObjectHeader; payloadStart: number; payload(i: number): Buffer } {
  if (body.length < 4) throw new SegmentObjectError('archive object shorter than its length field');
  const n = body.readUInt32BE(0);
  if (4 + n > body.length) throw new SegmentObjectError(`archive object header of ${n} bytes runs past its end (${body.length} bytes)`);
  const payloadStart = 4 + n;
  const header = parseHeader(body.subarray(4, 4 + n), body.length - payloadStart);
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
