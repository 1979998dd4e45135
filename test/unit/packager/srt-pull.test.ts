// SRT pull: continuity counters across muxed chunks, pacing arithmetic, which part comes next, and the
// feed against scripted snapshots and parts (one mux per channel and rung, a joiner's catch-up, a slow
// reader closed without the others waiting).
// SPDX-License-Identifier: GPL-3.0-or-later
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { continueCounters } from '../../../packager/ts/continuity';
import { packetize } from '../../../packager/ts/ts-packet';
import { createSrtPull, dueBytes, follows, nextPart, SRT_TS_CHUNK, type PullReader, type SrtPullConfig } from '../../../packager/srt/srt-pull';
import type { PartRecord, SegmentRecord } from '../../../core/model/live';
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

describe('dueBytes, nextPart and follows', () => {
  it('paces in whole 1316-byte chunks, everything once the span is over', () => {
    const total = SRT_TS_CHUNK * 10 + 188;
    assert.equal(dueBytes(total, 0, 1000), 0);
    assert.equal(dueBytes(total, 100, 1000), SRT_TS_CHUNK * 2);
    assert.equal(dueBytes(total, 999, 1000), total);
    assert.equal(dueBytes(total, 1000, 1000), total);
    assert.equal(dueBytes(total, 5, 0), total, 'a burst');
  });

  const seg = (index: number, discontinuity = false): SegmentRecord => ({ index, startPts: 0, startDts: 0, durationPts: 180000, wallClockMs: 0, discontinuity });
  const at = (segment: number, part: number) => ({ segment, part });
  it('starts at the newest segment\'s first part, follows part by part, crosses into a segment once the last one closed', () => {
    const ready = [at(3, 0), at(3, 1), at(4, 0), at(4, 1)];
    assert.equal(nextPart([], 0, null, 3), null);
    assert.deepEqual(nextPart(ready, 3, null, 3), at(4, 0));
    assert.deepEqual(nextPart(ready, 3, at(3, 0), 3), at(3, 1));
    assert.deepEqual(nextPart(ready, 3, at(3, 1), 3), at(4, 0));
    assert.equal(nextPart(ready, 3, at(4, 1), 3), null);
    assert.equal(nextPart(ready, 2, at(3, 1), 3), null, 'segment 3 may still get parts');
    assert.deepEqual(nextPart([at(9, 0), at(9, 1)], 8, at(3, 1), 3), at(9, 0), 'too far behind: the newest segment');
    assert.deepEqual(nextPart([at(3, 0), at(3, 2)], 2, at(3, 0), 3), at(3, 2), 'a part missing from the snapshot is stepped over');
  });

  it('tells a part that continues the timeline from a jump or a reconnect', () => {
    assert.equal(follows(null, at(3, 0), seg(3)), false);
    assert.equal(follows(at(3, 0), at(3, 1), seg(3)), true);
    assert.equal(follows(at(3, 0), at(3, 2), seg(3)), false);
    assert.equal(follows(at(3, 4), at(4, 0), seg(4)), true);
    assert.equal(follows(at(3, 4), at(4, 0), seg(4, true)), false, 'the first segment after a reconnect');
    assert.equal(follows(at(3, 4), at(5, 0), seg(5)), false);
  });
});

