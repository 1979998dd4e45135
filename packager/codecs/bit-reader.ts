/** A big-endian bit reader with Exp-Golomb codes, for H.264 SPS and AAC configuration parsing. */
import { badMedia } from '../errors';

export interface BitReader {
  bits(n: number): number;
  bit(): number;
  skip(n: number): void;
  ue(): number;
  se(): number;
  bitsLeft(): number;
}

export function createBitReader(buf: Buffer, what: string): BitReader {
  let pos = 0;
  const total = buf.length * 8;
  const bit = (): number => {
    if (pos >= total) throw badMedia(`${what}: truncated (read past ${buf.length} bytes)`);
    const b = ((buf[pos >> 3] ?? 0) >> (7 - (pos & 7))) & 1;
    pos++;
    return b;
  };
  const bits = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + bit();
    return v;
  };
  const ue = (): number => {
    let zeros = 0;
    while (bit() === 0) {
      zeros++;
      if (zeros > 31) throw badMedia(`${what}: invalid Exp-Golomb code`);
    }
    return 2 ** zeros - 1 + bits(zeros);
  };
  const se = (): number => {
    const k = ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  };
  return {
    bits,
    bit,
    skip: (n: number) => {
      if (pos + n > total) throw badMedia(`${what}: truncated (skip past ${buf.length} bytes)`);
      pos += n;
    },
    ue,
    se,
    bitsLeft: () => total - pos,
  };
}

/** Bit writer used to build AudioSpecificConfig. */
export function writeBits(fields: Array<[value: number, width: number]>): Buffer {
  const totalBits = fields.reduce((n, [, w]) => n + w, 0);
  const out = Buffer.alloc(Math.ceil(totalBits / 8));
  let pos = 0;
  for (const [value, width] of fields) {
    for (let i = width - 1; i >= 0; i--) {
      const b = Math.floor(value / 2 ** i) & 1;
      if (b) out[pos >> 3] = (out[pos >> 3] ?? 0) | (1 << (7 - (pos & 7)));
      pos++;
    }
  }
  return out;
}
