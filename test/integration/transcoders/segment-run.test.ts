/**
 * A segment run against a real redis-server, the source written as ingest writes it (packets in decode order,
 * then the part or segment boundary with its event), with a recording transcoder in place of beamcoder (the
 * narrow SegmentTranscoder interface: every frame pushed comes out at once, as libx264 with zerolatency gives it).
 * What is checked: the source is fed as it arrives, before its part is announced, never past a keyframe that may
 * start the next segment; a rung part is published as soon as its part is announced; the closed segment's rung
 * packets are exactly its frames; with prefetching off, nothing is fed before its part; every part's lag is
 * measured, a part announced before the job started included.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { packetMetaOf } from '../../../core/model/media';
import { validateFormat } from '../../../core/model/content';
import { decodeEvent, VIDEO_STREAM, type ChannelEvent, type PartRecord, type SegmentRecord } from '../../../core/model/live';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../../core/store/redis-connection';
import { followSegment } from '../../../transcoders/segment-source';
import { ORPHAN_IDLE_MS, runTranscoder, type SegmentRun } from '../../../transcoders/segment-run';
import { rungOutput, type RungOutput } from '../../../transcoders/rung-output';
import { rungResult } from '../../../transcoders/segment-result';
import { planLadder } from '../../../transcoders/ladder';
import { DEFAULT_ENCODER_CONFIG } from '../../../transcoders/encoder-settings';
import type { EncodedPacket, SegmentTranscoder, SourcePacket } from '../../../transcoders/segment-transcoder';

const TTL = 60000;
const FRAME = 3600; // 25 fps on the 90 kHz timeline
const PART = 5 * FRAME;
let redis: TestRedis;
let store: OwnedStore;
let live: LiveStore;
let reader: RedisClient;

beforeAll(async () => {
  redis = await startTestRedis();
  const client = redis.connect();
  const prefix = uniquePrefix();
  store = createStore({ redis: client }, { prefix, packetTtlMs: TTL, frameTtlMs: TTL });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 1000 });
  reader = connectRedis(parseRedisUrl(redis.url), { maxRetriesPerRequest: null });
});

afterAll(async () => {
  reader?.disconnect();
  await redis?.close();
});

interface Push { dts: number[]; fedThrough: number; at: number }

/** Every frame pushed is encoded at once (pts order, no B-frames): what the run sees of libx264 with zerolatency. */
function recordingTranscoder(rungs: string[], pushes: Push[]): SegmentTranscoder {
  return {
    async push(packets: readonly SourcePacket[], fedThrough: number) {
      pushes.push({ dts: packets.map((p) => p.dts), fedThrough, at: Date.now() });
      const out = packets.map((p): EncodedPacket => ({ pts: p.pts, keyframe: p.keyframe, data: Buffer.from([1, 2, 3]) }));
      return { packets: new Map(rungs.map((r) => [r, out])), readyBefore: fedThrough };
    },
    async finish() {
      return { packets: new Map(), readyBefore: Infinity };
    },
    extradata: () => Buffer.from([0, 0, 0, 1, 0x67]),
    stats: () => ({ decodeSeconds: 0, rungs: rungs.map((rung) => ({ rung, frames: 0, encodeSeconds: 0 })) }),
  };
}

/** The source side, as ingest writes it: frames (dts == pts), then boundaries with their events. */
function source(channel: string) {
  const segment: SegmentRecord = { index: 1, startPts: 0, startDts: 0, durationPts: null, wallClockMs: Date.now(), discontinuity: false };
  return {
    segment,
    async frames(from: number, to: number, keyframes: number[] = []) {
      const writes = [];
      for (let i = from; i < to; i++) {
        const p = { streamIndex: VIDEO_STREAM, pts: i * FRAME, dts: i * FRAME, duration: FRAME, keyframe: i === 0 || keyframes.includes(i), data: Buffer.from([i]) };
        writes.push({ streamIndex: VIDEO_STREAM, meta: packetMetaOf(p), data: p.data });
      }
      await store.writePackets(channel, writes, TTL);
    },
    async part(n: number) {
      const part: PartRecord = { segment: 1, part: n, startPts: n * PART, startDts: n * PART, durationPts: PART, independent: n === 0 };
      await live.writeBoundaries(channel, { parts: [part], events: [{ type: 'part:ready', ...part }], retainMs: TTL });
    },
    async open() {
      const e: ChannelEvent = { type: 'segment:opened', segment: 1, startPts: 0, wallClockMs: segment.wallClockMs, discontinuity: false };
      await live.writeBoundaries(channel, { segments: [segment], events: [e], retainMs: TTL });
    },
    async close(durationPts: number) {
      const next: SegmentRecord = { ...segment, index: 2, startPts: durationPts, startDts: durationPts };
      await live.writeBoundaries(channel, {
        segments: [{ ...segment, durationPts }, next],
        events: [{ type: 'segment:closed', segment: 1, startPts: 0, durationPts }, { type: 'segment:opened', segment: 2, startPts: durationPts, wallClockMs: Date.now(), discontinuity: false }],
        retainMs: TTL,
      });
    },
  };
}

