/**
 * What lets a process continue a channel another one left: the timeline continued after what is stored,
 * writes held through a Redis outage (and only through an outage), and the channel lease's rules seen from
 * the session (takeover, loss, a holder that never lets go).
 */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { beginSession, continueAfter, createTimelineState, normalisePacket } from '../../../ingest/timeline';
import { holdThroughOutage } from '../../../ingest/session/segment-writer';
import { createChannelLease } from '../../../ingest/session/channel-lease';
import type { PipelineFault } from '../../../core/model/pipeline-errors';

/** Polls `ok` every 10 ms for up to 5 s (the lease renews on real timers). */
async function until(ok: () => boolean): Promise<void> {
  for (let waited = 0; !ok() && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
}

describe('continueAfter: a new session writes after everything stored', () => {
  it('a stale timeline (its writer died after saving it) anchors after the stored end, with a discontinuity', () => {
    let s = createTimelineState(0);
    s = beginSession(s, [{ index: 0, time_base: [1, 90000] }]);
    for (let i = 0; i < 10; i++) s = normalisePacket(s, { streamIndex: 0, pts: i * 3000, dts: i * 3000, duration: 3000, keyframe: i === 0, data: Buffer.alloc(1) }).state;
    const saved = s; // saved at dts 27000; the dead writer stored up to 90000 after it
    const next = beginSession(continueAfter(saved, 90000), [{ index: 0, time_base: [1, 90000] }]);
    const first = normalisePacket(next, { streamIndex: 0, pts: 0, dts: 0, duration: 3000, keyframe: true, data: Buffer.alloc(1) }).packet;
    assert.ok(first && first.dts >= 90000, `first dts ${first?.dts}`);
    assert.equal(first?.discontinuity, true);
  });

  it('never moves a timeline back, and null changes nothing', () => {
    const s = { ...createTimelineState(0), nextStart: 500000, floors: { '0': 499000 } };
    assert.equal(continueAfter(s, 1000).nextStart, 500000);
    assert.equal(continueAfter(s, 1000).floors['0'], 499000);
    assert.equal(continueAfter(s, null), s);
  });
});

describe('holdThroughOutage', () => {
  const clock = () => {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  };

  it('retries while Redis is unreachable or failing over, then answers', async () => {
    const c = clock();
    const waits: boolean[] = [];
    let calls = 0;
    const r = await holdThroughOutage(async () => {
      if (++calls < 4) throw new Error(calls === 2 ? 'CLUSTERDOWN The cluster is down' : 'Connection is closed.');
      return 'ok';
    }, { holdMs: 30000, ...c, onWait: (w) => waits.push(w) });
    assert.equal(r, 'ok');
    assert.equal(calls, 4);
    assert.deepEqual(waits, [true, false]);
  });

  it('gives up after the hold and throws the outage error', async () => {
    const c = clock();
    await assert.rejects(holdThroughOutage(async () => {
      throw new Error('Connection is closed.');
    }, { holdMs: 5000, ...c }), /Connection is closed/);
    assert.ok(c.now() >= 5000 && c.now() < 7000, `gave up at ${c.now()} ms`);
  });

  it('does not hold a refusal (out of memory) or a bug', async () => {
    const c = clock();
    let calls = 0;
    await assert.rejects(holdThroughOutage(async () => {
      calls++;
      throw new Error("OOM command not allowed when used memory > 'maxmemory'.");
    }, { holdMs: 30000, ...c }), /OOM/);
    await assert.rejects(holdThroughOutage(async () => {
      calls++;
      throw new TypeError('x is undefined');
    }, { holdMs: 30000, ...c }), TypeError);
    assert.equal(calls, 2);
  });
});

describe('the channel lease of a session', () => {
  function fakeLive(script: { acquire: boolean[]; renew: ('held' | 'takeover' | 'lost')[] }) {
    return {
      released: 0,
      acquireLease: async () => script.acquire.shift() ?? false,
      renewLease: async () => script.renew.shift() ?? 'held',
      releaseLease: async function (this: { released: number }) {
        this.released++;
      },
    };
  }
  const log = { warn: () => undefined };

  it('waits for a holder to give the lease up, then ends the session when another process asks for it', async () => {
    const live = fakeLive({ acquire: [false, false, true], renew: ['held', 'takeover'] });
    const lost: PipelineFault[] = [];
    const lease = createChannelLease({ live, log, onLost: (f) => lost.push(f), sleep: async () => undefined }, { channel: 'c', holder: 'h', ttlMs: 300 });
    await lease.acquire();
    // Renewed every ttl/3: 'held', then 'takeover' (a loaded machine may run the timers late: wait for the loss).
    await until(() => lost.length > 0);
    assert.equal(lost.length, 1);
    assert.equal(lost[0]?.code, 'INGEST_REPLACED');
    await lease.release();
  });

  it('a holder that never lets go: the newcomer is refused after the lease time', async () => {
    let t = 0;
    const live = fakeLive({ acquire: [], renew: [] });
    const lease = createChannelLease({ live, log, onLost: () => undefined, now: () => t, sleep: async (ms) => void (t += ms) }, { channel: 'c', holder: 'h', ttlMs: 6000 });
    await assert.rejects(lease.acquire(), (e: Error & { code?: string }) => e.code === 'INGEST_LEASE_HELD');
    assert.ok(t >= 6000 && t < 10000, `refused after ${t} ms`);
  });

  it('a lease taken by another process while this one held it is a loss', async () => {
    const live = fakeLive({ acquire: [true], renew: ['lost'] });
    const lost: PipelineFault[] = [];
    const lease = createChannelLease({ live, log, onLost: (f) => lost.push(f) }, { channel: 'c', holder: 'h', ttlMs: 300 });
    await lease.acquire();
    await until(() => lost.length > 0);
    assert.equal(lost[0]?.code, 'INGEST_LEASE_LOST');
    await lease.release();
  });
});
