// The SRT listener against real publishers on 127.0.0.1: ffmpeg (libavformat's libsrt caller) and
// srt-live-transmit (Debian srt-tools) as an independent caller.
// SPDX-License-Identifier: GPL-3.0-or-later
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createSrtServer, type SrtReadEntry, type SrtReader, type SrtServer, type SrtSession } from '../../../ingest/srt/srt-server';
import { SRT_REJECT } from '../../../ingest/srt/reject-codes';
import { collect, createChildren, ffmpegArgs, tsSyncErrors, waitFor, waitQuiet, withTimeout, type Received } from './srt-publishers';

const children = createChildren();
const servers = new Set<SrtServer>();
/** Closes the servers started so far. */
async function closeServers(): Promise<void> {
  const open = [...servers];
  servers.clear();
  await Promise.all(open.map((s) => s.close()));
}

afterAll(async () => {
  children.killAll();
  await closeServers();
});

interface Channel {
  name: string;
  passphrase?: string;
}

interface Harness {
  server: SrtServer;
  refusals: { streamId: string; code: number }[];
  sessions: { session: SrtSession; rx: Received }[];
  readers: SrtReader[];
  url(streamId: string, extra?: string): string;
}

/** A server whose gate holds these keys (the channel registry's snapshot, as ingest pushes it). */
async function startHarness(
  keys: Record<string, Channel>,
  opts: { idleTimeoutMs?: number; readable?: Record<string, SrtReadEntry>; readerBufferBytes?: number } = {},
): Promise<Harness> {
  const refusals: Harness['refusals'] = [];
  const sessions: Harness['sessions'] = [];
  const readers: SrtReader[] = [];
  const server = createSrtServer(
    { onRefused: (r) => refusals.push({ streamId: r.streamId, code: r.code }) },
    {
      host: '127.0.0.1', port: 0, idleTimeoutMs: opts.idleTimeoutMs ?? 10_000,
      ...(opts.readerBufferBytes !== undefined ? { readerBufferBytes: opts.readerBufferBytes } : {}),
    },
  );
  server.setKeys(Object.entries(keys).map(([k, c]) => [k, { channel: c.name, passphrase: c.passphrase }]));
  server.setReadable(Object.entries(opts.readable ?? {}));
  servers.add(server);
  server.on('session', (session) => sessions.push({ session, rx: collect(session) }));
  server.on('reader', (r) => readers.push(r));
  await server.start();
  assert.ok(server.port > 0, 'a free UDP port was bound');
  // Raw query on purpose: ffmpeg and srt-live-transmit pass the streamid through undecoded.
  const url = (streamId: string, extra = '') => `srt://127.0.0.1:${server.port}?streamid=${streamId}&pkt_size=1316${extra}`;
  return { server, refusals, sessions, readers, url };
}

function sessionFor(h: Harness, streamId: string) {
  return h.sessions.find((s) => s.session.streamId === streamId);
}

