// SRT pull: continuity counters across muxed chunks, pacing arithmetic, which segment comes next, and the
// feed against scripted snapshots and segments (one mux per channel and rung, a joiner's catch-up, a slow
// reader closed without the others waiting).
// SPDX-License-Identifier: GPL-3.0-or-later
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { continueCounters } from '../../../packager/ts/continuity';
import { packetize } from '../../../packager/ts/ts-packet';
import { createSrtPull, dueBytes, nextSegment, SRT_TS_CHUNK, type PullReader } from '../../../packager/srt/srt-pull';
import type { SegmentRecord } from '../../../core/model/live';
import type { Snapshot } from '../../../packager/live/snapshot';
import type { ChannelFollower } from '../../../packager/live/event-follower';
import { notFound } from '../../../core/model/errors';

/** A chunk as the muxer makes one: counters from 0, the first packet of each PID flagged discontinuous. */
function chunk(): Buffer {
  const v = packetize(0x100, Buffer.alloc(400, 1), 0, { discontinuity: true, pcr: 0 });
  const a = packetize(0x101, Buffer.alloc(200, 2), 0, { discontinuity: true });
  return Buffer.concat([...v.packets, ...a.packets]);
}

function counters(ts: Buffer): [number, number, boolean][] {
  const out: [number, number, boolean][] = [];
  for (let off = 0; off < ts.length; off += 188) {
    const pid = (((ts[off + 1] as number) & 0x1f) << 8) | (ts[off + 2] as number);
    const af = ((ts[off + 3] as number) & 0x20) !== 0 && (ts[off + 4] as number) > 0;
    out.push([pid, (ts[off + 3] as number) & 0x0f, af && ((ts[off + 5] as number) & 0x80) !== 0]);
  }
  return out;
}

describe('continueCounters', () => {
  it('continues each PID\'s counter across chunks and clears the discontinuity flag of a continuous chunk', () => {
    const state = new Map<number, number>();
    const first = counters(continueCounters(chunk(), state, false));
    const second = counters(continueCounters(chunk(), state, true));
    assert.deepEqual(first.map(([p, c]) => [p, c]), [[0x100, 0], [0x100, 1], [0x100, 2], [0x101, 0], [0x101, 1]]);
    assert.deepEqual(second.map(([p, c]) => [p, c]), [[0x100, 3], [0x100, 4], [0x100, 5], [0x101, 2], [0x101, 3]]);
    assert.deepEqual(first.filter(([, , d]) => d).length, 2, 'the first chunk keeps its flags');
    assert.deepEqual(second.filter(([, , d]) => d).length, 0);
    const third = counters(continueCounters(chunk(), state, false));
    assert.deepEqual(third.filter(([, , d]) => d).length, 2, 'a discontinuity (reconnect, skipped segment) keeps them');
  });

  it('wraps at 16 and leaves the input untouched (it is the cached segment)', () => {
    const state = new Map([[0x100, 15], [0x101, 15]]);
    const input = chunk();
    const copy = Buffer.from(input);
    const out = counters(continueCounters(input, state, true));
    assert.deepEqual(out.map(([, c]) => c), [15, 0, 1, 15, 0]);
    assert.deepEqual(input, copy);
  });

  it('refuses what is not whole TS packets', () => {
    assert.throws(() => continueCounters(Buffer.alloc(100), new Map(), true), /whole number of packets/);
    assert.throws(() => continueCounters(Buffer.alloc(188), new Map(), true), /sync byte/);
  });
});

describe('dueBytes and nextSegment', () => {
  it('paces in whole 1316-byte chunks, everything once the span is over', () => {
    const total = SRT_TS_CHUNK * 10 + 188;
    assert.equal(dueBytes(total, 0, 1000), 0);
    assert.equal(dueBytes(total, 100, 1000), SRT_TS_CHUNK * 2);
    assert.equal(dueBytes(total, 999, 1000), total);
    assert.equal(dueBytes(total, 1000, 1000), total);
    assert.equal(dueBytes(total, 5, 0), total, 'a burst');
  });

  const seg = (index: number): SegmentRecord => ({ index, startPts: 0, startDts: 0, durationPts: 180000, wallClockMs: 0, discontinuity: false });
  it('starts at the newest, then follows one by one, and jumps to the newest when too far behind', () => {
    const ready = [seg(3), seg(4), seg(5), seg(6)];
    assert.equal(nextSegment([], null, 3), null);
    assert.equal(nextSegment(ready, null, 3)?.index, 6);
    assert.equal(nextSegment(ready, 4, 3)?.index, 5);
    assert.equal(nextSegment(ready, 6, 3), null);
    assert.equal(nextSegment(ready, 1, 3)?.index, 6, '5 behind: the newest');
    assert.equal(nextSegment([seg(3), seg(6)], 4, 3)?.index, 6, 'a missing segment is stepped over');
  });
});

