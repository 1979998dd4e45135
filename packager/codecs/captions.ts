/**
 * Pure: whether an H.264 sample carries closed captions, i.e. an SEI user_data_registered_itu_t_t35 message
 * (payload type 4) of ATSC A/53 Part 4 ("GA94", user_data_type_code 3) with at least one valid CEA-608 cc_data
 * triplet (cc_valid, cc_type 0 or 1: field 1 or 2; null padding pairs count, as a caption service sends them
 * while nothing is said). CEA-708 (DTVCC) triplets alone are not counted: Beamline declares 608
 * services (CC1-CC4) only. Bounded: at most the sample's bytes are read once, malformed SEI ends the scan (false).
 */
import { NAL_SEI, isAnnexB, nalType, splitAnnexB, splitLengthPrefixed, unescapeRbsp } from './h264';

const SEI_USER_DATA_REGISTERED = 4;
const GA94 = [0x47, 0x41, 0x39, 0x34];

/** Whether one T.35 payload is A/53 cc_data with a valid 608 pair (padding included). */
export function a53HasCea608(p: Buffer): boolean {
  // country 0xB5 (USA), provider 0x0031 (ATSC), user identifier "GA94", user_data_type_code 3 (cc_data)
  if (p.length < 10 || p[0] !== 0xb5 || p[1] !== 0x00 || p[2] !== 0x31) return false;
  for (let i = 0; i < 4; i++) if (p[3 + i] !== GA94[i]) return false;
  if (p[7] !== 0x03) return false;
  const flags = p[8] as number;
  if ((flags & 0x40) === 0) return false; // process_cc_data_flag
  const count = flags & 0x1f;
  for (let k = 0; k < count; k++) {
    const at = 10 + 3 * k;
    if (at + 2 >= p.length) return false;
    const head = p[at] as number;
    const valid = (head & 0x04) !== 0;
    const type = head & 0x03;
    // a valid 608 pair, padding (0x80 0x80) included: a caption service sends pairs on every frame, silent or not
    if (valid && type <= 1) return true;
  }
  return false;
}

/** Whether an SEI NAL unit (with its header byte) holds A/53 608 captions. */
export function seiHasCea608(nal: Buffer): boolean {
  const rbsp = unescapeRbsp(nal.subarray(1));
  let pos = 0;
  // sei_message()s until the rbsp trailing bits (0x80)
  while (pos < rbsp.length && !(rbsp[pos] === 0x80 && pos === rbsp.length - 1)) {
    let type = 0;
    while (rbsp[pos] === 0xff) {
      type += 255;
      pos++;
    }
    if (pos >= rbsp.length) return false;
    type += rbsp[pos++] as number;
    let size = 0;
    while (rbsp[pos] === 0xff) {
      size += 255;
      pos++;
    }
    if (pos >= rbsp.length) return false;
    size += rbsp[pos++] as number;
    if (pos + size > rbsp.length) return false;
    if (type === SEI_USER_DATA_REGISTERED && a53HasCea608(rbsp.subarray(pos, pos + size))) return true;
    pos += size;
  }
  return false;
}

/**
 * Whether an H.264 sample (Annex-B, or NAL units with `lengthSize`-byte prefixes) carries CEA-608 captions.
 * A sample that is neither answers false.
 */
export function sampleHasCea608(sample: Buffer, lengthSize = 4): boolean {
  let nals: Buffer[];
  try {
    nals = isAnnexB(sample) ? splitAnnexB(sample) : splitLengthPrefixed(sample, lengthSize);
  } catch {
    return false;
  }
  return nals.some((n) => nalType(n) === NAL_SEI && seiHasCea608(n));
}
