/**
 * Pure: keeping CEA-608 captions whole in a rung with a lower frame rate than the source. Every source picture
 * carries its own `cc_data` (A/53, a pair or two of caption bytes); libx264 writes a kept picture's own back,
 * but a dropped picture's bytes would be lost (a caption reading "HEO AMNE" for "HELLO BEAMLINE"). So the
 * `cc_data` of the pictures dropped after a kept one are added to that kept picture's caption SEI in its encoded
 * packet (Annex-B, as libx264 makes it): the triplets stay in order, at most 31 per picture (cc_count is 5 bits;
 * 608 padding goes first when there are more).
 */

/** cc_count is a 5-bit field. */
export const MAX_CC_TRIPLETS = 31;

const SEI = 6;
const T35 = 4;
const A53_HEADER = [0xb5, 0x00, 0x31, 0x47, 0x41, 0x39, 0x34, 0x03]; // USA, ATSC, "GA94", cc_data

/** A 608 triplet that carries nothing: not valid, or a null pair (0x80 0x80 with parity) on field 1 or 2. */
function isPadding(t: Buffer): boolean {
  const head = t[0] as number;
  if ((head & 0x04) === 0) return true;
  return (head & 0x03) <= 1 && ((t[1] as number) & 0x7f) === 0 && ((t[2] as number) & 0x7f) === 0;
}

/**
 * Joins `cc_data` triplet runs (each a multiple of 3 bytes, as FFmpeg's A53_CC side data), in order; over 31
 * triplets, padding is dropped first, then the newest triplets.
 */
export function joinCcData(runs: readonly Buffer[]): Buffer {
  const triplets: Buffer[] = [];
  for (const r of runs) for (let i = 0; i + 3 <= r.length; i += 3) triplets.push(r.subarray(i, i + 3));
  let kept = triplets;
  if (kept.length > MAX_CC_TRIPLETS) kept = kept.filter((t) => !isPadding(t));
  return Buffer.concat(kept.slice(0, MAX_CC_TRIPLETS));
}

/** Inserts emulation prevention bytes (00 00 0x → 00 00 03 0x for x ≤ 3). */
export function escapeRbsp(rbsp: Buffer): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

function unescapeRbsp(nal: Buffer): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

function sizeBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 255) {
    out.push(255);
    n -= 255;
  }
  out.push(n);
  return out;
}

/** An SEI NAL (header included) holding one A/53 cc_data message with these triplets. */
export function a53SeiNal(cc: Buffer): Buffer {
  const count = Math.min(MAX_CC_TRIPLETS, Math.floor(cc.length / 3));
  const payload = Buffer.from([...A53_HEADER, 0x40 | count, 0xff, ...cc.subarray(0, count * 3), 0xff]);
  return Buffer.concat([Buffer.from([SEI]), escapeRbsp(Buffer.concat([Buffer.from([T35, ...sizeBytes(payload.length)]), payload, Buffer.from([0x80])]))]);
}

interface SeiMessage {
  type: number;
  payload: Buffer;
}

/** The messages of an SEI NAL, or null when it is malformed. */
function seiMessages(nal: Buffer): SeiMessage[] | null {
  const rbsp = unescapeRbsp(nal.subarray(1));
  const out: SeiMessage[] = [];
  let pos = 0;
  while (pos < rbsp.length && !(pos === rbsp.length - 1 && rbsp[pos] === 0x80)) {
    let type = 0;
    let size = 0;
    while (rbsp[pos] === 0xff) (type += 255), pos++;
    if (pos >= rbsp.length) return null;
    type += rbsp[pos++] as number;
    while (rbsp[pos] === 0xff) (size += 255), pos++;
    if (pos >= rbsp.length) return null;
    size += rbsp[pos++] as number;
    if (pos + size > rbsp.length) return null;
    out.push({ type, payload: rbsp.subarray(pos, pos + size) });
    pos += size;
  }
  return out;
}

/** The cc_data triplets of an A/53 T.35 payload, or null when it is not one. */
function a53Triplets(p: Buffer): Buffer | null {
  if (p.length < 10) return null;
  for (let i = 0; i < A53_HEADER.length; i++) if (p[i] !== A53_HEADER[i]) return null;
  const count = (p[8] as number) & 0x1f;
  return p.subarray(10, Math.min(p.length, 10 + 3 * count));
}

/** Annex-B NAL units as [start of the start code, start of the NAL, end of the NAL]. */
function nalSpans(buf: Buffer): Array<[number, number, number]> {
  const starts: Array<[number, number]> = [];
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      starts.push([i > 0 && buf[i - 1] === 0 ? i - 1 : i, i + 3]);
      i += 2;
    }
  }
  return starts.map(([code, nal], k) => [code, nal, k + 1 < starts.length ? (starts[k + 1] as [number, number])[0] : buf.length]);
}

/**
 * An encoded picture (Annex-B) with `extra` cc_data triplets after its own: its A/53 SEI message rewritten, or,
 * when it has none, a caption SEI NAL put before its first slice. Input that is not Annex-B comes back as it is.
 */
export function addCcToPicture(packet: Buffer, extra: Buffer): Buffer {
  if (extra.length < 3) return packet;
  const spans = nalSpans(packet);
  for (const [, nal, next] of spans) {
    if (((packet[nal] as number) & 0x1f) !== SEI) continue;
    const end = trimZeros(packet, nal, next);
    const messages = seiMessages(packet.subarray(nal, end));
    const at = messages?.findIndex((m) => m.type === T35 && a53Triplets(m.payload) !== null) ?? -1;
    if (!messages || at < 0) continue;
    const own = a53Triplets((messages[at] as SeiMessage).payload) as Buffer;
    const cc = joinCcData([own, extra]);
    const rebuilt: number[] = [];
    messages.forEach((m, i) => {
      const payload = i === at ? Buffer.from([...A53_HEADER, 0x40 | (cc.length / 3), 0xff, ...cc, 0xff]) : m.payload;
      rebuilt.push(...sizeBytes(m.type), ...sizeBytes(payload.length), ...payload);
    });
    const nalBytes = Buffer.concat([Buffer.from([packet[nal] as number]), escapeRbsp(Buffer.concat([Buffer.from(rebuilt), Buffer.from([0x80])]))]);
    return Buffer.concat([packet.subarray(0, nal), nalBytes, packet.subarray(end)]);
  }
  const slice = spans.find(([, nal]) => [1, 5].includes(((packet[nal] as number) & 0x1f)));
  if (!slice) return packet;
  return Buffer.concat([packet.subarray(0, slice[0]), Buffer.from([0, 0, 0, 1]), a53SeiNal(joinCcData([extra])), packet.subarray(slice[0])]);
}

/** Where the bytes after a NAL begin: its trailing zero bytes belong to the next start code. */
function trimZeros(buf: Buffer, nal: number, end: number): number {
  let e = end;
  while (e > nal && buf[e - 1] === 0) e--;
  return e;
}
