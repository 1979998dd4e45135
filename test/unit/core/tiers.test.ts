/**
 * The two tiers, pure parts: cold index entries, segment views, header decoding, the scans each query mode
 * needs, and the answer over hot elements and cold entries (tier-query.ts). The answer is checked against a
 * brute-force reading of one sorted list (the semantics of an all-hot index) on random streams: cold entries
 * between hot elements below and above them, elements of two kinds sharing a pts, elements whose metadata expired.
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { coldEntryAlive, compareMembers, formatColdEntry, parseColdEntry, segmentView, viewMatches, type ColdEntry, type SegmentView } from '../../../core/store/cold-index';
import { answerTiers, memberPts, parseTierReply, planTiers, tierArgs, type Item, type TierReply } from '../../../core/store/tier-query';
import { decodeSegmentHeader, encodeSegmentObject, SegmentObjectError } from '../../../core/archive/segment-object';
import { createHeaderCache } from '../../../core/store/header-cache';
import type { IndexQuery } from '../../../core/model/query-plan';
import type { ElementMeta } from '../../../core/model/media';

describe('cold index entries', () => {
  const e = { segment: 12, minPts: -3600, maxPts: 187200, count: 53, cum: 1060, expMs: 1_700_000_600_000, endDts: 190800, tag: '0a1b2c3d' };

  it('round-trip as the scripts write them', () => {
    const m = formatColdEntry(e);
    assert.equal(m, '12|-3600|187200|53|1060|1700000600000|190800|0a1b2c3d');
    assert.deepEqual(parseColdEntry(m), { member: m, ...e });
  });

  it('anything else is not an entry', () => {
    for (const bad of [null, '', '12|1|2|3|4|5|6', '12|1|2|3|4|5|6|XYZ', 'a|1|2|3|4|5|6|', '12|1.5|2|3|4|5|6|', `${'9'.repeat(16)}|1|2|3|4|5|6|`]) assert.equal(parseColdEntry(bad), null, String(bad));
  });

  it('expire at their time, or never (0)', () => {
    assert.equal(coldEntryAlive({ ...e, member: '' }, e.expMs - 1), true);
    assert.equal(coldEntryAlive({ ...e, member: '' }, e.expMs), false);
    assert.equal(coldEntryAlive({ ...e, member: '', expMs: 0 }, Number.MAX_SAFE_INTEGER), true);
  });
});

describe('segment views and headers', () => {
  const meta = (pts: number, dts: number): ElementMeta => ({ type: 'Packet', pts, dts, size: 1, stream_index: 0, flags: { KEY: false } as never, duration: 3600, pos: -1 });
  const obj = encodeSegmentObject({
    content: 'c', stream: 0, segment: 3, startDts: 0, endDts: 10800, tag: 'beef',
    record: { index: 3, startPts: 7200, startDts: 0, durationPts: 10800, wallClockMs: 5, discontinuity: false },
    packets: [
      { member: 'packet_7200', meta: meta(7200, 0), data: Buffer.from('I') },
      { member: 'packet_14400', meta: meta(14400, 3600), data: Buffer.from('PP') },
      { member: 'packet_10800', meta: meta(10800, 7200), data: null },
      { member: 'frame_10800', meta: { type: 'Frame', pts: 10800 }, data: Buffer.from('fff'), sizes: [1, 2] },
    ],
  });

  it('a header decodes from a prefix of the object, or says how many bytes it needs', () => {
    const need = decodeSegmentHeader(obj.body.subarray(0, 10));
    assert.deepEqual(need, { need: obj.payloadStart });
    const full = decodeSegmentHeader(obj.body.subarray(0, obj.payloadStart));
    assert.ok('header' in full);
    assert.deepEqual(full.header, obj.header);
    assert.equal(full.header.record?.index, 3);
    for (const bad of [Buffer.alloc(3), Buffer.from([0, 0, 0, 1, 0x7b]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0]), Buffer.concat([Buffer.from([0, 0, 0, 2]), Buffer.from('[]')])]) {
      assert.throws(() => decodeSegmentHeader(bad), SegmentObjectError);
    }
  });

  it('a view sorts elements as the index does (pts, then member) and knows where each payload is', () => {
    const v = segmentView(obj.header, obj.payloadStart);
    assert.deepEqual(v.elements.map((e) => e.member), ['packet_7200', 'frame_10800', 'packet_10800', 'packet_14400']);
    const p = v.byMember.get('packet_14400');
    assert.ok(p);
    assert.equal(obj.body.subarray(p.offset, p.offset + p.size).toString(), 'PP');
    assert.equal(v.byMember.get('packet_10800')?.nodata, true);
    assert.equal(v.byMember.get('frame_10800')?.sizes, '[1,2]');
    assert.equal(JSON.parse(v.byMember.get('packet_7200')?.json ?? '').dts, 0);
    const entry = parseColdEntry('3|7200|14400|4|0|0|18000|beef') as ColdEntry;
    assert.equal(viewMatches(v, entry, 'beef'), true);
    assert.equal(viewMatches(v, { ...entry, tag: 'cafe' }, 'beef'), false, 'another object under the same key');
    assert.equal(viewMatches(v, { ...entry, count: 5 }, 'beef'), false);
  });
});

describe('the scans of each query mode', () => {
  const table: [IndexQuery, string][] = [
    [{ mode: 'score', min: 5, max: 9, offset: 2, limit: 3 }, 'scan f 1 5 5 9'],
    [{ mode: 'score', min: '-inf', max: '+inf', offset: -4, limit: 10 }, 'scan b 1 +inf 4 -inf'],
    [{ mode: 'rank', from: -3, to: -1, offset: 1, limit: 2 }, 'rank -3 -1 1 2'],
    [{ mode: 'near', pts: 7 }, 'scan b 1 7 1 -inf f 1 7 1 +inf'],
    [{ mode: 'nearFrom', pts: 7, max: 20, offset: 1, limit: 4 }, 'scan b 1 7 2 -inf f 1 7 1 +inf f 1 7 5 20'],
    [{ mode: 'nearFrom', pts: 7, max: 20, offset: -3, limit: 4 }, 'scan b 1 7 2 -inf f 1 7 1 +inf b 1 20 3 -inf'],
    [{ mode: 'atOrBefore', pts: 7 }, 'scan b 1 7 1 -inf'],
    [{ mode: 'covering', pts: 7 }, 'scan b 1 7 1 -inf f 0 7 1 +inf'],
    [{ mode: 'after', pts: 7, n: 3 }, 'scan f 0 7 3 +inf'],
    [{ mode: 'before', pts: 7, n: 3 }, 'scan b 0 7 3 -inf'],
  ];
  for (const [q, args] of table) it(`${JSON.stringify(q)} → ${args}`, () => assert.equal(tierArgs(planTiers(q)).join(' '), args));

  it('parses the script reply: hot elements (pts from the member) and cold entries', () => {
    const plan = planTiers({ mode: 'near', pts: 7 });
    const reply = parseTierReply(plan, [['h', -1, 'packet_-5', '{"pts":-5}', ''], ['c', -1, '1|6|9|2|0|0|10|', '', '', 'h', -1, 'frame_12', '', '[3]']]);
    assert.equal(reply.op, 'scan');
    const [a, b] = (reply as Extract<TierReply, { op: 'scan' }>).scans;
    assert.deepEqual(a, [{ kind: 'hot', rank: -1, member: 'packet_-5', pts: -5, json: '{"pts":-5}', sizes: null }]);
    assert.equal(b?.[0]?.kind, 'cold');
    assert.deepEqual(b?.[1], { kind: 'hot', rank: -1, member: 'frame_12', pts: 12, json: null, sizes: '[3]' });
    assert.equal(memberPts('packet_-1024'), -1024);
    assert.throws(() => parseTierReply(plan, [['c', -1, 'garbage', '', '']]), /malformed cold entry/);
  });
});

/** A deterministic random source. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface El {
  member: string;
  pts: number;
  json: string | null;
}

/** A random stream: hot below, cold entries (with their views), hot above; and the whole as one sorted list. */
function randomStream(rand: () => number) {
  const els: El[] = [];
  let pts = Math.floor(rand() * 20) - 10;
  const take = (n: number): El[] => {
    const out: El[] = [];
    for (let i = 0; i < n; i++) {
      pts += 1 + Math.floor(rand() * 4);
      const dur = Math.floor(rand() * 5);
      out.push({ member: `packet_${pts}`, pts, json: JSON.stringify({ pts, duration: dur }) });
      if (rand() < 0.15) out.push({ member: `frame_${pts}`, pts, json: JSON.stringify({ pts, pkt_duration: String(dur + 1) }) });
    }
    return out.sort(compareMembers);
  };
  const below = take(Math.floor(rand() * 3)).map((e) => (rand() < 0.2 ? { ...e, json: null } : e));
  pts += 2;
  const entries: { entry: ColdEntry; view: SegmentView }[] = [];
  const segs = Math.floor(rand() * 5);
  let cum = 7;
  for (let k = 0; k < segs; k++) {
    const list = take(1 + Math.floor(rand() * 6));
    const first = list[0] as El;
    const last = list[list.length - 1] as El;
    const entry = parseColdEntry(formatColdEntry({ segment: k + 1, minPts: first.pts, maxPts: last.pts, count: list.length, cum, expMs: 0, endDts: last.pts, tag: '' })) as ColdEntry;
    cum += list.length;
    const view = segmentView({ version: 1, content: 'c', stream: 0, segment: k + 1, startDts: 0, endDts: 0, packets: list.map((e) => ({ member: e.member, meta: JSON.parse(e.json as string) as ElementMeta, offset: 0, size: 0 })) }, 0);
    entries.push({ entry, view });
    els.push(...list);
    pts += Math.floor(rand() * 3);
  }
  const above = take(Math.floor(rand() * 5)).map((e) => (rand() < 0.2 ? { ...e, json: null } : e));
  const all = [...below, ...els, ...above];
  return { below, entries, above, all };
}

