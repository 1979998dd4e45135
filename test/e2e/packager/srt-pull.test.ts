/**
 * SRT pull end to end: a channel published over SRT by ffmpeg is read back over SRT on the same port
 * (`#!::r=<channel>,m=request`) by ffmpeg, as MPEG-TS, while it is played over HLS: two readers at once get
 * h264 + aac of the requested length; a reader that stops reading (SIGSTOP) is dropped while the other goes
 * on; an unknown channel or rung is refused at the handshake; the publisher is untouched throughout.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { waitFor } from '../../helpers/process';
import { closedSegments, createRigChannel, ffmpegDecode, run, startPackagerRig, type PackagerRig } from './rig';

let rig: PackagerRig;
let dir = '';
const CH = 'pull';
const children: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beam-srt-pull-'));
  rig = await startPackagerRig(CH, new Registry(), { srtPull: true, publishSeconds: 90 });
}, 60000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await rig?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The reader's SRT URL; the streamid is percent-encoded ('#' would end the URL), the server decodes it. */
function readerUrl(streamId: string): string {
  return `srt://127.0.0.1:${rig.ingest.srtPort() as number}?streamid=${encodeURIComponent(streamId)}&connect_timeout=3000`;
}

/** ffmpeg reading `seconds` of the channel over SRT into a TS file (copied, not decoded). */
function readTs(url: string, file: string, seconds: number | null): ChildProcess {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-i', url, ...(seconds === null ? [] : ['-t', String(seconds)]), '-map', '0', '-c', 'copy', '-f', 'mpegts', '-y', file];
  const c = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(c);
  return c;
}

function exited(c: ChildProcess, timeoutMs: number): Promise<{ code: number | null; stderr: string; ms: number }> {
  const t0 = Date.now();
  let stderr = '';
  c.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ffmpeg still running after ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    c.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - t0 });
    });
  });
}

/** What ffmpeg warns about while decoding a file (counter jumps, corrupt packets, missing parameter sets). */
async function decodeWarnings(file: string): Promise<string[]> {
  const r = await run('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'warning', '-i', file, '-f', 'null', '-'], { timeout: 30000 });
  return r.stderr.split('\n').filter((l) => /continuity|corrupt|non-existing|error|invalid/i.test(l)).slice(0, 5);
}

async function probe(file: string): Promise<{ codecs: string[]; duration: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name:format=duration', '-of', 'json', file], { timeout: 10000 });
  const j = JSON.parse(stdout) as { streams: { codec_name: string }[]; format: { duration: string } };
  return { codecs: j.streams.map((s) => s.codec_name).sort(), duration: Number(j.format.duration) };
}

/** The publisher's session is there, and the channel keeps closing segments. */
async function publisherUntouched(before: number): Promise<void> {
  assert.deepEqual(rig.ingest.sessions().map((s) => s.channel), [CH], 'the publisher is still connected');
  await waitFor('a new segment from the publisher', async () => (await closedSegments(rig.live, CH)) > before, 10000);
}

describe('SRT pull', () => {
  it('two ffmpeg readers at once get h264 + aac in real time while HLS plays the channel', async () => {
    const before = await closedSegments(rig.live, CH);
    const a = join(dir, 'a.ts');
    const b = join(dir, 'b.ts');
    const t0 = Date.now();
    const [ra, rb, hls] = await Promise.all([
      exited(readTs(readerUrl(`#!::r=${CH},m=request`), a, 5), 30000),
      exited(readTs(readerUrl(`#!::r=${CH},m=request,t=source`), b, 5), 30000),
      ffmpegDecode(`${rig.base}/live/${CH}/master.m3u8`, 5),
    ]);
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    for (const r of [ra, rb]) {
      // The readers' own demuxer checks what came over SRT: continuity counters carried across parts.
      assert.deepEqual(r.stderr.split('\n').filter((l) => /continuity|corrupt|non-existing/i.test(l)), [], r.stderr);
    }
    assert.ok(hls.video > 0 && hls.audio > 0, `HLS decoded video and audio: ${hls.stderr}`);
    for (const f of [a, b]) {
      const p = await probe(f);
      assert.deepEqual(p.codecs, ['aac', 'h264'], f);
      assert.ok(p.duration >= 4.5 && p.duration <= 6.5, `${f}: ${p.duration} s`);
      assert.deepEqual(await decodeWarnings(f), [], `${f} decodes cleanly`);
    }
    // Real time: 5 s of media cannot arrive much faster than they are made (the first segment comes at once).
    assert.ok(Date.now() - t0 >= 2000, `5 s read in ${Date.now() - t0} ms`);
    assert.equal(rig.pull?.readerCount(CH), 0, 'the readers that left were forgotten');
    await publisherUntouched(before);
  }, 60000);

  it('a reader that stops reading is dropped while the other goes on', async () => {
    const before = await closedSegments(rig.live, CH);
    const stalled = readTs(readerUrl(`#!::r=${CH},m=request`), '/dev/null', null);
    const good = join(dir, 'good.ts');
    const reader = readTs(readerUrl(`#!::r=${CH},m=request`), good, 12);
    const done = exited(reader, 40000);
    await waitFor('two SRT readers', async () => rig.pull?.readerCount(CH) === 2, 10000);
    stalled.kill('SIGSTOP');
    const t0 = Date.now();
    await waitFor('the stalled reader is dropped', async () => rig.pull?.readerCount(CH) === 1, 20000);
    const droppedAfter = Date.now() - t0;
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.ms < 18000, `12 s read in ${r.ms} ms: the stalled reader slowed it`);
    const p = await probe(good);
    assert.deepEqual(p.codecs, ['aac', 'h264']);
    assert.ok(p.duration >= 11 && p.duration <= 13.5, `${p.duration} s`);
    stalled.kill('SIGKILL');
    assert.ok(droppedAfter < 15000, `dropped after ${droppedAfter} ms`);
    await publisherUntouched(before);
  }, 60000);

  it('a channel is readable as soon as it is created; deleting it closes its readers', async () => {
    await createRigChannel(rig.app, rig.ingest, 'fresh');
    const r = readTs(readerUrl('#!::r=fresh,m=request'), join(dir, 'fresh.ts'), 5);
    const done = exited(r, 20000);
    await waitFor('the reader of the new channel', async () => rig.pull?.readerCount('fresh') === 1, 5000);
    const res = await rig.app.inject({ method: 'DELETE', url: '/api/channels/fresh' });
    assert.equal(res.statusCode, 204, res.body);
    await waitFor('its reader closed', async () => rig.pull?.readerCount('fresh') === 0, 12000);
    assert.notEqual((await done).code, null);
    const again = await exited(readTs(readerUrl('#!::r=fresh,m=request'), join(dir, 'fresh2.ts'), 2), 15000);
    assert.notEqual(again.code, 0, 'a deleted channel is refused at the handshake');
  }, 40000);

  it('an unknown channel or rung is refused at the handshake: ffmpeg fails at once', async () => {
    for (const sid of [`#!::r=nosuch,m=request`, `#!::r=${CH},m=request,t=999p`]) {
      const r = await exited(readTs(readerUrl(sid), join(dir, 'x.ts'), 2), 15000);
      assert.notEqual(r.code, 0, `${sid} was read`);
      assert.match(r.stderr, /REJECT/, `${sid}: refused at the handshake (libsrt logs the rejection), not timed out: ${r.stderr}`);
    }
    assert.deepEqual(rig.ingest.sessions().map((s) => s.channel), [CH], 'the publisher is untouched');
  }, 30000);
});


