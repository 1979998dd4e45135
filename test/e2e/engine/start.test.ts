/**
 * The real process as a new user starts it (`node dist/beamline.js`, what `npm start` runs after set-up):
 * embedded redis-server, the README's curl flow over real HTTP, bad configuration stopping start-up with a
 * message naming the field, and a clean SIGTERM shutdown that leaves no redis-server behind.
 */

import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitOf, freePort, waitForOutput } from '../../helpers/process';
import { built } from '../../helpers/paths';
import { publishSrt } from '../../helpers/publishers';

const ENTRY = built('beamline.js');
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [ENTRY, ...args], {
    env: { PATH: process.env.PATH ?? '', BEAM_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

describe('beamline process', () => {
  it('starts with an embedded redis, serves the README flow, and shuts down cleanly', { timeout: 60000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-e2e-'));
    dirs.push(dir);
    const port = await freePort();
    const srtPort = await freePort();
    // Logs at info: the publish below is logged, and must not carry the key.
    const child = start([], { BEAM_APP_PORT: String(port), BEAM_APP_HOST: '127.0.0.1', BEAM_DATA_DIR: dir, BEAM_SRT_PORT: String(srtPort), BEAM_SRT_HOST: '127.0.0.1', BEAM_RTMP_PORT: String(await freePort()), BEAM_LOG_LEVEL: 'info', BEAM_REDIS_MAXMEMORY: '1gb' });
    let all = '';
    const output = () => all;
    child.stdout?.on('data', (d: Buffer) => (all += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (all += d.toString()));
    const banner = await waitForOutput(child, /Beamline is running[\s\S]*HLS \/ DASH:[^\n]*\n/, 20000);
    assert.match(banner, new RegExp(`http://127\\.0\\.0\\.1:${port}/beams/`));
    assert.match(banner, /embedded redis-server on \S+ \(maxmemory 1\.0 GiB\)/);
    const base = `http://127.0.0.1:${port}`;
    // The memory bound: the redis-server runs with BEAM_REDIS_MAXMEMORY, and /metrics reports use against it.
    const scrape = await (await fetch(`${base}/metrics`)).text();
    assert.match(scrape, /^beam_redis_maxmemory_bytes 1073741824$/m);
    assert.ok(Number(/^beam_redis_used_memory_bytes (\d+)$/m.exec(scrape)?.[1]) > 0, 'used memory reported');

    // Secure by default: a token was generated in the data dir (0600); stdout is not a terminal, so the banner
    // says where it is and prints neither it nor any stream key (issue 10: logs are kept and shipped).
    assert.match(banner, /Channel 'main' \(created because there was none\)/);
    const tokenFile = join(dir, 'api-token');
    const token = readFileSync(tokenFile, 'utf8').trim();
    assert.match(token, /^[A-Za-z0-9_-]{43}$/, 'a 256-bit token');
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    assert.match(banner, new RegExp(`API token:\\s+in ${tokenFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(not printed`));
    assert.ok(!banner.includes(token), 'the banner does not print the token');
    assert.doesNotMatch(banner, /Stream Key|streamid=|srt:\/\/|rtmp:\/\//, 'no stream key nor ingest URL off a terminal');
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await fetch(`${base}/beams/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"url":"x"}' })).status, 401, 'writes need it');
    const anon = (await (await fetch(`${base}/api/channels/main`)).json()) as Record<string, unknown>;
    assert.equal(anon.streamKey, undefined, 'anonymous reads show no key');
    const main = (await (await fetch(`${base}/api/channels/main`, { headers: auth })).json()) as { streamKey: string };
    const key = main.streamKey;
    assert.ok(!banner.includes(key) && !output().includes(key), 'the stream key is in no output');
    const pub = publishSrt(`srt://127.0.0.1:${srtPort}?streamid=${key}`, { seconds: 6 });
    // The ingest role serves SRT readers on the same port (the composition root wires the SRT pull).
    const pulled = join(dir, 'pulled.ts');
    // ffmpeg probes 5 s of a live input by default: 0.5 s is plenty (and the channel has no backlog yet).
    const reader = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-analyzeduration', '500000', '-i', `srt://127.0.0.1:${srtPort}?streamid=${encodeURIComponent('#!::r=main,m=request')}`, '-t', '1', '-c', 'copy', '-f', 'mpegts', pulled], { stdio: ['ignore', 'ignore', 'pipe'] });
    let readerErr = '';
    reader.stderr?.on('data', (d: Buffer) => (readerErr += d.toString()));
    assert.equal(await exitOf(reader, 20000), 0, `the SRT reader: ${readerErr}`);
    assert.ok(statSync(pulled).size > 10000, 'the SRT reader got the channel');
    assert.equal(await pub.exited, 0, pub.stderr());
    const live = await fetch(`${base}/beams/main/video/latest`, { redirect: 'manual' });
    assert.equal(live.status, 302, 'the channel is in the store');
    assert.match(String(live.headers.get('location')), /^\/beams\/main\/stream_0\/packet_\d+$/);

    const created = await fetch(`${base}/beams/`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ url: 'newswatch_live', streams: [{ time_base: [1, 25], codecpar: { codec_type: 'video', name: 'h264' } }] }),
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('location'), '/beams/newswatch_live');
    for (let pts = 0; pts < 40; pts++) {
      const r = await fetch(`${base}/beams/newswatch_live/video/packet_${pts}`, {
        method: 'PUT', headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ type: 'Packet', pts, dts: pts, size: 2, duration: 1, flags: { KEY: pts % 25 === 0 } }),
      });
      assert.ok(r.status === 201, `PUT packet_${pts}: ${r.status}`);
    }
    const payload = await fetch(`${base}/beams/newswatch_live/video/packet_35/data`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream', ...auth }, body: Buffer.from([7, 8]) });
    assert.equal(payload.status, 201, 'a new payload is created');
    const latest = await fetch(`${base}/beams/newswatch_live/video/latest`, { redirect: 'manual' });
    assert.equal(latest.status, 302);
    assert.equal(latest.headers.get('location'), '/beams/newswatch_live/stream_0/packet_39');
    const followed = (await (await fetch(`${base}/beams/newswatch_live/video/latest`)).json()) as { pts: number };
    assert.equal(followed.pts, 39);
    const range = (await (await fetch(`${base}/beams/newswatch_live/video/1.2s-1.4s`)).json()) as { pts: number }[];
    assert.deepEqual(range.map((p) => p.pts), [30, 31, 32, 33, 34, 35]);
    assert.deepEqual([...new Uint8Array(await (await fetch(`${base}/beams/newswatch_live/video/packet_35.raw`)).arrayBuffer())], [7, 8]);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.ok(!output().includes(token) && !output().includes(key), 'neither the token nor the key was logged');

    const socket = join(dir, 'redis.sock');
    child.kill('SIGTERM');
    assert.equal(await exitOf(child, 15000), 0);
    let left = '';
    try {
      left = execFileSync('pgrep', ['-f', `redis-server.*${socket}`]).toString();
    } catch {
      left = '';
    }
    assert.equal(left.trim(), '', 'no redis-server left running');

    // The next start reuses the token.
    const again = start([], { BEAM_APP_PORT: String(port), BEAM_APP_HOST: '127.0.0.1', BEAM_DATA_DIR: dir, BEAM_SRT_PORT: String(srtPort), BEAM_SRT_HOST: '127.0.0.1', BEAM_RTMP_PORT: String(await freePort()) });
    await waitForOutput(again, /Beamline is running[\s\S]*HLS \/ DASH:[^\n]*\n/, 20000);
    assert.equal(readFileSync(tokenFile, 'utf8').trim(), token);
    assert.equal((await fetch(`${base}/api/channels/main`, { headers: auth })).status, 200, 'the same token works after a restart');
    again.kill('SIGTERM');
    assert.equal(await exitOf(again, 15000), 0);
  });

  it('a config file given on the command line is merged (npm start -- my_config.json)', { timeout: 30000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-e2e-'));
    dirs.push(dir);
    const port = await freePort();
    const cfg = join(dir, 'my_config.json');
    writeFileSync(cfg, JSON.stringify({ app: { port, host: '127.0.0.1', apiToken: 'tok' }, redis: { dataDir: dir }, srt: { port: await freePort() }, rtmp: { port: await freePort() } }));
    const child = start([cfg], {});
    await waitForOutput(child, /API token:\s+BEAM_API_TOKEN/, 20000);
    const denied = await fetch(`http://127.0.0.1:${port}/beams/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(denied.status, 401);
    child.kill('SIGINT');
    assert.equal(await exitOf(child, 15000), 0);
  });

  it('uses an external Redis from BEAM_REDIS_URL (redis://, a chosen db) and starts no redis-server of its own', { timeout: 30000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-e2e-'));
    dirs.push(dir);
    const redisPort = await freePort();
    const server = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    children.push(server);
    await new Promise((r) => setTimeout(r, 300));
    const port = await freePort();
    const child = start([], { BEAM_APP_PORT: String(port), BEAM_APP_HOST: '127.0.0.1', BEAM_REDIS_URL: `redis://127.0.0.1:${redisPort}/3`, BEAM_DATA_DIR: join(dir, 'unused'), BEAM_SRT_PORT: String(await freePort()), BEAM_RTMP_PORT: String(await freePort()) });
    const banner = await waitForOutput(child, /Beamline is running[\s\S]*Channel 'main'/, 20000);
    assert.match(banner, new RegExp(`Redis:\\s+redis://127\\.0\\.0\\.1:${redisPort}/3`));
    const keys = execFileSync('redis-cli', ['-p', String(redisPort), '-n', '3', '--scan', '--pattern', 'beam:*']).toString();
    assert.match(keys, /beam:chan:\{main\}/, 'the channel lives in db 3 of the external Redis');
    // Without BEAM_API_TOKEN, every process on this Redis shares the token the first one generated.
    const shared = execFileSync('redis-cli', ['-p', String(redisPort), '-n', '3', 'GET', 'beam:reg:{auth}:token']).toString().trim();
    assert.match(shared, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(readFileSync(join(dir, 'unused', 'api-token'), 'utf8').trim(), shared, 'a copy for the operator');
    const port2 = await freePort();
    const second = start(['--roles', 'engine'], { BEAM_APP_PORT: String(port2), BEAM_APP_HOST: '127.0.0.1', BEAM_REDIS_URL: `redis://127.0.0.1:${redisPort}/3`, BEAM_DATA_DIR: join(dir, 'second') });
    await waitForOutput(second, /Beamline is running/, 20000);
    assert.equal(readFileSync(join(dir, 'second', 'api-token'), 'utf8').trim(), shared, 'the second process agrees');
    const write = await fetch(`http://127.0.0.1:${port2}/api/channels`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${shared}` }, body: '{"name":"second"}' });
    assert.equal(write.status, 201, 'the shared token writes through the second process');
    second.kill('SIGTERM');
    assert.equal(await exitOf(second, 15000), 0);
    child.kill('SIGTERM');
    assert.equal(await exitOf(child, 15000), 0);
    assert.equal(execFileSync('redis-cli', ['-p', String(redisPort), 'PING']).toString().trim(), 'PONG', 'an external Redis is left running');
    server.kill('SIGKILL');
  });

  it('start-up stops when the SRT port is taken, naming it, and leaves no redis-server behind', { timeout: 30000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-e2e-'));
    dirs.push(dir);
    const taken = createSocket('udp4');
    const srtPort = await freePort();
    await new Promise<void>((r) => taken.bind(srtPort, '127.0.0.1', () => r()));
    try {
      const child = start([], { BEAM_APP_PORT: String(await freePort()), BEAM_SRT_PORT: String(srtPort), BEAM_SRT_HOST: '127.0.0.1', BEAM_RTMP_PORT: String(await freePort()), BEAM_DATA_DIR: dir });
      let out = '';
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      assert.equal(await exitOf(child, 20000), 1);
      assert.match(out, new RegExp(`cannot start ingest \\(SRT UDP ${srtPort}[\\s\\S]*set BEAM_SRT_PORT`));
      let left = '';
      try {
        left = execFileSync('pgrep', ['-f', `^redis-server unixsocket:${join(dir, 'redis.sock')}`]).toString();
      } catch {
        left = '';
      }
      assert.equal(left.trim(), '');
    } finally {
      taken.close();
    }
  });

  const badStarts: [string, string[], Record<string, string>, RegExp][] = [
    ['a bad port names the field and variable', [], { BEAM_APP_PORT: 'http' }, /app\.port = "http" \(from BEAM_APP_PORT\); expected an integer port/],
    ['a missing config file names the file', ['/nonexistent/my_config.json'], {}, /Cannot read configuration file \/nonexistent\/my_config\.json/],
    ['an unreachable Redis says where', [], { BEAM_REDIS_URL: 'redis://127.0.0.1:1' }, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/],
    ['a bad Redis URL says the expected form', [], { BEAM_REDIS_URL: 'mysql://x' }, /expected redis:\/\//],
  ];
  for (const [name, args, env, pattern] of badStarts) {
    it(`start-up stops: ${name}`, { timeout: 30000 }, async () => {
      const child = start(args, env);
      let out = '';
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      assert.equal(await exitOf(child, 20000), 1);
      assert.match(out, pattern);
    });
  }
});
