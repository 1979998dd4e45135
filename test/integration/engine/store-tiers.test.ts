/**
 * Flat Redis memory for archived time: archived segments leave the hot index for the cold index (one entry per
 * segment object), and the store answers the same over both tiers. Against a real redis-server and a file archive
 * in a temporary folder, two content items get the same media (video with B-frames, audio starting before the
 * first segment, a packet before everything at a negative pts, frames sharing a packet's pts, metadata without
 * payload): `ref` stays all hot, `tiers` is compacted segment by segment. Every query mode, element and payload
 * read and packet window must answer the same JSON and bytes for both, at every stage, while compaction runs
 * beside the queries, and after a segment leaves the DVR window. Writes into archived time are refused (409).
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore, type OwnedStore, type PacketWrite } from '../../../core/store/store';
import { createFileArchive } from '../../../core/archive/file-archive';
import { packetMetaOf, type FrameMeta } from '../../../core/model/media';
import { validateFormat } from '../../../core/model/content';
import type { IndexQuery } from '../../../core/model/query-plan';
import { BeamError } from '../../../core/model/errors';
import type { RedisClient } from '../../../core/store/redis-connection';
import type { ArchiveBackend } from '../../../core/archive/archive-backend';
import { buildApp } from '../../../engine/api/app';
import { createEngineMetrics } from '../../../engine/api/metrics';
import { assertError, TEST_APP_CONFIG, withTestToken } from '../../helpers/app';

let redis: TestRedis;
let admin: RedisClient;
let dir: string;

beforeAll(async () => {
  redis = await startTestRedis();
  admin = redis.connect();
  dir = mkdtempSync(join(tmpdir(), 'beamline-tiers-'));
});
afterAll(async () => {
  await redis.close();
  rmSync(dir, { recursive: true, force: true });
});

const V = 0;
const A = 1;
const FRAME = 3600;
/** 52 frames a segment: decode order I P B B P B B …, a closed GOP per segment. */
const PER_SEG = 52;
const SEG = PER_SEG * FRAME;
const SEGMENTS = 5;
const TTL = 600_000;

/** Display index of the i-th frame in decode order of a GOP (I0 P3 B1 B2 P6 B4 B5 …). */
const display = (i: number) => (i === 0 ? 0 : (i - 1) % 3 === 0 ? i + 2 : i - 1);
const videoPts = (k: number, i: number) => k * SEG + display(i) * FRAME + 2 * FRAME;
const payload = (tag: string, pts: number) => Buffer.from(`${tag}:${pts}:`.padEnd(60 + (Math.abs(pts) % 311), String.fromCharCode(65 + (Math.abs(pts) % 26))));

function videoPacket(pts: number, dts: number, key: boolean): PacketWrite {
  const data = payload('v', pts);
  return { streamIndex: V, meta: packetMetaOf({ streamIndex: V, pts, dts, duration: FRAME, keyframe: key, data }), data };
}
function audioPacket(pts: number): PacketWrite {
  const data = payload('a', pts);
  return { streamIndex: A, meta: packetMetaOf({ streamIndex: A, pts, dts: pts, duration: 1920, keyframe: true, data }), data };
}

/** Segment k's (0-based) windows as the archiver cuts them: video by dts, audio by pts. */
const segStartPts = (k: number) => k * SEG + 2 * FRAME;
const videoWindow = (k: number): [number, number] => [k * SEG, (k + 1) * SEG];
const audioWindow = (k: number): [number, number] => [segStartPts(k), segStartPts(k) + SEG];

interface Rig {
  store: OwnedStore;
  archiveDir: string;
}

function newRig(opts: { headerCacheBytes?: number; warnings?: string[] } = {}): Rig {
  const archiveDir = join(dir, uniquePrefix());
  const store = createStore(
    { redis: redis.connect(), archive: createFileArchive({ dir: archiveDir }), log: { warn: (_o, m) => opts.warnings?.push(m) } },
    { prefix: uniquePrefix(), packetTtlMs: TTL, frameTtlMs: TTL, ...(opts.headerCacheBytes ? { headerCacheBytes: opts.headerCacheBytes } : {}) },
  );
  return { store, archiveDir };
}