function assertMpegTs(rx: Received, minBytes: number, minSpanMs: number, label: string): void {
  const all = Buffer.concat(rx.chunks);
  assert.ok(all.length >= minBytes, `${label}: ${all.length} bytes received, want >= ${minBytes}`);
  assert.deepEqual(tsSyncErrors(all), [], `${label}: 0x47 every 188 bytes`);
  assert.ok(rx.lastAt - rx.firstAt >= minSpanMs, `${label}: data arrived over ${rx.lastAt - rx.firstAt} ms, want >= ${minSpanMs}`);
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('SRT server with real publishers', { concurrent: true, timeout: 45_000 }, () => {
  // Every open server keeps a receive thread polling libsrt every 5 ms: eight of them left open until the
  // end of the file slowed the flood test's accept from about 2 s to 6-10 s on a loaded 2-core machine.
  afterAll(closeServers);
  it('accepts every streamid form from ffmpeg at once and receives a few seconds of MPEG-TS each', async () => {
    const h = await startHarness({ 'key-a': { name: 'alpha' }, 'key-b': { name: 'beta' }, 'key-c': { name: 'gamma' } });
    const forms = ['key-a', '#!::r=beta,m=publish,s=key-b', 'publish:gamma:key-c'];
    // 4 s of media for a 2 s span: ffmpeg's muxer holds the first ~0.7 s, and on a loaded machine the callers
    // start late; the span shows the data streamed over time rather than arriving in one burst.
    const pubs = forms.map((sid) => children.run('ffmpeg', ffmpegArgs(h.url(sid), 4), 15_000));
    const codes = await Promise.all(pubs.map((p) => p.exited));
    assert.deepEqual(codes, [0, 0, 0], pubs.map((p) => p.output()).join('\n'));
    await waitFor('three sessions to close', () => h.sessions.every((s) => s.rx.closeReason !== undefined), 3000);
    assert.equal(h.sessions.length, 3);
    const channels = forms.map((sid) => sessionFor(h, sid)?.session.channel);
    assert.deepEqual(channels, ['alpha', 'beta', 'gamma'], 'each session carries the channel its key belongs to');
    for (const sid of forms) {
      const s = sessionFor(h, sid);
      assert.ok(s, `a session for ${sid}`);
      assert.equal(s.session.peer.address, '127.0.0.1');
      assertMpegTs(s.rx, 100_000, 2000, sid);
      assert.equal(s.rx.closeReason, 'closed by peer', 'ffmpeg ending cleanly reads as a peer close');
      assert.equal(s.session.stats(), null, 'no stats once closed');
    }
    assert.deepEqual(h.refusals, []);
  });

  it('encrypts with the channel passphrase: the right one streams, a wrong one is refused', async () => {
    const h = await startHarness({ 'key-enc': { name: 'vault', passphrase: 'correct-horse-battery' } });
    const good = children.run('ffmpeg', ffmpegArgs(h.url('key-enc', '&passphrase=correct-horse-battery'), 4), 15_000);
    const bad = children.run('ffmpeg', ffmpegArgs(h.url('key-enc', '&passphrase=wrong-horse-battery'), 3), 15_000);
    const none = children.run('ffmpeg', ffmpegArgs(h.url('key-enc'), 3), 15_000);
    assert.notEqual(await bad.exited, 0, 'wrong passphrase: ffmpeg fails to connect');
    assert.notEqual(await none.exited, 0, 'no passphrase on an encrypted channel: refused');
    assert.equal(await good.exited, 0, good.output());
    await waitFor('the session to close', () => h.sessions[0]?.rx.closeReason !== undefined, 3000);
    assert.equal(h.sessions.length, 1, 'only the right passphrase made a session');
    const s = h.sessions[0];
    assert.ok(s);
    assertMpegTs(s.rx, 100_000, 2000, 'encrypted');
  });

  it('takes srt-live-transmit as an independent caller (ffmpeg | srt-live-transmit)', async () => {
    const h = await startHarness({ 'key-slt': { name: 'relay' } });
    const enc = children.run('ffmpeg', ffmpegArgs('-', 4), 15_000);
    const slt = children.run('srt-live-transmit', ['-a:no', '-q', '-chunk:1316', 'file://con', h.url('publish:relay:key-slt')], 15_000);
    const encOut = enc.proc.stdout;
    const sltIn = slt.proc.stdin;
    assert.ok(encOut && sltIn);
    encOut.pipe(sltIn);
    assert.equal(await enc.exited, 0, enc.output());
    const s = h.sessions[0];
    assert.ok(s, 'srt-live-transmit made a session');
    // srt-live-transmit keeps running at end of input: let the tail drain, then end it like Ctrl-C.
    await waitQuiet('the stream to drain', () => s.rx.bytes, 400, 5000);
    slt.proc.kill('SIGINT');
    await withTimeout(s.rx.closed, 5000, 'the session to close');
    assert.equal(s.session.channel, 'relay');
    assertMpegTs(s.rx, 100_000, 2000, 'srt-live-transmit');
  });

  it('keeps one publisher streaming while a wrong key and an m=request caller are refused', async () => {
    const h = await startHarness({ 'key-1': { name: 'one' }, 'key-2': { name: 'two' } });
    // Long enough to still be live once the three refused callers have exited (each spawn may take a while on a
    // loaded machine): the point is that the publishers keep streaming beside the refusals.
    const a = children.run('ffmpeg', ffmpegArgs(h.url('key-1'), 8), 20_000);
    const b = children.run('ffmpeg', ffmpegArgs(h.url('publish:two:key-2'), 8), 20_000);
    await waitFor('both publishers', () => h.sessions.length === 2 && h.sessions.every((s) => s.rx.bytes > 0), 5000);
    const wrong = children.run('ffmpeg', ffmpegArgs(h.url('not-a-key'), 2), 10_000);
    const request = children.run('ffmpeg', ffmpegArgs(h.url('#!::r=one,m=request,s=key-1'), 2), 10_000);
    const otherChannel = children.run('ffmpeg', ffmpegArgs(h.url('publish:two:key-1'), 2), 10_000);
    assert.notEqual(await wrong.exited, 0);
    assert.notEqual(await request.exited, 0);
    assert.notEqual(await otherChannel.exited, 0, 'a key is only valid for its own channel');
    const before = h.sessions.map((s) => s.rx.bytes);
    await new Promise((r) => setTimeout(r, 500));
    h.sessions.forEach((s, i) => assert.ok(s.rx.bytes > (before[i] ?? 0), 'both keep streaming after the refusals'));
    const stats = h.sessions[0]?.session.stats();
    assert.ok(stats, 'stats while live');
    assert.ok(stats.bytesReceived > 0 && stats.packetsReceived > 0);
    assert.ok(stats.rttMs >= 0 && stats.recvRateMbps >= 0 && stats.packetsLost >= 0 && stats.packetsRetransmitted >= 0);
    const byCaller = new Map(h.refusals.map((r) => [r.streamId, r.code]));
    assert.deepEqual(
      [...byCaller.values()].sort(),
      [SRT_REJECT.FORBIDDEN, SRT_REJECT.FORBIDDEN, SRT_REJECT.NOT_FOUND],
      'wrong key and foreign channel: FORBIDDEN; m=request of a channel no reader may read: NOT_FOUND',
    );
    assert.equal(await a.exited, 0, a.output());
    assert.equal(await b.exited, 0, b.output());
    assert.equal(h.sessions.length, 2, 'refused callers never became sessions');
  });

  it('serves a reader (srt-live-transmit) what JS sends, with sender stats; refuses unknown channels, rungs and wrong tokens', async () => {
    const h = await startHarness({}, {
      readable: { open: { rungs: ['source', '360p'] }, closed: { rungs: ['source'], token: 'tok-123' }, sealed: { rungs: ['source'], signedToken: true } },
    });
    const rx: Buffer[] = [];
    const slt = children.run('srt-live-transmit', ['-a:no', '-q', h.url('%23%21%3A%3Ar%3Dopen%2Cm%3Drequest%2Ct%3D360p'), 'file://con'], 15_000);
    slt.proc.stdout?.on('data', (b: Buffer) => rx.push(b));
    await waitFor('the reader', () => h.readers.length === 1, 5000);
    const r = h.readers[0] as SrtReader;
    assert.deepEqual([r.channel, r.rung], ['open', '360p']);
    const packet = Buffer.alloc(188, 0xff);
    packet[0] = 0x47;
    const chunk = Buffer.concat(Array.from({ length: 70 }, () => packet)); // 10 messages of 1316 bytes
    for (let i = 0; i < 20; i++) {
      assert.equal(r.send(chunk), 'sent');
      await new Promise((res) => setTimeout(res, 20));
    }
    // srt-live-transmit writes stdout in 4 KiB blocks: all but the last partial block comes out.
    await waitFor('what was sent', () => rx.reduce((n, b) => n + b.length, 0) >= 20 * chunk.length - 4096, 5000);
    assert.deepEqual(tsSyncErrors(Buffer.concat(rx)), []);
    const st = r.stats();
    assert.ok(st && st.bytesSent >= 20 * chunk.length && st.packetsSent >= 200, JSON.stringify(st));
    assert.equal(h.server.sessions().length, 0, 'a reader is not a publisher');
    slt.proc.kill('SIGINT');
    await slt.exited;
    await waitFor('the reader closed', () => r.closed, 5000);
    assert.equal(r.send(chunk), 'gone');

    const refused = ['#!::r=nope,m=request', '#!::r=open,m=request,t=720p', '#!::r=closed,m=request', '#!::r=closed,m=request,s=wrong', '#!::r=sealed,m=request'];
    for (const sid of refused) {
      // A player (ffmpeg as a caller, like ffplay or VLC) refused at the handshake fails by itself; killed at the
      // bound (exit null) it was not. Not srt-live-transmit: after a rejection it sometimes stays up for good (a
      // known fault of that tool, seen here in CI with the rejection already in its log).
      const c = children.run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', h.url(encodeURIComponent(sid)), '-f', 'null', '-'], 15_000);
      const code = await c.exited;
      assert.notEqual(code, null, `${sid}: ffmpeg did not give up by itself within 15 s: ${c.output()}`);
      assert.notEqual(code, 0, `${sid}: refused, yet ffmpeg ended well: ${c.output()}`);
    }
    await waitFor('the refusals', () => h.refusals.length >= refused.length, 3000);
    assert.deepEqual(h.refusals.map((x) => x.code), [SRT_REJECT.NOT_FOUND, SRT_REJECT.NOT_FOUND, SRT_REJECT.UNAUTHORIZED, SRT_REJECT.UNAUTHORIZED, SRT_REJECT.UNAUTHORIZED]);
    const ok = children.run('srt-live-transmit', ['-a:no', '-q', h.url(encodeURIComponent('#!::r=closed,m=request,t=stream,s=tok-123')), 'file://con'], 10_000);
    await waitFor('the reader with the token', () => h.readers.length === 2, 5000);
    assert.equal(h.readers[1]?.rung, 'source', 't=stream (SRT\'s type value) asks for the source');
    ok.proc.kill('SIGINT');
    await ok.exited;
    // A signed-token entry (a private channel): any s= passes the gate, the listener checks the token.
    const signed = children.run('srt-live-transmit', ['-a:no', '-q', h.url(encodeURIComponent('#!::r=sealed,m=request,s=1767225600..sig')), 'file://con'], 10_000);
    await waitFor('the reader with some token', () => h.readers.length === 3, 5000);
    assert.equal(decodeURIComponent(h.readers[2]?.streamId ?? ''), '#!::r=sealed,m=request,s=1767225600..sig', 'the listener gets the streamid to check the token');
    signed.proc.kill('SIGINT');
    await signed.exited;
  });

  it('a reader whose send buffer is over the bound is reported slow, and nothing more is queued for it', async () => {
    const h = await startHarness({}, { readable: { open: { rungs: ['source'] } }, readerBufferBytes: 16 * 1316 });
    const slt = children.run('srt-live-transmit', ['-a:no', '-q', h.url(encodeURIComponent('#!::r=open,m=request')), 'file://con'], 15_000);
    slt.proc.stdout?.resume();
    await waitFor('the reader', () => h.readers.length === 1, 5000);
    const r = h.readers[0] as SrtReader;
    const packet = Buffer.alloc(188, 0xff);
    packet[0] = 0x47;
    assert.equal(r.send(Buffer.concat(Array.from({ length: 7 }, () => packet))), 'sent');
    assert.equal(r.send(Buffer.concat(Array.from({ length: 7 * 20 }, () => packet))), 'slow', 'more than the bound at once');
    slt.proc.kill('SIGINT');
    await slt.exited;
  });

  it('survives 50 wrong keys in a row and garbage UDP, leaks no descriptors, then still accepts', async () => {
    const h = await startHarness({ 'key-ok': { name: 'ok' } });
    const fdsBefore = openFds();
    // 50 attempts, five callers at a time, each refused at once. srt-live-transmit now and then misses
    // its own rejection and waits on stdin for ever, so every caller is killed after 2.5 s at most.
    await Promise.all(
      [0, 1, 2, 3, 4].map(async (lane) => {
        for (let i = lane; i < 50; i += 5) {
          const c = children.run('srt-live-transmit', ['-a:no', '-q', 'file://con', h.url(`wrong-${i}`, '&conntimeo=1500')], 2500);
          await c.exited;
          // Paced: each spawn() blocks this process's event loop (60-500 ms seen on a loaded machine), and the
          // native gate refuses at once, so unpaced lanes starved the publishers of the tests running beside.
          await new Promise((r) => setTimeout(r, 150));
        }
      }),
    );
    // A caller that repeats its handshake may be asked about more than once: count distinct callers.
    assert.equal(new Set(h.refusals.map((r) => r.streamId)).size, 50, 'every wrong key reached authorize and was refused');

    const sock = createSocket('udp4');
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, h.server.port, '127.0.0.1', () => r()));
    for (let i = 0; i < 300; i++) await send(randomBytes(1 + (i * 37) % 1500));
    for (let i = 0; i < 100; i++) {
      // Shaped like SRT control packets (handshake, keepalive, shutdown) with random fields.
      const b = randomBytes(64);
      b[0] = 0x80;
      b[1] = [0x00, 0x01, 0x05][i % 3] ?? 0;
      await send(b);
    }
    sock.close();

    const ok = children.run('ffmpeg', ffmpegArgs(h.url('key-ok'), 2), 10_000);
    await waitFor('a session after the abuse', () => (h.sessions[0]?.rx.bytes ?? 0) > 0, 5000);
    const stats = h.sessions[0]?.session.stats();
    assert.ok(stats && stats.bytesReceived > 0, 'stats are returned');
    assert.equal(await ok.exited, 0, ok.output());
    assert.equal(h.sessions.length, 1);
    assert.ok(openFds() <= fdsBefore + 2, `descriptors: ${fdsBefore} before, ${openFds()} after`);
  });

  it('closes an idle caller with reason idle', async () => {
    const h = await startHarness({ 'key-idle': { name: 'idle' } }, { idleTimeoutMs: 600 });
    // srt-live-transmit connects at once, then sends nothing while its stdin stays open.
    const slt = children.run('srt-live-transmit', ['-a:no', '-q', 'file://con', h.url('key-idle')], 10_000);
    await waitFor('the idle session', () => h.sessions.length === 1, 5000);
    const s = h.sessions[0];
    assert.ok(s);
    assert.equal(await withTimeout(s.rx.closed, 3000, 'the idle close'), 'idle');
    slt.proc.kill('SIGKILL');
  });

  it('closes a session from JS, and shuts down cleanly with live sessions (close twice is safe)', async () => {
    const h = await startHarness({ 'key-x': { name: 'x' }, 'key-y': { name: 'y' } });
    const x = children.run('ffmpeg', ffmpegArgs(h.url('key-x'), 15), 20_000);
    const y = children.run('ffmpeg', ffmpegArgs(h.url('key-y'), 15), 20_000);
    await waitFor('both sessions streaming', () => h.sessions.length === 2 && h.sessions.every((s) => s.rx.bytes > 0), 5000);
    const sx = sessionFor(h, 'key-x');
    const sy = sessionFor(h, 'key-y');
    assert.ok(sx && sy);
    sx.session.close();
    assert.equal(await withTimeout(sx.rx.closed, 2000, 'the server-side close'), 'closed by server');
    assert.notEqual(await withTimeout(x.exited, 8000, 'ffmpeg to notice'), 0, 'the closed publisher fails');
    assert.equal(h.server.sessions().length, 1);

    const port = h.server.port;
    const started = Date.now();
    await Promise.all([h.server.close(), h.server.close()]);
    await h.server.close();
    assert.ok(Date.now() - started < 2000, 'shutdown is quick');
    assert.equal(sy.rx.closeReason, 'server closed');
    assert.equal(h.server.sessions().length, 0);
    y.proc.kill('SIGKILL');
    await assert.rejects(h.server.start(), /closed/);

    // The port is free again: a new server binds it.
    const again = createSrtServer({}, { host: '127.0.0.1', port });
    servers.add(again);
    await again.start();
    assert.equal(again.port, port);
    await again.close();
  });
});

