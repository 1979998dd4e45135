/**
 * A standalone Redis restarted mid-publish (killed, then started again on the same port from its
 * append-only file), with the roles as separate processes: no process dies, the publisher stays connected
 * through the outage (writes are held, BEAM_INGEST_OUTAGE_HOLD), the channel moves on once Redis is back,
 * engines answer 503 (never 500) meanwhile, and no segment fetched before the restart changes bytes.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../../helpers/process';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { AUTH } from '../../helpers/app';
import { startRole, type RoleProcess } from './roles';

let dir = '';
let port = 0;
let redis: ChildProcess | null = null;
let engine: RoleProcess;
let ingest: RoleProcess;
let publisher: Publisher | null = null;
const procs: RoleProcess[] = [];

function startRedis(): ChildProcess {
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], { stdio: 'ignore' });
}

async function redisUp(): Promise<boolean> {
  return new Promise((done) => {
    const c = spawn('redis-cli', ['-p', String(port), 'PING'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', () => done(out.includes('PONG')));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'beamline-restart-'));
  port = await freePort();
  redis = startRedis();
  await waitFor('redis-server', redisUp, 10_000);
  const url = `redis://127.0.0.1:${port}`;
  engine = await startRole(url, ['engine']);
  procs.push(engine);
  ingest = await startRole(url, ['ingest']);
  procs.push(ingest);
}, 60_000);

afterAll(async () => {
  publisher?.stop();
  await Promise.allSettled(procs.map((p) => p.stop()));
  redis?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function segments(): Promise<string[]> {
  const r = await fetch(`${engine.http}/live/rs/v-source.m3u8`).catch(() => null);
  if (!r || !r.ok) return [];
  return (await r.text()).split('\n').filter((l) => l && !l.startsWith('#'));
}

describe('a standalone Redis restarted mid-publish', () => {
  it('holds the publish, answers 503 meanwhile, moves on after, and changes nothing published', { timeout: 120_000 }, async () => {
    const res = await fetch(`${engine.http}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name: 'rs', ladder: [] }) });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    const key = (JSON.parse(text) as { streamKey: string }).streamKey;
    publisher = publishSrt(`srt://127.0.0.1:${ingest.srtPort}?streamid=${encodeURIComponent(`#!::r=${key}`)}`, { seconds: 60, gopFrames: 25 });
    await waitFor('4 segments', async () => (await segments()).length >= 4, 30_000, 500);
    const hashes = new Map<string, string>();
    for (const uri of await segments()) {
      const r = await fetch(`${engine.http}/live/rs/${uri}`);
      hashes.set(uri, createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex'));
    }
    const lastBefore = Number(/-(\d+)\.m4s$/.exec([...hashes.keys()].pop() as string)?.[1]);

    redis?.kill('SIGKILL');
    const statuses = new Set<number>();
    // Down for 7 s, longer than the channel lease (6 s): the lease restored from the AOF has expired, and
    // nobody took it; the publish holding through the outage takes it back and goes on. Meanwhile the API
    // answers, and soon (a health check or a dashboard waits a few seconds at most).
    const downAt = Date.now();
    let slowest = 0;
    while (Date.now() - downAt < 7000) {
      const t = Date.now();
      const r = await fetch(`${engine.http}/api/channels`, { headers: AUTH, signal: AbortSignal.timeout(5000) }).catch(() => null);
      slowest = Math.max(slowest, Date.now() - t);
      statuses.add(r ? r.status : 0);
      await new Promise((done) => setTimeout(done, 250));
    }
    redis = startRedis();
    await waitFor('redis-server back', redisUp, 10_000);
    assert.ok(!statuses.has(500), `never 500 while Redis was down (saw ${[...statuses]})`);
    assert.ok(statuses.has(503), `503 while Redis was down (saw ${[...statuses]})`);
    assert.ok(!statuses.has(0), `every request answered within 5 s while Redis was down (slowest ${slowest} ms; saw ${[...statuses]})`);

    await waitFor('the channel to move on', async () => {
      const list = await segments();
      const last = Number(/-(\d+)\.m4s$/.exec(list[list.length - 1] ?? '')?.[1] ?? -1);
      return last > lastBefore + 2;
    }, 40_000, 500).catch((e: Error) => {
      throw new Error(`${e.message}\n--- ingest:\n${ingest.output().slice(-3000)}\n--- publisher:\n${publisher?.stderr()}`);
    });
    assert.equal(publisher.child.exitCode, null, 'the publisher stayed connected through the restart');
    let compared = 0;
    for (const [uri, h] of hashes) {
      const r = await fetch(`${engine.http}/live/rs/${uri}`);
      if (!r.ok) continue;
      assert.equal(createHash('sha256').update(Buffer.from(await r.arrayBuffer())).digest('hex'), h, `${uri} kept its bytes`);
      compared++;
    }
    assert.ok(compared >= 3, `segments compared after the restart: ${compared}`);
    for (const p of procs) assert.ok(p.alive(), `${p.roles} survived:\n${p.output().slice(-2000)}`);
    console.log(`standalone restart: Redis down 7 s, slowest API answer meanwhile ${slowest} ms (${[...statuses].join(', ')})`);
  });
});
