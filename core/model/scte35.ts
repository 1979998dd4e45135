/**
 * SCTE-35 splice_info_sections sent by a publisher in its MPEG-TS (a SCTE-35 PID), read into ad markers. Pure.
 *
 * Read: splice_insert() (ANSI/SCTE 35 §9.7.3) and time_signal() (§9.7.4) with segmentation_descriptor()s
 * (§10.3.3) whose type starts or ends a break or an ad; splice_null, bandwidth_reservation and private commands
 * are nothing to mark. An encrypted section, a CRC mismatch or a truncated one is refused with a reason. Times
 * are the publisher's 90 kHz clock: splice_time's pts_time plus pts_adjustment, modulo 2^33.
 */
import { crc32Mpeg2, markerId, encodeSpliceInsert, MARKER_LIMITS, type Marker } from './marker';

/** Longest section read (SCTE 35 allows 4,093 bytes after section_length's field; anything longer is refused). */
export const MAX_SPLICE_SECTION = 4096;
const WRAP = 2 ** 33;
const HZ = 90000;

/** Segmentation types that start a break (break, ad, placement opportunity, ad block), and their ends (start + 1). */
const BREAK_STARTS = new Set([0x22, 0x30, 0x32, 0x34, 0x36, 0x44, 0x46]);
const BREAK_ENDS = new Set([...BREAK_STARTS].map((t) => t + 1));

export interface Segmentation {
  eventId: number;
  cancel: boolean;
  typeId: number | null;
  /** segmentation_duration, 90 kHz ticks. */
  durationTicks: number | null;
}

export interface SpliceInfo {
  command: 'splice_insert' | 'time_signal' | 'splice_null' | 'other';
  commandType: number;
  /** splice_insert's fields. */
  insert?: { eventId: number; cancel: boolean; outOfNetwork: boolean; immediate: boolean; durationTicks: number | null };
  /** The splice time (pts_time + pts_adjustment, mod 2^33), null when immediate or unspecified. */
  pts: number | null;
  segmentations: Segmentation[];
}

export type SpliceParse = { ok: true; info: SpliceInfo } | { ok: false; reason: string };

class BitReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly end: number) {}
  get bytePos(): number {
    return this.pos >> 3;
  }
  read(width: number): number {
    if (this.pos + width > this.end * 8) throw new RangeError('truncated');
    let v = 0;
    for (let i = 0; i < width; i++) {
      const bit = ((this.buf[this.pos >> 3] as number) >> (7 - (this.pos & 7))) & 1;
      v = v * 2 + bit;
      this.pos++;
    }
    return v;
  }
  skipBytes(n: number): void {
    if (this.pos + n * 8 > this.end * 8) throw new RangeError('truncated');
    this.pos += n * 8;
  }
}

function spliceTime(r: BitReader): number | null {
  if (r.read(1) === 1) {
    r.read(6);
    return r.read(33);
  }
  r.read(7);
  return null;
}

function readInsert(r: BitReader): { insert: NonNullable<SpliceInfo['insert']>; pts: number | null } {
  const eventId = r.read(32);
  const cancel = r.read(1) === 1;
  r.read(7);
  if (cancel) return { insert: { eventId, cancel, outOfNetwork: false, immediate: false, durationTicks: null }, pts: null };
  const outOfNetwork = r.read(1) === 1;
  const programSplice = r.read(1) === 1;
  const hasDuration = r.read(1) === 1;
  const immediate = r.read(1) === 1;
  r.read(4); // event_id_compliance_flag, reserved
  let pts: number | null = null;
  if (programSplice && !immediate) pts = spliceTime(r);
  if (!programSplice) {
    const count = r.read(8);
    for (let i = 0; i < count; i++) {
      r.read(8);
      const t = immediate ? null : spliceTime(r);
      if (pts === null) pts = t; // the first component's time stands for the program
    }
  }
  let durationTicks: number | null = null;
  if (hasDuration) {
    r.read(7); // auto_return, reserved
    durationTicks = r.read(33);
  }
  r.read(32); // unique_program_id, avail_num, avails_expected
  return { insert: { eventId, cancel, outOfNetwork, immediate, durationTicks }, pts };
}

/** A segmentation_descriptor's body after its identifier. */
function readSegmentation(r: BitReader, end: number): Segmentation | null {
  const eventId = r.read(32);
  const cancel = r.read(1) === 1;
  r.read(7);
  if (cancel) return { eventId, cancel, typeId: null, durationTicks: null };
  const programSegmentation = r.read(1) === 1;
  const hasDuration = r.read(1) === 1;
  r.read(6); // delivery_not_restricted_flag and its five bits
  if (!programSegmentation) {
    const count = r.read(8);
    for (let i = 0; i < count; i++) r.read(48);
  }
  const durationTicks = hasDuration ? r.read(40) : null;
  r.read(8); // segmentation_upid_type
  r.skipBytes(r.read(8));
  if (r.bytePos >= end) return null;
  return { eventId, cancel, typeId: r.read(8), durationTicks };
}

