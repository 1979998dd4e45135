// SPDX-License-Identifier: GPL-3.0-or-later
// Real ffmpeg publishers against the RTMP server on 127.0.0.1 (random free port); ffprobe reads the FLV.
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createChunkWriter } from '../../../ingest/rtmp/chunk-writer';
import { commandMessage } from '../../../ingest/rtmp/messages';
import {
  createRtmpServer, type RtmpCloseReason, type RtmpServer, type RtmpServerConfig, type RtmpSession,
} from '../../../ingest/rtmp/rtmp-server';

const KEYS: Record<string, string> = { alpha: 'ch-alpha', bravo: 'ch-bravo', same: 'ch-same', still: 'ch-still' };
const children = new Set<ChildProcess>();
const servers = new Set<RtmpServer>();
const sockets = new Set<Socket>();
let dir = '';

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'beamline-rtmp-')); });
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of sockets) s.destroy();
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(config: Partial<RtmpServerConfig> = {}): Promise<RtmpServer> {
  const srv = createRtmpServer({
    authorize: (app, key) => (KEYS[key] ? { ok: true, channel: KEYS[key] } : { ok: false, reason: `unknown stream key for ${app}` }),
  }, { host: '127.0.0.1', port: 0, idleTimeoutMs: 3000, ...config });
  servers.add(srv);
  await srv.start();
  return srv;
}

interface Publisher { proc: ChildProcess; exited: Promise<number> }

