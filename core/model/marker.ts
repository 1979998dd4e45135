/**
 * Ad markers of a live channel (SCTE-35): the stored record, the API body's validation, and a small encoder
 * of the SCTE-35 splice_info_section carrying a splice_insert() (ANSI/SCTE 35 §9.6, §9.7.3). Pure.
 *
 * A marker is placed in program time by its wall-clock start (the segments' PROGRAM-DATE-TIME): the
 * packager writes it as EXT-X-DATERANGE in media playlists and as a DASH Event at the matching media time.
 */
import { randomInt } from 'node:crypto';
import { badRequest } from './errors';
import { isObject } from './json';

export type MarkerType = 'ad-break' | 'ad-end';
export const MARKER_TYPES: readonly MarkerType[] = ['ad-break', 'ad-end'];

export interface Marker {
  /** The EXT-X-DATERANGE ID: `splice-<event id as 8 hex digits>`. */
  id: string;
  type: MarkerType;
  /** splice_event_id of the splice_insert. */
  eventId: number;
  /** Wall-clock start (ms since the epoch, the PROGRAM-DATE-TIME clock). */
  startMs: number;
  /** Planned length of an ad break, seconds (null: open-ended, or an ad-end). */
  durationSeconds: number | null;
  /** The splice_info_section, hex: out of network for an ad-break, back in for an ad-end. */
  scte35: string;
  /** An ad-break with a duration: the splice_insert returning to the network at its end, hex. */
  scte35In?: string;
  /**
   * Where ingest cut the segment that starts the splice (its PROGRAM-DATE-TIME, ms): the first keyframe at or
   * after `startMs`. Absent until a live publish cut there.
   */
  splicedMs?: number;
  /** The same for a break's end (`startMs` + its duration). */
  splicedInMs?: number;
  /** The pts (channel timeline, 90 kHz) of the keyframe that starts the segment cut at `splicedMs`. */
  splicedPts?: number;
  /** The same for `splicedInMs`. */
  splicedInPts?: number;
  createdAt: string;
  /** Who made it: the channel API, or the publisher's own SCTE-35 in its MPEG-TS (core/model/scte35.ts). */
  source: 'api' | 'publisher';
}

/** Bounds of a marker request: how far in the past or future its start may be, and its duration. */
export const MARKER_LIMITS = { pastMs: 10_000, futureMs: 3_600_000, minDuration: 1, maxDuration: 3600 } as const;

/** Most markers a channel keeps (the oldest go first). */
export const MAX_MARKERS_PER_CHANNEL = 500;

const TIMELINE_HZ = 90000;

/** CRC-32/MPEG-2 (polynomial 0x04C11DB7, initial 0xFFFFFFFF, no reflection, no final xor). */
export function crc32Mpeg2(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
  }
  return crc >>> 0;
}

/** Writes fields of a given bit width, most significant bit first. */
class BitWriter {
  private bits: number[] = [];
  put(value: number | bigint, width: number): this {
    const v = BigInt(value);
    for (let i = width - 1; i >= 0; i--) this.bits.push(Number((v >> BigInt(i)) & 1n));
    return this;
  }
  bytes(): Buffer {
    if (this.bits.length % 8 !== 0) throw new Error(`bit count ${this.bits.length} is not a whole number of bytes`);
    const out = Buffer.alloc(this.bits.length / 8);
    this.bits.forEach((b, i) => {
      if (b) out[i >> 3] = (out[i >> 3] as number) | (0x80 >> (i & 7));
    });
    return out;
  }
}

export interface SpliceInsert {
  eventId: number;
  /** true: leaving the network (an ad break starts); false: returning to it. */
  outOfNetwork: boolean;
  /** break_duration in seconds (auto_return set), when known. */
  durationSeconds?: number;
  /** splice_time pts (90 kHz, 33 bits); absent: splice_immediate_flag (the carrying position is the splice point). */
  pts?: number;
}