/** Parses one splice_info_section (table_id 0xFC), CRC checked. */
export function parseSpliceInfoSection(section: Uint8Array): SpliceParse {
  if (section.length < 17) return { ok: false, reason: `a splice_info_section of ${section.length} bytes is too short` };
  if (section.length > MAX_SPLICE_SECTION) return { ok: false, reason: `a splice_info_section of ${section.length} bytes is too long` };
  if (section[0] !== 0xfc) return { ok: false, reason: `table_id 0x${(section[0] as number).toString(16)} is not a splice_info_section (0xfc)` };
  const length = (((section[1] as number) & 0x0f) << 8) | (section[2] as number);
  const total = 3 + length;
  if (total > section.length) return { ok: false, reason: `section_length ${length} runs past the ${section.length} bytes given` };
  const crc = ((section[total - 4] as number) * 2 ** 24) + (((section[total - 3] as number) << 16) | ((section[total - 2] as number) << 8) | (section[total - 1] as number));
  if (crc32Mpeg2(section.subarray(0, total - 4)) !== crc) return { ok: false, reason: 'the splice_info_section fails its CRC' };
  const r = new BitReader(section, total - 4);
  try {
    r.read(24);
    r.read(8); // protocol_version
    if (r.read(1) === 1) return { ok: false, reason: 'the splice_info_section is encrypted' };
    r.read(6);
    const adjustment = r.read(33);
    r.read(8 + 12); // cw_index, tier
    const commandLength = r.read(12);
    const commandType = r.read(8);
    const commandStart = r.bytePos;
    let info: SpliceInfo = { command: 'other', commandType, pts: null, segmentations: [] };
    if (commandType === 0x05) {
      const { insert, pts } = readInsert(r);
      info = { ...info, command: 'splice_insert', insert, pts };
    } else if (commandType === 0x06) {
      info = { ...info, command: 'time_signal', pts: spliceTime(r) };
    } else if (commandType === 0x00) {
      info = { ...info, command: 'splice_null' };
    } else if (commandLength === 0xfff) {
      return { ok: true, info }; // an unknown command of unstated length: its descriptors cannot be found
    }
    if (commandLength !== 0xfff) {
      const read = r.bytePos - commandStart;
      if (read > commandLength) return { ok: false, reason: `the splice command is longer than its splice_command_length ${commandLength}` };
      r.skipBytes(commandLength - read);
    }
    const loopEnd = r.bytePos + 2 + r.read(16);
    while (r.bytePos + 2 <= loopEnd) {
      const tag = r.read(8);
      const len = r.read(8);
      const end = r.bytePos + len;
      if (end > loopEnd) return { ok: false, reason: 'a splice descriptor runs past the descriptor loop' };
      if (tag === 0x02 && len >= 9 && r.read(32) === 0x43554549) {
        const s = readSegmentation(r, end);
        if (s) info.segmentations.push(s);
      }
      r.skipBytes(end - r.bytePos);
    }
    if (info.pts !== null) info.pts = (info.pts + adjustment) % WRAP;
    return { ok: true, info };
  } catch (err) {
    if (err instanceof RangeError) return { ok: false, reason: 'the splice_info_section is truncated' };
    throw err;
  }
}

/** What a publisher's splice asks of the channel's markers. */
export type SpliceAction =
  | { kind: 'add'; type: Marker['type']; eventId: number; durationSeconds: number | null; immediate: boolean }
  | { kind: 'cancel'; id: string }
  | { kind: 'none'; why: string };

function seconds(ticks: number | null): number | null {
  if (ticks === null) return null;
  const s = Math.round((ticks / HZ) * 1000) / 1000;
  return s >= MARKER_LIMITS.minDuration && s <= MARKER_LIMITS.maxDuration ? s : null;
}

/** Pure: the marker a parsed splice makes (an ad break, its end), a cancellation, or nothing. */
export function spliceAction(info: SpliceInfo): SpliceAction {
  if (info.command === 'splice_insert' && info.insert) {
    const i = info.insert;
    if (i.cancel) return { kind: 'cancel', id: markerId(i.eventId) };
    return { kind: 'add', type: i.outOfNetwork ? 'ad-break' : 'ad-end', eventId: i.eventId, durationSeconds: i.outOfNetwork ? seconds(i.durationTicks) : null, immediate: i.immediate || info.pts === null };
  }
  if (info.command === 'time_signal') {
    for (const s of info.segmentations) {
      if (s.cancel) return { kind: 'cancel', id: markerId(s.eventId) };
      if (s.typeId !== null && BREAK_STARTS.has(s.typeId)) return { kind: 'add', type: 'ad-break', eventId: s.eventId, durationSeconds: seconds(s.durationTicks), immediate: info.pts === null };
      if (s.typeId !== null && BREAK_ENDS.has(s.typeId)) return { kind: 'add', type: 'ad-end', eventId: s.eventId, durationSeconds: null, immediate: info.pts === null };
    }
    return { kind: 'none', why: 'a time_signal without a break or ad segmentation descriptor' };
  }
  return { kind: 'none', why: `splice command 0x${info.commandType.toString(16)} marks nothing` };
}

/**
 * Pure: the distance (90 kHz ticks) from `fromPts` to `toPts` on a 33-bit clock, in [-2^32, 2^32): a splice time
 * is given modulo 2^33, the demuxer's timestamps may have been unwrapped past it.
 */
export function ptsDistance(fromPts: number, toPts: number): number {
  const d = (((toPts - fromPts) % WRAP) + WRAP) % WRAP;
  return d >= WRAP / 2 ? d - WRAP : d;
}

/** Pure: the marker a publisher's splice makes, placed at `startMs`, its section kept as sent. */
export function publisherMarker(a: Extract<SpliceAction, { kind: 'add' }>, section: Uint8Array, startMs: number, nowMs: number): Marker {
  const marker: Marker = {
    id: markerId(a.eventId),
    type: a.type,
    eventId: a.eventId,
    startMs: Math.round(startMs),
    durationSeconds: a.durationSeconds,
    scte35: Buffer.from(section).toString('hex').toUpperCase(),
    createdAt: new Date(nowMs).toISOString(),
    source: 'publisher',
  };
  if (a.type === 'ad-break' && a.durationSeconds !== null) marker.scte35In = encodeSpliceInsert({ eventId: a.eventId, outOfNetwork: false }).toString('hex').toUpperCase();
  return marker;
}
