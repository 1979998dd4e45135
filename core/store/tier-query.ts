/**
 * Pure: index queries over both tiers (see cold-index.ts). Every media_ref mode of IndexQuery is turned into what
 * queryIndex-4.lua reads in one atomic step (`planTiers`: scans from a pts bound, or a rank window), and the
 * answer is finished here from what it returned (`answerTiers`): hot elements with their metadata and cold
 * entries, whose elements come from their segment's header (`load`, the header cache) when the answer needs them.
 * A scan returns the cold entry a bound falls inside whole; only then is its header read to count the elements on
 * either side of the bound. Results are what the index of an all-hot store answers: the same members in the same
 * order, the same metadata.
 */

import type { IndexQuery } from '../model/query-plan';
import { parseColdEntry, type ColdElement, type ColdEntry, type SegmentView } from './cold-index';

export type Bound = number | '-inf' | '+inf';

/** Elements from a bound, ascending ('f') or descending ('b'), at least `budget` of them, none beyond `stop`. */
export interface Scan {
  dir: 'f' | 'b';
  inclusive: boolean;
  bound: Bound;
  budget: number;
  stop: Bound;
}

export type TierPlan =
  | { op: 'scan'; scans: Scan[] }
  | { op: 'rank'; from: number; to: number; offset: number; limit: number };

export interface HotItem {
  kind: 'hot';
  /** Rank over both tiers (rank plans only; -1 otherwise). */
  rank: number;
  member: string;
  pts: number;
  /** null when the element's metadata has expired (the index entry is not trimmed yet). */
  json: string | null;
  sizes: string | null;
}

export interface ColdItem {
  kind: 'cold';
  /** Rank of the entry's first element over both tiers (rank plans only; -1 otherwise). */
  rank: number;
  entry: ColdEntry;
}

export type Item = HotItem | ColdItem;

export type TierReply = { op: 'scan'; scans: Item[][] } | { op: 'rank'; first: number; last: number; items: Item[] };

/** One element of an answer, hot or cold. */
export interface TierElement {
  member: string;
  pts: number;
  json: string | null;
  /** Plane sizes JSON, null when none. */
  sizes: string | null;
  /** Where a cold element is: its entry and its place in the segment's header. */
  cold: { entry: ColdEntry; element: ColdElement } | null;
}

/** The header of a cold entry's object, or null when it cannot be read (the entry then holds nothing). */
export type ViewLoader = (entry: ColdEntry) => Promise<SegmentView | null>;

const ALL = 1_000_000_000;

/** Pure: what queryIndex-4.lua reads for a query. */
export function planTiers(q: IndexQuery): TierPlan {
  const f = (inclusive: boolean, bound: Bound, budget: number, stop: Bound = '+inf'): Scan => ({ dir: 'f', inclusive, bound, budget, stop });
  const b = (inclusive: boolean, bound: Bound, budget: number, stop: Bound = '-inf'): Scan => ({ dir: 'b', inclusive, bound, budget, stop });
  const budget = (n: number) => (n < 0 ? ALL : Math.min(ALL, n));
  switch (q.mode) {
    case 'score':
      return { op: 'scan', scans: [q.offset >= 0 ? f(true, q.min, budget(q.offset + q.limit), q.max) : b(true, q.max, -q.offset, q.min)] };
    case 'rank':
      return { op: 'rank', from: q.from, to: q.to, offset: q.offset, limit: q.limit };
    case 'near':
      return { op: 'scan', scans: [b(true, q.pts, 1), f(true, q.pts, 1)] };
    case 'nearFrom':
      // The nearest (two below: elements of both kinds may share its pts, and the range starts with all of them;
      // one above, wherever it is), then the range up to max: from the bound up, or from max down.
      return { op: 'scan', scans: [b(true, q.pts, 2), f(true, q.pts, 1), q.offset >= 0 ? f(true, q.pts, budget(q.offset + q.limit), q.max) : b(true, q.max, -q.offset)] };
    case 'atOrBefore':
      return { op: 'scan', scans: [b(true, q.pts, 1)] };
    case 'covering':
      return { op: 'scan', scans: [b(true, q.pts, 1), f(false, q.pts, 1)] };
    case 'after':
      return { op: 'scan', scans: [f(false, q.pts, q.n)] };
    case 'before':
      return { op: 'scan', scans: [b(false, q.pts, q.n)] };
  }
}

/** Pure: the script's arguments for a plan (after the keys and the element prefix). */
export function tierArgs(plan: TierPlan): (string | number)[] {
  if (plan.op === 'rank') return ['rank', plan.from, plan.to, plan.offset, plan.limit];
  const out: (string | number)[] = ['scan'];
  for (const s of plan.scans) out.push(s.dir, s.inclusive ? '1' : '0', String(s.bound), s.budget, String(s.stop));
  return out;
}