type Stream = ReturnType<typeof randomStream>;

const hotItem = (e: El, rank = -1): Item => ({ kind: 'hot', rank, member: e.member, pts: e.pts, json: e.json, sizes: null });

/**
 * What the script could return (more than it does: every item from the bound on, ignoring budgets, which only
 * make it stop early): a forward scan from the bound, or a backward one; cold entries the bound falls inside whole.
 */
function replyFor(st: Stream, q: IndexQuery): TierReply {
  const plan = planTiers(q);
  if (plan.op === 'rank') {
    const total = st.all.length;
    let { from, to, offset } = plan;
    if (from < 0) from = total + from;
    if (to < 0) to = total + to;
    if (to >= total) to = total - 1;
    if (from < 0) from = 0;
    let first = 0;
    let last = -1;
    if (from <= to && total > 0) {
      if (offset < 0) offset = Math.max(0, to - from + 1 + offset);
      first = from + offset;
      last = Math.min(to, first + plan.limit - 1);
    }
    const items: Item[] = [];
    let r = 0;
    for (const e of st.below) items.push(hotItem(e, r++));
    for (const c of st.entries) {
      items.push({ kind: 'cold', rank: r, entry: c.entry });
      r += c.entry.count;
    }
    for (const e of st.above) items.push(hotItem(e, r++));
    return { op: 'rank', first, last, items };
  }
  const num = (b: number | '-inf' | '+inf') => (b === '-inf' ? -Infinity : b === '+inf' ? Infinity : b);
  const scans = plan.scans.map((s) => {
    const p = num(s.bound);
    const stop = num(s.stop);
    const items: Item[] = [];
    const hot = (e: El) => {
      const ok = s.dir === 'f' ? (s.inclusive ? e.pts >= p : e.pts > p) && e.pts <= stop : (s.inclusive ? e.pts <= p : e.pts < p) && e.pts >= stop;
      if (ok) items.push(hotItem(e));
    };
    const cold = (c: { entry: ColdEntry }) => {
      const ok = s.dir === 'f'
        ? (s.inclusive ? c.entry.maxPts >= p : c.entry.maxPts > p) && c.entry.minPts <= stop
        : (s.inclusive ? c.entry.minPts <= p : c.entry.minPts < p) && c.entry.maxPts >= stop;
      if (ok) items.push({ kind: 'cold', rank: -1, entry: c.entry });
    };
    st.below.forEach(hot);
    st.entries.forEach(cold);
    st.above.forEach(hot);
    return s.dir === 'f' ? items : items.reverse();
  });
  return { op: 'scan', scans };
}

