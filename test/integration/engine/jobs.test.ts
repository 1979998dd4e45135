/**
 * Rules → jobs against a real redis-server: pre-route answers (JSON, bytes by Redis key), pass-on to the
 * route, post-route on a 404, the 504 timeout, circular chains refused (job → job and through HTTP), an
 * unknown function, composed jobs, and the custom worker of docs/custom-worker.md run as its own process.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { waitForOutput, exitOf } from '../../helpers/process';
import { built, repoPath } from '../../helpers/paths';
import { createStore, type OwnedStore } from '../../../core/store/store';
import type { JobRule } from '../../../core/config/config';
import { JobError } from '../../../engine/jobs/job-types';
import type { JobFunction } from '../../../engine/jobs/worker';
import { startJobsRig, type JobsRig } from '../transcoders/jit-fixture';

let redis: TestRedis;
let store: OwnedStore;
let rig: JobsRig;
let dir: string;
let child: ChildProcess | null = null;
const ran: Record<string, number> = {};

const rule = (pathPattern: string, fn: string, extra: Partial<JobRule> = {}): JobRule => ({ method: 'GET', pathPattern, queue: 'q1', function: fn, postRoute: false, ...extra });

/** The rule and the worker code exactly as docs/custom-worker.md shows them. */
function docExample(): { rules: Record<string, JobRule>; code: string } {
  const md = readFileSync(repoPath('docs', 'custom-worker.md'), 'utf8');
  const json = /```json\n([\s\S]*?)```/.exec(md)?.[1];
  const code = /```ts\n([\s\S]*?)```/.exec(md)?.[1];
  assert.ok(json && code, 'docs/custom-worker.md has a json rule and a ts worker');
  return { rules: (JSON.parse(json) as { jobs: Record<string, JobRule> }).jobs, code };
}

const functions: Record<string, JobFunction> = {
  async answer(job) {
    ran.answer = (ran.answer ?? 0) + 1;
    return { respond: true, body: { ok: true, path: job.data.path, query: job.data.query } };
  },
  async bytes(job) {
    return job.respondWithBytes(Buffer.from([0, 1, 2, 250]), 'application/octet-stream');
  },
  async octet(job) {
    const key = await job.store.putJobResult(Buffer.from('raw bytes'), 5000, store.keys.jobResult('octet-test'));
    job.data.body = key;
    return { ...job.data, type: 'application/octet-stream', response: true };
  },
  async passOn() {
    ran.passOn = (ran.passOn ?? 0) + 1;
    return { respond: false };
  },
  async missing(job) {
    return { respond: true, status: 200, type: 'text/plain', body: `recovered after ${job.data.statusCode}` };
  },
  async slow() {
    await new Promise((r) => setTimeout(r, 1500));
    return { respond: true, body: 'too late' };
  },
  async loop(job) {
    return job.enqueue('q1', 'loop');
  },
  async parent(job) {
    return job.enqueue('q1', 'answer');
  },
  async fails() {
    throw new Error('disk on fire');
  },
  async boom() {
    throw Object.assign(new Error('teapot'), { isBoom: true, output: { statusCode: 418 } });
  },
};

beforeAll(async () => {
  redis = await startTestRedis();
  const prefix = uniquePrefix();
  store = createStore({ redis: redis.connect() }, { prefix, packetTtlMs: 60000, frameTtlMs: 60000 });
  dir = mkdtempSync(join(tmpdir(), 'beamline-jobs-'));
  const doc = docExample();
  rig = await startJobsRig(redis, store, {
    queue: 'q1',
    timeoutMs: 600,
    functions,
    rules: {
      answer: rule('^/x/answer$', 'answer'),
      bytes: rule('^/x/bytes$', 'bytes'),
      octet: rule('^/x/octet$', 'octet'),
      passOn: rule('^/beams$', 'passOn'),
      missing: rule('^/beams/gone/', 'missing', { postRoute: true, statusCode: 404 }),
      notFor500: rule('^/beams/gone/', 'missing', { postRoute: true, statusCode: [500, 503] }),
      slow: rule('^/x/slow$', 'slow'),
      loop: rule('^/x/loop$', 'loop'),
      parent: rule('^/x/parent$', 'parent'),
      fails: rule('^/x/fails$', 'fails'),
      boom: rule('^/x/boom$', 'boom'),
      unknown: rule('^/x/unknown$', 'nope'),
      ...doc.rules,
    },
  });
});

