/**
 * The pure media_ref parser: the part of a Content Beam API path after the stream name.
 *
 *   /beams/<content>/<stream>/<media_ref>[/<data_ref>]
 *
 * Forms (from the original Aerostat Beam Engine README and its test suite); every pts may be negative:
 *   packet_108000  frame_108000          direct, exact pts (GET/PUT/DELETE; payload with data_ref)
 *   packet_108000.raw  .raw_1  (+ /data, /data_1 as a separate segment)   payloads
 *   108000  -1024                         exact pts (PUT too: the body's type says packet or frame)
 *   107950f                               fuzzy: the element closest to 107950, before or after
 *   108000-144000  -15-15                 inclusive pts range
 *   105000f-111600                        range from the element closest to 105000 (a trailing f on the end is ignored)
 *   first  1st 2nd 3rd 42nd Nth  last     ordinal index (1-based), answered with JSON
 *   751st-760th  1080th-last  first-last  ordinal ranges (not 0th, not from last)
 *   1.4s  -0.04s   1.2s-2.2s  1.2s-1.28   real time via the stream's time base (the end's s is optional)
 *   7200+1d  7200-1d  7200+0d             relative: N elements after / before pts 7200; +0d is the element itself
 *   start  latest  end                    302 redirect to the first / latest element
 * Every form may carry an optional `.json` extension.
 */

import { BeamError } from './errors';

export type ElementType = 'packet' | 'frame';

export type Ordinal = { kind: 'first' } | { kind: 'last' } | { kind: 'nth'; n: number };

export type MediaRef =
  | { kind: 'direct'; element: ElementType; pts: number; data?: DataRef }
  | { kind: 'pts'; pts: number }
  | { kind: 'fuzzy'; pts: number }
  | { kind: 'ptsRange'; from: number; to: number }
  | { kind: 'fuzzyRange'; from: number; to: number }
  | { kind: 'index'; at: Ordinal }
  | { kind: 'indexRange'; from: Ordinal; to: Ordinal }
  | { kind: 'seconds'; seconds: number }
  | { kind: 'secondsRange'; from: number; to: number }
  | { kind: 'relative'; pts: number; offset: number }
  | { kind: 'redirect'; to: 'start' | 'latest' };

/** Which payload of a media element: `all` planes concatenated, or one plane. */
export type DataRef = { plane: 'all' } | { plane: number };

const MAX_REF_LENGTH = 256;
const INT = '(0|[1-9][0-9]*)';
/** A pts: an integer, negative allowed (pre-roll, edit lists), no leading zeros and no `-0`. */
const SIGNED_INT = '(0|-?[1-9][0-9]*)';
/** Seconds: `1`, `1.5`, `1.`, `.5`, negative allowed. */
const DECIMAL = '(-?(?:(?:0|[1-9][0-9]*)(?:\\.[0-9]*)?|\\.[0-9]+))';
const ORDINAL = '(first|last|[0-9]+(?:st|nd|rd|th))';

const RE_DIRECT = new RegExp(`^(packet|frame)_${SIGNED_INT}(?:\\.raw(?:_${INT})?)?$`);
const RE_PTS = new RegExp(`^${SIGNED_INT}$`);
const RE_FUZZY = new RegExp(`^${SIGNED_INT}f$`);
const RE_PTS_RANGE = new RegExp(`^${SIGNED_INT}-${SIGNED_INT}$`);
const RE_FUZZY_RANGE = new RegExp(`^${SIGNED_INT}f-${SIGNED_INT}f?$`);
const RE_INDEX = new RegExp(`^${ORDINAL}$`);
const RE_INDEX_RANGE = new RegExp(`^${ORDINAL}-${ORDINAL}$`);
const RE_SECONDS = new RegExp(`^${DECIMAL}s$`);
const RE_SECONDS_RANGE = new RegExp(`^${DECIMAL}s-${DECIMAL}s?$`);
const RE_RELATIVE = new RegExp(`^${SIGNED_INT}([+-])${INT}d$`);
const RE_DATA = new RegExp(`^data(?:_${INT})?$`);

function bad(ref: string, why: string): BeamError {
  return new BeamError('BEAM_ERR_BAD_MEDIA_REF', `Invalid media reference '${ref}': ${why}.`);
}

/** A base-10 integer string as a safe JS integer, or a clear error for absurd magnitudes. */
function toInt(ref: string, digits: string): number {
  const n = Number(digits);
  if (!Number.isSafeInteger(n)) {
    throw bad(ref, `${digits} is beyond the largest supported timestamp or count (±${Number.MAX_SAFE_INTEGER})`);
  }
  return n;
}

function toSeconds(ref: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || Math.abs(n) > 1e12) throw bad(ref, `${text}s is not a usable time in seconds`);
  return n === 0 ? 0 : n; // no -0
}

function toOrdinal(ref: string, text: string): Ordinal {
  if (text === 'first') return { kind: 'first' };
  if (text === 'last') return { kind: 'last' };
  const digits = text.slice(0, -2);
  if (/^0+$/.test(digits)) throw bad(ref, 'indexes are 1-based: the first element is 1st');
  if (digits.startsWith('0')) throw bad(ref, `write the index ${text} without leading zeros`);
  return { kind: 'nth', n: toInt(ref, digits) };
}

function parseDataSegment(ref: string, segment: string): DataRef {
  const m = RE_DATA.exec(segment);
  if (!m) throw bad(ref, `data reference '${segment}' must be 'data' or 'data_<plane>'`);
  return m[1] === undefined ? { plane: 'all' } : { plane: toInt(ref, m[1]) };
}

