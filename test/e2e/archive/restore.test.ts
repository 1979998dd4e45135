/**
 * Losing Redis loses at most the hot window: Beamline (engine and ingest, the compiled product) archives a
 * channel published over SRT into a local folder with a 10 s hot window, is stopped, and starts again on an
 * empty Redis with the same archive. The channel is back with its stream key and settings; its archived
 * segments are listed by the same catch-up playlist and served with the same bytes, and a frame image and a clip
 * of that archived time are made from the archive; a new publish with the same key continues the channel's
 * segment numbering after them.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../../helpers/process';
import { publishSrt, type Publisher } from '../../helpers/publishers';
import { AUTH } from '../../helpers/app';
import { startRole, type RoleProcess } from '../cluster/roles';

const CH = 'rebuilt';
let dir = '';
let port = 0;
let redis: ChildProcess | null = null;
let beam: RoleProcess | null = null;
let publisher: Publisher | null = null;

function startRedis(): ChildProcess {
  // No persistence: a restart is an empty Redis, as with the embedded one by default.
  return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
}

async function redisUp(): Promise<boolean> {
  return new Promise((done) => {
    const c = spawn('redis-cli', ['-p', String(port), 'PING'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', () => done(out.includes('PONG')));
  });
}

async function startBeamline(): Promise<RoleProcess> {
  // The transcoder role runs the media workers (frame images, clips) that read archived time too.
  return startRole(`redis://127.0.0.1:${port}`, ['engine', 'ingest', 'transcoder'], {
    BEAM_HOT_WINDOW_SECONDS: '10',
    BEAM_ARCHIVE_URL: `file://${join(dir, 'archive')}`,
    BEAM_LOG_LEVEL: 'info',
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function get(path: string): Promise<{ status: number; body: Buffer }> {
  const r = await fetch(`${beam?.http}${path}`, { headers: AUTH });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

/** Segment numbers whose source video object is in the archive. */
function archivedSegments(): number[] {
  try {
    return readdirSync(join(dir, 'archive', CH, 's0')).flatMap((f) => /^(\d+)\.seg$/.exec(f)?.[1] ?? []).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'beamline-rebuild-'));
  port = await freePort();
  redis = startRedis();
  await waitFor('redis-server', redisUp, 10_000);
  beam = await startBeamline();
}, 60_000);

