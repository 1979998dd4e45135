/**
 * Catch-up storage against a real redis-server and a temporary folder: the file archive, one archiver pass
 * moving closed segments out of Redis (payload keys, element hashes and index entries gone, one cold index entry
 * per segment and stream, the object on disk), reads
 * returning the same bytes before and after, rung segments waiting until made, the lock, failures counted
 * and retried, objects deleted with the DVR window and with the content item.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createChannelStore, type ChannelStore } from '../../../core/store/channel-store';
import { createFileArchive } from '../../../core/archive/file-archive';
import { createArchiver } from '../../../core/archive/archiver';
import { decodeSegmentObject, encodeSegmentObject } from '../../../core/archive/segment-object';
import { formatArchRef, segmentObjectKey } from '../../../core/archive/object-keys';
import { createChannelReader } from '../../../packager/channel-reader';
import { packetMetaOf } from '../../../core/model/media';
import { validateFormat } from '../../../core/model/content';
import { createChannel, renditionContent } from '../../../core/model/channel';
import type { SegmentRecord } from '../../../core/model/live';
import { archiveUnavailable, type ArchiveBackend } from '../../../core/archive/archive-backend';
import { createArchiveCatalog } from '../../../core/archive/catalog';
import { restoreFromArchive } from '../../../core/archive/restore';
import { createHash } from 'node:crypto';

let redis: TestRedis;
let dir: string;
const silent = { info: () => undefined, warn: () => undefined };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  redis = await startTestRedis();
  dir = mkdtempSync(join(tmpdir(), 'beamline-archive-'));
});
afterAll(async () => {
  await redis.close();
  chmodSync(dir, 0o700);
  rmSync(dir, { recursive: true, force: true });
});

describe('file archive', () => {
  it('put is atomic and idempotent, get reads ranges, delete and deletePrefix remove, unsafe keys are refused', async () => {
    const root = join(dir, 'fa');
    const a = createFileArchive({ dir: root });
    await a.put('c/s0/1.seg', Buffer.from('0123456789'));
    await a.put('c/s0/1.seg', Buffer.from('0123456789'));
    await a.put('c/s1/1.seg', Buffer.from('ab'));
    await a.put('c.r/s0/1.seg', Buffer.from('xy'));
    assert.equal((await a.get('c/s0/1.seg'))?.toString(), '0123456789');
    assert.equal((await a.get('c/s0/1.seg', [3, 7]))?.toString(), '3456');
    assert.equal((await a.get('c/s0/1.seg', [8, 100]))?.toString(), '89');
    assert.equal(await a.get('c/s0/2.seg'), null);
    assert.equal(await a.delete('c/s1/1.seg'), true);
    assert.equal(await a.delete('c/s1/1.seg'), false);
    assert.equal(await a.deletePrefix('c/'), 1);
    assert.equal(await a.get('c/s0/1.seg'), null);
    assert.equal((await a.get('c.r/s0/1.seg'))?.toString(), 'xy', 'a prefix is a folder: c/ is not c.r/');
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', '', 'a/./b']) {
      await assert.rejects(a.put(bad, Buffer.from('no')), /unsafe/);
      await assert.rejects(a.get(bad), /unsafe/);
    }
    await assert.rejects(a.deletePrefix('../'), /unsafe/);
    assert.equal(existsSync(join(dir, 'x')), false);
  });
});

const V = 0;
const A = 1;
/** 2 s segments at 90 kHz: video every 3600 ticks (25 fps, pts = dts + 3600), audio every 1920. */
const SEG = 180000;

interface Rig {
  store: OwnedStore;
  live: LiveStore;
  channels: ChannelStore;
  archive: ArchiveBackend;
  archiveDir: string;
}

function newRig(archiveDir = join(dir, uniquePrefix())): Rig {
  const client = redis.connect();
  const archive = createFileArchive({ dir: archiveDir });
  const store = createStore({ redis: client, archive }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  return {
    store, archive, archiveDir,
    live: createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 1000 }),
    channels: createChannelStore({ redis: client, keys: store.keys }),
  };
}

const payload = (stream: number, pts: number) => Buffer.from(`${stream}:${pts}:`.padEnd(100 + (pts % 777), String.fromCharCode(65 + (pts % 26))));