/** The same media into a content item: what a channel holds, plus what the API can add. */
async function fill(store: OwnedStore, name: string, ttl = TTL): Promise<void> {
  await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }, { codecpar: { codec_type: 'audio' } }] }, name));
  const writes: PacketWrite[] = [videoPacket(-FRAME, -2 * FRAME, true)];
  for (let k = 0; k < SEGMENTS; k++) for (let i = 0; i < PER_SEG; i++) writes.push(videoPacket(videoPts(k, i), k * SEG + i * FRAME, i === 0));
  for (let pts = 0; pts < SEGMENTS * SEG + 4 * FRAME; pts += 1920) writes.push(audioPacket(pts));
  const r = await store.writePackets(name, writes, ttl);
  assert.equal(r.written, writes.length);
  // Frames: one sharing a packet's pts (two members, one score), one between packets; both with planes.
  for (const pts of [videoPts(1, 10), videoPts(2, 3) + 1800]) {
    const meta: FrameMeta = { type: 'Frame', pts, width: 4, height: 2 };
    await store.putElement(name, V, 'frame', meta, ttl);
    await store.putPayload(name, V, 'frame', pts, Buffer.from(`frame-${pts}-planes`), 'all', [6, 7, 6]);
  }
  // A frame with metadata only, and a packet whose payload is gone (as when it expired or was evicted).
  await store.putElement(name, V, 'frame', { type: 'Frame', pts: videoPts(3, 20) + 900 } as FrameMeta, ttl);
  const lost = videoPts(2, 30);
  await admin.del(store.keys.data(name, V, `packet_${lost}`));
}

/** Pts values around every place the tiers meet: segment edges, gaps between them, frames, the ends. */
function probes(stream: number): number[] {
  const out = new Set<number>([-1_000_000, -FRAME - 1, -FRAME, -FRAME + 1, -1, 0, 1, 1919, 1920, 1921, SEGMENTS * SEG + 10 * FRAME, 1e12]);
  for (let k = 0; k < SEGMENTS; k++) {
    const lo = k * SEG + 2 * FRAME;
    const hi = k * SEG + (PER_SEG - 1) * FRAME + 2 * FRAME;
    for (const p of [lo - 1800, lo - 1, lo, lo + 1, lo + FRAME, lo + SEG / 2, hi - 1, hi, hi + 1, hi + 1800, k * SEG, k * SEG + 1]) out.add(p);
    if (stream === V) for (const p of [videoPts(1, 10), videoPts(2, 3) + 1800, videoPts(3, 20) + 900, videoPts(2, 30)]) out.add(p);
  }
  return [...out].sort((a, b) => a - b);
}

function queries(stream: number): IndexQuery[] {
  const qs: IndexQuery[] = [];
  for (const p of probes(stream)) {
    qs.push({ mode: 'near', pts: p }, { mode: 'atOrBefore', pts: p }, { mode: 'covering', pts: p });
    for (const n of [1, 7, 60]) qs.push({ mode: 'after', pts: p, n }, { mode: 'before', pts: p, n });
    for (const [off, limit] of [[0, 1], [3, 10], [-5, 3]] as const) qs.push({ mode: 'nearFrom', pts: p, max: p + 1.5 * SEG, offset: off, limit });
    qs.push({ mode: 'nearFrom', pts: p, max: p + 1, offset: 0, limit: 5 });
    for (const d of [0, SEG, 3 * SEG]) {
      for (const [off, limit] of [[0, 1], [7, 5], [-3, 2], [-200, 1000]] as const) qs.push({ mode: 'score', min: p, max: p + d, offset: off, limit });
    }
  }
  qs.push({ mode: 'score', min: '-inf', max: '+inf', offset: 0, limit: 100_000 }, { mode: 'score', min: '-inf', max: 0, offset: -2, limit: 10 });
  qs.push({ mode: 'atOrBefore', pts: Number.MAX_SAFE_INTEGER });
  const ranks = [0, 1, 2, 49, 50, 51, 52, 53, 104, 150, 300, -1, -2, -53, -60, -200, -100_000];
  for (const from of ranks) {
    qs.push({ mode: 'rank', from, to: from, offset: 0, limit: 1 });
    for (const to of [-1, 5, 103, 400]) for (const [off, limit] of [[0, 10], [2, 500], [-3, 2]] as const) qs.push({ mode: 'rank', from, to, offset: off, limit });
  }
  return qs;
}

