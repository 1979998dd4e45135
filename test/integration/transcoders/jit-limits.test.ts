/**
 * Bounded image and clip jobs, as an attacker would try them (issue 10, point 5) against a real
 * redis-server, real BullMQ workers running the JIT functions and sources encoded by ffmpeg: image sizes
 * beyond the limits (7680 wide, wider than the source, a tall sample aspect ratio) answer 400 before any
 * decoding; junk query parameters make no new job; a request that gives up (timeout, client gone) leaves
 * no waiting job; a full queue answers 503 + Retry-After; a client over its rate answers 429; no
 * credential is stored in a job's data; an accurate clip of many seconds holds a bounded number of frames.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { waitFor } from '../../helpers/process';
import { TEST_API_TOKEN } from '../../helpers/app';
import { createStore, type OwnedStore } from '../../../core/store/store';
import type { JobFunction } from '../../../engine/jobs/worker';
import type { JobRequest } from '../../../engine/jobs/job-types';
import { createJitFunctions } from '../../../transcoders/jit/jit-functions';
import type { ClipStats } from '../../../transcoders/jit/clip-mp4';
import { loadTs, makeSourceTs, probe, startJobsRig, type JobsRig, type JobsRigOptions } from './jit-fixture';

let redis: TestRedis;
let store: OwnedStore;
let dir: string;
let camPts: number[];
let tallPts: number[];
const rigs: JobsRig[] = [];
const queues: Queue[] = [];
const clipStats: ClipStats[] = [];
const jit = createJitFunctions({ onClipStats: (s) => clipStats.push(s) });
const SEC = 90000;

beforeAll(async () => {
  redis = await startTestRedis();
  store = createStore({ redis: redis.connect() }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  dir = mkdtempSync(join(tmpdir(), 'beamline-jit-limits-'));
  makeSourceTs(join(dir, 'cam.ts'), 30);
  makeSourceTs(join(dir, 'tall.ts'), 2, { vf: 'setsar=1/36' });
  camPts = (await loadTs(store, 'cam', join(dir, 'cam.ts'))).videoPts;
  tallPts = (await loadTs(store, 'tall', join(dir, 'tall.ts'))).videoPts;
});

afterAll(async () => {
  for (const q of queues) await q.close();
  for (const r of rigs) await r.close();
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A rig on its own queue prefix; `frameImage` counts its calls and records the data BullMQ gave it. */
async function rig(o: Partial<JobsRigOptions> & { gate?: Promise<void> } = {}): Promise<{ rig: JobsRig; calls: JobRequest[]; queue: Queue }> {
  const calls: JobRequest[] = [];
  const prefix = `${uniquePrefix()}-bull`;
  const frameImage: JobFunction = async (job) => {
    calls.push(job.data);
    if (o.gate && job.data.path.startsWith('/beams/cam/')) await o.gate;
    return jit.frameImage(job);
  };
  const r = await startJobsRig(redis, store, { functions: { frameImage, clipMp4: jit.clipMp4 }, prefix, ...o });
  rigs.push(r);
  const queue = new Queue('media_workers', { connection: redis.connect(), prefix });
  queues.push(queue);
  return { rig: r, calls, queue };
}

function jsonBody(res: { json(): unknown }): { statusCode: number; error: string; message: string } {
  return res.json() as { statusCode: number; error: string; message: string };
}

describe('image sizes', () => {
  it('width 7680, a width beyond the source and a tall sample aspect ratio answer 400 naming the limit', { timeout: 30000 }, async () => {
    const { rig: r, calls } = await rig();
    const pts = camPts[30] as number;
    const huge = await r.app.inject(`/beams/cam/video/frame_${pts}.png?width=7680`);
    assert.equal(huge.statusCode, 400, huge.body);
    assert.match(jsonBody(huge).message, /3840/);
    assert.equal(calls.length, 0, 'refused before any job was made');
    const wider = await r.app.inject(`/beams/cam/video/frame_${pts}.jpg?width=640`);
    assert.equal(wider.statusCode, 400, wider.body);
    assert.match(jsonBody(wider).message, /320 px wide/);
    // setsar=1/36: a 320x240 source displayed 320/36 wide; 320 wide would make it 8640 px high.
    const tall = await r.app.inject(`/beams/tall/video/frame_${tallPts[5]}.jpg?width=320`);
    assert.equal(tall.statusCode, 400, tall.body);
    assert.deepEqual(Object.keys(jsonBody(tall)).sort(), ['error', 'message', 'statusCode']);
    assert.match(jsonBody(tall).message, /8640 px high.*2160/);
    const narrow = await r.app.inject(`/beams/tall/video/frame_${tallPts[5]}.jpg?width=64`);
    assert.equal(narrow.statusCode, 200, narrow.body);
    const f = join(dir, 'narrow.jpg');
    writeFileSync(f, narrow.rawPayload);
    assert.deepEqual(probe(f).streams.map((s) => [s.width, s.height]), [[64, 1728]], 'a width whose height fits is made');
    const plain = await r.app.inject('/beams/tall/video/latest.jpg');
    assert.equal(plain.statusCode, 200, plain.body);
  });
});