async function rungPartsAnnounced(channel: string): Promise<{ part: number; ms: number }[]> {
  const entries = (await redis.connect().xrange(store.keys.events(channel), '-', '+')) as [string, string[]][];
  return entries.flatMap(([id, fields]) => {
    const e = decodeEvent(fields);
    return e?.type === 'rendition:ready' && e.part !== undefined ? [{ part: e.part, ms: Number(id.split('-')[0]) }] : [];
  });
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

async function startRun(
  channel: string, prefetchMs: number, pushes: Push[], before?: (src: ReturnType<typeof source>) => Promise<void>,
): Promise<{ run: Promise<SegmentRun>; src: ReturnType<typeof source>; outputs: RungOutput[] }> {
  await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video', width: 640, height: 360 } }] }, channel));
  const src = source(channel);
  await src.open();
  await before?.(src);
  const rungs = planLadder([{ name: '240p', width: 426, height: 240, videoBitrate: 400000 }], 640, 360);
  const outputs = rungs.map((r) => rungOutput(r, rungResult(r.name, 'made')));
  const follower = await followSegment({ live, reader }, channel, 1, src.segment, Date.now() - 2000);
  const ctx = {
    store, live, channel, segment: 1, startPts: 0, sourceFps: [25, 1] as [number, number], dvrWindowSeconds: 60, ttlMs: TTL, now: Date.now,
    source: { extradata: null, frameRate: [25, 1] as [number, number] },
    makeTranscoder: () => recordingTranscoder(['240p'], pushes),
  };
  const run = runTranscoder(ctx, { encoder: DEFAULT_ENCODER_CONFIG, idleTimeoutMs: 5000, blockMs: 200, prefetchMs }, outputs, follower);
  run.catch(() => undefined);
  return { run, src, outputs };
}

const pushed = (pushes: Push[]) => pushes.flatMap((p) => p.dts).map((d) => d / FRAME);

describe('segment run: the source fed as it arrives', () => {
  it('frames are transcoded before their part is announced; the part is published as soon as it is', { timeout: 20000 }, async () => {
    const pushes: Push[] = [];
    const { run, src } = await startRun('pre', 10, pushes);
    await src.frames(0, 4);
    await settle();
    assert.deepEqual(pushed(pushes), [0, 1, 2, 3], 'the first four frames of part 0 are fed before it is announced');
    assert.deepEqual(await rungPartsAnnounced('pre'), [], 'and no rung part is published before the source part');

    await src.frames(4, 5);
    const announced = Date.now();
    await src.part(0);
    await settle();
    assert.deepEqual(pushed(pushes), [0, 1, 2, 3, 4]);
    const last = pushes[pushes.length - 1] as Push;
    assert.equal(last.fedThrough, PART, 'the announcement feeds the part up to its end');
    const parts = await rungPartsAnnounced('pre');
    assert.deepEqual(parts.map((p) => p.part), [0]);
    assert.ok((parts[0]?.ms ?? Infinity) - announced < 100, `rung part 0 published ${(parts[0]?.ms ?? Infinity) - announced} ms after the source part`);

    // Part 1 holds a keyframe (a 1 s GOP in a 2 s segment): it may start the next segment, so it waits.
    await src.frames(5, 10, [7]);
    await settle();
    assert.deepEqual(pushed(pushes), [0, 1, 2, 3, 4, 5, 6], 'fed up to the keyframe, not past it');
    await src.part(1);
    await settle();
    assert.deepEqual(pushed(pushes), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the announced part is fed through');
    assert.deepEqual((await rungPartsAnnounced('pre')).map((p) => p.part), [0, 1]);

    // The next segment's keyframe is stored before the close is announced: never fed to this segment.
    await src.frames(10, 11, [10]);
    await settle();
    await src.close(2 * PART);
    const done = await run;
    assert.deepEqual(pushed(pushes), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(done.seg.durationPts, 2 * PART);
    const rung = await store.readPackets('pre.240p', VIDEO_STREAM, 0, 100 * FRAME);
    assert.deepEqual(rung.map((p) => p.meta.pts / FRAME), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'the rung segment holds exactly the segment’s frames');
    assert.deepEqual(rung.filter((p) => p.meta.flags.KEY).map((p) => p.meta.pts), [0, 7 * FRAME]);
  });

  it('with prefetching off, a part is fed once announced', { timeout: 20000 }, async () => {
    const pushes: Push[] = [];
    const { run, src } = await startRun('off', 0, pushes);
    await src.frames(0, 5);
    await settle(300);
    assert.deepEqual(pushed(pushes), [], 'nothing before the part');
    await src.part(0);
    await settle();
    assert.deepEqual(pushed(pushes), [0, 1, 2, 3, 4]);
    await src.frames(5, 10);
    await src.part(1);
    await src.close(2 * PART);
    await run;
    assert.deepEqual((await rungPartsAnnounced('off')).map((p) => p.part), [0, 1]);
    assert.equal((await store.readPackets('off.240p', VIDEO_STREAM, 0, 100 * FRAME)).length, 10);
  });

  it('a job starting late: what is stored is fed in order, in pushes of at most 8 packets, each packet once', { timeout: 20000 }, async () => {
    const pushes: Push[] = [];
    const { run, src, outputs } = await startRun('late', 10, pushes, async (s) => {
      await s.frames(0, 30);
      await s.part(0);
    });
    await settle();
    await src.part(1);
    await settle();
    for (const n of [2, 3, 4, 5]) await src.part(n);
    await src.close(6 * PART);
    await run;
    assert.deepEqual(pushed(pushes), Array.from({ length: 30 }, (_, i) => i));
    assert.ok(pushes.every((p) => p.dts.length <= 8), `push sizes ${pushes.map((p) => p.dts.length).join(',')}`);
    assert.deepEqual((await rungPartsAnnounced('late')).map((p) => p.part), [0, 1, 2, 3, 4, 5]);
    assert.equal(outputs[0]?.result.partDelaysMs.length, 6, 'a lag for every part, the one announced before the job started too');
  });

  it('a segment left open by an ingest process that died (nobody holds the lease) is given up after ORPHAN_IDLE_MS, not the idle timeout', { timeout: 20000 }, async () => {
    const pushes: Push[] = [];
    const { run, src } = await startRun('orphan', 10, pushes);
    await src.frames(0, 5);
    await src.part(0);
    const t0 = Date.now();
    await assert.rejects(run, /left open: nothing came for \d+ ms and no ingest process holds the channel/);
    const took = Date.now() - t0;
    assert.ok(took >= ORPHAN_IDLE_MS - 100 && took < 4000, `gave up ${took} ms after the last part (idle timeout 5000)`);
  });

  it('a quiet segment whose ingest process still holds the lease (a Redis outage, a slow encoder) is waited for, and goes on', { timeout: 20000 }, async () => {
    const pushes: Push[] = [];
    assert.equal(await live.acquireLease('quiet', 'ingest-x', 20000), true);
    const { run, src } = await startRun('quiet', 10, pushes);
    await src.frames(0, 5);
    await src.part(0);
    let settled = false;
    run.then(() => (settled = true), () => (settled = true));
    await settle(ORPHAN_IDLE_MS + 1000);
    assert.equal(settled, false, 'still waiting for the segment while its writer holds the channel');
    await src.frames(5, 10);
    await src.part(1);
    await src.close(2 * PART);
    const made = await run;
    assert.equal(made.seg.durationPts, 2 * PART);
  });
});