/** A channel with `segments` closed 2 s segments whose wall clocks end at t0 + 2 s × index; optionally one rung. */
async function publish(r: Rig, name: string, segments: number, t0: number, rung?: string): Promise<SegmentRecord[]> {
  const ch = createChannel({ name, ladder: [] }, () => (rung ? [{ name: rung, width: 320, height: 180, videoBitrate: 300000 }] : []), []);
  await r.channels.create({ ...ch, dvrWindowSeconds: 600 });
  await r.store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }, { codecpar: { codec_type: 'audio' } }] }, name));
  const writes = [];
  for (let dts = 0; dts < segments * SEG; dts += 3600) writes.push({ streamIndex: V, meta: packetMetaOf({ streamIndex: V, pts: dts + 3600, dts, duration: 3600, keyframe: dts % SEG === 0, data: payload(V, dts + 3600) }), data: payload(V, dts + 3600) });
  for (let pts = 3600; pts < segments * SEG + 3600; pts += 1920) writes.push({ streamIndex: A, meta: packetMetaOf({ streamIndex: A, pts, dts: pts, duration: 1920, keyframe: true, data: payload(A, pts) }), data: payload(A, pts) });
  await r.store.writePackets(name, writes, 600000);
  if (rung) {
    const content = renditionContent(name, rung);
    await r.store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, content));
    const rw = [];
    for (let pts = 3600; pts < segments * SEG + 3600; pts += 3600) rw.push({ streamIndex: V, meta: packetMetaOf({ streamIndex: V, pts, dts: pts, duration: 3600, keyframe: (pts - 3600) % SEG === 0, data: payload(7, pts) }), data: payload(7, pts) });
    await r.store.writePackets(content, rw, 600000);
  }
  const recs: SegmentRecord[] = Array.from({ length: segments }, (_, i) => ({
    index: i + 1, startDts: i * SEG, startPts: i * SEG + 3600, durationPts: SEG, wallClockMs: t0 + i * 2000, discontinuity: false,
  }));
  await r.live.writeBoundaries(name, { segments: recs, retainMs: 600000 });
  return recs;
}

async function snapshot(r: Rig, content: string, streams: number[], segments: number) {
  const out: { reads: string[]; payloads: string[] } = { reads: [], payloads: [] };
  for (const s of streams) {
    const all = await r.store.readPackets(content, s, -1, segments * SEG + 10 * SEG);
    out.reads.push(...all.map((p) => `${s}/${p.meta.pts}/${p.data.toString('base64')}`));
    for (const p of all.filter((_, i) => i % 7 === 0)) out.payloads.push(`${s}/${p.meta.pts}/${(await r.store.getPayload(content, s, 'packet', p.meta.pts))?.data.toString('base64')}`);
  }
  return out;
}

async function dataKeys(r: Rig, content: string): Promise<number> {
  return (await redis.connect().keys(`${r.store.keys.prefix}:{${content}}:*:data`)).length;
}

