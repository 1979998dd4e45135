/**
 * Rendition progress against a real redis-server: what transcoders record in the live store (made and gap
 * sets, published parts) is the one source the packager's channel reader lists rungs from. Case names
 * record the bugs they came from.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore } from '../../../core/store/store';
import { createKeys } from '../../../core/store/keys';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createChannelReader, type ChannelReader } from '../../../packager/channel-reader';

const TTL = 60000;
let redis: TestRedis;
let live: LiveStore;
let reader: ChannelReader;

beforeAll(async () => {
  redis = await startTestRedis();
  const client = redis.connect();
  const prefix = uniquePrefix();
  const keys = createKeys(prefix);
  const store = createStore({ redis: client }, { prefix, packetTtlMs: TTL, frameTtlMs: TTL });
  live = createLiveStore({ redis: client, keys }, { eventsMaxLen: 1000 });
  reader = createChannelReader({ store, live, channels: createChannelStore({ redis: client, keys }) });
});

afterAll(async () => {
  await redis?.close();
});

type Step = { made: number } | { gap: number } | { part: [number, number] };

async function apply(ch: string, steps: Step[]): Promise<void> {
  for (const s of steps) {
    if ('made' in s) await live.recordRungSegment(ch, 'r', s.made, 'made', TTL);
    else if ('gap' in s) await live.recordRungSegment(ch, 'r', s.gap, 'gap', TTL);
    else await live.recordRungPart(ch, 'r', s.part[0], s.part[1], TTL);
  }
}

const cases: { name: string; steps: Step[]; frontier: { lastMsn: number; pendingParts: number } | null }[] = [
  { name: 'nothing published: no frontier (the rung is not listed yet)', steps: [], frontier: null },
  { name: 'parts before any segment is done: the segment before theirs is the last', steps: [{ part: [5, 0] }, { part: [5, 1] }], frontier: { lastMsn: 4, pendingParts: 2 } },
  {
    name: 'worker takeover: made 110 then 109 never moves the playlist back to 109',
    steps: [{ made: 108 }, { part: [110, 0] }, { made: 110 }, { made: 109 }],
    frontier: { lastMsn: 110, pendingParts: 0 },
  },
  {
    name: 'a rung whose job stopped half-way continues with the next segment',
    steps: [{ made: 110 }, { part: [111, 0] }, { part: [111, 1] }, { gap: 111 }, { part: [112, 0] }],
    frontier: { lastMsn: 111, pendingParts: 1 },
  },
  { name: 'parts of the segment after next do not count as pending', steps: [{ made: 7 }, { part: [9, 3] }], frontier: { lastMsn: 7, pendingParts: 0 } },
];

describe('rung frontier from the live contract', () => {
  cases.forEach((c, i) => {
    it(c.name, { timeout: 10000 }, async () => {
      const ch = `prog${i}`;
      await apply(ch, c.steps);
      const frontiers = await reader.rungFrontiers(ch, ['r', 'other']);
      assert.deepEqual(frontiers.get('r') ?? null, c.frontier);
      assert.equal(frontiers.has('other'), false);
    });
  });

  it('the frontier read after each step never decreases while segments finish out of order', { timeout: 10000 }, async () => {
    const ch = 'order';
    let prev = -1;
    for (const k of [101, 103, 102, 106, 104, 105, 107]) {
      await live.recordRungSegment(ch, 'r', k, 'made', TTL);
      const f = (await reader.rungFrontiers(ch, ['r'])).get('r');
      assert.ok(f && f.lastMsn >= prev, `after ${k}: ${f?.lastMsn} < ${prev}`);
      prev = f.lastMsn;
    }
    assert.equal(prev, 107);
  });

  it('gaps are recorded gaps and segments never made, up to the frontier', { timeout: 10000 }, async () => {
    const ch = 'gaps';
    await apply(ch, [{ made: 1 }, { gap: 2 }, { made: 4 }, { made: 5 }]);
    assert.deepEqual([...(await reader.rungGaps(ch, 'r', [1, 2, 3, 4, 5, 6]))].sort((a, b) => a - b), [2, 3]);
    assert.deepEqual(await live.rungProgress(ch, 'r', 0, 10), { lastMsn: 5, pendingParts: 0, gaps: [0, 2, 3] });
    assert.deepEqual(await live.rungProgress(ch, 'r', 1, 0), { lastMsn: 5, pendingParts: 0, gaps: [] });
  });
});