function publish(port: number, key: string, opts: { seconds?: number; app?: string } = {}): Publisher {
  const proc = spawn('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-t', String(opts.seconds ?? 3),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-c:a', 'aac',
    '-f', 'flv', `rtmp://127.0.0.1:${port}/${opts.app ?? 'live'}/${key}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  proc.stderr?.resume();
  const exited = new Promise<number>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return { proc, exited };
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

interface Recorded { session: RtmpSession; chunks: Buffer[]; closed: Promise<[RtmpCloseReason, string]> }

/** The next session of `channel`, recorded from its first byte (listeners attach inside the event). */
function nextSession(srv: RtmpServer, channel: string): Promise<Recorded> {
  return new Promise((resolve) => {
    const fn = (s: RtmpSession): void => {
      if (s.channel === channel) { srv.off('session', fn); resolve(record(s)); }
    };
    srv.on('session', fn);
  });
}

function record(s: RtmpSession): Recorded {
  const chunks: Buffer[] = [];
  s.on('data', (b) => chunks.push(b));
  const closed = new Promise<[RtmpCloseReason, string]>((resolve) => s.on('close', (r, d) => resolve([r, d])));
  return { session: s, chunks, closed };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 10_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd}: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

/** ffprobe's view of the FLV bytes: codec per stream, and pts (s) of each packet per codec type. */
async function probe(name: string, flv: Buffer): Promise<{ codecs: string[]; pts: Record<string, number[]> }> {
  const file = join(dir, `${name}.flv`);
  writeFileSync(file, flv);
  const streams = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name', '-of', 'csv=p=0', file]);
  const packets = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,pts_time', '-of', 'csv=p=0', file]);
  const pts: Record<string, number[]> = {};
  for (const line of packets.trim().split('\n')) {
    const [type, t] = line.split(',');
    if (type && t && t !== 'N/A') (pts[type] ??= []).push(Number(t));
  }
  return { codecs: streams.trim().split('\n').map((l) => l.trim()).sort(), pts };
}

function rawClient(port: number): Socket {
  const s = connect(port, '127.0.0.1');
  sockets.add(s);
  s.on('error', () => {});
  s.resume(); // read (and drop) what the server sends, so its FIN is seen
  return s;
}

function closedWithin(s: Socket, ms: number): Promise<void> {
  return within(new Promise<void>((resolve) => { if (s.destroyed) resolve(); else s.on('close', () => resolve()); }), ms, 'socket closed by the server');
}

test('two publishers at once, FLV read by ffprobe as h264 + aac; a wrong key is refused meanwhile', async () => {
  const srv = await startServer();
  const gotA = nextSession(srv, 'ch-alpha');
  const gotB = nextSession(srv, 'ch-bravo');
  const a = publish(srv.port, 'alpha', { seconds: 3 });
  const b = publish(srv.port, 'bravo', { seconds: 3 });
  const [ra, rb] = await within(Promise.all([gotA, gotB]), 8000, 'both publishers live');
  const sa = ra.session;
  assert.equal(srv.sessions().length, 2);

  const bytesBefore = (): number => ra.chunks.reduce((n, c) => n + c.length, 0);
  const wrong = publish(srv.port, 'not-a-key', { seconds: 3 });
  const wrongCode = await within(wrong.exited, 8000, 'wrong-key ffmpeg exits');
  assert.notEqual(wrongCode, 0, 'ffmpeg with a wrong key exits non-zero');
  const mark = bytesBefore();
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(bytesBefore() > mark, 'the other channel keeps streaming');
  assert.equal(srv.sessions().length, 2);

  assert.equal(await within(a.exited, 10_000, 'publisher A ends'), 0);
  assert.equal(await within(b.exited, 10_000, 'publisher B ends'), 0);
  assert.deepEqual((await within(ra.closed, 3000, 'A closes'))[0], 'unpublished');
  await within(rb.closed, 3000, 'B closes');
  assert.equal(srv.sessions().length, 0);

  const stats = sa.stats();
  assert.equal(stats.videoCodec, 'h264');
  assert.equal(stats.audioCodec, 'aac');
  assert.ok(stats.videoFrames >= 60, `video frames ${stats.videoFrames}`);
  assert.ok(stats.bitrate > 0);

  for (const [name, rec] of [['alpha', ra], ['bravo', rb]] as const) {
    const flv = Buffer.concat(rec.chunks);
    assert.equal(flv.toString('latin1', 0, 3), 'FLV');
    const { codecs, pts } = await probe(name, flv);
    assert.deepEqual(codecs, ['aac', 'h264']);
    for (const type of ['video', 'audio']) {
      const list = pts[type] ?? [];
      assert.ok(list.length > 20, `${name} ${type} packets: ${list.length}`);
      assert.ok(list.at(-1)! - list[0]! > 2, `${name} ${type} timestamps advance (${list[0]} → ${list.at(-1)})`);
    }
  }
  await srv.close();
});

test('a second publish with the same key replaces the live session', async () => {
  const srv = await startServer();
  const first = nextSession(srv, 'ch-same');
  const p1 = publish(srv.port, 'same', { seconds: 20 });
  const r1 = await within(first, 8000, 'first publisher live');
  const second = nextSession(srv, 'ch-same');
  const p2 = publish(srv.port, 'same', { seconds: 20 });
  const r2 = await within(second, 8000, 'second publisher live');
  const s2 = r2.session;
  const [reason, detail] = await within(r1.closed, 3000, 'first session closed');
  assert.equal(reason, 'replaced');
  assert.match(detail, /replaced by a new publish from 127\.0\.0\.1/);
  assert.deepEqual(srv.sessions(), [s2]);
  assert.notEqual(await within(p1.exited, 8000, 'first ffmpeg exits'), 0);
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(r2.chunks.length > 0, 'the replacement streams');
  assert.equal(r2.chunks[0]!.toString('latin1', 0, 3), 'FLV', 'the replacement starts with its own FLV header');
  p2.proc.kill('SIGKILL');
  assert.equal((await within(r2.closed, 3000, 'second closes on disconnect'))[0], 'disconnected');
  await srv.close();
});

test('idle publisher (encoder frozen) is closed with reason idle; a silent socket too', async () => {
  const srv = await startServer({ idleTimeoutMs: 1000 });
  const silent = rawClient(srv.port);
  const got = nextSession(srv, 'ch-still');
  const p = publish(srv.port, 'still', { seconds: 20 });
  const r = await within(got, 8000, 'publisher live');
  await new Promise((res) => setTimeout(res, 300));
  p.proc.kill('SIGSTOP');
  const t0 = Date.now();
  const [reason] = await within(r.closed, 4000, 'idle close');
  assert.equal(reason, 'idle');
  assert.ok(Date.now() - t0 >= 600, 'not before the idle timeout');
  assert.equal(srv.sessions().length, 0);
  p.proc.kill('SIGKILL');
  await closedWithin(silent, 3000);
  await srv.close();
});

test('garbage bytes and hostile chunk headers close that socket only; wrong app is refused', async () => {
  const srv = await startServer();
  const got = nextSession(srv, 'ch-alpha');
  const good = publish(srv.port, 'alpha', { seconds: 3 });
  const rec = await within(got, 8000, 'publisher live');
  const s = rec.session;

  const http = rawClient(srv.port);
  http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await closedWithin(http, 2000);

  const noise = rawClient(srv.port);
  noise.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 7), Buffer.alloc(1536, 9)]));
  // After a valid handshake: a chunk header announcing a 16 MiB message, then junk.
  noise.write(Buffer.from('04000000ffffff0901000000', 'hex'));
  noise.write(Buffer.alloc(4096, 0xff));
  await closedWithin(noise, 2000);

  const early = rawClient(srv.port);
  early.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(1536), Buffer.alloc(1536)]));
  early.write(createChunkWriter().write(commandMessage(0, 'publish', 0, null, 'alpha', 'live')));
  await closedWithin(early, 2000);

  const wrongApp = publish(srv.port, 'alpha', { app: 'other', seconds: 3 });
  assert.notEqual(await within(wrongApp.exited, 8000, 'wrong-app ffmpeg exits'), 0);

  assert.equal(await within(good.exited, 10_000, 'good publisher ends'), 0);
  assert.equal((await within(rec.closed, 3000, 'good session closes'))[0], 'unpublished');
  assert.ok(s.stats().videoFrames >= 60, 'the good publisher was not disturbed');
  await srv.close();
});

test('server close ends live sessions with reason shutdown', async () => {
  const srv = await startServer();
  const got = nextSession(srv, 'ch-bravo');
  const p = publish(srv.port, 'bravo', { seconds: 20 });
  const r = await within(got, 8000, 'publisher live');
  await srv.close();
  assert.equal((await within(r.closed, 1000, 'closed'))[0], 'shutdown');
  assert.notEqual(await within(p.exited, 8000, 'ffmpeg exits'), 0);
  assert.equal(srv.port, 0);
});