describe('archiver pass', () => {
  it('moves closed segments past the hot window to the archive; every read returns the same bytes', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    // 6 segments ending at now-110 s … now-100 s; hot window 105 s: segments 1-3 (ending ≤ now-106 s) are due.
    await publish(r, 'arc', 6, now - 112_000);
    const before = await snapshot(r, 'arc', [V, A], 6);
    const keysBefore = await dataKeys(r, 'arc');
    const registry = new Registry();
    const archiver = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, registry, now: () => now }, { hotWindowMs: 105_000, intervalMs: 1000 });
    const pass = await archiver.runOnce();
    assert.equal(pass.failures, 0);
    assert.equal(pass.objects, 6, 'segments 1-3, video and audio');
    const admin = redis.connect();
    // Segments 1-3 left the hot index: payload keys, element hashes, index and expiry entries are gone; one cold
    // index entry per segment and stream names its object.
    for (const dts of [0, 3600, 2 * SEG - 3600]) {
      const member = `packet_${dts + 3600}`;
      assert.equal(await admin.exists(r.store.keys.data('arc', V, member), r.store.keys.element('arc', V, member)), 0);
      assert.equal(await admin.zscore(r.store.keys.index('arc', V), member), null);
      assert.equal(await admin.zscore(r.store.keys.expiry('arc', V), member), null);
    }
    const coldV = await admin.zrange(r.store.keys.cold('arc', V), 0, -1);
    assert.deepEqual(coldV.map((m) => m.split('|').slice(0, 5).join('|')), [`1|3600|${SEG}|50|0`, `2|${SEG + 3600}|${2 * SEG}|50|50`, `3|${2 * SEG + 3600}|${3 * SEG}|50|100`]);
    assert.deepEqual(await admin.zrange(r.store.keys.coldRank('arc', V), 0, -1), coldV);
    assert.equal(await admin.zcard(r.store.keys.cold('arc', A)), 3);
    // Segment 4 onwards is still hot.
    assert.equal(await admin.exists(r.store.keys.data('arc', V, `packet_${3 * SEG + 3600}`)), 1);
    assert.equal(await admin.zcard(r.store.keys.index('arc', V)), 150);
    assert.equal(keysBefore - (await dataKeys(r, 'arc')), pass.moved);
    // The object is self-describing.
    const obj = decodeSegmentObject(readFileSync(join(r.archiveDir, 'arc/s0/2.seg')));
    assert.equal(obj.header.segment, 2);
    assert.equal(obj.header.packets.length, 50);
    assert.deepEqual(obj.payload(0), payload(V, SEG + 3600));
    assert.equal(obj.header.packets[0]?.meta.dts, SEG);
    // It carries the segment's record (to rebuild Redis from), and the tag its cold entry names.
    assert.deepEqual(obj.header.record, (await r.live.segments('arc', 2, 2))[0]);
    assert.equal(coldV[1]?.split('|')[7], obj.header.tag);
    assert.match(obj.header.tag ?? '', /^[0-9a-f]{8}$/);
    assert.ok(existsSync(join(r.archiveDir, 'arc/s1/3.seg')));
    assert.equal(existsSync(join(r.archiveDir, 'arc/s0/4.seg')), false);
    // Identical bytes through readPackets (batched per object) and getPayload.
    assert.deepEqual(await snapshot(r, 'arc', [V, A], 6), before);
    // A range across hot and archived segments.
    const mixed = await r.store.readPackets('arc', V, 2 * SEG + 3600 * 40, 3 * SEG + 3600 * 10);
    assert.equal(mixed.length, 20);
    assert.deepEqual(mixed.map((p) => p.data), mixed.map((p) => payload(V, p.meta.pts)));
    // Progress is kept: a second pass does nothing; later, the rest moves.
    assert.equal((await archiver.runOnce()).objects, 0);
    const later = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, now: () => now + 60_000 }, { hotWindowMs: 105_000, intervalMs: 1000 });
    assert.equal((await later.runOnce()).objects, 6);
    assert.equal(await dataKeys(r, 'arc'), 0);
    assert.deepEqual(await snapshot(r, 'arc', [V, A], 6), before);
    const metrics = await registry.getMetricsAsJSON();
    assert.equal(metrics.find((m) => m.name === 'beam_archive_backlog_seconds')?.values[0]?.value, 0);
    await archiver.close();
  });

  it('a rung segment waits until the rung made it (or recorded a gap); the backlog says how long', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    await publish(r, 'rg', 3, now - 200_000, 'low');
    const content = renditionContent('rg', 'low');
    const before = await snapshot(r, content, [V], 3);
    const registry = new Registry();
    const archiver = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, registry, now: () => now }, { hotWindowMs: 20_000, intervalMs: 1000 });
    const first = await archiver.runOnce();
    assert.equal(first.objects, 6, 'the source content only');
    assert.ok(first.backlogSeconds > 170 && first.backlogSeconds < 200, String(first.backlogSeconds));
    assert.equal(existsSync(join(r.archiveDir, 'rg.low/s0/1.seg')), false);
    await r.live.recordRungSegment('rg', 'low', 1, 'made', 600000);
    await r.live.recordRungSegment('rg', 'low', 2, 'gap', 600000);
    const second = await archiver.runOnce();
    assert.equal(second.objects, 2, 'segments 1 (made) and 2 (gap: what it has)');
    assert.equal(existsSync(join(r.archiveDir, 'rg.low/s0/2.seg')), true);
    assert.equal(existsSync(join(r.archiveDir, 'rg.low/s0/3.seg')), false);
    assert.deepEqual(await snapshot(r, content, [V], 3), before);
    await archiver.close();
  });

  it('one process per channel: a held lock leaves the channel to its holder', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    await publish(r, 'lk', 2, now - 100_000);
    assert.equal(await r.live.takeArchiveLock('lk', 'someone-else', 30000), true);
    const archiver = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, now: () => now }, { hotWindowMs: 20_000, intervalMs: 1000 });
    assert.equal((await archiver.runOnce()).objects, 0);
    await r.live.releaseArchiveLock('lk', 'someone-else');
    assert.equal((await archiver.runOnce()).objects, 4);
    assert.equal(await redis.connect().exists(r.store.keys.archiveLock('lk')), 0, 'released after the pass');
  });

  it('a failing archive (its folder cannot be made) is logged, counted and retried; nothing leaves Redis meanwhile', async () => {
    const archiveDir = join(dir, uniquePrefix());
    writeFileSync(archiveDir, 'a file where the folder should be');
    const r = newRig(archiveDir);
    const now = 1_700_000_000_000;
    await publish(r, 'fl', 2, now - 100_000);
    const before = await snapshot(r, 'fl', [V, A], 2);
    const keys = await dataKeys(r, 'fl');
    const warnings: string[] = [];
    const registry = new Registry();
    const archiver = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: { info: () => undefined, warn: (_o, m) => warnings.push(m) }, registry, now: () => now }, { hotWindowMs: 20_000, intervalMs: 1000 });
    const failed = await archiver.runOnce();
    assert.equal(failed.failures, 1);
    assert.equal(failed.objects, 0);
    assert.ok(failed.backlogSeconds > 50);
    assert.match(warnings.join('\n'), /retrying at the next pass/);
    assert.equal((await registry.getMetricsAsJSON()).find((m) => m.name === 'beam_archive_failures_total')?.values[0]?.value, 1);
    assert.equal(await dataKeys(r, 'fl'), keys);
    assert.deepEqual(await snapshot(r, 'fl', [V, A], 2), before);
    rmSync(archiveDir);
    const retried = await archiver.runOnce();
    assert.equal(retried.failures, 0);
    assert.equal(retried.objects, 4);
    assert.deepEqual(await snapshot(r, 'fl', [V, A], 2), before);
  });

  it('objects leave with the DVR window, and with the content item', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    await publish(r, 'dv', 4, now - 100_000);
    const archiver = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, now: () => now }, { hotWindowMs: 20_000, intervalMs: 1000 });
    assert.equal((await archiver.runOnce()).objects, 8);
    // 600 s DVR window: 505 s later segments 1 and 2 (ending at now-98 s, now-96 s) have left it, 3 (now-94 s) and 4 not yet.
    const late = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, now: () => now + 505_000 }, { hotWindowMs: 20_000, intervalMs: 1000 });
    assert.equal((await late.runOnce()).deleted, 4);
    assert.equal(existsSync(join(r.archiveDir, 'dv/s0/2.seg')), false);
    assert.equal(existsSync(join(r.archiveDir, 'dv/s0/3.seg')), true);
    assert.equal((await r.live.archiveProgress('dv'))['dv#deleted'], 2);
    await r.store.deleteContent('dv');
    assert.equal(existsSync(join(r.archiveDir, 'dv')), false);
    assert.equal(await redis.connect().exists(r.store.keys.archived('dv')), 0);
  });

  it('a segment whose media was gone before it could be archived is a recorded gap: counted, logged, listed for EXT-X-GAP; it leaves with the DVR window', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    await publish(r, 'gp', 4, now - 100_000);
    const admin = redis.connect();
    // Segment 2: video payloads evicted (metadata kept). Segment 3: all its video expired (metadata too).
    for (let dts = SEG; dts < 2 * SEG; dts += 3600) await admin.del(r.store.keys.data('gp', V, `packet_${dts + 3600}`));
    for (let dts = 2 * SEG; dts < 3 * SEG; dts += 3600) {
      const m = `packet_${dts + 3600}`;
      await admin.del(r.store.keys.data('gp', V, m), r.store.keys.element('gp', V, m));
    }
    const warnings: { obj: object; msg: string }[] = [];
    const registry = new Registry();
    const archiver = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: { info: () => undefined, warn: (obj, msg) => warnings.push({ obj, msg }) }, registry, now: () => now }, { hotWindowMs: 20_000, intervalMs: 1000 });
    const pass = await archiver.runOnce();
    assert.equal(pass.failures, 0);
    assert.equal(pass.gaps, 2);
    assert.equal((await registry.getMetricsAsJSON()).find((m) => m.name === 'beam_archive_gaps_total')?.values[0]?.value, 2);
    const gapLogs = warnings.filter((w) => /recorded as a gap/.test(w.msg));
    assert.deepEqual(gapLogs.map((w) => (w.obj as { segment: number }).segment), [2, 3]);
    assert.deepEqual(await r.live.archiveGaps('gp', 1, 10), [{ segment: 2, content: 'gp' }, { segment: 3, content: 'gp' }]);
    const reader = createChannelReader({ store: r.store, live: r.live, channels: r.channels });
    assert.deepEqual([...await reader.archiveGaps('gp', 'gp', [1, 2, 3, 4])], [2, 3]);
    assert.deepEqual([...await reader.archiveGaps('gp', 'gp.low', [1, 2, 3, 4])], []);
    // Segment 2's metadata is archived and still answers; its payloads are gone, as they were in Redis.
    assert.equal((await r.store.getElement('gp', V, 'packet', SEG + 3600))?.pts, SEG + 3600);
    assert.equal(await r.store.getPayload('gp', V, 'packet', SEG + 3600), null);
    assert.equal((await r.store.readPackets('gp', V, SEG, 2 * SEG)).length, 0);
    assert.equal((await r.store.readPackets('gp', A, SEG + 3600, 2 * SEG + 3600)).length, Math.ceil(SEG / 1920), 'audio of segment 2 is whole');
    // Leaving the DVR window takes the gaps along.
    const late = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, now: () => now + 505_000 }, { hotWindowMs: 20_000, intervalMs: 1000 });
    await late.runOnce();
    assert.deepEqual(await r.live.archiveGaps('gp', 1, 10), [{ segment: 3, content: 'gp' }]);
  });

  it('payloads archived by the previous release (an `arch` field per packet) stay readable; their segment is left as it is and the next ones go cold', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    await publish(r, 'v1', 3, now - 100_000);
    const before = await snapshot(r, 'v1', [V, A], 3);
    const admin = redis.connect();
    // Segment 1 as the previous release left it: the object written, `arch` set, payload keys gone.
    for (const s of [V, A]) {
      const found = await r.store.readPackets('v1', s, s === V ? 0 : 3600, s === V ? SEG : SEG + 3600);
      const enc = encodeSegmentObject({ content: 'v1', stream: s, segment: 1, startDts: 0, endDts: SEG, packets: found.map((p) => ({ member: `packet_${p.meta.pts}`, meta: p.meta, data: p.data })) });
      const object = segmentObjectKey('v1', s, 1);
      await r.archive.put(object, enc.body);
      for (const e of enc.header.packets) {
        await admin.hset(r.store.keys.element('v1', s, e.member), 'arch', formatArchRef({ object, offset: enc.payloadStart + e.offset, size: e.size }));
        await admin.del(r.store.keys.data('v1', s, e.member));
      }
    }
    assert.deepEqual(await snapshot(r, 'v1', [V, A], 3), before, 'read through `arch`');
    const archiver = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, now: () => now }, { hotWindowMs: 20_000, intervalMs: 1000 });
    const pass = await archiver.runOnce();
    assert.equal(pass.failures, 0);
    assert.equal(pass.objects, 4, 'segments 2 and 3; segment 1 was archived already');
    assert.equal(pass.gaps, 0);
    assert.equal(await admin.zcard(r.store.keys.cold('v1', V)), 2);
    assert.equal(await admin.zcard(r.store.keys.index('v1', V)), 50, 'segment 1 stays in the index until it expires');
    assert.deepEqual(await snapshot(r, 'v1', [V, A], 3), before);
    assert.deepEqual((await r.store.query('v1', V, { mode: 'rank', from: 49, to: 50, offset: 0, limit: 2 })).map((e) => e.member), [`packet_${SEG}`, `packet_${SEG + 3600}`]);
  });

  it('once everything is archived, a publisher continuing the channel continues after the archived packets', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    await publish(r, 'rs', 2, now - 100_000);
    const before = await r.live.resumePoint('rs', [V, A]);
    const archiver = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, now: () => now }, { hotWindowMs: 20_000, intervalMs: 1000 });
    assert.equal((await archiver.runOnce()).objects, 4);
    assert.equal(await redis.connect().zcard(r.store.keys.index('rs', V)), 0);
    const after = await r.live.resumePoint('rs', [V, A]);
    assert.equal(after.storedEndDts, before.storedEndDts);
    assert.ok((after.storedEndDts ?? 0) >= 2 * SEG);
  });

  it('part records of archived segments leave Redis, but for the newest segments a live playlist may list', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    const recs = await publish(r, 'pr', 14, now - 100_000);
    const parts = recs.flatMap((s) => Array.from({ length: 10 }, (_, p) => ({ segment: s.index, part: p, startPts: s.startPts + p * SEG / 10, startDts: s.startDts + p * SEG / 10, durationPts: SEG / 10, independent: p === 0 })));
    // As ingest announced them before each segment closed.
    await redis.connect().zadd(r.store.keys.parts('pr'), ...parts.flatMap((p) => [p.segment * 1000 + p.part, JSON.stringify(p)]));
    // Hot window 90 s: segments 1-5 (ending by now-90 s) are archived; parts are kept from segment 14 - 8 = 6 on.
    const archiver = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, now: () => now }, { hotWindowMs: 90_000, intervalMs: 1000 });
    await archiver.runOnce();
    assert.equal((await r.live.archiveProgress('pr')).pr, 5);
    assert.deepEqual([...new Set((await r.live.parts('pr', 1, 14)).map((p) => p.segment))], [6, 7, 8, 9, 10, 11, 12, 13, 14]);
    // Later, everything archived: parts of the newest 8 segments stay.
    const later = createArchiver({ store: r.store, live: r.live, channels: r.channels, log: silent, now: () => now + 60_000 }, { hotWindowMs: 20_000, intervalMs: 1000 });
    await later.runOnce();
    assert.deepEqual([...new Set((await r.live.parts('pr', 1, 14)).map((p) => p.segment))], [7, 8, 9, 10, 11, 12, 13, 14]);
  });
});