/** The pts of an index member `<kind>_<pts>`. */
export function memberPts(member: string): number {
  return Number(member.slice(member.indexOf('_') + 1));
}

function parseItems(flat: unknown): Item[] {
  if (!Array.isArray(flat)) throw new Error('queryIndex: malformed reply');
  const out: Item[] = [];
  for (let i = 0; i + 4 < flat.length; i += 5) {
    const rank = Number(flat[i + 1]);
    const value = String(flat[i + 2]);
    if (flat[i] === 'c') {
      const entry = parseColdEntry(value);
      if (!entry) throw new Error(`queryIndex: malformed cold entry '${value.slice(0, 80)}'`);
      out.push({ kind: 'cold', rank, entry });
    } else {
      const json = String(flat[i + 3]);
      const sizes = String(flat[i + 4]);
      out.push({ kind: 'hot', rank, member: value, pts: memberPts(value), json: json === '' ? null : json, sizes: sizes === '' ? null : sizes });
    }
  }
  return out;
}

/** Pure: the script's reply as items. */
export function parseTierReply(plan: TierPlan, raw: unknown): TierReply {
  if (!Array.isArray(raw)) throw new Error('queryIndex: malformed reply');
  if (plan.op === 'rank') return { op: 'rank', first: Number(raw[0]), last: Number(raw[1]), items: parseItems(raw[2]) };
  return { op: 'scan', scans: raw.map(parseItems) };
}

/** A pts range; bounds may be infinite. */
interface Range {
  lo: number;
  loIncl: boolean;
  hi: number;
  hiIncl: boolean;
}

const toNum = (b: Bound): number => (b === '-inf' ? -Infinity : b === '+inf' ? Infinity : b);
const range = (lo: Bound, loIncl: boolean, hi: Bound, hiIncl: boolean): Range => ({ lo: toNum(lo), loIncl, hi: toNum(hi), hiIncl });
const inRange = (r: Range, pts: number): boolean => (r.loIncl ? pts >= r.lo : pts > r.lo) && (r.hiIncl ? pts <= r.hi : pts < r.hi);

function hotElement(it: HotItem): TierElement {
  return { member: it.member, pts: it.pts, json: it.json, sizes: it.sizes, cold: null };
}

function coldElement(entry: ColdEntry, e: ColdElement): TierElement {
  return { member: e.member, pts: e.pts, json: e.json, sizes: e.sizes === '' ? null : e.sizes, cold: { entry, element: e } };
}

/** The elements of some items (ascending) inside a range, by position: headers are read only where needed. */
interface TierList {
  length: number;
  slice(from: number, to: number): Promise<TierElement[]>;
}

async function tierList(items: readonly Item[], r: Range, load: ViewLoader): Promise<TierList> {
  const runs = await Promise.all(items.map(async (it): Promise<{ entry: ColdEntry | null; count: number; elems: TierElement[] | null }> => {
    if (it.kind === 'hot') return { entry: null, count: inRange(r, it.pts) ? 1 : 0, elems: inRange(r, it.pts) ? [hotElement(it)] : [] };
    if (inRange(r, it.entry.minPts) && inRange(r, it.entry.maxPts)) return { entry: it.entry, count: it.entry.count, elems: null };
    const view = await load(it.entry);
    const elems = view ? view.elements.filter((e) => inRange(r, e.pts)).map((e) => coldElement(it.entry, e)) : [];
    return { entry: it.entry, count: elems.length, elems };
  }));
  const length = runs.reduce((n, run) => n + run.count, 0);
  return {
    length,
    async slice(from, to) {
      const a0 = Math.max(0, from);
      const b0 = Math.min(length, to);
      const parts: Promise<TierElement[]>[] = [];
      let pos = 0;
      for (const run of runs) {
        const a = pos;
        pos += run.count;
        if (pos <= a0 || a >= b0) continue;
        const lo = Math.max(a0, a) - a;
        const hi = Math.min(b0, pos) - a;
        if (run.elems) parts.push(Promise.resolve(run.elems.slice(lo, hi)));
        else {
          const entry = run.entry as ColdEntry;
          parts.push(load(entry).then((v) => (v ? v.elements.slice(lo, hi).map((e) => coldElement(entry, e)) : [])));
        }
      }
      return (await Promise.all(parts)).flat();
    },
  };
}

async function lastOf(list: TierList): Promise<TierElement | undefined> {
  return (await list.slice(list.length - 1, list.length))[0];
}

async function firstOf(list: TierList): Promise<TierElement | undefined> {
  return (await list.slice(0, 1))[0];
}

const reversed = (items: readonly Item[] | undefined): Item[] => [...(items ?? [])].reverse();