/** The splice_info_section (table 0xFC) of one splice_insert, CRC included. */
export function encodeSpliceInsert(s: SpliceInsert): Buffer {
  if (!Number.isInteger(s.eventId) || s.eventId < 0 || s.eventId > 0xffffffff) throw new Error(`splice_event_id ${s.eventId} out of range`);
  const cmd = new BitWriter()
    .put(s.eventId, 32)
    .put(0, 1) // splice_event_cancel_indicator
    .put(0x7f, 7) // reserved
    .put(s.outOfNetwork ? 1 : 0, 1)
    .put(1, 1) // program_splice_flag
    .put(s.durationSeconds !== undefined ? 1 : 0, 1)
    .put(s.pts === undefined ? 1 : 0, 1) // splice_immediate_flag
    .put(0xf, 4); // event_id_compliance_flag + reserved
  if (s.pts !== undefined) cmd.put(1, 1).put(0x3f, 6).put(BigInt(Math.round(s.pts)) & 0x1ffffffffn, 33); // splice_time()
  if (s.durationSeconds !== undefined) {
    cmd.put(1, 1).put(0x3f, 6).put(BigInt(Math.round(s.durationSeconds * TIMELINE_HZ)) & 0x1ffffffffn, 33); // break_duration()
  }
  cmd.put(0, 16).put(0, 8).put(0, 8); // unique_program_id, avail_num, avails_expected
  const command = cmd.bytes();
  // After section_length: protocol_version … splice_command_type (11 bytes), the command, descriptor_loop_length (2), the CRC (4).
  const sectionLength = 11 + command.length + 2 + 4;
  const head = new BitWriter()
    .put(0xfc, 8) // table_id
    .put(0, 1) // section_syntax_indicator
    .put(0, 1) // private_indicator
    .put(3, 2) // sap_type: not specified
    .put(sectionLength, 12)
    .put(0, 8) // protocol_version
    .put(0, 1) // encrypted_packet
    .put(0, 6) // encryption_algorithm
    .put(0, 33) // pts_adjustment
    .put(0, 8) // cw_index
    .put(0xfff, 12) // tier
    .put(command.length, 12) // splice_command_length
    .put(0x05, 8) // splice_command_type: splice_insert
    .bytes();
  const body = Buffer.concat([head, command, Buffer.from([0, 0])]); // descriptor_loop_length 0
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32Mpeg2(body));
  return Buffer.concat([body, crc]);
}

/** What a POST …/markers body asks for, validated. */
export interface MarkerRequest {
  type: MarkerType;
  startMs: number;
  durationSeconds: number | null;
}

/** Pure: a marker body `{type, duration?, start?}` as a request; a clear 400 otherwise. `start`: "now", an ISO 8601 time or epoch ms. */
export function markerRequest(body: unknown, nowMs: number): MarkerRequest {
  if (!isObject(body)) throw badRequest('The body must be a JSON object {type, duration?, start?}.');
  const unknown = Object.keys(body).filter((k) => k !== 'type' && k !== 'duration' && k !== 'start');
  if (unknown.length) throw badRequest(`Unknown marker field(s): ${unknown.join(', ')}; a marker is {type, duration?, start?}.`);
  const type = body.type;
  if (typeof type !== 'string' || !(MARKER_TYPES as readonly string[]).includes(type)) throw badRequest(`'type' must be one of ${MARKER_TYPES.join(', ')}.`);
  let durationSeconds: number | null = null;
  if (body.duration !== undefined && body.duration !== null) {
    if (type === 'ad-end') throw badRequest("An 'ad-end' marker has no duration.");
    const d = body.duration;
    if (typeof d !== 'number' || !Number.isFinite(d) || d < MARKER_LIMITS.minDuration || d > MARKER_LIMITS.maxDuration) {
      throw badRequest(`'duration' must be a number of seconds from ${MARKER_LIMITS.minDuration} to ${MARKER_LIMITS.maxDuration}.`);
    }
    durationSeconds = Math.round(d * 1000) / 1000;
  }
  let startMs = nowMs;
  const s = body.start;
  if (s !== undefined && s !== null && s !== 'now') {
    if (typeof s === 'number' && Number.isSafeInteger(s)) startMs = s;
    else if (typeof s === 'string' && s.length <= 40 && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s))) startMs = Date.parse(s);
    else throw badRequest("'start' must be \"now\", an ISO 8601 time with its zone (2026-01-01T12:00:00Z) or epoch milliseconds.");
    if (startMs < nowMs - MARKER_LIMITS.pastMs || startMs > nowMs + MARKER_LIMITS.futureMs) {
      throw badRequest(`'start' must lie between ${MARKER_LIMITS.pastMs / 1000} s ago and ${MARKER_LIMITS.futureMs / 3_600_000} h from now.`);
    }
  }
  return { type: type as MarkerType, startMs, durationSeconds };
}