describe('archive faults and rebuilding', () => {
  it('an unavailable archive is asked once a pass, not once per channel; the backlog is measured for all and shown at once', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    await publish(r, 'u1', 3, now - 100_000);
    await publish(r, 'u2', 3, now - 100_000);
    let puts = 0;
    const down: ArchiveBackend = {
      ...r.archive,
      put: async () => {
        puts++;
        throw archiveUnavailable('the S3 server did not answer within 30000 ms');
      },
    };
    const store = createStore({ redis: redis.connect(), archive: down }, { prefix: r.store.keys.prefix, packetTtlMs: 600000, frameTtlMs: 60000 });
    const registry = new Registry();
    const archiver = createArchiver({ store, live: r.live, channels: r.channels, log: silent, registry, now: () => now }, { hotWindowMs: 20_000, intervalMs: 1000 });
    const pass = await archiver.runOnce();
    assert.equal(puts, 1, 'one wait on the archive, not one per channel and segment');
    assert.equal(pass.failures, 1);
    assert.equal(pass.archiveUnavailable, true);
    assert.ok(pass.backlogSeconds > 70, `both channels' backlog measured (${pass.backlogSeconds})`);
    assert.equal((await registry.getMetricsAsJSON()).find((m) => m.name === 'beam_archive_backlog_seconds')?.values[0]?.value, pass.backlogSeconds);
    assert.equal(await dataKeys(r, 'u2'), await dataKeys(r, 'u1'), 'nothing left Redis');
  });

  it('a channel and its rung archived, then Redis lost: the rebuild answers the same reads, records and settings, and numbers past the head', async () => {
    const r = newRig();
    const now = 1_700_000_000_000;
    // 6 segments ending at now-110 s … now-100 s; hot window 105 s: segments 1-3 are archived, 4-6 are lost with Redis.
    const recs = await publish(r, 'rb', 6, now - 112_000, 'low');
    await r.store.setRendition({ source: 'rb', target: 'rb.low', streamMap: [{ source: 0, target: 0 }] as never });
    for (const s of recs) await r.live.recordRungSegment('rb', 'low', s.index, 'made', 600000);
    const archiver = createArchiver(
      { store: r.store, live: r.live, channels: r.channels, catalog: createArchiveCatalog({ archive: r.archive }), log: silent, now: () => now },
      { hotWindowMs: 105_000, intervalMs: 1000 },
    );
    assert.equal((await archiver.runOnce()).objects, 9, 'segments 1-3: source video and audio, rung video');
    const reads = async (x: Rig) => ({
      source: [...(await x.store.readPackets('rb', V, -1, 3 * SEG)), ...(await x.store.readPackets('rb', A, -1, 3 * SEG))].map((p) => `${JSON.stringify(p.meta)}/${sha(p.data)}`),
      rung: (await x.store.readPackets('rb.low', V, -1, 3 * SEG)).map((p) => `${JSON.stringify(p.meta)}/${sha(p.data)}`),
      ranks: JSON.stringify(await x.store.query('rb', A, { mode: 'rank', from: 0, to: 99, offset: 0, limit: 1000 })),
      near: JSON.stringify(await x.store.query('rb', V, { mode: 'near', pts: SEG + 5000 })),
      element: JSON.stringify(await x.store.getElement('rb', V, 'packet', SEG + 3600)),
      payload: sha((await x.store.getPayload('rb', V, 'packet', SEG + 3600))?.data ?? Buffer.alloc(0)),
    });
    const before = await reads(r);
    assert.ok(before.source.length > 100 && before.rung.length > 50);

    // A new, empty Redis (a fresh key prefix) on the same archive.
    const r2 = newRig(r.archiveDir);
    const result = await restoreFromArchive(
      { catalog: createArchiveCatalog({ archive: r2.archive }), channels: r2.channels, store: r2.store, live: r2.live, validateLadder: (l) => l as never, defaultLadder: [], log: silent, now: () => now },
      { headMargin: 2 },
    );
    assert.deepEqual(result.channels, ['rb']);
    assert.equal(result.objects, 9);
    assert.deepEqual(await r2.channels.get('rb'), await r.channels.get('rb'), 'settings and stream key');
    assert.deepEqual(await reads(r2), before, 'the same reads from the rebuilt index');
    assert.deepEqual(await r2.live.segments('rb', 1, 3), recs.slice(0, 3), 'the archived records');
    assert.deepEqual(await r2.live.rungMade('rb', 'low', 1, 10), [1, 2, 3]);
    assert.deepEqual((await r2.store.getRelations('rb.low')).renditionOf, { source: 'rb', streamMap: [{ source: 0, target: 0 }] });
    // Segments 4-6 (announced, lost with the hot window) and the margin are lost segments: gaps, never numbered again.
    assert.deepEqual((await r2.live.segments('rb', 4, 20)).map((s) => s.index), [4, 5, 6, 7, 8]);
    assert.deepEqual((await r2.live.archiveGaps('rb', 1, 20)).filter((g) => g.content === 'rb').map((g) => g.segment), [4, 5, 6, 7, 8]);
    assert.equal((await r2.live.resumePoint('rb', [V, A])).last?.index, 8, 'a new publish continues at 9');
    assert.equal((await r2.live.archiveProgress('rb')).rb, 3);
    // Redis is no longer empty: a second start rebuilds nothing.
    assert.equal((await restoreFromArchive({ catalog: createArchiveCatalog({ archive: r2.archive }), channels: r2.channels, store: r2.store, live: r2.live, validateLadder: (l) => l as never, defaultLadder: [], log: silent })).skipped, 'Redis holds channels');
  });
});
