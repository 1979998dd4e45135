/**
 * Pure: the cold index. Once a closed segment's object is in the archive, the elements it holds leave the stream's
 * index, expiry set, element hashes and payload keys (compactSegment-4.lua); what stays in Redis is one entry per
 * (stream, segment) in two sorted sets, `<p>:{c}:s<i>:cold` (score = the entry's lowest pts) and
 * `<p>:{c}:s<i>:coldrank` (score = cum), holding the same member:
 *
 *   <segment>|<minPts>|<maxPts>|<count>|<cum>|<expMs>|<endDts>|<tag>
 *
 * count: elements in the object; cum: elements compacted into this stream's cold index before it (monotonic, so
 * the entry holding the q-th cold element is the last with cum <= first.cum + q); expMs: when the entry expires as
 * its elements would have (the latest of their expiry times; 0 = never); endDts: the end (dts + duration) of its
 * latest packet, where a publisher continuing the channel continues; tag: the object's tag (segment-object.ts).
 *
 * A stream is then the sorted list  hot-below ++ cold ++ hot-above:  the cold entries never overlap in pts and no
 * hot element lies between the lowest and the highest cold pts (compaction takes every hot element up to the
 * segment's highest pts; writes into that range are refused as archived time). Elements below the cold range
 * are the few written before the first compaction (kept by an earlier release, or strays before the first
 * segment) and expire with their time-to-live.
 *
 * A segment view is one object's header arranged for reads: its elements sorted as the index sorts members
 * (pts, then member name), each with its metadata JSON and where its payload lies.
 */

import type { SegmentObjectHeader } from '../archive/segment-object';

export interface ColdEntry {
  /** The member string as stored. */
  member: string;
  segment: number;
  minPts: number;
  maxPts: number;
  count: number;
  cum: number;
  /** Expiry time (ms since the epoch) of the entry; 0 = never. */
  expMs: number;
  endDts: number;
  tag: string;
}

const ENTRY = /^(\d{1,15})\|(-?\d{1,17})\|(-?\d{1,17})\|(\d{1,15})\|(\d{1,15})\|(\d{1,17})\|(-?\d{1,17})\|([0-9a-f]{0,32})$/;

/** Parse a cold entry; null for anything malformed (never written by the store). */
export function parseColdEntry(member: string | null | undefined): ColdEntry | null {
  if (!member) return null;
  const m = ENTRY.exec(member);
  if (!m) return null;
  return {
    member, segment: Number(m[1]), minPts: Number(m[2]), maxPts: Number(m[3]), count: Number(m[4]), cum: Number(m[5]),
    expMs: Number(m[6]), endDts: Number(m[7]), tag: m[8] as string,
  };
}

/** The member string of an entry (what compactSegment-4.lua writes). */
export function formatColdEntry(e: Omit<ColdEntry, 'member'>): string {
  return `${e.segment}|${e.minPts}|${e.maxPts}|${e.count}|${e.cum}|${e.expMs}|${e.endDts}|${e.tag}`;
}

/** Whether an entry's elements are still alive at `nowMs`. */
export function coldEntryAlive(e: ColdEntry, nowMs: number): boolean {
  return e.expMs === 0 || e.expMs > nowMs;
}

/** One element of a segment view. */
export interface ColdElement {
  member: string;
  pts: number;
  /** The decode timestamp of a packet (a frame's pts). */
  dts: number;
  /** Metadata JSON, as the element hash held it. */
  json: string;
  /** Plane sizes JSON ('' when none). */
  sizes: string;
  /** Byte offset of the payload in the object (header included); meaningless when `nodata`. */
  offset: number;
  size: number;
  nodata: boolean;
}

export interface SegmentView {
  /** Elements sorted by (pts, member), as the index sorts them. */
  elements: ColdElement[];
  byMember: Map<string, ColdElement>;
  /** What the view holds in memory, roughly (for the header cache's bound). */
  bytes: number;
}

/** The index's member order: score, then member bytes (members are ASCII). */
export function compareMembers(a: { pts: number; member: string }, b: { pts: number; member: string }): number {
  return a.pts - b.pts || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0);
}

/** Pure: a header arranged for reads. */
export function segmentView(header: SegmentObjectHeader, payloadStart: number): SegmentView {
  let bytes = 256;
  const elements = header.packets.map((p): ColdElement => {
    const json = JSON.stringify(p.meta);
    const dts = typeof (p.meta as { dts?: unknown }).dts === 'number' ? (p.meta as { dts: number }).dts : p.meta.pts;
    const sizes = p.sizes ? JSON.stringify(p.sizes) : '';
    bytes += 2 * (json.length + sizes.length + p.member.length) + 160;
    return { member: p.member, pts: p.meta.pts, dts, json, sizes, offset: payloadStart + p.offset, size: p.size, nodata: p.nodata === true };
  }).sort(compareMembers);
  return { elements, byMember: new Map(elements.map((e) => [e.member, e])), bytes: bytes + 64 * elements.length };
}

/**
 * Whether a view is the object a cold entry names: the same tag, count and pts range (an object rewritten under
 * the same key, e.g. after a content item was deleted and made again, is not taken for it).
 */
export function viewMatches(v: SegmentView, e: ColdEntry, headerTag: string | undefined): boolean {
  const first = v.elements[0];
  const last = v.elements[v.elements.length - 1];
  return (headerTag ?? '') === e.tag && v.elements.length === e.count && first?.pts === e.minPts && last?.pts === e.maxPts;
}

/**
 * Pure: the cold entry of an archived object read back from its header (a rebuild of the index after Redis was
 * lost), as compaction would have written it: its elements' pts range and count, the end of its latest packet,
 * its tag; `cum` and `expMs` as the caller places it. Null for an object without elements.
 */
export function coldEntryOfHeader(header: SegmentObjectHeader, cum: number, expMs: number): Omit<ColdEntry, 'member'> | null {
  if (header.packets.length === 0) return null;
  let minPts = Infinity;
  let maxPts = -Infinity;
  let endDts = -Infinity;
  for (const p of header.packets) {
    const meta = p.meta as { pts: number; dts?: number; duration?: number };
    minPts = Math.min(minPts, meta.pts);
    maxPts = Math.max(maxPts, meta.pts);
    endDts = Math.max(endDts, (typeof meta.dts === 'number' ? meta.dts : meta.pts) + Math.max(0, meta.duration ?? 0));
  }
  return { segment: header.segment, minPts, maxPts, count: header.packets.length, cum, expMs: Math.max(0, Math.round(expMs)), endDts, tag: header.tag ?? '' };
}
