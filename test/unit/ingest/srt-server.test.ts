// The SRT server's JS side against a scripted stand-in for the native binding: the key snapshot it
// pushes, refusal reports, session lifecycle, idle close, shutdown. The real libsrt path is covered by the integration tests.
// SPDX-License-Identifier: GPL-3.0-or-later
import { afterAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSrtServer, validateSrtConfig, type SrtReader, type SrtRefusal, type SrtSession } from '../../../ingest/srt/srt-server';
import { SRT_REJECT, isValidRejectCode } from '../../../ingest/srt/reject-codes';
import { findProjectRoot } from '../../../core/native-addon';
import { loadSrtBinding, type NativeEventHandler, type NativeListenerOptions, type SrtBinding, type SrtStats } from '../../../ingest/srt/native-binding';
import { parseStreamId } from '../../../ingest/streamid';

/** A scripted native listener: the test plays libsrt's part through `emit` and reads the key snapshot. */
function fakeBinding() {
  const state = {
    options: undefined as NativeListenerOptions | undefined,
    keys: new Map<string, [string, string | undefined]>(),
    readable: new Map<string, [string[], string | undefined]>(),
    sent: [] as { id: number; bytes: number }[],
    emit: undefined as NativeEventHandler | undefined,
    closeRequests: [] as { id: number; reason: string }[],
    stopCalls: 0,
    finishCalls: 0,
    failStart: false,
  };
  const stats: SrtStats = {
    rttMs: 1, recvRateMbps: 2, bandwidthMbps: 3, bytesReceived: 4, packetsReceived: 5, packetsLost: 0,
    packetsRetransmitted: 0, packetsDropped: 0, packetsUndecrypted: 0, latencyMs: 120, receiveBufferMs: 10,
    uptimeMs: 1000, droppedBytes: 0, sendRateMbps: 0, bytesSent: 0, packetsSent: 0, packetsSendLost: 0,
    packetsSendRetransmitted: 0, packetsSendDropped: 0, sendBufferBytes: 0, sendBufferMs: 0, peerLatencyMs: 0,
  };
  const binding: SrtBinding = {
    version: 'fake',
    parseStreamId: () => ({ ok: false }),
    SrtListener: class {
      constructor(options: NativeListenerOptions, onEvent: NativeEventHandler) {
        state.options = options;
        state.emit = onEvent;
      }
      setKeys(rows: [string, string, string | undefined][]) {
        state.keys = new Map(rows.map(([k, c, p]) => [k, [c, p]]));
      }
      upsertKey(key: string, channel: string, passphrase?: string) {
        state.keys.set(key, [channel, passphrase]);
      }
      deleteKey(key: string) {
        state.keys.delete(key);
      }
      keyCount() {
        return state.keys.size;
      }
      send(id: number, data: Buffer) {
        state.sent.push({ id, bytes: data.length });
        return 'sent' as const;
      }
      setReadable(rows: [string, string[], string | undefined][]) {
        state.readable = new Map(rows.map(([c, r, t]) => [c, [r, t]]));
      }
      upsertReadable(channel: string, rungs: string[], token?: string) {
        state.readable.set(channel, [rungs, token]);
      }
      deleteReadable(channel: string) {
        state.readable.delete(channel);
      }
      start() {
        if (state.failStart) throw new Error('cannot bind SRT to 127.0.0.1:1: Address in use');
        return 40000;
      }
      stop() {
        state.stopCalls++;
        setImmediate(() => {
          for (const r of state.closeRequests.splice(0)) state.emit?.('closed', r.id, r.reason);
          state.emit?.('shutdown');
        });
        return state.stopCalls === 1;
      }
      finish() {
        state.finishCalls++;
      }
      closeSession(id: number, reason: string) {
        state.closeRequests.push({ id, reason });
        setImmediate(() => {
          const i = state.closeRequests.findIndex((r) => r.id === id);
          if (i >= 0) {
            state.closeRequests.splice(i, 1);
            state.emit?.('closed', id, reason);
          }
        });
        return true;
      }
      stats() {
        return stats;
      }
      sessionIds() {
        return [];
      }
    },
  };
  return { binding, state };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('validateSrtConfig', () => {
  const cases: { name: string; config: object; error?: RegExp }[] = [
    { name: 'minimal config is fine', config: { host: '0.0.0.0', port: 9000 } },
    { name: 'port 0 asks for a free port', config: { host: '127.0.0.1', port: 0 } },
    { name: 'empty host', config: { host: '', port: 9000 }, error: /host/ },
    { name: 'port out of range', config: { host: 'h', port: 70000 }, error: /port must be an integer in \[0, 65535\]/ },
    { name: 'port as a string from an env var', config: { host: 'h', port: '9000' }, error: /port/ },
    { name: 'negative latency', config: { host: 'h', port: 1, latencyMs: -1 }, error: /latencyMs/ },
    { name: 'idle timeout too small to be meant', config: { host: 'h', port: 1, idleTimeoutMs: 5 }, error: /idleTimeoutMs/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const run = () => validateSrtConfig(c.config as never);
      if (c.error) assert.throws(run, c.error);
      else assert.doesNotThrow(run);
    });
  }
});

