/**
 * Transport stream packets: splitting one PES into 188-byte packets with the adaptation field
 * (PCR, random_access_indicator, discontinuity_indicator, stuffing), and the continuity counter per PID. Pure.
 */
import { badRenderInput } from '../errors';

export const TS_PACKET_SIZE = 188;
const PAYLOAD_SIZE = TS_PACKET_SIZE - 4;
const TWO_33 = 2 ** 33;

export interface PacketizeOptions {
  /** 27 MHz program clock reference for the first packet (base × 300 + extension). */
  pcr?: number;
  /** Sets random_access_indicator in the first packet (a keyframe starts here). */
  randomAccess?: boolean;
  /**
   * Sets discontinuity_indicator in the first packet: the continuity counter restarts here (every
   * segment is built on its own, so a player reading segments back to back sees a counter jump).
   */
  discontinuity?: boolean;
}

/** The 6 PCR bytes: 33-bit base (90 kHz), 6 reserved bits, 9-bit extension. */
export function encodePcr(pcr27MHz: number): Buffer {
  if (!Number.isFinite(pcr27MHz) || pcr27MHz < 0) throw badRenderInput(`TS: PCR ${pcr27MHz} is not a non-negative number`);
  const base = Math.floor(pcr27MHz / 300) % TWO_33;
  const ext = Math.floor(pcr27MHz) % 300;
  const hi = Math.floor(base / 2); // top 32 bits of the base
  const b = Buffer.alloc(6);
  b.writeUInt32BE(hi >>> 0, 0);
  b[4] = ((base % 2) << 7) | 0x7e | ((ext >> 8) & 1);
  b[5] = ext & 0xff;
  return b;
}

/** Decodes the 6 PCR bytes to 27 MHz units (tests, dumps). */
export function decodePcr(b: Buffer): number {
  const base = b.readUInt32BE(0) * 2 + ((b[4] as number) >> 7);
  const ext = (((b[4] as number) & 1) << 8) | (b[5] as number);
  return base * 300 + ext;
}

/** An adaptation field of exactly `total` bytes (length byte included) with flags, PCR and stuffing. */
export function adaptationField(total: number, opts: PacketizeOptions): Buffer {
  if (total < 1) throw badRenderInput('TS: adaptation field needs at least one byte');
  const af = Buffer.alloc(total, 0xff);
  af[0] = total - 1;
  if (total === 1) return af;
  af[1] = (opts.discontinuity ? 0x80 : 0) | (opts.randomAccess ? 0x40 : 0) | (opts.pcr !== undefined ? 0x10 : 0);
  if (opts.pcr !== undefined) {
    if (total < 8) throw badRenderInput('TS: adaptation field too short for a PCR');
    encodePcr(opts.pcr).copy(af, 2);
  }
  return af;
}

/** Minimal adaptation field size the first packet's options need (0: none). */
function flagsSize(opts: PacketizeOptions): number {
  if (opts.pcr !== undefined) return 8;
  return opts.randomAccess || opts.discontinuity ? 2 : 0;
}

function header(pid: number, start: boolean, hasAf: boolean, cc: number): Buffer {
  const h = Buffer.alloc(4);
  h[0] = 0x47;
  h[1] = (start ? 0x40 : 0) | ((pid >> 8) & 0x1f);
  h[2] = pid & 0xff;
  h[3] = (hasAf ? 0x30 : 0x10) | (cc & 0x0f);
  return h;
}

export interface Packetized {
  packets: Buffer[];
  /** The continuity counter the next packet of this PID takes. */
  nextCc: number;
}

/**
 * Splits a PES into TS packets of `pid`, the first with payload_unit_start_indicator and the
 * options' adaptation field, the last stuffed to 188 bytes; counters continue from `cc`.
 */
export function packetize(pid: number, pes: Buffer, cc: number, opts: PacketizeOptions = {}): Packetized {
  if (pes.length === 0) throw badRenderInput(`TS: empty PES for PID ${pid}`);
  const packets: Buffer[] = [];
  let pos = 0;
  let counter = cc & 0x0f;
  while (pos < pes.length) {
    const first = pos === 0;
    const own = first ? opts : {};
    const base = flagsSize(own);
    const take = Math.min(pes.length - pos, PAYLOAD_SIZE - base);
    const afSize = PAYLOAD_SIZE - take;
    const parts = [header(pid, first, afSize > 0, counter)];
    if (afSize > 0) parts.push(adaptationField(afSize, own));
    parts.push(pes.subarray(pos, pos + take));
    packets.push(Buffer.concat(parts, TS_PACKET_SIZE));
    pos += take;
    counter = (counter + 1) & 0x0f;
  }
  return { packets, nextCc: counter };
}
