// SPDX-License-Identifier: GPL-3.0-or-later
/**
 * RTMP pre-auth abuse against the real RTMP server on 127.0.0.1 (random free port), as an attacker does it:
 * raw sockets that finish the handshake and then flood, hold partial messages, trickle, or open many
 * connections; real ffmpeg publishers beside them. Every attack is bounded in bytes, connections and time.
 * Figures (server CPU, event-loop lag) are printed as test diagnostics. The last test goes through the ingest
 * service with a real redis-server: config, metrics and logs as the product wires them.
 */
import { afterAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { createChunkWriter } from '../../../ingest/rtmp/chunk-writer';
import { commandMessage, type RtmpMessage } from '../../../ingest/rtmp/messages';
import {
  createRtmpServer, type RtmpCloseReason, type RtmpServer, type RtmpServerConfig, type RtmpSession,
} from '../../../ingest/rtmp/rtmp-server';
import { Registry } from 'prom-client';
import { createStore } from '../../../core/store/store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createLiveStore } from '../../../core/store/live-store';
import { createChannel } from '../../../core/model/channel';
import { createIngestService, DEFAULT_INGEST_CONFIG } from '../../../ingest/ingest-service';
import { createIngestMetrics } from '../../../ingest/ingest-metrics';
import { DEFAULT_LADDER, validateLadder } from '../../../transcoders/ladder';
import { startTestRedis, uniquePrefix } from '../../helpers/redis';

const KEYS: Record<string, string> = {
  'sk-alpha-5f3b9c1d': 'ch-alpha', 'sk-bravo-8e2a7d40': 'ch-bravo', 'sk-charlie-1c9e44aa': 'ch-charlie', 'sk-delta-77ab01fe': 'ch-delta',
};
const [ALPHA, BRAVO, CHARLIE, DELTA] = Object.keys(KEYS) as [string, string, string, string];
const children = new Set<ChildProcess>();
const servers = new Set<RtmpServer>();
const sockets = new Set<Socket>();
/** Every log line of every server in this file, as text (checked for stream keys at the end). */
const logLines: string[] = [];
const refusals: string[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of sockets) s.destroy();
  for (const s of servers) await s.close();
});