afterAll(async () => {
  if (child) {
    child.kill('SIGTERM');
    await exitOf(child, 5000);
  }
  await rig?.close();
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('pre-route jobs', () => {
  it('answer with JSON, with bytes from a Redis key (both forms), or pass the request on', { timeout: 15000 }, async () => {
    const a = await rig.app.inject('/x/answer?w=3');
    assert.equal(a.statusCode, 200, a.body);
    assert.deepEqual(a.json(), { ok: true, path: '/x/answer', query: { w: '3' } });
    const b = await rig.app.inject('/x/bytes');
    assert.equal(b.headers['content-type'], 'application/octet-stream');
    assert.deepEqual([...b.rawPayload], [0, 1, 2, 250]);
    const o = await rig.app.inject('/x/octet');
    assert.equal(o.body, 'raw bytes');
    const before = ran.passOn ?? 0;
    const p = await rig.app.inject('/beams');
    assert.equal(p.statusCode, 200);
    assert.deepEqual(p.json(), []);
    assert.equal((ran.passOn ?? 0) - before, 1, 'the pass-on job ran, then the route answered');
  });

  it('a job that does not finish in time answers 504 JSON', { timeout: 15000 }, async () => {
    const t0 = Date.now();
    const r = await rig.app.inject('/x/slow');
    assert.equal(r.statusCode, 504);
    assert.equal(r.json().error, 'Gateway Timeout');
    assert.match(r.json().message, /did not finish within 600 ms/);
    assert.ok(Date.now() - t0 < 1400, 'the request did not wait for the job');
  });

  it('circular chains are refused: a job enqueuing itself, and a worker calling back over HTTP', { timeout: 15000 }, async () => {
    const r = await rig.app.inject('/x/loop');
    assert.equal(r.statusCode, 508, r.body);
    assert.match(r.json().message, /Circular job chain refused: q1\/loop -> q1\/loop/);
    const h = await rig.app.inject({ url: '/x/answer', headers: { 'beam-job-chain': 'q1/answer' } });
    assert.equal(h.statusCode, 508);
    const ok = await rig.app.inject('/x/parent');
    assert.equal(ok.statusCode, 200, 'a chain without a loop runs');
    assert.equal(ok.json().ok, true);
  });

  it('failures are JSON: unknown function 500, a thrown error 500, a Boom status kept', { timeout: 15000 }, async () => {
    const u = await rig.app.inject('/x/unknown');
    assert.equal(u.statusCode, 500);
    assert.match(u.json().message, /Unknown function 'nope' on queue 'q1'/);
    const f = await rig.app.inject('/x/fails');
    assert.equal(f.statusCode, 500);
    assert.match(f.json().message, /disk on fire/);
    assert.equal((await rig.app.inject('/x/boom')).statusCode, 418);
  });
});

describe('post-route jobs', () => {
  it('run on the response status and may replace it', { timeout: 15000 }, async () => {
    const r = await rig.app.inject('/beams/gone/video/packet_1/data');
    assert.equal(r.statusCode, 200);
    assert.equal(r.body, 'recovered after 404');
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  });
});

describe('custom worker from docs/custom-worker.md', () => {
  it('runs as its own process and answers .txt requests', { timeout: 30000 }, async () => {
    const { code } = docExample();
    const lib = built('engine', 'jobs', 'index.js').replace(/\\/g, '/');
    const js = ts.transpileModule(code.replace("from 'beamline'", `from '${lib}'`), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const file = join(dir, 'describe-worker.js');
    writeFileSync(file, js);
    child = spawn(process.execPath, [file], {
      env: { PATH: process.env.PATH ?? '', BEAM_REDIS_URL: redis.url, BEAM_REDIS_PREPEND: store.keys.prefix, BEAM_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForOutput(child, /text_workers: ready/, 15000);
    const fmt = { streams: [{ codecpar: { codec_type: 'video', width: 320, height: 240 } }, { codecpar: { codec_type: 'audio', sample_rate: 48000, channels: 2 } }] };
    assert.equal((await rig.app.inject({ method: 'POST', url: '/beams', payload: { url: 'described', ...fmt } })).statusCode, 201);
    const v = await rig.app.inject('/beams/described/video.txt');
    assert.equal(v.statusCode, 200, v.body);
    assert.equal(v.body, 'Video stream with height 240 and width 320.');
    assert.equal((await rig.app.inject('/beams/described/audio.txt')).body, 'Audio stream with sample rate 48000Hz and 2 channels.');
    const missing = await rig.app.inject('/beams/described/audio_3.txt');
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().message, /Could not retrieve stream/);
  });
});
