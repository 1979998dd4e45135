// The SRT server's JS side against a scripted stand-in for the native binding: decision mapping,
// session lifecycle, idle close, shutdown. The real libsrt path is covered by the integration tests.
// SPDX-License-Identifier: GPL-3.0-or-later
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSrtServer, validateSrtConfig, type SrtDecision, type SrtSession } from '../../../ingest/srt/srt-server';
import { SRT_REJECT, isValidRejectCode, refusalForStreamId } from '../../../ingest/srt/reject-codes';
import { findProjectRoot, loadSrtBinding, type NativeAuthorize, type NativeEventHandler, type NativeListenerOptions, type SrtBinding, type SrtStats } from '../../../ingest/srt/native-binding';
import { parseStreamId } from '../../../ingest/streamid';

/** A scripted native listener: the test plays libsrt's part through `authorize` and `emit`. */
function fakeBinding() {
  const state = {
    options: undefined as NativeListenerOptions | undefined,
    authorize: undefined as NativeAuthorize | undefined,
    emit: undefined as NativeEventHandler | undefined,
    closeRequests: [] as { id: number; reason: string }[],
    stopCalls: 0,
    finishCalls: 0,
    failStart: false,
  };
  const stats: SrtStats = {
    rttMs: 1, recvRateMbps: 2, bandwidthMbps: 3, bytesReceived: 4, packetsReceived: 5, packetsLost: 0,
    packetsRetransmitted: 0, packetsDropped: 0, packetsUndecrypted: 0, latencyMs: 120, receiveBufferMs: 10,
    uptimeMs: 1000, droppedBytes: 0,
  };
  const binding: SrtBinding = {
    version: 'fake',
    SrtListener: class {
      constructor(options: NativeListenerOptions, onAuthorize: NativeAuthorize, onEvent: NativeEventHandler) {
        state.options = options;
        state.authorize = onAuthorize;
        state.emit = onEvent;
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

describe('refusalForStreamId', () => {
  it('refuses a malformed streamid with BAD_REQUEST and the parser reason', () => {
    assert.deepEqual(refusalForStreamId(parseStreamId('')), { accept: false, code: SRT_REJECT.BAD_REQUEST, reason: parseStreamIdReason('') });
  });
  it('refuses m=request with BAD_MODE', () => {
    assert.equal(refusalForStreamId(parseStreamId('#!::r=a,m=request,s=k'))?.code, SRT_REJECT.BAD_MODE);
  });
  it('leaves a publish streamid to the key lookup', () => {
    assert.equal(refusalForStreamId(parseStreamId('publish:a:k')), undefined);
  });
  it('accepts predefined and user codes only', () => {
    assert.deepEqual([999, 1000, 1403, 2999, 3000, 1403.5, '1403'].map(isValidRejectCode), [false, true, true, true, false, false, false]);
  });
});

function parseStreamIdReason(raw: string): string {
  const p = parseStreamId(raw);
  return p.ok ? '' : p.reason;
}

describe('findProjectRoot / loadSrtBinding', () => {
  it('walks up to the folder holding package.json', () => {
    const root = mkdtempSync(join(tmpdir(), 'beam-srt-'));
    writeFileSync(join(root, 'package.json'), '{}');
    const deep = join(root, 'dist', 'ingest', 'srt');
    mkdirSync(deep, { recursive: true });
    assert.equal(findProjectRoot(deep), root);
  });
  it('says how to build the addon when it is missing', () => {
    const root = mkdtempSync(join(tmpdir(), 'beam-srt-'));
    writeFileSync(join(root, 'package.json'), '{}');
    assert.throws(() => loadSrtBinding(root), /not built .*npm run setup/);
  });
});

describe('createSrtServer (scripted binding)', () => {
  async function started(authorize: (sid: string) => SrtDecision, config: { idleTimeoutMs?: number } = {}) {
    const fake = fakeBinding();
    const logs: string[] = [];
    const log = { info: (_: object, m?: string) => logs.push(`info ${m}`), warn: (_: object, m?: string) => logs.push(`warn ${m}`), error: (_: object, m?: string) => logs.push(`error ${m}`) };
    const server = createSrtServer({ authorize, binding: fake.binding, log }, { host: '127.0.0.1', port: 0, ...config });
    const sessions: SrtSession[] = [];
    server.on('session', (s) => sessions.push(s));
    await server.start();
    return { server, fake, sessions, logs };
  }

  it('passes an accepting decision with its passphrase and attaches its context to the session', async () => {
    const { server, fake, sessions } = await started(() => ({ accept: true, passphrase: '0123456789', context: { channel: 'news' } }));
    assert.equal(server.port, 40000);
    assert.equal(fake.state.options?.logLevel, 'error', 'libsrt warnings are quiet by default');
    assert.deepEqual(fake.state.authorize?.(7, 'k', '10.0.0.1', 5000), { accept: true, passphrase: '0123456789' });
    fake.state.emit?.('session', 7, 'k', '10.0.0.1', 5000);
    assert.equal(sessions.length, 1);
    assert.deepEqual(sessions[0]?.context, { channel: 'news' });
    assert.deepEqual(sessions[0]?.peer, { address: '10.0.0.1', port: 5000 });
    await server.close();
  });

  it('maps refusals: own code kept, nonsense code → FORBIDDEN, throw → INTERNAL, bad passphrase → INTERNAL', async () => {
    const decisions: Record<string, () => SrtDecision> = {
      conflict: () => ({ accept: false, code: SRT_REJECT.CONFLICT, reason: 'already live' }),
      nonsense: () => ({ accept: false, code: 42, reason: 'x' }),
      throws: () => {
        throw new Error('store down');
      },
      shortpass: () => ({ accept: true, passphrase: 'short' }),
      nothing: () => undefined as unknown as SrtDecision,
    };
    const { server, fake, logs } = await started((sid) => (decisions[sid] ?? decisions.nothing!)());
    const ask = (sid: string) => fake.state.authorize?.(1, sid, '127.0.0.1', 1);
    assert.deepEqual(ask('conflict'), { accept: false, code: 1409 });
    assert.deepEqual(ask('nonsense'), { accept: false, code: 1403 });
    assert.deepEqual(ask('throws'), { accept: false, code: 1500 });
    assert.deepEqual(ask('shortpass'), { accept: false, code: 1500 });
    assert.deepEqual(ask('nothing'), { accept: false, code: 1500 });
    assert.ok(logs.some((l) => l.includes('authorize threw')));
    await server.close();
  });

  it('delivers data, closes an idle session with reason idle, and forgets it', async () => {
    const { server, fake, sessions } = await started(() => ({ accept: true }), { idleTimeoutMs: 200 });
    fake.state.authorize?.(3, 'k', '127.0.0.1', 1);
    fake.state.emit?.('session', 3, 'k', '127.0.0.1', 1);
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

  it('a throwing session listener is logged, not fatal', async () => {
    const { server, fake, sessions, logs } = await started(() => ({ accept: true }));
    fake.state.emit?.('session', 4, 'k', '127.0.0.1', 1);
    sessions[0]?.on('data', () => {
      throw new Error('consumer bug');
    });
    fake.state.emit?.('data', 4, Buffer.alloc(188, 0x47));
    assert.ok(logs.some((l) => l.includes('listener threw')));
    await server.close();
  });

  it('close() ends live sessions with reason "server closed", finishes once, and is safe twice', async () => {
    const { server, fake, sessions } = await started(() => ({ accept: true }));
    fake.state.emit?.('session', 5, 'k', '127.0.0.1', 1);
    let reason = '';
    sessions[0]?.on('close', (r) => (reason = r));
    await Promise.all([server.close(), server.close()]);
    await server.close();
    await tick();
    assert.equal(reason, 'server closed');
    assert.equal(fake.state.stopCalls, 1);
    assert.equal(fake.state.finishCalls, 1);
    assert.deepEqual(fake.state.authorize?.(9, 'k', '127.0.0.1', 1), { accept: false, code: SRT_REJECT.DOWN }, 'callers during shutdown are refused');
    await assert.rejects(server.start(), /closed/);
  });

  it('resolves a host name before handing a numeric address to the addon', async () => {
    const fake = fakeBinding();
    const server = createSrtServer({ authorize: () => ({ accept: true }), binding: fake.binding }, { host: 'localhost', port: 0 });
    await server.start();
    assert.ok(['127.0.0.1', '::1'].includes(fake.state.options?.host ?? ''), fake.state.options?.host);
    await server.close();
  });

  it('reports a bind failure with the address', async () => {
    const fake = fakeBinding();
    fake.state.failStart = true;
    const server = createSrtServer({ authorize: () => ({ accept: true }), binding: fake.binding }, { host: '127.0.0.1', port: 1 });
    await assert.rejects(server.start(), /could not start on 127\.0\.0\.1:1: cannot bind/);
    await server.close();
  });
});
