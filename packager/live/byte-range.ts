/**
 * HTTP byte ranges on media objects (RFC 9110 §14): one `Range: bytes=a-b`, `a-` or `-n` gives that slice
 * (206 with Content-Range), an unsatisfiable one a 416; anything else (no header, another unit, several ranges,
 * a malformed value) is served whole, as the RFC allows a server to ignore a Range it does not support.
 */

/** A slice [start, end] (inclusive, as Content-Range writes it) of an object of `size` bytes. */
export interface ByteSlice {
  start: number;
  end: number;
}

export type RangeAnswer = { kind: 'whole' } | { kind: 'slice'; slice: ByteSlice } | { kind: 'unsatisfiable' };

const SINGLE = /^bytes[ \t]*=[ \t]*(\d{0,15})[ \t]*-[ \t]*(\d{0,15})[ \t]*$/i;

/** Pure: what to send for `header` (the Range request header) on an object of `size` bytes. */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined || header.length > 200) return { kind: 'whole' };
  const m = SINGLE.exec(header);
  if (!m) return { kind: 'whole' };
  const [first, last] = [m[1] as string, m[2] as string];
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'slice', slice: { start: Math.max(0, size - n), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? Infinity : Number(last);
  if (end < start) return { kind: 'whole' }; // invalid syntax: ignored
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'slice', slice: { start, end: Math.min(end, size - 1) } };
}

/** `bytes a-b/size`, the Content-Range of a 206. */
export function contentRange(slice: ByteSlice, size: number): string {
  return `bytes ${slice.start}-${slice.end}/${size}`;
}

/**
 * Pure: where the bytes [start, end) of an object made of `parts` (their lengths, in order) lie: per part that
 * holds some of them, its index and the range [from, to) inside it.
 */
export function sliceParts(lengths: readonly number[], start: number, end: number): { index: number; from: number; to: number }[] {
  const out: { index: number; from: number; to: number }[] = [];
  let at = 0;
  lengths.forEach((len, index) => {
    const from = Math.max(start, at);
    const to = Math.min(end, at + len);
    if (to > from) out.push({ index, from: from - at, to: to - at });
    at += len;
  });
  return out;
}