/** The semantics of an all-hot index on one sorted list (as queryIndex-2.lua answered). */
function bruteForce(all: El[], q: IndexQuery): El[] {
  const n = (b: number | '-inf' | '+inf') => (b === '-inf' ? -Infinity : b === '+inf' ? Infinity : b);
  const byScore = (min: number, max: number, offset: number, limit: number) => {
    const inRange = all.filter((e) => e.pts >= min && e.pts <= max);
    const off = offset < 0 ? Math.max(0, inRange.length + offset) : offset;
    return inRange.slice(off, off + limit);
  };
  const nearest = (p: number): El | undefined => {
    const before = all.filter((e) => e.pts <= p).pop();
    const after = all.find((e) => e.pts >= p);
    if (before && after) return p - before.pts <= after.pts - p ? before : after;
    return before ?? after;
  };
  let out: (El | undefined)[] = [];
  switch (q.mode) {
    case 'score':
      out = byScore(n(q.min), n(q.max), q.offset, q.limit);
      break;
    case 'rank': {
      const total = all.length;
      let { from, to, offset } = q;
      if (from < 0) from = total + from;
      if (to < 0) to = total + to;
      if (to >= total) to = total - 1;
      if (from < 0) from = 0;
      if (from <= to && total > 0) {
        if (offset < 0) offset = Math.max(0, to - from + 1 + offset);
        const first = from + offset;
        out = all.slice(first, Math.min(to, first + q.limit - 1) + 1);
      }
      break;
    }
    case 'near':
      out = [nearest(q.pts)];
      break;
    case 'nearFrom': {
      const m = nearest(q.pts);
      if (m && m.pts <= q.max) out = byScore(m.pts, q.max, q.offset, q.limit);
      break;
    }
    case 'atOrBefore':
      out = [all.filter((e) => e.pts <= q.pts).pop()];
      break;
    case 'covering': {
      const at = all.filter((e) => e.pts <= q.pts).pop();
      if (at) {
        const later = all.some((e) => e.pts > q.pts);
        if (at.pts === q.pts || later) out = [at];
        else {
          const meta = at.json ? (JSON.parse(at.json) as { duration?: number; pkt_duration?: string }) : null;
          const d = meta ? (meta.duration ?? (meta.pkt_duration !== undefined ? Number(meta.pkt_duration) : 0)) : 0;
          if (q.pts < at.pts + d) out = [at];
        }
      }
      break;
    }
    case 'after':
      out = [all.filter((e) => e.pts > q.pts)[q.n - 1]];
      break;
    case 'before':
      out = [all.filter((e) => e.pts < q.pts).reverse()[q.n - 1]];
      break;
  }
  return out.filter((e): e is El => e !== undefined && e.json !== null);
}