/** Strip the optional `.json` extension. Direct `.raw` forms keep theirs. */
function stripJson(ref: string): string {
  return ref.endsWith('.json') ? ref.slice(0, -5) : ref;
}

function checkOrder(ref: string, from: number, to: number, unit = ''): void {
  if (from > to) throw bad(ref, `the range starts after it ends (${from}${unit} > ${to}${unit})`);
}

function parseIndexRange(ref: string, a: string, b: string): MediaRef {
  const from = toOrdinal(ref, a);
  const to = toOrdinal(ref, b);
  if (from.kind === 'last') {
    throw bad(ref, to.kind === 'last' ? "a range from last to last is just 'last'" : 'a range cannot start at the last element and end earlier');
  }
  if (from.kind === 'nth' && to.kind === 'nth') checkOrder(ref, from.n, to.n);
  return { kind: 'indexRange', from, to };
}

/**
 * Parse a media_ref path segment, with the optional data_ref segment that may follow it.
 * Throws BeamError(BEAM_ERR_BAD_MEDIA_REF) with a reason a person can act on.
 */
export function parseMediaRef(rawRef: string, dataSegment?: string): MediaRef {
  if (rawRef.length === 0) throw bad(rawRef, 'it is empty');
  if (rawRef.length > MAX_REF_LENGTH) throw bad(rawRef.slice(0, 32) + '…', `longer than ${MAX_REF_LENGTH} characters`);
  const ref = stripJson(rawRef);
  let m: RegExpExecArray | null;

  if ((m = RE_DIRECT.exec(ref))) {
    const element = m[1] as ElementType;
    const pts = toInt(ref, m[2] as string);
    const hasRaw = ref.includes('.raw');
    if (hasRaw && dataSegment !== undefined) throw bad(ref, 'use either .raw or /data, not both');
    if (hasRaw) return { kind: 'direct', element, pts, data: m[3] === undefined ? { plane: 'all' } : { plane: toInt(ref, m[3]) } };
    if (dataSegment !== undefined) return { kind: 'direct', element, pts, data: parseDataSegment(ref, dataSegment) };
    return { kind: 'direct', element, pts };
  }
  if (dataSegment !== undefined) {
    throw bad(ref, 'payloads can only be addressed through a direct reference such as packet_<pts>/data');
  }
  if (ref === 'start') return { kind: 'redirect', to: 'start' };
  if (ref === 'latest' || ref === 'end') return { kind: 'redirect', to: 'latest' };
  if ((m = RE_PTS.exec(ref))) return { kind: 'pts', pts: toInt(ref, m[1] as string) };
  if ((m = RE_FUZZY.exec(ref))) return { kind: 'fuzzy', pts: toInt(ref, m[1] as string) };
  if ((m = RE_PTS_RANGE.exec(ref)) || (m = RE_FUZZY_RANGE.exec(ref))) {
    const from = toInt(ref, m[1] as string);
    const to = toInt(ref, m[2] as string);
    checkOrder(ref, from, to);
    return { kind: ref.includes('f') ? 'fuzzyRange' : 'ptsRange', from, to };
  }
  if ((m = RE_INDEX.exec(ref))) return { kind: 'index', at: toOrdinal(ref, m[1] as string) };
  if ((m = RE_INDEX_RANGE.exec(ref))) return parseIndexRange(ref, m[1] as string, m[2] as string);
  if ((m = RE_SECONDS.exec(ref))) return { kind: 'seconds', seconds: toSeconds(ref, m[1] as string) };
  if ((m = RE_SECONDS_RANGE.exec(ref))) {
    const from = toSeconds(ref, m[1] as string);
    const to = toSeconds(ref, m[2] as string);
    checkOrder(ref, from, to, 's');
    return { kind: 'secondsRange', from, to };
  }
  if ((m = RE_RELATIVE.exec(ref))) {
    const n = toInt(ref, m[3] as string);
    return { kind: 'relative', pts: toInt(ref, m[1] as string), offset: m[2] === '+' ? n : n === 0 ? 0 : -n };
  }
  if (/[0-9]-[0-9.]+s$/.test(ref)) throw bad(ref, "only a real-time range may end in s, and it must start with one too (e.g. 1.2s-2.2s)");
  if (/[0-9]-[0-9-]+f$/.test(ref)) throw bad(ref, 'only the start of a range can be fuzzy (e.g. 105000f-111600)');
  throw bad(
    ref,
    'expected packet_<pts>, frame_<pts>, <pts>, <pts>f, <pts>-<pts>, <pts>f-<pts>, first, last, <N>th, <N>th-<M>th, ' +
      '<s>s, <s>s-<s>s, <pts>+<N>d, <pts>-<N>d, start, latest or end',
  );
}

/** Convert seconds to a pts in a time base `[num, den]` (pts = seconds × den / num). */
export function secondsToPts(seconds: number, timeBase: [number, number]): number {
  const [num, den] = timeBase;
  return (seconds * den) / num;
}

/** Inclusive integer pts bounds for a real-time range, tolerant of floating-point error. */
export function secondsRangeToPts(from: number, to: number, timeBase: [number, number]): [number, number] {
  const eps = 1e-6;
  return [Math.ceil(secondsToPts(from, timeBase) - eps), Math.floor(secondsToPts(to, timeBase) + eps)];
}