/** Every answer of a content item, as JSON (and payloads as base64) to compare. */
async function answers(store: OwnedStore, name: string, members: readonly string[][]): Promise<string[]> {
  const out: string[] = [];
  for (const s of [V, A]) {
    for (const q of queries(s)) out.push(`${s} ${JSON.stringify(q)} → ${JSON.stringify(await store.query(name, s, q))}`);
    for (let k = -1; k <= SEGMENTS; k++) {
      for (const [from, to] of [videoWindow(k), audioWindow(k), [k * SEG + SEG / 2, k * SEG + SEG + SEG / 3]]) {
        const got = await store.readPackets(name, s, from as number, to as number);
        out.push(`${s} read ${from}-${to} → ${got.map((p) => `${JSON.stringify(p.meta)}=${p.data.toString('base64')}`).join(',')}`);
      }
    }
    for (const m of members[s] ?? []) {
      const [kind, ptsText] = m.split('_') as ['packet' | 'frame', string];
      const pts = Number(ptsText);
      const el = await store.getElement(name, s, kind, pts);
      const pl = await store.getPayload(name, s, kind, pts);
      out.push(`${s} ${m} → ${JSON.stringify(el)} ${pl ? `${pl.data.toString('base64')} ${JSON.stringify(pl.bufSizes)}` : 'no payload'}`);
    }
    for (const pts of [-7, 1, videoPts(4, 5) + 1]) out.push(`${s} absent ${pts} → ${JSON.stringify(await store.getElement(name, s, 'packet', pts))} ${JSON.stringify(await store.getPayload(name, s, 'packet', pts))}`);
  }
  return out;
}

/** Compact segment k (0-based) of one stream, as the archiver does. */
async function compact(store: OwnedStore, name: string, s: number, k: number) {
  const [from, to] = s === V ? videoWindow(k) : audioWindow(k);
  return store.archiveSegment(name, s, k + 1, from, to);
}

function assertSame(got: string[], want: string[], stage: string): void {
  assert.equal(got.length, want.length, stage);
  const cut = (t: string | undefined) => (t && t.length > 600 ? `${t.slice(0, 600)}… (${t.length} chars)` : t);
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) assert.fail(`${stage}: answer ${i} differs\n got  ${cut(got[i])}\n want ${cut(want[i])}`);
}