/** A metadata number as Lua's tonumber reads a JSON value: a number, or a numeric string. */
function luaNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/** The elements at ranks [first, last] of a rank reply. */
async function byRank(reply: Extract<TierReply, { op: 'rank' }>, load: ViewLoader): Promise<TierElement[]> {
  const parts = reply.items.map(async (it): Promise<TierElement[]> => {
    if (it.kind === 'hot') return it.rank >= reply.first && it.rank <= reply.last ? [hotElement(it)] : [];
    const lo = Math.max(reply.first, it.rank) - it.rank;
    const hi = Math.min(reply.last, it.rank + it.entry.count - 1) - it.rank;
    if (lo > hi) return [];
    const view = await load(it.entry);
    return view ? view.elements.slice(lo, hi + 1).map((e) => coldElement(it.entry, e)) : [];
  });
  return (await Promise.all(parts)).flat();
}

/**
 * Pure (given the loader): the answer to `q` from the script's reply, in index order, without elements whose
 * metadata has expired.
 */
export async function answerTiers(q: IndexQuery, reply: TierReply, load: ViewLoader): Promise<TierElement[]> {
  const out = await answerWithGone(q, reply, load);
  return out.filter((e) => e.json !== null);
}

async function answerWithGone(q: IndexQuery, reply: TierReply, load: ViewLoader): Promise<TierElement[]> {
  if (reply.op === 'rank') return byRank(reply, load);
  const [s0, s1, s2] = reply.scans;
  switch (q.mode) {
    case 'score': {
      const r = range(q.min, true, q.max, true);
      if (q.offset >= 0) return (await tierList(s0 ?? [], r, load)).slice(q.offset, q.offset + q.limit);
      const list = await tierList(reversed(s0), r, load);
      const start = Math.max(0, list.length + q.offset);
      return list.slice(start, start + q.limit);
    }
    case 'rank':
      return [];
    case 'near': {
      const near = await nearest(q.pts, s0, s1, load);
      return near ? [near.element] : [];
    }
    case 'nearFrom': {
      const near = await nearest(q.pts, s0, s1, load);
      if (!near || near.element.pts > q.max) return [];
      const at = near.element.pts;
      // The range [at, max]: when the nearest is below the bound, the elements at `at` (found by the scan down;
      // none lie between `at` and the bound) and then those above the bound; else the scan up from `at`.
      let below: TierElement[] = [];
      if (near.below) {
        const l = await tierList(reversed(s0), range(at, true, at, true), load);
        below = await l.slice(0, l.length);
      }
      const fromBound = near.below ? range(q.pts, false, q.max, true) : range(at, true, q.max, true);
      if (q.offset >= 0) {
        const rest = await tierList(s2 ?? [], fromBound, load);
        const head = below.slice(q.offset, q.offset + q.limit);
        const skip = Math.max(0, q.offset - below.length);
        return [...head, ...(await rest.slice(skip, skip + q.limit - head.length))];
      }
      const tail = await tierList(reversed(s2), range(at, true, q.max, true), load);
      const start = Math.max(0, tail.length + q.offset);
      return tail.slice(start, start + q.limit);
    }
    case 'atOrBefore': {
      const at = await lastOf(await tierList(reversed(s0), range('-inf', true, q.pts, true), load));
      return at ? [at] : [];
    }
    case 'covering': {
      const at = await lastOf(await tierList(reversed(s0), range('-inf', true, q.pts, true), load));
      if (!at) return [];
      const later = (await tierList(s1 ?? [], range(q.pts, false, '+inf', true), load)).length > 0;
      if (at.pts === q.pts || later) return [at];
      let d = 0;
      try {
        const meta = JSON.parse(at.json ?? 'null') as Record<string, unknown> | null;
        if (meta && typeof meta === 'object') d = luaNumber(meta.duration) ?? luaNumber(meta.pkt_duration) ?? 0;
      } catch {
        d = 0;
      }
      return q.pts < at.pts + d ? [at] : [];
    }
    case 'after':
      return (await tierList(s0 ?? [], range(q.pts, false, '+inf', true), load)).slice(q.n - 1, q.n);
    case 'before': {
      const list = await tierList(reversed(s0), range('-inf', true, q.pts, false), load);
      return list.length >= q.n ? list.slice(list.length - q.n, list.length - q.n + 1) : [];
    }
  }
}

/** The element nearest pts (the earlier on a tie) from a scan below (descending) and one from it up. */
async function nearest(pts: number, below: readonly Item[] | undefined, above: readonly Item[] | undefined, load: ViewLoader): Promise<{ element: TierElement; below: boolean } | null> {
  const b = await lastOf(await tierList(reversed(below), range('-inf', true, pts, true), load));
  const a = await firstOf(await tierList(above ?? [], range(pts, true, '+inf', true), load));
  if (b && a) return pts - b.pts <= a.pts - pts ? { element: b, below: true } : { element: a, below: false };
  if (b) return { element: b, below: true };
  if (a) return { element: a, below: false };
  return null;
}