function randomQuery(rand: () => number, st: Stream): IndexQuery {
  const pts = () => {
    const e = st.all[Math.floor(rand() * st.all.length)];
    return (e?.pts ?? 0) + Math.floor(rand() * 5) - 2;
  };
  const off = () => (rand() < 0.3 ? -Math.floor(rand() * 12) - 1 : Math.floor(rand() * 6));
  const lim = () => 1 + Math.floor(rand() * 12);
  switch (Math.floor(rand() * 9)) {
    case 0: {
      const a = pts();
      return { mode: 'score', min: rand() < 0.1 ? '-inf' : a, max: rand() < 0.1 ? '+inf' : a + Math.floor(rand() * 30), offset: off(), limit: lim() };
    }
    case 1: {
      const r = () => Math.floor(rand() * (st.all.length + 4)) * (rand() < 0.4 ? -1 : 1);
      return { mode: 'rank', from: r(), to: r(), offset: off(), limit: lim() };
    }
    case 2:
      return { mode: 'near', pts: pts() };
    case 3: {
      const a = pts();
      return { mode: 'nearFrom', pts: a, max: a + Math.floor(rand() * 30) - 3, offset: off(), limit: lim() };
    }
    case 4:
      return { mode: 'atOrBefore', pts: pts() };
    case 5:
      return { mode: 'covering', pts: pts() };
    case 6:
      return { mode: 'after', pts: pts(), n: 1 + Math.floor(rand() * 8) };
    case 7:
      return { mode: 'before', pts: pts(), n: 1 + Math.floor(rand() * 8) };
    default:
      return { mode: 'score', min: pts(), max: pts() + 40, offset: 0, limit: 1000 };
  }
}