describe('SRT pull of a private channel', () => {
  it('opens with a playback token as s=<token>; none is refused at the handshake, a wrong one gets nothing; a rotated secret closes the reader', async () => {
    const CHP = CH; // the rig's channel, live from its publisher; public again at the end
    let res = await rig.app.inject({ method: 'PATCH', url: `/api/channels/${CHP}`, payload: { private: true } });
    assert.equal(res.statusCode, 200, res.body);
    res = await rig.app.inject({ method: 'POST', url: `/api/channels/${CHP}/playback-tokens`, payload: {} });
    assert.equal(res.statusCode, 201, res.body);
    const { token } = res.json() as { token: string };

    // Without a token: refused at the handshake (1401), as an unknown channel is.
    const none = await exited(readTs(readerUrl(`#!::r=${CHP},m=request`), join(dir, 'none.ts'), 2), 15000);
    assert.notEqual(none.code, 0, 'read without a token');
    assert.match(none.stderr, /REJECT/, none.stderr);
    // Another channel's token (the public channel has no secret; mint one for a second private channel).
    await createRigChannel(rig.app, rig.ingest, 'vip2');
    await rig.app.inject({ method: 'PATCH', url: '/api/channels/vip2', payload: { private: true } });
    const other = (await rig.app.inject({ method: 'POST', url: '/api/channels/vip2/playback-tokens', payload: {} })).json() as { token: string };
    const wrongFile = join(dir, 'wrong.ts');
    const wrong = await exited(readTs(readerUrl(`#!::r=${CHP},m=request,s=${other.token}`), wrongFile, 2), 15000);
    assert.notEqual(wrong.code, 0, 'read with another channel\'s token');
    assert.equal(rig.pull?.readerCount(CHP), 0);

    // With its token: a reader like any other, until the secret is rotated.
    const file = join(dir, 'vip.ts');
    const reader = readTs(readerUrl(`#!::r=${CHP},m=request,s=${token}`), file, null);
    const done = exited(reader, 30000);
    await waitFor('the reader with the token', async () => rig.pull?.readerCount(CHP) === 1, 10000);
    await waitFor('media read', async () => (await import('node:fs/promises')).stat(file).then((s) => s.size > 0, () => false), 10000);
    res = await rig.app.inject({ method: 'POST', url: `/api/channels/${CHP}/playback-secret` });
    assert.ok(res.statusCode < 300, res.body);
    await waitFor('the reader closed by the rotation', async () => rig.pull?.readerCount(CHP) === 0, 10000);
    assert.notEqual((await done).code, null, 'ffmpeg ended when its reader was closed');
    assert.deepEqual((await probe(file)).codecs, ['aac', 'h264']);
    res = await rig.app.inject({ method: 'PATCH', url: `/api/channels/${CHP}`, payload: { private: false } });
    assert.equal(res.statusCode, 200, res.body);
  }, 60000);
});
