/**
 * The packager's event followers against a real redis-server: a waiter is woken by the next event batch, a
 * waiter whose condition already holds when it registers (an event the loop consumed between the request's
 * decision and its registration) is answered at once rather than a part later, and timeouts answer false.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore } from '../../../core/store/store';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { createEventFollowers, type EventFollowers } from '../../../packager/live/event-follower';
import { waitFor } from '../../helpers/process';

let redis: TestRedis;
let live: LiveStore;
let followers: EventFollowers;

beforeAll(async () => {
  redis = await startTestRedis();
  const client = redis.connect();
  const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 60000, frameTtlMs: 60000 });
  live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 1000 });
  followers = createEventFollowers({ live, connect: () => redis.connect() }, { blockMs: 5000, idleMs: 30000 });
});

afterAll(async () => {
  await followers?.close();
  await redis?.close();
});

const warning = (message: string) => [{ type: 'warning' as const, message }];

describe('event followers', () => {
  it('wake a waiter on the next event batch', { timeout: 10000 }, async () => {
    const f = followers.follow('wake');
    await new Promise((r) => setTimeout(r, 100)); // the loop's XREAD is blocking now
    let flag = false;
    const t0 = Date.now();
    const waiting = f.waitUntil(() => flag, 5000);
    setTimeout(() => {
      flag = true;
      void live.appendEvents('wake', warning('go'));
    }, 200);
    assert.equal(await waiting, true);
    assert.ok(Date.now() - t0 < 1000, `woken ${Date.now() - t0} ms after waiting`);
  });

  it('answer at once a waiter whose condition already holds (no wait for the next event)', { timeout: 10000 }, async () => {
    const f = followers.follow('race');
    await new Promise((r) => setTimeout(r, 100));
    const before = f.version;
    await live.appendEvents('race', warning('consumed before the waiter registers'));
    await waitFor('the loop to consume the event', async () => f.version !== before, 2000);
    const t0 = Date.now();
    // Nothing else is published: without the immediate check this would wait for its 3 s timeout.
    assert.equal(await f.waitUntil(() => f.version !== before, 3000), true);
    assert.ok(Date.now() - t0 < 200, `answered after ${Date.now() - t0} ms`);
  });

  it('a check that throws lets the request go on (it renders and reports the error itself)', { timeout: 10000 }, async () => {
    const f = followers.follow('throws');
    assert.equal(await f.waitUntil(() => { throw new Error('broken'); }, 3000), true);
  });

  it('time out with false when nothing happens', { timeout: 10000 }, async () => {
    const f = followers.follow('quiet');
    const t0 = Date.now();
    assert.equal(await f.waitUntil(() => false, 300), false);
    assert.ok(Date.now() - t0 >= 290);
    assert.equal(await f.nextEvents(200), false, 'nextEvents is not satisfied by the immediate check');
  });
});
