/**
 * CRC-32 of MPEG-2 PSI sections (ISO/IEC 13818-1 Annex A): polynomial 0x04C11DB7, initial value
 * 0xFFFFFFFF, no bit reflection, no final XOR. A section followed by its CRC checks to 0. Pure.
 */

function makeTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
}

const TABLE = makeTable();

export function crc32Mpeg2(buf: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of buf) crc = ((crc << 8) ^ (TABLE[((crc >>> 24) ^ byte) & 0xff] as number)) >>> 0;
  return crc >>> 0;
}