describe('job identity', () => {
  it('junk query parameters, .jpg/.jpeg and the spellings of one stream make one job; the job keeps only width', { timeout: 30000 }, async () => {
    const { rig: r, calls } = await rig();
    const pts = camPts[40] as number;
    const urls = [
      `/beams/cam/video/frame_${pts}.jpg?width=160&t=1`,
      `/beams/cam/video/frame_${pts}.jpg?t=2&width=160`,
      `/beams/cam/video/frame_${pts}.jpeg?width=160&x=${'y'.repeat(500)}`,
      `/beams/cam/video_0/frame_${pts}.jpg?width=160&cb=${Date.now()}`,
      `/beams/cam/video.json/frame_${pts}.jpg?width=160&&&=&a=b`,
      `/beams/cam/video/frame_${pts}.jpg?width=160`,
    ];
    const res = await Promise.all(urls.map((u) => r.app.inject(u)));
    for (const x of res) assert.equal(x.statusCode, 200, x.body);
    assert.equal(calls.length, 1, `one job for ${urls.length} requests (${calls.length} ran)`);
    assert.deepEqual(calls[0]?.query, { width: '160' });
    assert.equal(calls[0]?.url.includes('?width=160'), true);
    assert.equal(/t=|cb=|x=/.test(calls[0]?.url ?? ''), false, 'junk parameters never reach the job');
  });

  it('no credential is stored in a job: read back through BullMQ while it waits', { timeout: 30000 }, async () => {
    let open!: () => void;
    const gate = new Promise<void>((res) => (open = res));
    const { rig: r, queue } = await rig({ gate, concurrency: 1 });
    const pending = r.app.inject({
      url: `/beams/cam/video/frame_${camPts[10]}.jpg`,
      headers: { authorization: `Bearer ${TEST_API_TOKEN}`, cookie: 'session=s3cret-cookie', 'proxy-authorization': 'Basic s3cret', 'x-forwarded-for': '203.0.113.9', 'user-agent': 'curl/8' },
    });
    const jobs = await waitFor('the job is stored', async () => {
      const j = await queue.getJobs(['active', 'waiting']);
      return j.length > 0 ? j : null;
    }, 10000);
    for (const job of jobs) {
      const data = job.data as JobRequest;
      assert.deepEqual(Object.keys(data.headers).sort(), ['host', 'user-agent']);
      assert.equal(JSON.stringify(data).includes('s3cret'), false, 'no secret anywhere in the job data');
      assert.equal(JSON.stringify(data).includes(TEST_API_TOKEN), false, 'not the API token either');
      assert.equal(JSON.stringify(data).includes('203.0.113.9'), false, 'no client address');
    }
    open();
    assert.equal((await pending).statusCode, 200);
  });
});

describe('requests that give up', () => {
  it('a timed-out request removes its waiting job; a client that disconnects too; a started job finishes', { timeout: 40000 }, async () => {
    let open!: () => void;
    const gate = new Promise<void>((res) => (open = res));
    const { rig: r, queue, calls } = await rig({ gate, concurrency: 1, timeoutMs: 1500 });
    // A occupies the only worker slot (started); B waits behind it; both time out.
    const a = r.app.inject(`/beams/cam/video/frame_${camPts[11]}.jpg`);
    await waitFor('A has started', async () => calls.length === 1, 10000);
    const b = await r.app.inject(`/beams/cam/video/frame_${camPts[12]}.jpg`);
    assert.equal(b.statusCode, 504, b.body);
    assert.match(jsonBody(b).message, /had not started and was removed/);
    const ra = await a;
    assert.equal(ra.statusCode, 504, ra.body);
    assert.match(jsonBody(ra).message, /had started and will finish/);
    assert.equal(await queue.getWaitingCount(), 0, 'no waiting job is left');

    // C over real HTTP: the client closes its connection after 300 ms.
    await r.app.listen({ port: 0, host: '127.0.0.1' });
    const port = (r.app.server.address() as AddressInfo).port;
    const req = request({ host: '127.0.0.1', port, path: `/beams/cam/video/frame_${camPts[13]}.jpg` });
    req.on('error', () => undefined);
    req.end();
    await waitFor('C is waiting in the queue', async () => (await queue.getWaitingCount()) === 1, 5000);
    req.destroy();
    await waitFor('C left the queue when its client went away', async () => (await queue.getWaitingCount()) === 0, 3000);
    assert.deepEqual(r.dispatcher.pending(), { requests: 0, jobs: 0 });
    open();
    await waitFor('A finished', async () => (await queue.getActiveCount()) === 0, 10000);
    assert.equal(calls.length, 1, 'B and C never ran');
    const again = await r.app.inject(`/beams/cam/video/frame_${camPts[11]}.jpg`);
    assert.equal(again.headers['beam-cache'], 'hit', 'the job that had started finished and its image is cached');
  });
});