describe('two tiers answer as one', () => {
  it('every query mode, element, payload and packet window answers the same before, during and after compaction', { timeout: 240_000 }, async () => {
    const { store } = newRig();
    await fill(store, 'ref');
    await fill(store, 'tiers');
    const members = await Promise.all([V, A].map(async (s) => admin.zrange(store.keys.index('ref', s), 0, -1)));
    const want = await answers(store, 'ref', members);
    assertSame(await answers(store, 'tiers', members), want, 'all hot');
    assert.ok(want.length > 3000, String(want.length));

    // Stage by stage: video ahead of audio, then both, then all of it.
    const stages: [number, number][] = [[1, 0], [2, 2], [4, 3], [SEGMENTS, SEGMENTS]];
    const done = [0, 0];
    for (const [v, a] of stages) {
      for (const [s, upto] of [[V, v], [A, a]] as const) {
        for (let k = done[s] as number; k < upto; k++) {
          const r = await compact(store, 'tiers', s, k);
          assert.equal(r.refused, undefined, `segment ${k + 1} stream ${s}: ${JSON.stringify(r)}`);
          assert.ok(r.moved > 40 && r.bytes > 0, JSON.stringify(r));
          if (s === V && k === 2) assert.equal(r.missing, 1, 'the packet without payload');
        }
        done[s] = upto;
      }
      assertSame(await answers(store, 'tiers', members), want, `compacted video ${v}, audio ${a}`);
    }
    // Everything left the hot index but what lies outside the segments (audio before the first and after the
    // last, the early packet).
    assert.deepEqual(await admin.zrange(store.keys.index('tiers', V), 0, -1), [`packet_${-FRAME}`]);
    assert.deepEqual(await admin.zrange(store.keys.index('tiers', A), 0, -1), ['packet_0', 'packet_1920', 'packet_3840', 'packet_5760', 'packet_944640', 'packet_946560', 'packet_948480']);
    assert.equal(await admin.zcard(store.keys.cold('tiers', V)), SEGMENTS);
    // Idempotent: a segment compacted already is reported as such.
    const again = await compact(store, 'tiers', V, 1);
    assert.equal(again.already, PER_SEG + 1, JSON.stringify(again));
    assert.equal(again.bytes, 0);

    // Reads through a cold cache (another process) answer the same, and a tiny cache bound still works.
    // (An archive folder without these objects: a missing folder is the archive unavailable, a 503.)
    mkdirSync(join(dir, 'unused'), { recursive: true });
    const other = createStore({ redis: redis.connect(), archive: createFileArchive({ dir: join(dir, 'unused') }) }, { prefix: store.keys.prefix, packetTtlMs: TTL, frameTtlMs: TTL });
    assert.equal((await other.query('tiers', V, { mode: 'rank', from: 0, to: -1, offset: 0, limit: 5 })).length, 1, 'without the objects, archived elements read as expired');

    // Segments that leave the DVR window (from the front): their entries and objects go, and the stream answers
    // as if their elements had expired from the all-hot store. Dropping segment 2 drops segment 1's entry too.
    assert.equal(await store.deleteArchivedSegment('tiers', V, 2), true);
    assert.equal(await store.deleteArchivedSegment('tiers', V, 2), false);
    assert.equal(await admin.zcard(store.keys.cold('tiers', V)), SEGMENTS - 2);
    assert.equal(await store.deleteArchivedSegment('tiers', V, 1), true, 'its object is still removed');
    for (const m of await admin.zrangebyscore(store.keys.index('ref', V), segStartPts(0), segStartPts(2) - 1)) {
      const [kind, pts] = m.split('_') as ['packet' | 'frame', string];
      assert.equal(await store.deleteElement('ref', V, kind, Number(pts)), true);
    }
    const members2 = await Promise.all([V, A].map(async (s) => admin.zrange(store.keys.index('ref', s), 0, -1)));
    assertSame(await answers(store, 'tiers', members2), await answers(store, 'ref', members2), 'segments 1-2 deleted');
  });

  it('queries racing compaction never see an element twice or miss one', { timeout: 120_000 }, async () => {
    const { store } = newRig();
    await fill(store, 'ref');
    await fill(store, 'race');
    const qs: IndexQuery[] = [
      { mode: 'rank', from: 0, to: -1, offset: 0, limit: 100_000 },
      { mode: 'rank', from: 40, to: 300, offset: 3, limit: 150 },
      { mode: 'score', min: '-inf', max: '+inf', offset: 17, limit: 140 },
      { mode: 'score', min: 0, max: 4 * SEG, offset: -120, limit: 100 },
      { mode: 'after', pts: SEG, n: 90 },
      { mode: 'before', pts: 3 * SEG, n: 70 },
      { mode: 'nearFrom', pts: SEG + 1, max: 3 * SEG, offset: 20, limit: 60 },
      { mode: 'covering', pts: 2 * SEG + 5 },
    ];
    const want = await Promise.all([V, A].map((s) => Promise.all(qs.map((q) => store.query('ref', s, q)))));
    const wantRead = await Promise.all([V, A].map((s) => store.readPackets('ref', s, 0, SEGMENTS * SEG)));
    let compacting = true;
    let checks = 0;
    const compaction = (async () => {
      for (let k = 0; k < SEGMENTS; k++) {
        for (const s of [V, A]) assert.equal((await compact(store, 'race', s, k)).refused, undefined);
        await new Promise((r) => setTimeout(r, 5));
      }
      compacting = false;
    })();
    const readers = [0, 1, 2, 3].map(async (w) => {
      while (compacting) {
        const s = w % 2;
        const got = await Promise.all(qs.map((q) => store.query('race', s, q)));
        got.forEach((g, i) => assert.deepEqual(g, want[s]?.[i], `stream ${s} ${JSON.stringify(qs[i])}`));
        const read = await store.readPackets('race', s, 0, SEGMENTS * SEG);
        assert.equal(read.length, wantRead[s]?.length);
        read.forEach((p, i) => {
          assert.deepEqual(p.meta, wantRead[s]?.[i]?.meta);
          assert.ok(p.data.equals(wantRead[s]?.[i]?.data as Buffer));
        });
        checks++;
      }
    });
    await Promise.all([compaction, ...readers]);
    assert.ok(checks >= 8, `queries ran beside compaction (${checks} rounds)`);
  });

  it('an archived window as one span of one object: the same packets and bytes as readPackets; null when partly hot, spread, or missing payloads', async () => {
    const { store, archiveDir } = newRig();
    const archive = createFileArchive({ dir: archiveDir });
    await fill(store, 'span');
    for (const k of [0, 1, 2]) await compact(store, 'span', V, k);
    for (const k of [0, 1]) await compact(store, 'span', A, k);
    for (const [s, [from, to]] of [[V, videoWindow(0)], [A, audioWindow(0)], [A, audioWindow(1)]] as const) {
      const span = await store.readArchivedSpan('span', s, from, to);
      const read = await store.readPackets('span', s, from, to);
      assert.ok(span && read.length > 10, `stream ${s} ${from}-${to}`);
      assert.deepEqual(span.packets.map((p) => p.meta), read.map((p) => p.meta));
      assert.deepEqual(span.packets.map((p) => p.size), read.map((p) => p.data.length));
      assert.equal(span.end - span.start, read.reduce((n, p) => n + p.data.length, 0));
      assert.deepEqual(await archive.get(span.object, [span.start, span.end]), Buffer.concat(read.map((p) => p.data)), 'the span is the payloads in decode order');
    }
    assert.equal(await store.readArchivedSpan('span', V, ...videoWindow(1)), null, "a frame's payload lies between the packets'");
    assert.equal(await store.readArchivedSpan('span', V, ...videoWindow(2)), null, 'a packet archived without its payload');
    assert.equal(await store.readArchivedSpan('span', V, ...videoWindow(3)), null, 'hot');
    assert.equal(await store.readArchivedSpan('span', V, videoWindow(0)[0], videoWindow(1)[1]), null, 'two objects');
    assert.equal(await store.readArchivedSpan('span', A, audioWindow(1)[0], audioWindow(2)[1]), null, 'partly hot');
    assert.equal(await store.readArchivedSpan('span', V, -10 * SEG, -9 * SEG), null, 'nothing there');
    const noArchive = createStore({ redis: redis.connect() }, { prefix: store.keys.prefix, packetTtlMs: TTL, frameTtlMs: TTL });
    assert.equal(await noArchive.readArchivedSpan('span', V, ...videoWindow(1)), null, 'no archive');
  });

  it('writes into archived time are refused with 409; above it they pass', async () => {
    const { store } = newRig();
    await fill(store, 'imm');
    for (const s of [V, A]) for (const k of [0, 1]) await compact(store, 'imm', s, k);
    const inside = videoPts(1, 7);
    const between = segStartPts(1) - 1800;
    const expect409 = async (p: Promise<unknown>) => {
      await assert.rejects(p, (e: unknown) => e instanceof BeamError && e.statusCode === 409 && /archived part of stream 0 of 'imm': archived media is immutable/.test(e.message));
    };
    for (const pts of [inside, between, segStartPts(0)]) {
      await expect409(store.putElement('imm', V, 'packet', packetMetaOf({ streamIndex: V, pts, dts: pts, duration: FRAME, keyframe: false, data: Buffer.alloc(3) }), TTL));
      await expect409(store.putPayload('imm', V, 'packet', pts, Buffer.from('x'), 'all'));
      await expect409(store.deleteElement('imm', V, 'packet', pts));
    }
    assert.equal((await store.getPayload('imm', V, 'packet', inside))?.data.toString(), payload('v', inside).toString(), 'unchanged');
    // Below the archived part (the early packet) and above it, writes go on.
    assert.equal(await store.putElement('imm', V, 'frame', { type: 'Frame', pts: -5 } as FrameMeta, TTL), true);
    const above = videoPts(2, 4);
    assert.equal((await store.putPayload('imm', V, 'packet', above, Buffer.from('new'), 'all')).size, 3);
    // Through the Content Beam API: a JSON 409 naming why; reads answer as before.
    const app = withTestToken(await buildApp({ store, metrics: createEngineMetrics(undefined, false) }, TEST_APP_CONFIG));
    const url = `/beams/imm/stream_0/packet_${inside}`;
    assertError(await app.inject({ method: 'PUT', url, payload: { type: 'Packet', pts: inside, dts: inside, duration: FRAME, size: 1, flags: {} } }), 409, /archived media is immutable/);
    assertError(await app.inject({ method: 'PUT', url: `${url}/data`, headers: { 'content-type': 'application/octet-stream' }, payload: Buffer.from('x') }), 409, /archived media is immutable/);
    assertError(await app.inject({ method: 'DELETE', url }), 409, /archived media is immutable/);
    assert.equal((await app.inject(url)).json().pts, inside);
    assert.deepEqual((await app.inject(`${url}/data`)).rawPayload, payload('v', inside));
    await app.close();
    // The ingest batch: packets at or below the archived part's end are refused, never written.
    const late = await store.writePackets('imm', [videoPacket(inside + 1, inside + 1, false), videoPacket(5 * SEG + 7, 5 * SEG + 7, false)], TTL);
    assert.deepEqual(late, { written: 1, refused: 1, duplicates: 0 });
    assert.equal(await admin.exists(store.keys.data('imm', V, `packet_${inside + 1}`)), 0);
  });

  it('archived elements expire with their time-to-live; a content item deleted takes its cold index and objects', async () => {
    const { store, archiveDir } = newRig();
    await fill(store, 'short', 2500);
    for (const s of [V, A]) await compact(store, 'short', s, 0);
    assert.equal((await store.query('short', V, { mode: 'rank', from: 0, to: 0, offset: 0, limit: 1 }))[0]?.member, `packet_${-FRAME}`);
    assert.equal((await store.query('short', V, { mode: 'rank', from: 1, to: 1, offset: 0, limit: 1 }))[0]?.member, `packet_${videoPts(0, 0)}`);
    const ttl = await admin.pttl(store.keys.cold('short', V));
    assert.ok(ttl > 1000 && ttl <= 2500, `the cold index expires with its newest entry (${ttl} ms)`);
    await new Promise((r) => setTimeout(r, 2700));
    assert.deepEqual(await store.query('short', V, { mode: 'score', min: '-inf', max: '+inf', offset: 0, limit: 1000 }), []);
    assert.equal(await store.getElement('short', V, 'packet', videoPts(0, 3)), null);

    await fill(store, 'gone');
    for (const s of [V, A]) for (const k of [0, 1, 2]) await compact(store, 'gone', s, k);
    assert.ok(readdirSync(join(archiveDir, 'gone', 's0')).length === 3);
    await store.deleteContent('gone');
    assert.deepEqual(await admin.keys(`${store.keys.prefix}:{gone}:*`), []);
    assert.deepEqual(readdirSync(archiveDir).filter((f) => f === 'gone'), []);
  });

  it('an object that cannot be decoded reads as missing, logged; a changed payload stops compaction until written again', async () => {
    const warnings: string[] = [];
    const { store, archiveDir } = newRig({ warnings });
    await fill(store, 'bad');
    for (const k of [0, 1]) await compact(store, 'bad', V, k);
    writeFileSync(join(archiveDir, 'bad', 's0', '2.seg'), 'not an object');
    const fresh = createStore({ redis: redis.connect(), archive: createFileArchive({ dir: archiveDir }), log: { warn: (_o, m) => warnings.push(m) } }, { prefix: store.keys.prefix, packetTtlMs: TTL, frameTtlMs: TTL });
    const all = await fresh.query('bad', V, { mode: 'score', min: '-inf', max: 3 * SEG, offset: 0, limit: 10_000 });
    assert.equal(all.filter((e) => e.meta.pts >= segStartPts(1) && e.meta.pts < segStartPts(2)).length, 0, 'segment 2 reads as missing');
    assert.equal(all.filter((e) => e.meta.pts >= segStartPts(0) && e.meta.pts < segStartPts(1)).length, PER_SEG, 'segment 1 reads');
    assert.equal(await fresh.getElement('bad', V, 'packet', videoPts(1, 3)), null);
    assert.match(warnings.join('\n'), /cannot be read/);

    // Elements changed while the object was written (the archive's put runs a write racing it): nothing is
    // compacted, and the next call writes the object again with what Redis holds then.
    const file = createFileArchive({ dir: join(dir, uniquePrefix()) });
    let race: (() => Promise<unknown>) | null = null;
    const racing: ArchiveBackend = { ...file, put: async (key, body) => { await race?.(); await file.put(key, body); } };
    const s2 = createStore({ redis: redis.connect(), archive: racing }, { prefix: uniquePrefix(), packetTtlMs: TTL, frameTtlMs: TTL });
    await fill(s2, 'chg');
    const pts = videoPts(0, 4);
    race = () => admin.set(s2.keys.data('chg', V, `packet_${pts}`), 'changed!', 'KEEPTTL');
    const changed = await s2.archiveSegment('chg', V, 1, ...videoWindow(0));
    assert.equal(changed.refused, 'changed');
    assert.equal(changed.left, PER_SEG);
    assert.equal(await admin.zcard(s2.keys.cold('chg', V)), 0);
    assert.equal(await admin.zcard(s2.keys.index('chg', V)), 1 + SEGMENTS * PER_SEG + 3);
    race = () => s2.putElement('chg', V, 'frame', { type: 'Frame', pts: videoPts(0, 9) + 1 } as FrameMeta, TTL);
    assert.equal((await s2.archiveSegment('chg', V, 1, ...videoWindow(0))).refused, 'interleaved');
    race = null;
    const ok = await s2.archiveSegment('chg', V, 1, ...videoWindow(0));
    assert.equal(ok.refused, undefined);
    assert.equal(ok.moved, PER_SEG);
    assert.equal((await admin.zrange(s2.keys.cold('chg', V), 0, 0))[0]?.split('|')[3], String(PER_SEG + 1), 'the frame written meanwhile went with the segment');
    assert.equal((await s2.getPayload('chg', V, 'packet', pts))?.data.toString(), 'changed!');
    assert.equal((await s2.getElement('chg', V, 'frame', videoPts(0, 9) + 1))?.pts, videoPts(0, 9) + 1);
  });

  it('two archivers of one segment write the same object: whichever compacts, the entry names what is on disk', async () => {
    const { store, archiveDir } = newRig();
    await fill(store, 'ref');
    await fill(store, 'two');
    const other = createStore({ redis: redis.connect(), archive: createFileArchive({ dir: archiveDir }) }, { prefix: store.keys.prefix, packetTtlMs: TTL, frameTtlMs: TTL });
    for (let k = 0; k < 3; k++) {
      for (const s of [V, A]) {
        const [from, to] = s === V ? videoWindow(k) : audioWindow(k);
        const [a, b] = await Promise.all([store.archiveSegment('two', s, k + 1, from, to), other.archiveSegment('two', s, k + 1, from, to)]);
        assert.equal([a, b].filter((r) => r.moved > 0).length, 1, `one compacts: ${JSON.stringify([a, b])}`);
      }
    }
    const members = await Promise.all([V, A].map(async (s) => admin.zrange(store.keys.index('ref', s), 0, -1)));
    const fresh = createStore({ redis: redis.connect(), archive: createFileArchive({ dir: archiveDir }) }, { prefix: store.keys.prefix, packetTtlMs: TTL, frameTtlMs: TTL });
    assertSame(await answers(fresh, 'two', members), await answers(store, 'ref', members), 'after two archivers');
  });
});