describe('createSrtPull (scripted snapshots and segments)', () => {
  function rig() {
    const closed: SegmentRecord[] = [];
    const muxed: string[] = [];
    let waiters: (() => void)[] = [];
    let deleted = false;
    const snapshot = async (channel: string): Promise<Snapshot> => {
      if (deleted) throw notFound(`Channel '${channel}' was not found.`);
      const last = closed[closed.length - 1];
      return { channel: { name: channel }, closed: [...closed], open: null, parts: [], rungFrontiers: new Map(), renditions: [], lastMsn: last?.index } as unknown as Snapshot;
    };
    const follower: Pick<ChannelFollower, 'nextEvents'> = {
      nextEvents: () => new Promise<boolean>((resolve) => waiters.push(() => resolve(true))),
    };
    const pull = createSrtPull(
      {
        live: { snapshot },
        ts: {
          segment: async (channel, rung, msn) => {
            muxed.push(`${channel}/${rung}/${msn}`);
            return { body: Buffer.concat(Array.from({ length: 14 }, () => chunk().subarray(0, 188))), contentType: 'video/mp2t', cacheControl: '' };
          },
        },
        followers: { follow: () => follower as ChannelFollower },
      },
      { tickMs: 5 },
    );
    function publish(index: number): void {
      closed.push({ index, startPts: 0, startDts: 0, durationPts: 9000, wallClockMs: 0, discontinuity: false }); // 100 ms
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
    return { pull, muxed, publish, remove: () => { deleted = true; publish(999); } };
  }

  function reader(id: number, behaviour: () => 'sent' | 'slow' = () => 'sent') {
    const got: Buffer[] = [];
    const closes: string[] = [];
    let onClose: ((reason: string) => void) | undefined;
    const r: PullReader = {
      id, channel: 'news', rung: 'source',
      send(data) {
        const res = behaviour();
        if (res === 'sent') got.push(data);
        return res;
      },
      close(reason) {
        closes.push(reason);
        onClose?.(reason);
      },
      on(_event, listener) {
        onClose = listener;
        return r;
      },
    };
    return { r, got, closes, bytes: () => got.reduce((n, b) => n + b.length, 0) };
  }

  const settle = (ms: number) => new Promise((res) => setTimeout(res, ms));

  it('muxes each segment once for all readers of a channel and rung; a joiner gets what the others had at once', async () => {
    const { pull, muxed, publish } = rig();
    publish(1);
    const a = reader(1);
    pull.attach(a.r);
    await settle(30);
    assert.equal(a.bytes(), 14 * 188, 'the newest segment comes at once');
    publish(2);
    await settle(40);
    const b = reader(2);
    pull.attach(b.r);
    assert.ok(b.bytes() > 0 && b.bytes() === a.bytes() - 14 * 188, 'the joiner caught up with the segment being paced');
    await settle(150);
    publish(3);
    await settle(150);
    assert.equal(a.bytes(), 3 * 14 * 188);
    assert.equal(b.bytes(), 2 * 14 * 188);
    assert.deepEqual(muxed, ['news/source/1', 'news/source/2', 'news/source/3'], 'one mux per segment');
    assert.equal(pull.readerCount('news'), 2);
    await pull.close();
    assert.deepEqual([a.closes, b.closes], [['server closing'], ['server closing']]);
  });

  it('closes a slow reader; the others go on', async () => {
    const { pull, publish } = rig();
    publish(1);
    let slow = false;
    const a = reader(1, () => (slow ? 'slow' : 'sent'));
    const b = reader(2);
    pull.attach(a.r);
    pull.attach(b.r);
    await settle(30);
    slow = true;
    publish(2);
    await settle(150);
    assert.deepEqual(a.closes, ['slow reader: its send buffer is full']);
    assert.equal(b.bytes(), 2 * 14 * 188);
    assert.equal(pull.readerCount(), 1);
    await pull.close();
  });

  it('closes readers over the limit at once', async () => {
    const { pull, publish } = rig();
    publish(1);
    const limited = createSrtPull({ live: { snapshot: async () => { throw new Error('unused'); } }, ts: { segment: async () => { throw new Error('unused'); } }, followers: { follow: () => ({ nextEvents: async () => false }) as unknown as ChannelFollower } }, { maxReaders: 0 });
    const a = reader(1);
    limited.attach(a.r);
    assert.deepEqual(a.closes, ['too many SRT readers']);
    assert.equal(limited.readerCount(), 0);
    await limited.close();
    await pull.close();
  });

  it('closes the readers of a deleted channel', async () => {
    const { pull, publish, remove } = rig();
    publish(1);
    const a = reader(1);
    pull.attach(a.r);
    await settle(30);
    remove();
    await settle(50);
    assert.deepEqual(a.closes, ['the channel was deleted']);
    assert.equal(pull.readerCount(), 0);
    await pull.close();
  });
});
