/**
 * Published media is immutable, enforced by the store against a real redis-server: once a segment or part
 * is announced, packet writes inside it and records that would change a closed segment are refused; the
 * timeline is saved atomically with every boundary; one lease holder per channel, and a writer that lost
 * its lease cannot announce anything.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore, type Store } from '../../../core/store/store';
import { createKeys } from '../../../core/store/keys';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { validateFormat } from '../../../core/model/content';
import { PipelineError } from '../../../core/model/pipeline-errors';
import type { SegmentRecord } from '../../../core/model/live';

const TTL = 60000;
let redis: TestRedis;
let store: Store;
let live: LiveStore;
let prefix: string;

beforeAll(async () => {
  redis = await startTestRedis();
  const client = redis.connect();
  prefix = uniquePrefix();
  store = createStore({ redis: client }, { prefix, packetTtlMs: TTL, frameTtlMs: TTL });
  live = createLiveStore({ redis: client, keys: createKeys(prefix) }, { eventsMaxLen: 1000 });
});

afterAll(async () => {
  await redis?.close();
});

const packet = (dts: number, byte: number) => ({
  streamIndex: 0,
  meta: { pts: dts, dts, duration: 3000, flags: dts % 180000 === 0 ? 1 : 0, stream_index: 0, size: 4, side_data: null } as never,
  data: Buffer.alloc(4, byte),
});

const segment = (index: number, startDts: number, durationPts: number | null): SegmentRecord => ({
  index, startPts: startDts, startDts, durationPts, wallClockMs: Date.now(), discontinuity: false, discontinuitySequence: 0,
});

async function channel(name: string): Promise<void> {
  await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, name));
}

async function bytesAt(name: string, dts: number): Promise<number | null> {
  const got = await store.readPackets(name, 0, dts, dts + 1, 0);
  return got[0]?.data[0] ?? null;
}

describe('published media is immutable', () => {
  it('packets inside a closed segment are refused, later ones are written', async () => {
    await channel('imm');
    const first = await store.writePackets('imm', [packet(0, 1), packet(3000, 1), packet(6000, 1)], TTL);
    assert.deepEqual(first, { written: 3, refused: 0, duplicates: 0 });
    // Packets seal one closed segment late (its trailing audio may still come): closing 2 seals 1.
    await live.writeBoundaries('imm', { segments: [segment(1, 0, 6000)], retainMs: TTL });
    assert.deepEqual(await store.writePackets('imm', [packet(5000, 1)], TTL), { written: 1, refused: 0, duplicates: 0 }, 'late audio of the newest closed segment');
    await live.writeBoundaries('imm', { segments: [segment(2, 6000, 3000)], retainMs: TTL });
    // A second writer (a re-anchored timeline) offers the same times with other bytes, and one new packet.
    const second = await store.writePackets('imm', [packet(0, 9), packet(3000, 9), packet(4500, 9), packet(6000, 9), packet(9000, 9)], TTL);
    assert.deepEqual(second, { written: 1, refused: 1, duplicates: 3 });
    assert.equal(await bytesAt('imm', 5000), 1);
    assert.equal(await bytesAt('imm', 0), 1, 'the announced packet kept its bytes');
    assert.equal(await bytesAt('imm', 4500), null, 'nothing new inside the announced segment');
    assert.equal(await bytesAt('imm', 6000), 1, 'a stored packet is never overwritten, even past the sealed point');
    assert.equal(await bytesAt('imm', 9000), 9);
  });

  it('a closed segment record cannot change; an identical retry and later segments can be written', async () => {
    await channel('rec');
    await live.writeBoundaries('rec', { segments: [segment(1, 0, null)], retainMs: TTL });
    await live.writeBoundaries('rec', { segments: [segment(1, 0, 180000)], retainMs: TTL });
    const closed = (await live.segments('rec', 1, 1))[0] as SegmentRecord;
    await live.writeBoundaries('rec', { segments: [closed], retainMs: TTL }); // retried byte for byte
    await assert.rejects(live.writeBoundaries('rec', { segments: [{ ...closed, durationPts: 90000 }], retainMs: TTL }), (e) => e instanceof PipelineError && e.code === 'INGEST_SEALED');
    await assert.rejects(live.writeBoundaries('rec', { parts: [{ segment: 1, part: 9, startPts: 0, startDts: 0, durationPts: 100, independent: true }], retainMs: TTL }), (e) => e instanceof PipelineError && e.code === 'INGEST_SEALED');
    await live.writeBoundaries('rec', { segments: [segment(2, 180000, null)], parts: [{ segment: 2, part: 0, startPts: 180000, startDts: 180000, durationPts: 18000, independent: true }], retainMs: TTL });
    assert.equal((await live.segments('rec', 1, 1))[0]?.durationPts, 180000);
    const resume = await live.resumePoint('rec', [0]);
    assert.deepEqual(resume, { last: (await live.segments('rec', 2, 2))[0], sealedEndDts: 180000, storedEndDts: null });
    assert.equal(resume.last?.index, 2);
    assert.equal(resume.last?.durationPts, null, 'still open');
  });

  it('after the DVR window passed the newest closed record still says where the channel continues, so the next segment is accepted', async () => {
    await channel('gone');
    const retainMs = 300; // the DVR window; the timeline (and the sealed point with it) is kept far longer
    const timeline = { state: '{"v":1}', ttlMs: TTL };
    await live.writeBoundaries('gone', { segments: [segment(1, 0, null)], retainMs, timeline });
    await live.writeBoundaries('gone', { segments: [segment(1, 0, 180000), segment(2, 180000, null)], retainMs, timeline });
    await live.writeBoundaries('gone', { segments: [{ ...segment(2, 180000, 180000), discontinuitySequence: 3 }], retainMs, timeline });
    await new Promise((r) => setTimeout(r, retainMs + 200));
    assert.deepEqual(await live.segments('gone', 0, 10), [], 'the records left with the window');
    const resume = await live.resumePoint('gone', [0]);
    assert.equal(resume.last?.index, 2, 'the newest closed segment, kept with the sealed point');
    assert.equal(resume.last?.durationPts, 180000);
    assert.equal(resume.last?.discontinuitySequence, 3);
    assert.equal(resume.sealedEndDts, 360000);
    // The segment after it is taken (here without a timeline, as a resume closing a segment or a restore writes:
    // that does not shorten the sealed point's life); offering segment 1 again (what a resume from nothing did) is
    // still refused.
    const sealedKey = createKeys(prefix).sealed('gone');
    const kept = await redis.connect().pttl(sealedKey);
    await live.writeBoundaries('gone', { segments: [{ ...segment(3, 400000, 90000), discontinuity: true, discontinuitySequence: 4 }], retainMs });
    assert.ok((await redis.connect().pttl(sealedKey)) > kept - 1000, 'the sealed point keeps the timeline\'s life');
    assert.equal((await live.resumePoint('gone', [0])).last?.index, 3);
    await assert.rejects(live.writeBoundaries('gone', { segments: [segment(1, 400000, null)], retainMs, timeline }), (e) => e instanceof PipelineError && e.code === 'INGEST_SEALED');
  });

  it('the timeline is saved with the boundary that moved it', async () => {
    await channel('tl');
    await live.writeBoundaries('tl', { segments: [segment(1, 0, null)], retainMs: TTL, timeline: { state: '{"v":1}', ttlMs: TTL } });
    assert.equal(await live.getTimeline('tl'), '{"v":1}');
  });
});

describe('the ingest lease', () => {
  it('one holder at a time; renew only by the holder; release frees it; it expires', async () => {
    assert.equal(await live.acquireLease('ls', 'a', 300), true);
    assert.equal(await live.acquireLease('ls', 'a', 300), true, 'taking it again renews');
    assert.equal(await live.acquireLease('ls', 'b', 300), false);
    assert.equal(await live.renewLease('ls', 'b', 300), 'lost');
    assert.equal(await live.renewLease('ls', 'a', 300), 'takeover', 'b asked for it: the holder hears at its renewal');
    assert.equal(await live.leaseHolder('ls'), 'a');
    await live.releaseLease('ls', 'b');
    assert.equal(await live.leaseHolder('ls'), 'a', 'only the holder releases');
    await live.releaseLease('ls', 'a');
    assert.equal(await live.acquireLease('ls', 'b', 200), true);
    assert.equal(await live.renewLease('ls', 'b', 200), 'held', 'its own request was cleared when it took the lease');
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(await live.leaseHolder('ls'), null, 'a lease its holder stops renewing expires');
    assert.equal(await live.renewLease('ls', 'b', 200), 'held', 'expired and free: the holder takes it back (a Redis outage outlived it)');
    assert.equal(await live.acquireLease('ls', 'c', 5000), false);
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(await live.acquireLease('ls', 'c', 5000), true);
    assert.equal(await live.renewLease('ls', 'b', 200), 'lost', 'taken by another after it expired');
  });

  it('a writer that does not hold the lease cannot announce anything', async () => {
    await channel('fence');
    assert.equal(await live.acquireLease('fence', 'new', 5000), true);
    await assert.rejects(live.writeBoundaries('fence', { segments: [segment(1, 0, null)], retainMs: TTL, holder: 'old' }), (e) => e instanceof PipelineError && e.code === 'INGEST_LEASE_LOST');
    assert.deepEqual(await live.segments('fence', 0, 10), []);
    await live.writeBoundaries('fence', { segments: [segment(1, 0, null)], retainMs: TTL, holder: 'new' });
    assert.equal((await live.segments('fence', 0, 10)).length, 1);
  });

  it('a holder whose lease expired with nobody taking it (a Redis outage outlived it) takes it back with its next write; never one another holds', async () => {
    await channel('outlived');
    assert.equal(await live.acquireLease('outlived', 'w', 200), true);
    await live.writeBoundaries('outlived', { segments: [segment(1, 0, null)], retainMs: TTL, holder: 'w', leaseTtlMs: 200 });
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(await live.leaseHolder('outlived'), null, 'the lease expired');
    await assert.rejects(live.writeBoundaries('outlived', { segments: [segment(1, 0, 180_000)], retainMs: TTL, holder: 'w' }), (e) => e instanceof PipelineError && e.code === 'INGEST_LEASE_LOST', 'without a lease time the write is refused');
    // A refused write takes nothing: a free lease stays free when the write would change a closed segment.
    await live.writeBoundaries('outlived', { segments: [segment(1, 0, 180_000)], retainMs: TTL, holder: '' });
    await assert.rejects(live.writeBoundaries('outlived', { segments: [segment(1, 0, 90_000)], retainMs: TTL, holder: 'w', leaseTtlMs: 5000 }), (e) => e instanceof PipelineError && e.code === 'INGEST_SEALED');
    assert.equal(await live.leaseHolder('outlived'), null, 'a refused write did not take the lease');
    await live.writeBoundaries('outlived', { segments: [segment(2, 180_000, null)], retainMs: TTL, holder: 'w', leaseTtlMs: 5000 });
    assert.equal(await live.leaseHolder('outlived'), 'w', 'the write took the free lease back');
    assert.equal((await live.segments('outlived', 0, 10)).length, 2);
    assert.equal(await live.renewLease('outlived', 'w', 5000), 'held');
    // Taken by another meanwhile: refused, lease time or not.
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(await live.acquireLease('outlived', 'other', 5000), false, 'held by w');
    await live.releaseLease('outlived', 'w');
    assert.equal(await live.acquireLease('outlived', 'other', 5000), true);
    await assert.rejects(live.writeBoundaries('outlived', { segments: [segment(3, 360_000, null)], retainMs: TTL, holder: 'w', leaseTtlMs: 5000 }), (e) => e instanceof PipelineError && e.code === 'INGEST_LEASE_LOST');
    assert.equal(await live.leaseHolder('outlived'), 'other');
    assert.equal((await live.segments('outlived', 0, 10)).length, 2);
  });
});