describe('answers over both tiers', () => {
  it('equal an all-hot index on 3,000 random streams and queries', async () => {
    const rand = rng(20240613);
    let coldAnswers = 0;
    for (let i = 0; i < 3000; i++) {
      const st = randomStream(rand);
      const views = new Map(st.entries.map((c) => [c.entry.member, c.view]));
      let reads = 0;
      const load = async (e: ColdEntry) => {
        reads++;
        return views.get(e.member) ?? null;
      };
      for (let j = 0; j < 8; j++) {
        const q = randomQuery(rand, st);
        const got = await answerTiers(q, replyFor(st, q), load);
        const want = bruteForce(st.all, q);
        assert.deepEqual(got.map((e) => [e.member, e.json]), want.map((e) => [e.member, e.json]), `stream ${i} ${JSON.stringify(q)}`);
        if (got.some((e) => e.cold)) coldAnswers++;
      }
      assert.ok(reads <= 8 * 12, String(reads));
    }
    assert.ok(coldAnswers > 5000, `answers with cold elements: ${coldAnswers}`);
  });

  it('reads headers only where the answer needs them: entries a bound falls inside, and entries the answer takes', async () => {
    const rand = rng(7);
    let st = randomStream(rand);
    while (st.entries.length < 4) st = randomStream(rand);
    const read: number[] = [];
    const load = async (e: ColdEntry) => {
      read.push(e.segment);
      return st.entries.find((c) => c.entry.member === e.member)?.view ?? null;
    };
    const e2 = st.entries[1] as { entry: ColdEntry };
    const e3 = st.entries[2] as { entry: ColdEntry };
    // From the first element of entry 2 (no bound inside an entry), one element: entry 2 alone.
    await answerTiers({ mode: 'score', min: e2.entry.minPts, max: '+inf', offset: 0, limit: 1 }, replyFor(st, { mode: 'score', min: e2.entry.minPts, max: '+inf', offset: 0, limit: 1 }), load);
    assert.deepEqual(read, [2]);
    read.length = 0;
    // Skipping whole entries by their counts: entry 3 only.
    const q: IndexQuery = { mode: 'score', min: e2.entry.minPts, max: '+inf', offset: e2.entry.count, limit: 1 };
    await answerTiers(q, replyFor(st, q), load);
    assert.deepEqual(read, [3]);
    read.length = 0;
    // A rank inside entry 3.
    const r = st.below.length + st.entries[0]!.entry.count + e2.entry.count;
    const qr: IndexQuery = { mode: 'rank', from: r, to: r, offset: 0, limit: 1 };
    const got = await answerTiers(qr, replyFor(st, qr), load);
    assert.deepEqual(read, [3]);
    assert.equal(got[0]?.pts, e3.entry.minPts);
  });

  it('an entry whose header cannot be read holds nothing; the rest still answers', async () => {
    const rand = rng(99);
    let st = randomStream(rand);
    while (st.entries.length < 2) st = randomStream(rand);
    const lost = st.entries[0]!.entry.member;
    const load = async (e: ColdEntry) => (e.member === lost ? null : st.entries.find((c) => c.entry.member === e.member)?.view ?? null);
    const q: IndexQuery = { mode: 'score', min: '-inf', max: '+inf', offset: 0, limit: 1000 };
    const got = await answerTiers(q, replyFor(st, q), load);
    const lostMembers = new Set(st.entries[0]!.view.elements.map((e) => e.member));
    assert.deepEqual(got.map((e) => e.member), bruteForce(st.all, q).filter((e) => !lostMembers.has(e.member)).map((e) => e.member));
  });
});

