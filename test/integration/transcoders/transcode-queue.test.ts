import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createKeys } from '../../../core/store/keys';
import { createLiveStore, type LiveStore } from '../../../core/store/live-store';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../../core/store/redis-connection';
import { createTranscodeQueue, type TranscodeQueue } from '../../../transcoders/queue';

let redis: TestRedis;
let live: LiveStore;
let bull: RedisClient;
let queue: TranscodeQueue;

beforeAll(async () => {
  redis = await startTestRedis();
  live = createLiveStore({ redis: redis.connect(), keys: createKeys(uniquePrefix()) }, { eventsMaxLen: 100 });
  bull = connectRedis(parseRedisUrl(redis.url), { maxRetriesPerRequest: null });
  queue = createTranscodeQueue({ connection: bull }, { prefix: `${uniquePrefix()}-bull` });
});

afterAll(async () => {
  await queue?.close();
  await bull?.quit().catch(() => undefined);
  await redis?.close();
});

describe('transcode queue', () => {
  it('a segment enqueued twice is one job with references only', { timeout: 10000 }, async () => {
    assert.equal(await queue.enqueueSegment('main', 7), 'main@7');
    assert.equal(await queue.enqueueSegment('main', 7), 'main@7');
    await queue.enqueueSegment('main', 8);
    const jobs = await queue.queue.getJobs(['waiting']);
    assert.deepEqual(jobs.map((j) => j.id).sort(), ['main@7', 'main@8']);
    assert.deepEqual(jobs.find((j) => j.id === 'main@7')?.data, { channel: 'main', segment: 7 });
  });
});

describe('rung segment outcomes', () => {
  it('made and gap sets per rung; a gap is never recorded over a made segment', { timeout: 10000 }, async () => {
    await live.recordRungSegment('main', '720p', 3, 'made', 60000);
    await live.recordRungSegment('main', '720p', 3, 'gap', 60000);
    await live.recordRungSegment('main', '720p', 4, 'gap', 60000);
    await live.recordRungSegment('main', '480p', 4, 'made', 60000);
    assert.deepEqual(await live.rungMade('main', '720p', 1, 10), [3]);
    assert.deepEqual(await live.rungGaps('main', '720p', 1, 10), [4]);
    assert.deepEqual(await live.rungGaps('main', '480p', 1, 10), []);
    assert.deepEqual(await live.rungGaps('main', '720p', 5, 10), []);
  });
});