// One at a time, after the tests above: the flood keeps the event loop busy on purpose.
describe('SRT gate: key changes and a handshake flood', { timeout: 90_000 }, () => {
  it('applies key changes at once: a new key is accepted, a deleted key refused; a passphrase libsrt refuses fails closed', async () => {
    const h = await startHarness({});
    h.server.upsertKey('key-new', { channel: 'fresh' });
    h.server.upsertKey('key-short', { channel: 'short', passphrase: 'short' });
    const fresh = children.run('ffmpeg', ffmpegArgs(h.url('key-new'), 1), 10_000);
    assert.equal(await fresh.exited, 0, fresh.output());
    h.server.deleteKey('key-new');
    const gone = children.run('ffmpeg', ffmpegArgs(h.url('key-new'), 1), 10_000);
    const short = children.run('ffmpeg', ffmpegArgs(h.url('key-short'), 1), 10_000);
    assert.notEqual(await gone.exited, 0, 'a deleted key is refused');
    assert.notEqual(await short.exited, 0, 'never accepted unencrypted');
    await waitFor('both refusals reported', () => h.refusals.length >= 2, 3000);
    assert.deepEqual(h.refusals.map((r) => r.code).sort(), [SRT_REJECT.FORBIDDEN, SRT_REJECT.INTERNAL]);
    assert.equal(h.sessions.length, 1);
  });
  it('a handshake flood of 200 unknown keys neither delays an accepted publisher nor blocks the event loop', async () => {
    const h = await startHarness({ 'key-live': { name: 'live' } });
    // The event loop is busy 150 ms out of every 200 during the flood: with the old design (libsrt waiting
    // for JS on every caller) each handshake waited for it; the native gate does not.
    let busy = true;
    const hog = (async () => {
      while (busy) {
        const until = Date.now() + 150;
        while (Date.now() < until) { /* spin: a busy event loop */ }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    let acceptMs = 0;
    let floodMs = 0;
    let pub: ReturnType<typeof children.run> | undefined;
    try {
      const started = Date.now();
      const flood = Promise.all(
        Array.from({ length: 8 }, async (_, lane) => {
          for (let i = lane; i < 200; i += 8) {
            const c = children.run('srt-live-transmit', ['-a:no', '-q', 'file://con', h.url(`flood-${i}`, '&conntimeo=1500')], 2500);
            await c.exited;
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 500)); // the flood is under way
      const pubAt = Date.now();
      pub = children.run('ffmpeg', ffmpegArgs(h.url('key-live'), 3), 20_000);
      await waitFor('the publisher accepted during the flood', () => h.sessions.length === 1, 10_000);
      acceptMs = Date.now() - pubAt;
      await flood;
      floodMs = Date.now() - started;
    } finally {
      busy = false;
      await hog;
    }
    assert.ok(pub);
    assert.equal(await pub.exited, 0, pub.output());
    await waitFor('the session to close', () => h.sessions[0]?.rx.closeReason !== undefined, 5000);
    assert.equal(h.sessions.length, 1);
    assertMpegTs(h.sessions[0]!.rx, 100_000, 0, 'publisher during the flood');
    await waitFor('refusals reported', () => new Set(h.refusals.map((r) => r.streamId)).size >= 150, 5000);
    assert.ok(floodMs < 60_000, `the flood took ${floodMs} ms`);
    // ffmpeg starts, connects and is accepted in well under a second when idle; 8 s is a wide margin for a
    // loaded 2-core machine (the old gate refused callers whose JS answer took over 2 s).
    assert.ok(acceptMs < 8000, `accepted ${acceptMs} ms after ffmpeg started, during the flood`);
  });
});
