// SPDX-License-Identifier: GPL-3.0-or-later
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createPacketFeed, signalRace } from '../../../ingest/publish-session';
import type { MediaPacket } from '../../../core/model/media';

/** A packet source fed by hand: push() hands the next packet to a waiting reader, end() ends the stream. */
function source() {
  const queue: (MediaPacket | null)[] = [];
  let wake: (() => void) | null = null;
  return {
    push(p: MediaPacket | null) {
      queue.push(p);
      wake?.();
    },
    async *packets(): AsyncGenerator<MediaPacket> {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        const p = queue.shift();
        if (p === null || p === undefined) return;
        yield p;
      }
    },
  };
}

const VIDEO = 0;
const AUDIO = 1;
const pkt = (streamIndex: number, dts: number, keyframe = false): MediaPacket => ({ streamIndex, pts: dts, dts, duration: 1, keyframe, data: Buffer.alloc(10) });
const isVideo = (p: MediaPacket) => (p.streamIndex === VIDEO ? true : p.streamIndex === AUDIO ? false : null);
const tick = () => new Promise<void>((r) => setImmediate(r));

async function take(it: AsyncIterator<MediaPacket>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value.dts);
  }
  return out;
}

describe('createPacketFeed (standby and on air)', () => {
  it('in standby keeps the newest GOP from a video keyframe, then hands it out first on air', async () => {
    const src = source();
    const seen: boolean[] = [];
    const feed = createPacketFeed(src.packets(), isVideo, (_p, video) => seen.push(video));
    let promote!: () => void;
    const standby = feed.standby(new Promise<void>((r) => (promote = r)));
    for (const p of [pkt(AUDIO, 1), pkt(VIDEO, 2), pkt(VIDEO, 3, true), pkt(AUDIO, 4), pkt(VIDEO, 5), pkt(VIDEO, 6, true), pkt(AUDIO, 7), pkt(2, 8)]) src.push(p);
    for (let i = 0; i < 20; i++) await tick();
    promote();
    await standby;
    assert.deepEqual(seen, [false, true, true, false, true, true, false], 'every packet the plan keeps is seen (stream 2 is not)');
    let stop!: () => void;
    const it = feed.live(new Promise<void>((r) => (stop = r)))[Symbol.asyncIterator]();
    assert.deepEqual(await take(it, 2), [6, 7], 'the newest GOP: from the last keyframe');
    src.push(pkt(VIDEO, 9));
    assert.deepEqual(await take(it, 1), [9], 'then what arrives');
    const pending = it.next();
    stop();
    assert.equal((await pending).done, true, 'stopped while waiting: the run ends');
    // Back in standby: a packet that arrived meanwhile is not lost to the stopped run.
    src.push(pkt(VIDEO, 10, true));
    src.push(pkt(VIDEO, 11));
    let again!: () => void;
    const standby2 = feed.standby(new Promise<void>((r) => (again = r)));
    for (let i = 0; i < 20; i++) await tick();
    again();
    await standby2;
    const it2 = feed.live(new Promise<void>(() => undefined))[Symbol.asyncIterator]();
    assert.deepEqual(await take(it2, 2), [10, 11]);
    src.push(null);
    assert.equal((await it2.next()).done, true);
    assert.equal(feed.ended(), true);
  });

  it('without a keyframe in standby nothing is kept (nothing could play it)', async () => {
    const src = source();
    const feed = createPacketFeed(src.packets(), isVideo, () => undefined);
    let promote!: () => void;
    const standby = feed.standby(new Promise<void>((r) => (promote = r)));
    src.push(pkt(VIDEO, 1));
    src.push(pkt(AUDIO, 2));
    for (let i = 0; i < 20; i++) await tick();
    promote();
    await standby;
    const it = feed.live(new Promise<void>(() => undefined))[Symbol.asyncIterator]();
    src.push(pkt(VIDEO, 3, true));
    assert.deepEqual(await take(it, 1), [3]);
  });

  it('standby ends when the packets end', async () => {
    const src = source();
    const feed = createPacketFeed(src.packets(), isVideo, () => undefined);
    const standby = feed.standby(new Promise<void>(() => undefined));
    src.push(null);
    await standby;
    assert.equal(feed.ended(), true);
  });

  it('on air, the stop signal is subscribed to once, not once per packet (a pending promise keeps every reaction)', async () => {
    let thens = 0;
    let stopNow: () => void = () => undefined;
    const stop = new Promise<void>((r) => (stopNow = r));
    const counted = { then: (a?: () => unknown, b?: () => unknown) => { thens += 1; return stop.then(a, b); } } as unknown as Promise<void>;
    const src = source();
    const feed = createPacketFeed(src.packets(), isVideo, () => undefined);
    const it = feed.live(counted)[Symbol.asyncIterator]();
    for (let i = 0; i < 50; i++) src.push(pkt(VIDEO, i, i === 0));
    assert.equal((await take(it, 50)).length, 50);
    assert.equal(thens, 1);
    stopNow();
    assert.equal((await it.next()).done, true);
  });
});

describe('signalRace', () => {
  it('answers settled or signal, whichever comes first, and signal at once after it fired', async () => {
    let fire: () => void = () => undefined;
    const r = signalRace(new Promise<void>((res) => (fire = res)));
    assert.equal(await r.race(Promise.resolve(1)), 'settled');
    assert.equal(await r.race(Promise.reject(new Error('x'))), 'settled');
    const never = r.race(new Promise(() => undefined));
    assert.equal(r.fired(), false);
    fire();
    assert.equal(await never, 'signal');
    assert.equal(r.fired(), true);
    assert.equal(await r.race(Promise.resolve(1)), 'signal');
  });
});