async function startServer(config: Partial<RtmpServerConfig> = {}): Promise<RtmpServer> {
  const line = (level: string) => (obj: object, msg?: string): void => void logLines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  const srv = createRtmpServer({
    authorize: (_app, key) => (KEYS[key] ? { ok: true, channel: KEYS[key] } : { ok: false, reason: 'unknown stream key' }),
    log: { info: line('info'), warn: line('warn') },
    onRefused: (reason: string) => void refusals.push(reason),
  }, { host: '127.0.0.1', port: 0, idleTimeoutMs: 3000, ...config });
  servers.add(srv);
  await srv.start();
  return srv;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function publish(port: number, key: string, seconds: number): { proc: ChildProcess; exited: Promise<number> } {
  const proc = spawn('ffmpeg', [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-re',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac',
    '-f', 'flv', `rtmp://127.0.0.1:${port}/live/${key}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  proc.stderr?.resume();
  const exited = new Promise<number>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return { proc, exited };
}

function nextSession(srv: RtmpServer, channel: string): Promise<{ session: RtmpSession; bytes: () => number; closed: Promise<[RtmpCloseReason, string]> }> {
  return new Promise((resolve) => {
    const fn = (s: RtmpSession): void => {
      if (s.channel !== channel) return;
      srv.off('session', fn);
      let n = 0;
      s.on('data', (b) => { n += b.length; });
      const closed = new Promise<[RtmpCloseReason, string]>((res) => s.on('close', (r, d) => res([r, d])));
      resolve({ session: s, bytes: () => n, closed });
    };
    srv.on('session', fn);
  });
}

/** A raw client socket that records what the server sends and when it closes. */
interface Raw {
  socket: Socket;
  received: () => Buffer;
  closed: Promise<void>;
  isClosed: () => boolean;
  /** Writes with back-pressure until done or the server closed; resolves with the bytes the kernel took. */
  send(data: Buffer): Promise<number>;
}

function raw(port: number, localAddress?: string): Raw {
  const socket = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
  sockets.add(socket);
  const chunks: Buffer[] = [];
  let isClosed = false;
  socket.on('error', () => {});
  socket.on('data', (b) => chunks.push(b));
  const closed = new Promise<void>((resolve) => socket.on('close', () => { isClosed = true; resolve(); }));
  async function send(data: Buffer): Promise<number> {
    let sent = 0;
    for (let at = 0; at < data.length && !isClosed && !socket.destroyed; at += 65536) {
      const piece = data.subarray(at, at + 65536);
      const ok = socket.write(piece);
      sent += piece.length;
      if (!ok) await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
    }
    return sent;
  }
  return { socket, received: () => Buffer.concat(chunks), closed, isClosed: () => isClosed, send };
}

const C0C1C2 = Buffer.concat([Buffer.from([3]), Buffer.alloc(1536, 1), Buffer.alloc(1536, 2)]);
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function chunks(...msgs: RtmpMessage[]): Buffer {
  const w = createChunkWriter();
  return Buffer.concat(msgs.map((m) => w.write(m)));
}

const connectMsg = commandMessage(0, 'connect', 1, { app: 'live', type: 'nonprivate', tcUrl: 'rtmp://127.0.0.1/live' });

/** Server CPU (this process runs the server; the client side of the attack is a few writes) and event-loop lag. */
async function measured<T>(fn: () => Promise<T>): Promise<{ result: T; cpuMs: number; maxLagMs: number }> {
  let maxLag = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - last - 20);
    last = now;
  }, 20);
  const cpu0 = process.cpuUsage();
  try {
    const result = await fn();
    const cpu = process.cpuUsage(cpu0);
    return { result, cpuMs: (cpu.user + cpu.system) / 1000, maxLagMs: Math.max(0, Math.round(maxLag)) };
  } finally {
    clearInterval(probe);
  }
}

const FLOOD = 4 * 1024 * 1024;

test('4 MiB of one-byte RTMP messages before publish (issue 10.4) cost well under 2 CPU-s and close the connection', { timeout: 60_000 }, async () => {
  const srv = await startServer();
  const floods: { name: string; header: Buffer; unit: Buffer }[] = [
    // fmt 0 on chunk stream 3 announcing a 0-byte audio message, then 0xC3: each byte a whole message.
    { name: 'zero-length messages (0xC3 …)', header: hex('03 000000 000000 08 00000000'), unit: hex('c3') },
    // The same with a 1-byte body: two bytes per message.
    { name: 'one-byte messages (0xC3 0x41 …)', header: hex('03 000000 000001 08 00000000 41'), unit: hex('c3 41') },
    // Acknowledgement-sized control messages (4-byte body), which the server answers nothing to.
    { name: 'acknowledgement messages', header: hex('02 000000 000004 03 00000000 00000000'), unit: hex('c2 00000000') },
  ];
  for (const f of floods) {
    const c = raw(srv.port);
    const body = Buffer.concat([C0C1C2, chunks(connectMsg), f.header, Buffer.alloc(FLOOD - f.header.length, 0).fill(f.unit)]);
    const { result: sent, cpuMs, maxLagMs } = await measured(async () => {
      const n = await c.send(body);
      await within(c.closed, 10_000, `${f.name}: the server closes the connection`);
      return n;
    });
    console.log(`${f.name}: ${(sent / 1048576).toFixed(2)} MiB written before the close, server CPU ${cpuMs.toFixed(0)} ms, event-loop lag max ${maxLagMs} ms`);
    assert.ok(cpuMs < 2000, `${f.name}: ${cpuMs} ms of CPU for a 4 MiB flood`);
  }
  // The server still serves a real publisher.
  const got = nextSession(srv, 'ch-alpha');
  const p = publish(srv.port, ALPHA, 2);
  const rec = await within(got, 8000, 'publisher live after the floods');
  assert.equal(await within(p.exited, 10_000, 'publisher ends'), 0);
  assert.equal((await within(rec.closed, 3000, 'session closes'))[0], 'unpublished');
  assert.ok(rec.session.stats().videoFrames >= 40, `video frames ${rec.session.stats().videoFrames}`);
  await srv.close();
});

test('partial messages before publish (issue 10.4: two 8 MiB partials per connection) are refused by size, count and total bytes', { timeout: 30_000 }, async () => {
  const srv = await startServer();
  const cases: { name: string; bytes: Buffer }[] = [
    { name: 'one 8 MiB message declared, 64 KiB of it sent', bytes: Buffer.concat([hex('04 000000 800000 09 01000000'), Buffer.alloc(65536, 7)]) },
    { name: 'two 8 MiB partial messages', bytes: Buffer.concat([hex('04 000000 7fffff 09 01000000'), Buffer.alloc(128, 7), hex('05 000000 7fffff 08 01000000'), Buffer.alloc(128, 7)]) },
    {
      name: 'three 16 KiB partial messages on three chunk streams',
      bytes: Buffer.concat(['04', '05', '06'].flatMap((cs) => [hex(`${cs} 000000 004000 09 01000000`), Buffer.alloc(128, 7)])),
    },
    {
      name: 'two 60 KiB partial messages (120 KiB declared)',
      bytes: Buffer.concat(['04', '05'].flatMap((cs) => [hex(`${cs} 000000 00f000 09 01000000`), Buffer.alloc(128, 7)])),
    },
    {
      name: '400 KiB of complete 60 KiB data messages before publish',
      bytes: Buffer.concat(Array.from({ length: 7 }, () => chunks({ chunkStreamId: 5, timestamp: 0, typeId: 18, streamId: 0, payload: Buffer.alloc(0xf000, 5) }))),
    },
  ];
  const rss0 = process.memoryUsage().rss;
  for (const c of cases) {
    const conns = Array.from({ length: 4 }, () => raw(srv.port));
    const sent = await Promise.all(conns.map((r) => r.send(Buffer.concat([C0C1C2, chunks(connectMsg), c.bytes]))));
    await within(Promise.all(conns.map((r) => r.closed)), 3000, `${c.name}: closed`);
    console.log(`${c.name}: closed after ${sent[0]} bytes written`);
  }
  console.log(`RSS after the partial-message attacks: ${((process.memoryUsage().rss - rss0) / 1048576).toFixed(1)} MiB above the start`);
  assert.ok(refusals.length >= 20, `refusals counted: ${refusals.length}`);
  await srv.close();
});

test('a connection must publish within the publish timeout even while it trickles bytes', { timeout: 20_000 }, async () => {
  const srv = await startServer({ publishTimeoutMs: 1000, idleTimeoutMs: 10_000 });
  const c = raw(srv.port);
  const t0 = Date.now();
  const trickle = setInterval(() => { if (!c.isClosed()) c.socket.write(Buffer.from([3])); }, 100);
  try {
    await within(c.closed, 5000, 'trickling handshake closed');
  } finally {
    clearInterval(trickle);
  }
  const took = Date.now() - t0;
  assert.ok(took >= 800, `closed after ${took} ms, not before the timeout`);
  await srv.close();
});

test('per-address connection limit: the (N+1)th connection from one address is refused, a publisher and other addresses still work', { timeout: 40_000 }, async () => {
  const srv = await startServer({ maxConnectionsPerAddress: 3 });
  const got = nextSession(srv, 'ch-bravo');
  const p = publish(srv.port, BRAVO, 6);
  const rec = await within(got, 8000, 'publisher live');
  const held = [raw(srv.port), raw(srv.port)];
  for (const h of held) void h.send(C0C1C2);
  await within(waitUntil(() => held.every((h) => h.received().length >= 3073)), 3000, 'held connections get S0+S1+S2');
  const extra = raw(srv.port);
  void extra.send(C0C1C2);
  await within(extra.closed, 2000, 'the 4th connection from 127.0.0.1 is closed');
  assert.equal(extra.received().length, 0, 'refused before the handshake');
  assert.ok(held.every((h) => !h.isClosed()), 'the held connections stay open');
  // Another loopback address is a different client.
  const other = raw(srv.port, '127.0.0.2');
  void other.send(C0C1C2);
  await within(waitUntil(() => other.received().length >= 3073), 3000, 'another address completes its handshake');
  const mark = rec.bytes();
  await sleep(500);
  assert.ok(rec.bytes() > mark, 'the publisher keeps streaming');
  // Once the held connections go away, the address may connect again.
  for (const h of held) h.socket.destroy();
  await Promise.all(held.map((h) => h.closed));
  await sleep(100);
  const got2 = nextSession(srv, 'ch-charlie');
  const p2 = publish(srv.port, CHARLIE, 2);
  const rec2 = await within(got2, 8000, 'a second publisher from the same address');
  assert.equal(await within(p2.exited, 10_000, 'second publisher ends'), 0);
  assert.ok(rec2.session.stats().videoFrames >= 30);
  assert.equal(await within(p.exited, 15_000, 'first publisher ends'), 0);
  await srv.close();
});

test('after publish the limits are those of real video: a 1 MiB key frame passes, zero-length floods cost O(1) per byte, partial messages on many chunk streams do not', { timeout: 30_000 }, async () => {
  const srv = await startServer();
  const got = nextSession(srv, 'ch-delta');
  const c = raw(srv.port);
  await c.send(Buffer.concat([
    C0C1C2,
    chunks(connectMsg, commandMessage(0, 'createStream', 2, null), commandMessage(1, 'publish', 0, null, DELTA, 'live')),
  ]));
  const rec = await within(got, 3000, 'raw publisher accepted');
  await within(waitUntil(() => c.received().includes('NetStream.Publish.Start')), 3000, 'Publish.Start');
  const key = Buffer.alloc(1024 * 1024, 0);
  key[0] = 0x17; // AVC key frame
  key[1] = 1; // NALU
  const w = createChunkWriter({ chunkSize: 4096 });
  await c.send(Buffer.concat([
    chunks({ chunkStreamId: 2, timestamp: 0, typeId: 1, streamId: 0, payload: hex('00001000') }),
    w.write({ chunkStreamId: 6, timestamp: 40, typeId: 9, streamId: 1, payload: key }),
  ]));
  await within(waitUntil(() => rec.bytes() > 1024 * 1024), 3000, 'the 1 MiB key frame reaches the session');
  // An authenticated publisher flooding zero-length video messages: dropped at O(1) per byte, the session lives.
  const { cpuMs, maxLagMs } = await measured(async () => {
    await c.send(Buffer.concat([hex('06 000000 000000 09 01000000'), Buffer.alloc(FLOOD, 0xc6)]));
    // A Ping Request after the flood: its answer shows the server has read every byte before it.
    await c.send(chunks({ chunkStreamId: 2, timestamp: 0, typeId: 4, streamId: 0, payload: hex('0006 0badf00d') }));
    await within(waitUntil(() => c.received().includes(hex('0007 0badf00d'))), 10_000, 'ping answered after the flood');
  });
  console.log(`4 MiB of zero-length video messages after publish: server CPU ${cpuMs.toFixed(0)} ms, event-loop lag max ${maxLagMs} ms`);
  assert.ok(cpuMs < 2000, `${cpuMs} ms of CPU`);
  assert.equal(rec.session.closed, false);
  // 10 chunk streams each with an unfinished 100 KiB message: over the limit of chunk streams with partial messages.
  await c.send(Buffer.concat(Array.from({ length: 10 }, (_, i) => Buffer.concat([
    Buffer.from([10 + i]), hex('000050 019000 09 01000000'), Buffer.alloc(4096, 1),
  ]))));
  assert.equal((await within(rec.closed, 3000, 'session closed'))[0], 'protocol-error');
  await within(c.closed, 3000, 'socket closed');
  await srv.close();
});

test('log lines never carry a stream key (issue 10.7), refusals and codec rejections included', { timeout: 20_000 }, async () => {
  const srv = await startServer();
  // A refused key, then a publish whose video is not H.264 (closed with unsupported-codec).
  const wrong = raw(srv.port);
  await wrong.send(Buffer.concat([C0C1C2, chunks(connectMsg, commandMessage(0, 'createStream', 2, null), commandMessage(1, 'publish', 0, null, 'sk-not-a-key-93ab', 'live'))]));
  await within(wrong.closed, 3000, 'wrong key closed');
  const got = nextSession(srv, 'ch-alpha');
  const c = raw(srv.port);
  await c.send(Buffer.concat([C0C1C2, chunks(connectMsg, commandMessage(0, 'createStream', 2, null), commandMessage(1, 'publish', 0, null, `${ALPHA}?token=x`, 'live'))]));
  const rec = await within(got, 3000, 'accepted');
  await c.send(chunks({ chunkStreamId: 6, timestamp: 0, typeId: 9, streamId: 1, payload: hex('22 00 00 00') }));
  assert.equal((await within(rec.closed, 3000, 'codec rejection'))[0], 'unsupported-codec');
  await within(c.closed, 3000, 'closed');
  await srv.close();
  assert.ok(logLines.length > 10, `log lines: ${logLines.length}`);
  for (const key of [...Object.keys(KEYS), 'sk-not-a-key-93ab']) {
    const leaks = logLines.filter((l) => l.includes(key));
    assert.deepEqual(leaks, [], `log lines carrying ${key}`);
  }
  assert.ok(logLines.some((l) => l.includes('ch-alpha')), 'the channel name is logged');
});

async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(20);
}

test('through the ingest service (real redis): limits from its config, refusals in beam_ingest_refusals_total, a flood beside a live channel', { timeout: 60_000 }, async () => {
  const redis = await startTestRedis();
  const client = redis.connect();
  const store = createStore({ redis: client }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
  const channels = createChannelStore({ redis: client, keys: store.keys });
  const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 10000 });
  const registry = new Registry();
  const lines: string[] = [];
  const line = (level: string) => (obj: object, msg?: string): void => void lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  const ch = createChannel({ name: 'limits-live' }, validateLadder, DEFAULT_LADDER);
  await channels.create(ch);
  const ingest = createIngestService(
    { store, live, channels, subscriber: redis.connect(), log: { info: line('info'), warn: line('warn'), error: line('error') }, metrics: createIngestMetrics(registry) },
    { ...DEFAULT_INGEST_CONFIG, idleTimeoutMs: 3000, srt: null, rtmp: { host: '127.0.0.1', port: 0, maxConnectionsPerAddress: 2 } },
  );
  try {
    await ingest.start();
    const port = ingest.rtmpPort() as number;
    const p = publish(port, ch.streamKey, 5);
    await within(waitUntil(() => ingest.sessions().some((s) => s.channel === 'limits-live' && (s.diagnostics?.bytes ?? 0) > 0)), 10_000, 'the channel is live');
    const flood = raw(port);
    const { cpuMs } = await measured(async () => {
      await flood.send(Buffer.concat([C0C1C2, chunks(connectMsg), hex('03 000000 000000 08 00000000'), Buffer.alloc(FLOOD, 0xc3)]));
      await within(flood.closed, 5000, 'flood closed');
    });
    console.log(`zero-length flood through the ingest service: server CPU ${cpuMs.toFixed(0)} ms`);
    assert.ok(cpuMs < 2000, `${cpuMs} ms`);
    // The publisher and the (closed) flood leave room for one more from 127.0.0.1: the next one is refused.
    const held = raw(port);
    void held.send(C0C1C2);
    await within(waitUntil(() => held.received().length >= 3073), 3000, 'second connection accepted');
    const third = raw(port);
    await within(third.closed, 3000, 'third connection from 127.0.0.1 refused');
    assert.equal(third.received().length, 0);
    held.socket.destroy();
    assert.equal(await within(p.exited, 15_000, 'publisher ends'), 0);
    await within(waitUntil(() => ingest.sessions().length === 0), 10_000, 'session ended');
    const fmt = await store.getFormat('limits-live');
    assert.deepEqual(fmt?.streams.map((s) => s.codecpar.name), ['h264', 'aac'], 'the channel was ingested');
    const text = await registry.metrics();
    const refusedCount = /beam_ingest_refusals_total\{protocol="rtmp",reason="bad-request"\} (\d+)/.exec(text);
    assert.ok(refusedCount && Number(refusedCount[1]) >= 2, `rtmp refusals: ${refusedCount?.[1]}`);
    assert.deepEqual(lines.filter((l) => l.includes(ch.streamKey)), [], 'no log line carries the stream key');
  } finally {
    await ingest.close();
    await redis.close();
  }
});