describe('queue depth and rate', () => {
  it('a queue holding its limit of waiting jobs answers 503 with Retry-After', { timeout: 40000 }, async () => {
    let open!: () => void;
    const gate = new Promise<void>((res) => (open = res));
    const { rig: r, queue, calls } = await rig({ gate, concurrency: 1, maxWaiting: 2 });
    const first = r.app.inject(`/beams/cam/video/frame_${camPts[20]}.jpg`);
    await waitFor('the first job has started', async () => calls.length === 1, 10000);
    const waiting = [r.app.inject(`/beams/cam/video/frame_${camPts[21]}.jpg`), r.app.inject(`/beams/cam/video/frame_${camPts[22]}.jpg`)];
    await waitFor('two jobs wait', async () => (await queue.getWaitingCount()) === 2, 5000);
    const full = await r.app.inject(`/beams/cam/video/frame_${camPts[23]}.jpg`);
    assert.equal(full.statusCode, 503, full.body);
    assert.equal(full.headers['retry-after'], '5');
    assert.equal(jsonBody(full).statusCode, 503);
    assert.match(jsonBody(full).message, /limit 2/);
    open();
    for (const x of await Promise.all([first, ...waiting])) assert.equal(x.statusCode, 200, x.body);
    assert.equal((await r.app.inject(`/beams/cam/video/frame_${camPts[23]}.jpg`)).statusCode, 200, 'accepted again once the queue drained');
  });

  it('a client over its rate answers 429 JSON with Retry-After; other clients and other routes are not limited', { timeout: 30000 }, async () => {
    const { rig: r, calls } = await rig({ ratePerMinute: 5 });
    const url = (i: number) => `/beams/nothing/video/frame_${i}.jpg`;
    for (let i = 0; i < 5; i++) assert.equal((await r.app.inject(url(i))).statusCode, 404);
    const over = await r.app.inject(url(5));
    assert.equal(over.statusCode, 429, over.body);
    assert.deepEqual(jsonBody(over).error, 'Too Many Requests');
    assert.ok(Number(over.headers['retry-after']) >= 1 && Number(over.headers['retry-after']) <= 60);
    assert.equal(calls.length, 5, 'no job for the refused request');
    assert.equal((await r.app.inject({ url: url(6), remoteAddress: '192.0.2.7' })).statusCode, 404, 'another client is not limited');
    assert.notEqual((await r.app.inject('/healthz')).statusCode, 429, 'routes without a job rule are not limited');
    // IPv6: one /64 is one client.
    for (let i = 0; i < 5; i++) await r.app.inject({ url: url(i), remoteAddress: `2001:db8:1:2::${i + 1}` });
    assert.equal((await r.app.inject({ url: url(9), remoteAddress: '2001:db8:1:2:ffff::9' })).statusCode, 429);
  });
});

describe('accurate clips', () => {
  it('a 25 s accurate clip encodes while decoding: the frames held stay one decoder batch', { timeout: 90000 }, async () => {
    const { rig: r } = await rig();
    const from = (camPts[0] as number) + 2 * SEC + 1800; // not on a keyframe
    const to = from + 25 * SEC;
    const before = clipStats.length;
    const res = await r.app.inject(`/beams/cam/all/${from}-${to}.mp4?accurate=1&junk=1`);
    assert.equal(res.statusCode, 200, res.body);
    const stats = clipStats[before];
    assert.ok(stats, 'the clip reported its stats');
    assert.ok(stats.encoded >= 620 && stats.encoded <= 630, `25 s at 25 fps encoded (${stats.encoded} frames)`);
    assert.ok(stats.maxFramesHeld <= 16, `at most one batch of decoded frames held at once (${stats.maxFramesHeld}), not the clip's ${stats.encoded}`);
    const f = join(dir, 'long.mp4');
    writeFileSync(f, res.rawPayload);
    assert.ok(Math.abs(Number(probe(f).format.duration) - 25) < 0.2, `duration ${probe(f).format.duration}`);
  });
});