describe('the header cache', () => {
  const meta = (pts: number): ElementMeta => ({ type: 'Packet', pts, dts: pts, size: 1, stream_index: 0, flags: {} as never, duration: 1, pos: -1 });
  const object = (tag: string, n: number, pad = 0) => encodeSegmentObject({
    content: 'c', stream: 0, segment: 1, startDts: 0, endDts: n, tag,
    packets: Array.from({ length: n }, (_, i) => ({ member: `packet_${i}`, meta: { ...meta(i), note: 'x'.repeat(pad) } as ElementMeta, data: Buffer.from([i]) })),
  }).body;
  const entryOf = (tag: string, n: number) => parseColdEntry(formatColdEntry({ segment: 1, minPts: 0, maxPts: n - 1, count: n, cum: 0, expMs: 0, endDts: n, tag })) as ColdEntry;

  /** An in-memory archive that counts its reads (the one interface the cache uses). */
  function memoryArchive(objects: Map<string, Buffer>) {
    const reads: string[] = [];
    return {
      reads,
      archive: {
        put: async (k: string, b: Buffer) => void objects.set(k, b),
        get: async (k: string, r?: readonly [number, number]) => {
          reads.push(`${k} ${r?.join('-')}`);
          await new Promise((res) => setTimeout(res, 1));
          const b = objects.get(k);
          return b ? (r ? b.subarray(r[0], r[1]) : b) : null;
        },
        delete: async (k: string) => objects.delete(k),
        deletePrefix: async () => 0,
      },
    };
  }

  it('reads a header once (one range when it fits the first read, two when longer), shares concurrent reads, keeps it', async () => {
    const objects = new Map([['small', object('aa', 3)], ['big', object('bb', 40, 50)]]);
    const m = memoryArchive(objects);
    const cache = createHeaderCache({ archive: m.archive }, { firstReadBytes: 1024 });
    const [a, b] = await Promise.all([cache.get('small', entryOf('aa', 3)), cache.get('small', entryOf('aa', 3))]);
    assert.equal(a?.elements.length, 3);
    assert.equal(a, b);
    assert.deepEqual(m.reads, ['small 0-1024']);
    const big = await cache.get('big', entryOf('bb', 40));
    assert.equal(big?.elements.length, 40);
    assert.equal(m.reads.length, 3, m.reads.join(', '));
    assert.match(m.reads[2] as string, /^big 1024-\d+$/);
    await cache.get('small', entryOf('aa', 3));
    await cache.get('big', entryOf('bb', 40));
    assert.equal(m.reads.length, 3, 'kept');
    assert.ok(cache.bytes() > 0);
  });

  it('stays within its bytes (least recently used out)', async () => {
    const objects = new Map(Array.from({ length: 10 }, (_, i) => [`o${i}`, object(`a${i}`, 20, 20)] as const));
    const m = memoryArchive(objects);
    const one = segmentView(decodeHeader(objects.get('o0') as Buffer), 0).bytes;
    const cache = createHeaderCache({ archive: m.archive }, { maxBytes: 3 * one + 10 });
    for (let i = 0; i < 10; i++) await cache.get(`o${i}`, entryOf(`a${i}`, 20));
    assert.ok(cache.bytes() <= 3 * one + 10);
    m.reads.length = 0;
    await cache.get('o9', entryOf('a9', 20));
    assert.equal(m.reads.length, 0, 'the newest is kept');
    await cache.get('o0', entryOf('a0', 20));
    assert.equal(m.reads.length, 1, 'the oldest was dropped');
  });

  it('an undecodable object or another object under the key reads as missing, logged; a failing archive throws', async () => {
    const objects = new Map([['junk', Buffer.from('not an object at all')], ['old', object('01', 3)]]);
    const m = memoryArchive(objects);
    const warnings: string[] = [];
    const cache = createHeaderCache({ archive: m.archive, log: { warn: (_o, msg) => warnings.push(msg) } });
    assert.equal(await cache.get('junk', entryOf('aa', 3)), null);
    assert.equal(await cache.get('missing', entryOf('aa', 3)), null);
    assert.equal(await cache.get('old', entryOf('02', 3)), null, 'the entry names another object');
    assert.equal(warnings.length, 2, warnings.join('\n'));
    // Rewritten under the same key (a content item made again): the new one is read, not the kept one.
    assert.ok(await cache.get('old', entryOf('01', 3)));
    objects.set('old', object('02', 3));
    assert.equal((await cache.get('old', entryOf('02', 3)))?.elements.length, 3);
    const failing = createHeaderCache({ archive: { ...m.archive, get: async () => { throw new Error('EIO'); } } });
    await assert.rejects(failing.get('old', entryOf('02', 3)), /EIO/);
  });
});

function decodeHeader(body: Buffer) {
  const d = decodeSegmentHeader(body);
  if ('need' in d) throw new Error('short');
  return d.header;
}