afterAll(async () => {
  publisher?.stop();
  await beam?.stop();
  redis?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('rebuilding from the archive after Redis was lost', () => {
  it('brings the channel back with its archived DVR, same bytes, numbering continued', { timeout: 150_000 }, async () => {
    const res = await fetch(`${beam?.http}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', ...AUTH }, body: JSON.stringify({ name: CH, ladder: [], dvrWindowSeconds: 3600 }) });
    const created = JSON.parse(await res.text()) as { streamKey: string; dvrWindowSeconds: number };
    assert.equal(res.status, 201);
    const url = (key: string, p: RoleProcess) => `srt://127.0.0.1:${p.srtPort}?streamid=${encodeURIComponent(`#!::r=${key}`)}`;
    const t0 = Math.floor(Date.now() / 1000) - 1;
    publisher = publishSrt(url(created.streamKey, beam as RoleProcess), { seconds: 40, fps: 25, gopFrames: 50, size: '640x360', bitrate: '1M' });
    await waitFor('5 segments archived', async () => archivedSegments().length >= 5, 60_000, 500).catch((e: Error) => {
      throw new Error(`${e.message}\n${beam?.output().slice(-3000)}\n${publisher?.stderr()}`);
    });
    const t1 = Math.floor(Date.now() / 1000);
    const catchUp = `/live/${CH}/v-source.m3u8?start=${t0}&end=${t1}`;
    const archived = archivedSegments().slice(0, 5);
    const before = new Map<string, string>();
    for (const n of archived) {
      for (const uri of [`v-source-${n}.m4s`, `audio-${n}.m4s`]) {
        const r = await get(`/live/${CH}/${uri}`);
        assert.equal(r.status, 200, `${uri} before`);
        before.set(uri, sha(r.body));
      }
    }
    const playlistBefore = (await get(catchUp)).body.toString();
    for (const n of archived) assert.ok(playlistBefore.includes(`v-source-${n}.m4s`), `catch-up lists ${n} before`);
    const liveNumbers = async () => (await get(`/live/${CH}/v-source.m3u8`)).body.toString().split('\n').flatMap((l) => /^v-source-(\d+)\.m4s$/.exec(l)?.[1] ?? []).map(Number);
    const headBefore = Math.max(...(await liveNumbers()));
    assert.ok(headBefore > archived.at(-1)!, 'the hot window holds segments not archived yet');
    publisher.stop();
    await beam?.stop();

    // Redis is lost: a new, empty one on the same port.
    redis?.kill('SIGKILL');
    await waitFor('redis-server gone', async () => !(await redisUp()), 10_000);
    redis = startRedis();
    await waitFor('redis-server back, empty', redisUp, 10_000);
    beam = await startBeamline();
    assert.match(beam.output(), /rebuilt channels from the archive/);

    const ch = JSON.parse((await get(`/api/channels/${CH}`)).body.toString()) as { streamKey: string; dvrWindowSeconds: number; ladder: unknown[] };
    assert.equal(ch.streamKey, created.streamKey, 'the stream key came back');
    assert.equal(ch.dvrWindowSeconds, 3600);
    assert.deepEqual(ch.ladder, []);
    const playlistAfter = (await get(catchUp)).body.toString();
    for (const n of archived) assert.ok(playlistAfter.includes(`v-source-${n}.m4s`), `catch-up lists ${n} after the rebuild:\n${playlistAfter}`);
    for (const [uri, h] of before) {
      const r = await get(`/live/${CH}/${uri}`);
      assert.equal(r.status, 200, `${uri} after`);
      assert.equal(sha(r.body), h, `${uri} kept its bytes`);
    }

    // Everything left is archived: a frame image and a clip of that time are made from the archive's objects.
    const first = await fetch(`${beam.http}/beams/${CH}/video/start`, { redirect: 'manual' });
    assert.equal(first.status, 302);
    const pts = Number(/packet_(-?\d+)$/.exec(first.headers.get('location') ?? '')?.[1]);
    assert.ok(Number.isFinite(pts), String(first.headers.get('location')));
    const jpg = await get(`/beams/${CH}/video/frame_${pts + 90000}.jpg?width=320`);
    assert.equal(jpg.status, 200, jpg.body.toString().slice(0, 300));
    assert.deepEqual([...jpg.body.subarray(0, 3)], [0xff, 0xd8, 0xff], 'a JPEG');
    const clip = await get(`/beams/${CH}/all/${pts}-${pts + 3 * 90000}.mp4`);
    assert.equal(clip.status, 200, clip.body.toString().slice(0, 300));
    assert.equal(clip.body.subarray(4, 8).toString(), 'ftyp', 'an MP4');

    // What the hot window held is lost, and says so: its segments are gaps in catch-up, never numbered again.
    const lastArchived = archivedSegments().at(-1) as number;
    const gaps = (await get(`/live/${CH}/v-source.m3u8?start=${t0}`)).body.toString();
    assert.match(gaps, new RegExp(`#EXT-X-GAP\\n(?:#[^\\n]*\\n)*v-source-${lastArchived + 1}\\.m4s`), `the first lost segment is a gap:\n${gaps}`);

    // The same key publishes again; numbering continues after every number the lost hot window used.
    publisher = publishSrt(url(created.streamKey, beam), { seconds: 30, fps: 25, gopFrames: 50, size: '640x360', bitrate: '1M' });
    const fresh = async () => (await liveNumbers()).filter((n) => n > headBefore);
    await waitFor('a new segment', async () => (await fresh()).length > 0, 30_000, 500).catch((e: Error) => {
      throw new Error(`${e.message}\n${beam?.output().slice(-3000)}\n${publisher?.stderr()}`);
    });
    const listed = await liveNumbers();
    assert.ok(!listed.some((n) => n > lastArchived && n <= headBefore && !gaps.includes(`v-source-${n}.m4s`)), `no number of the lost hot window reused: ${listed}`);
    assert.ok(beam.alive());
  });
});