describe('reject codes', () => {
  it('accepts predefined and user codes only', () => {
    assert.deepEqual([999, 1000, 1403, 2999, 3000, 1403.5, '1403'].map(isValidRejectCode), [false, true, true, true, false, false, false]);
  });
});

function parseStreamIdReason(raw: string): string {
  const p = parseStreamId(raw);
  return p.ok ? '' : p.reason;
}

describe('findProjectRoot / loadSrtBinding', () => {
  const roots: string[] = [];
  afterAll(() => {
    for (const r of roots) rmSync(r, { recursive: true, force: true });
  });
  function projectRoot(): string {
    const root = mkdtempSync(join(tmpdir(), 'beam-srt-'));
    roots.push(root);
    writeFileSync(join(root, 'package.json'), '{}');
    return root;
  }
  it('walks up to the folder holding package.json', () => {
    const root = projectRoot();
    const deep = join(root, 'dist', 'ingest', 'srt');
    mkdirSync(deep, { recursive: true });
    assert.equal(findProjectRoot(deep), root);
  });
  it('says how to build the addon when it is missing', () => {
    assert.throws(() => loadSrtBinding(projectRoot()), /not built .*npm run setup/);
  });
});

describe('createSrtServer (scripted binding)', () => {
  async function started(config: { idleTimeoutMs?: number } = {}) {
    const fake = fakeBinding();
    const logs: string[] = [];
    const refusals: SrtRefusal[] = [];
    const log = { info: (_: object, m?: string) => logs.push(`info ${m}`), warn: (_: object, m?: string) => logs.push(`warn ${m}`), error: (_: object, m?: string) => logs.push(`error ${m}`) };
    const server = createSrtServer({ binding: fake.binding, log, onRefused: (r) => refusals.push(r) }, { host: '127.0.0.1', port: 0, ...config });
    const sessions: SrtSession[] = [];
    server.on('session', (s) => sessions.push(s));
    server.setKeys([['k', { channel: 'news', passphrase: '0123456789' }]]);
    await server.start();
    return { server, fake, sessions, logs, refusals };
  }

  it('pushes the key snapshot at start and each change after, and attaches the channel to the session', async () => {
    const { server, fake, sessions } = await started();
    assert.equal(server.port, 40000);
    assert.equal(fake.state.options?.logLevel, 'error', 'libsrt warnings are quiet by default');
    assert.deepEqual([...fake.state.keys], [['k', ['news', '0123456789']]]);
    server.upsertKey('k2', { channel: 'sport' });
    server.deleteKey('k');
    assert.deepEqual([...fake.state.keys], [['k2', ['sport', undefined]]]);
    server.setKeys([['k3', { channel: 'a' }]]);
    assert.deepEqual([...fake.state.keys.keys()], ['k3']);
    fake.state.emit?.('session', 7, 'k3', '10.0.0.1', 5000, 'a');
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]?.channel, 'a');
    assert.deepEqual(sessions[0]?.peer, { address: '10.0.0.1', port: 5000 });
    await server.close();
  });

  it('reports refusals with a readable reason (the parser\'s for a malformed streamid); a throwing listener is logged', async () => {
    const { server, fake, refusals, logs } = await started();
    fake.state.emit?.('refused', 1, 'nope', '127.0.0.1', 1, SRT_REJECT.FORBIDDEN, 'unknown stream key');
    fake.state.emit?.('refused', 2, '#!::', '127.0.0.1', 2, SRT_REJECT.BAD_REQUEST, 'malformed streamid');
    assert.deepEqual(refusals.map((r) => [r.code, r.reason]), [
      [1403, 'unknown stream key'],
      [1400, parseStreamIdReason('#!::')],
    ]);
    assert.ok(logs.some((l) => l.includes('SRT caller refused')));
    await server.close();
  });

  it('logs a passphrase libsrt would refuse', async () => {
    const { server, logs } = await started();
    server.upsertKey('x', { channel: 'c', passphrase: 'short' });
    assert.ok(logs.some((l) => l.includes('passphrase must be 10-79')));
    await server.close();
  });

  it('delivers data, closes an idle session with reason idle, and forgets it', async () => {
    const { server, fake, sessions } = await started({ idleTimeoutMs: 200 });
    fake.state.emit?.('session', 3, 'k', '127.0.0.1', 1, 'news');
    const s = sessions[0];
    assert.ok(s);
    const got: Buffer[] = [];
    let reason = '';
    s.on('data', (b) => got.push(b)).on('close', (r) => (reason = r));
    fake.state.emit?.('data', 3, Buffer.from([0x47, 1, 2]));
    assert.equal(got.length, 1);
    assert.deepEqual(s.stats()?.latencyMs, 120);
    await new Promise((r) => setTimeout(r, 450));
    assert.equal(reason, 'idle');
    assert.equal(s.closed, true);
    assert.equal(s.stats(), null);
    assert.equal(server.sessions().length, 0);
    await server.close();
  });

  it('pushes what readers may read; an m=request caller is a reader, never a publisher, and is not closed as idle', async () => {
    const { server, fake, sessions } = await started({ idleTimeoutMs: 200 });
    server.setReadable([['news', { rungs: ['source', '360p'] }]]);
    server.upsertReadable('sport', { rungs: ['source'], token: 'tok' });
    server.deleteReadable('news');
    assert.deepEqual([...fake.state.readable], [['sport', [['source'], 'tok']]]);
    const readers: SrtReader[] = [];
    server.on('reader', (r) => readers.push(r));
    fake.state.emit?.('session', 9, '#!::r=sport,m=request,s=tok', '127.0.0.1', 2, 'sport', 'request', 'source');
    assert.equal(sessions.length, 0);
    assert.equal(readers.length, 1);
    assert.equal(readers[0]?.rung, 'source');
    assert.equal(readers[0]?.send(Buffer.alloc(1316)), 'sent');
    assert.deepEqual(fake.state.sent, [{ id: 9, bytes: 1316 }]);
    assert.equal(server.readers().length, 1);
    assert.equal(server.sessions().length, 0);
    await new Promise((r) => setTimeout(r, 450));
    assert.equal(readers[0]?.closed, false, 'a reader sends nothing: silence is not idleness');
    readers[0]?.close('bye');
    await new Promise((r) => setImmediate(r));
    assert.equal(readers[0]?.closed, true);
    assert.equal(readers[0]?.send(Buffer.alloc(188)), 'gone');
    await server.close();
  });

  it('a throwing session listener is logged, not fatal', async () => {
    const { server, fake, sessions, logs } = await started();
    fake.state.emit?.('session', 4, 'k', '127.0.0.1', 1, 'news');
    sessions[0]?.on('data', () => {
      throw new Error('consumer bug');
    });
    fake.state.emit?.('data', 4, Buffer.alloc(188, 0x47));
    assert.ok(logs.some((l) => l.includes('listener threw')));
    await server.close();
  });

  it('close() ends live sessions with reason "server closed", finishes once, and is safe twice', async () => {
    const { server, fake, sessions } = await started();
    fake.state.emit?.('session', 5, 'k', '127.0.0.1', 1, 'news');
    let reason = '';
    sessions[0]?.on('close', (r) => (reason = r));
    await Promise.all([server.close(), server.close()]);
    await server.close();
    await tick();
    assert.equal(reason, 'server closed');
    assert.equal(fake.state.stopCalls, 1);
    assert.equal(fake.state.finishCalls, 1);
    await assert.rejects(server.start(), /closed/);
  });

  it('resolves a host name before handing a numeric address to the addon', async () => {
    const fake = fakeBinding();
    const server = createSrtServer({ binding: fake.binding }, { host: 'localhost', port: 0 });
    await server.start();
    assert.ok(['127.0.0.1', '::1'].includes(fake.state.options?.host ?? ''), fake.state.options?.host);
    await server.close();
  });

  it('reports a bind failure with the address', async () => {
    const fake = fakeBinding();
    fake.state.failStart = true;
    const server = createSrtServer({ binding: fake.binding }, { host: '127.0.0.1', port: 1 });
    await assert.rejects(server.start(), /could not start on 127\.0\.0\.1:1: cannot bind/);
    await server.close();
  });
});
