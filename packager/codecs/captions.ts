/**
 * Pure: which closed captions an H.264 sample carries in SEI user_data_registered_itu_t_t35 messages (payload
 * type 4) of ATSC A/53 Part 4 ("GA94", user_data_type_code 3, cc_data):
 * - CEA-608: at least one valid triplet of cc_type 0 or 1 (field 1 or 2; null padding pairs count, as a caption
 *   service sends them while nothing is said);
 * - CEA-708: the services whose blocks are in the DTVCC packets (cc_type 3 starts a packet, 2 continues it:
 *   packet header, then service blocks: service number (3 bits, 7 = extended: the next byte's low 6 bits) and
 *   block size (5 bits); service 0 is the null block that ends a packet's blocks).
 * Bounded: at most the sample's bytes are read once; malformed SEI ends the scan.
 */
import { NAL_SEI, isAnnexB, nalType, splitAnnexB, splitLengthPrefixed, unescapeRbsp } from './h264';

const SEI_USER_DATA_REGISTERED = 4;
const GA94 = [0x47, 0x41, 0x39, 0x34];

/** What a scan found: 608 pairs, DTVCC triplets at all (a 708 service's padding included), 708 services with blocks. */
export interface A53Seen {
  cea608: boolean;
  dtvcc: boolean;
  services: Set<number>;
}

/** The 708 services with blocks in DTVCC packet bytes (a packet may be cut short: what is whole counts). */
export function dtvccServices(packet: Buffer, into: Set<number>): void {
  if (packet.length < 2) return;
  const code = (packet[0] as number) & 0x3f;
  const size = Math.min(packet.length, code === 0 ? 128 : code * 2);
  let i = 1;
  while (i < size) {
    const head = packet[i] as number;
    let service = head >> 5;
    const blockSize = head & 0x1f;
    if (service === 0) return; // the null service block: padding to the end
    i++;
    if (service === 7) {
      if (i >= size) return;
      service = (packet[i] as number) & 0x3f;
      i++;
      if (service < 7) return; // an extended number below 7 is malformed
    }
    if (blockSize === 0) continue;
    if (i + blockSize > size) return;
    into.add(service);
    i += blockSize;
  }
}

/** What one T.35 payload's A/53 cc_data carries, added to `seen`. */
export function a53Captions(p: Buffer, seen: A53Seen): void {
  if (p.length < 10 || p[0] !== 0xb5 || p[1] !== 0x00 || p[2] !== 0x31) return;
  for (let i = 0; i < 4; i++) if (p[3 + i] !== GA94[i]) return;
  if (p[7] !== 0x03) return;
  const flags = p[8] as number;
  if ((flags & 0x40) === 0) return;
  const count = flags & 0x1f;
  let packet: number[] | null = null;
  for (let k = 0; k < count; k++) {
    const at = 10 + 3 * k;
    if (at + 2 >= p.length) break;
    const head = p[at] as number;
    const type = head & 0x03;
    if (type >= 2) seen.dtvcc = true;
    if ((head & 0x04) === 0) continue;
    if (type <= 1) {
      seen.cea608 = true;
      continue;
    }
    if (type === 3) {
      if (packet) dtvccServices(Buffer.from(packet), seen.services);
      packet = [];
    }
    if (packet && packet.length < 128) packet.push(p[at + 1] as number, p[at + 2] as number);
  }
  if (packet) dtvccServices(Buffer.from(packet), seen.services);
}

/** What an SEI NAL unit (with its header byte) carries of A/53 captions, added to `seen`. */
export function seiCaptions(nal: Buffer, seen: A53Seen): void {
  const rbsp = unescapeRbsp(nal.subarray(1));
  let pos = 0;
  while (pos < rbsp.length && !(rbsp[pos] === 0x80 && pos === rbsp.length - 1)) {
    let type = 0;
    while (rbsp[pos] === 0xff) {
      type += 255;
      pos++;
    }
    if (pos >= rbsp.length) return;
    type += rbsp[pos++] as number;
    let size = 0;
    while (rbsp[pos] === 0xff) {
      size += 255;
      pos++;
    }
    if (pos >= rbsp.length) return;
    size += rbsp[pos++] as number;
    if (pos + size > rbsp.length) return;
    if (type === SEI_USER_DATA_REGISTERED) a53Captions(rbsp.subarray(pos, pos + size), seen);
    pos += size;
  }
}

/** What an H.264 sample (Annex-B, or NAL units with `lengthSize`-byte prefixes) carries, added to `seen`. */
export function sampleCaptions(sample: Buffer, seen: A53Seen, lengthSize = 4): void {
  let nals: Buffer[];
  try {
    nals = isAnnexB(sample) ? splitAnnexB(sample) : splitLengthPrefixed(sample, lengthSize);
  } catch {
    return;
  }
  for (const n of nals) if (nalType(n) === NAL_SEI) seiCaptions(n, seen);
}

const fresh = (): A53Seen => ({ cea608: false, dtvcc: false, services: new Set() });

/** Whether one T.35 payload is A/53 cc_data with a valid 608 pair (padding included). */
export function a53HasCea608(p: Buffer): boolean {
  const seen = fresh();
  a53Captions(p, seen);
  return seen.cea608;
}

/** Whether an SEI NAL unit (with its header byte) holds A/53 608 captions. */
export function seiHasCea608(nal: Buffer): boolean {
  const seen = fresh();
  seiCaptions(nal, seen);
  return seen.cea608;
}

/**
 * Whether an H.264 sample (Annex-B, or NAL units with `lengthSize`-byte prefixes) carries CEA-608 captions.
 * A sample that is neither answers false.
 */
export function sampleHasCea608(sample: Buffer, lengthSize = 4): boolean {
  const seen = fresh();
  sampleCaptions(sample, seen, lengthSize);
  return seen.cea608;
}