/** Pure: the DATERANGE ID of a splice event. */
export function markerId(eventId: number): string {
  return `splice-${eventId.toString(16).toUpperCase().padStart(8, '0')}`;
}

/** A marker from a validated request; `eventId` is drawn at random unless given. */
export function createMarker(req: MarkerRequest, nowMs: number, eventId: number = randomInt(1, 0x7fffffff)): Marker {
  const out = req.type === 'ad-break';
  const marker: Marker = {
    id: markerId(eventId),
    type: req.type,
    eventId,
    startMs: req.startMs,
    durationSeconds: req.durationSeconds,
    scte35: encodeSpliceInsert({ eventId, outOfNetwork: out, ...(req.durationSeconds !== null ? { durationSeconds: req.durationSeconds } : {}) }).toString('hex').toUpperCase(),
    createdAt: new Date(nowMs).toISOString(),
    source: 'api',
  };
  if (out && req.durationSeconds !== null) marker.scte35In = encodeSpliceInsert({ eventId, outOfNetwork: false }).toString('hex').toUpperCase();
  return marker;
}

/** Pure: a stored marker read back (null for anything malformed). */
export function parseMarker(json: string): Marker | null {
  try {
    const m = JSON.parse(json) as Marker;
    if (typeof m.id !== 'string' || !(MARKER_TYPES as readonly string[]).includes(m.type) || !Number.isFinite(m.startMs) || typeof m.scte35 !== 'string') return null;
    return m;
  } catch {
    return null;
  }
}

/** Pure: the splice points (wall-clock ms) of markers that ingest may still cut at: from `pastMs` ago to an hour ahead, sorted, at most 64. */
export function spliceCues(markers: readonly Marker[], nowMs: number, pastMs = 10_000): number[] {
  const out: number[] = [];
  for (const m of markers) {
    out.push(m.startMs);
    if (m.type === 'ad-break' && m.durationSeconds !== null) out.push(m.startMs + m.durationSeconds * 1000);
  }
  return out.filter((t) => t >= nowMs - pastMs && t <= nowMs + MARKER_LIMITS.futureMs).sort((a, b) => a - b).slice(0, 64);
}

/** Pure: the wall-clock times a marker's cues are written at: where ingest cut for them, else as asked. */
export function cueTimes(m: Marker): { out: number; in: number | null } {
  if (m.type === 'ad-end') return { out: m.splicedMs ?? m.startMs, in: null };
  return { out: m.splicedMs ?? m.startMs, in: m.durationSeconds === null ? null : (m.splicedInMs ?? m.startMs + m.durationSeconds * 1000) };
}

/** Where ingest cut for a marker: the wall-clock times and pts of the segments its splices start. */
export type SpliceFields = Partial<Pick<Marker, 'splicedMs' | 'splicedInMs' | 'splicedPts' | 'splicedInPts'>>;

/**
 * Pure: which of a marker's splice points the cut times `hit` satisfy: the fields to record, for a segment
 * starting at `atMs` (PROGRAM-DATE-TIME) and `atPts` (its first keyframe's pts).
 */
export function splicesHit(m: Marker, hit: readonly number[], atMs: number, atPts: number): SpliceFields {
  const out: SpliceFields = {};
  if (m.splicedMs === undefined && hit.includes(m.startMs)) {
    out.splicedMs = atMs;
    out.splicedPts = atPts;
  }
  if (m.type === 'ad-break' && m.durationSeconds !== null && m.splicedInMs === undefined && hit.includes(m.startMs + m.durationSeconds * 1000)) {
    out.splicedInMs = atMs;
    out.splicedInPts = atPts;
  }
  return out;
}

/** Where a marker ends on the wall clock (its start when it has no duration). */
export function markerEndMs(m: Marker): number {
  return m.startMs + (m.durationSeconds ?? 0) * 1000;
}
