/** PES packet headers with PTS and DTS (ISO/IEC 13818-1 §2.4.3.6). Pure. */
import { badRenderInput } from '../errors';

export const STREAM_ID_VIDEO = 0xe0;
export const STREAM_ID_AUDIO = 0xc0;
const TWO_33 = 2 ** 33;

/** A 90 kHz timestamp reduced to the 33 bits a PES header holds. */
export function wrap33(t: number): number {
  if (!Number.isFinite(t)) throw badRenderInput(`TS: timestamp ${t} is not finite`);
  return ((Math.round(t) % TWO_33) + TWO_33) % TWO_33;
}

/** The 5-byte timestamp field: 4-bit prefix, 33 bits split 3/15/15 with marker bits. */
export function encodeTimestamp(prefix: number, t: number): Buffer {
  const v = wrap33(t);
  const top = Math.floor(v / 2 ** 30); // bits 32..30
  const low = v % 2 ** 30; // bits 29..0
  return Buffer.from([
    ((prefix & 0x0f) << 4) | (top << 1) | 1,
    (low >> 22) & 0xff,
    (((low >> 15) & 0x7f) << 1) | 1,
    (low >> 7) & 0xff,
    ((low & 0x7f) << 1) | 1,
  ]);
}

/** Decodes a 5-byte timestamp field (tests, dumps). */
export function decodeTimestamp(b: Buffer, offset = 0): number {
  const b0 = b[offset] as number;
  const top = (b0 >> 1) & 7;
  const low = ((b[offset + 1] as number) << 22) | (((b[offset + 2] as number) >> 1) << 15)
    | ((b[offset + 3] as number) << 7) | ((b[offset + 4] as number) >> 1);
  return top * 2 ** 30 + low;
}

export interface PesHeaderInput {
  streamId: number;
  pts: number;
  /** Written only when it differs from `pts`. */
  dts?: number;
  /** Bytes of elementary stream data after the header. */
  payloadLength: number;
  /** Video may leave PES_packet_length 0 (unbounded); audio must fit 65535. */
  unbounded?: boolean;
}

/** The PES header (start code, stream id, length, flags, PTS and optionally DTS). */
export function pesHeader(input: PesHeaderInput): Buffer {
  const withDts = input.dts !== undefined && wrap33(input.dts) !== wrap33(input.pts);
  const optional = withDts
    ? [encodeTimestamp(3, input.pts), encodeTimestamp(1, input.dts as number)]
    : [encodeTimestamp(2, input.pts)];
  const headerDataLength = withDts ? 10 : 5;
  const length = 3 + headerDataLength + input.payloadLength;
  let packetLength = length;
  if (length > 0xffff) {
    if (!input.unbounded) throw badRenderInput(`TS: PES of ${length} bytes exceeds 65535 for stream 0x${input.streamId.toString(16)}`);
    packetLength = 0;
  } else if (input.unbounded) {
    packetLength = 0;
  }
  const fixed = Buffer.alloc(9);
  fixed.writeUIntBE(0x000001, 0, 3);
  fixed[3] = input.streamId;
  fixed.writeUInt16BE(packetLength, 4);
  fixed[6] = 0x84; // '10', not scrambled, data_alignment_indicator
  fixed[7] = withDts ? 0xc0 : 0x80;
  fixed[8] = headerDataLength;
  return Buffer.concat([fixed, ...optional]);
}