describe('createSrtPull (scripted snapshots and parts)', () => {
  function rig(config: Partial<SrtPullConfig> = {}) {
    const closed: SegmentRecord[] = [];
    let open: SegmentRecord | null = null;
    const parts: PartRecord[] = [];
    const muxed: string[] = [];
    let waiters: (() => void)[] = [];
    let deleted = false;
    const snapshot = async (channel: string): Promise<Snapshot> => {
      if (deleted) throw notFound(`Channel '${channel}' was not found.`);
      return { channel: { name: channel }, closed: [...closed], open, parts: [...parts], rungFrontiers: new Map(), renditions: [] } as unknown as Snapshot;
    };
    const follower: Pick<ChannelFollower, 'nextEvents'> = {
      nextEvents: () => new Promise<boolean>((resolve) => waiters.push(() => resolve(true))),
    };
    const pull = createSrtPull(
      {
        live: { snapshot },
        ts: {
          part: async (snap, rung, msn, part) => {
            muxed.push(`${snap.channel.name}/${rung}/${msn}/${part}`);
            return Buffer.concat(Array.from({ length: 14 }, () => chunk().subarray(0, 188)));
          },
        },
        followers: { follow: () => follower as ChannelFollower },
      },
      { tickMs: 5, ...config },
    );
    function wake(): void {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
    /** A new part (100 ms) of `segment`, opening that segment (and closing the one before) when it is new. */
    function publish(segment: number, part: number): void {
      if (!open || open.index !== segment) {
        if (open) closed.push({ ...open, durationPts: 9000 * parts.filter((p) => p.segment === open?.index).length });
        open = { index: segment, startPts: 0, startDts: 0, durationPts: null, wallClockMs: 0, discontinuity: false };
      }
      parts.push({ segment, part, startPts: 0, startDts: 0, durationPts: 9000, independent: part === 0 });
      wake();
    }
    return { pull, muxed, publish, remove: () => { deleted = true; wake(); } };
  }

  function reader(id: number, behaviour: () => 'sent' | 'slow' = () => 'sent', address?: string) {
    const got: Buffer[] = [];
    const closes: string[] = [];
    let onClose: ((reason: string) => void) | undefined;
    const r: PullReader = {
      id, channel: 'news', rung: 'source', ...(address ? { peer: { address } } : {}),
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

  const PART = 14 * 188;

  it('muxes each part once for all readers of a channel and rung; a joiner gets the current segment from its first part at once', async () => {
    const { pull, muxed, publish } = rig();
    publish(1, 0);
    publish(1, 1);
    const a = reader(1);
    pull.attach(a.r);
    await settle(150);
    assert.equal(a.bytes(), 2 * PART, 'from the newest segment\'s first part (a keyframe) up to the newest part');
    publish(1, 2);
    await settle(40);
    const b = reader(2);
    pull.attach(b.r);
    assert.ok(b.bytes() > 2 * PART && b.bytes() === a.bytes(), 'the joiner got, at once, what the first reader had of the segment, from its first part (a keyframe)');
    await settle(150);
    publish(2, 0); // segment 1 closes: the feed moves on to segment 2
    await settle(150);
    assert.equal(a.bytes(), 4 * PART);
    assert.equal(b.bytes(), 4 * PART, 'then the same bytes as the first reader');
    assert.deepEqual(muxed, ['news/source/1/0', 'news/source/1/1', 'news/source/1/2', 'news/source/2/0'], 'one mux per part');
    assert.equal(pull.readerCount('news'), 2);
    await pull.close();
    assert.deepEqual([a.closes, b.closes], [['server closing'], ['server closing']]);
  });

  it('closes a slow reader; the others go on', async () => {
    const { pull, publish } = rig();
    publish(1, 0);
    let slow = false;
    const a = reader(1, () => (slow ? 'slow' : 'sent'));
    const b = reader(2);
    pull.attach(a.r);
    pull.attach(b.r);
    await settle(30);
    slow = true;
    publish(1, 1);
    await settle(150);
    assert.deepEqual(a.closes, ['slow reader: its send buffer is full']);
    assert.equal(b.bytes(), 2 * PART);
    assert.equal(pull.readerCount(), 1);
    await pull.close();
  });

  it('closes readers over the limit at once', async () => {
    const { pull, publish } = rig();
    publish(1, 0);
    const limited = createSrtPull({ live: { snapshot: async () => { throw new Error('unused'); } }, ts: { part: async () => { throw new Error('unused'); } }, followers: { follow: () => ({ nextEvents: async () => false }) as unknown as ChannelFollower } }, { maxReaders: 0 });
    const a = reader(1);
    limited.attach(a.r);
    assert.deepEqual(a.closes, ['too many SRT readers']);
    assert.equal(limited.readerCount(), 0);
    await limited.close();
    await pull.close();
  });

  it('bounds the readers one address holds; others are served, and a freed place is taken again', async () => {
    const { pull, publish } = rig({ maxReadersPerAddress: 2 });
    publish(1, 0);
    const [a, b, c, d] = [reader(1, undefined, '10.0.0.1'), reader(2, undefined, '10.0.0.1'), reader(3, undefined, '10.0.0.1'), reader(4, undefined, '10.0.0.2')];
    for (const x of [a, b, c, d]) pull.attach(x.r);
    assert.deepEqual(c.closes, ['too many SRT readers from this address']);
    assert.deepEqual([a.closes, b.closes, d.closes], [[], [], []]);
    assert.equal(pull.readerCount(), 3);
    a.r.close('gone');
    const e = reader(5, undefined, '10.0.0.1');
    pull.attach(e.r);
    assert.deepEqual(e.closes, []);
    assert.equal(pull.readerCount(), 3);
    await pull.close();
  });

  it('closes the readers of a deleted channel', async () => {
    const { pull, publish, remove } = rig();
    publish(1, 0);
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
