/** The embedded redis-server starts, refuses a second owner of its data dir, and never outlives its parent. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedRedis } from '../../../core/store/embedded-redis';
import { built } from '../../helpers/paths';

function redisPids(socket: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `redis-server.*${socket}`]).toString().trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

describe('embedded redis-server', () => {
  it('starts with noeviction, its maxmemory and no persistence, and stops on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-emb-'));
    const r = createEmbeddedRedis({}, { dataDir: dir, persistence: false, maxmemoryBytes: 64 * 2 ** 20 });
    await r.start();
    const policy = execFileSync('redis-cli', ['-s', r.socketPath, 'CONFIG', 'GET', 'maxmemory-policy']).toString();
    assert.match(policy, /noeviction/);
    assert.equal(execFileSync('redis-cli', ['-s', r.socketPath, 'CONFIG', 'GET', 'maxmemory']).toString().trim().split('\n')[1], String(64 * 2 ** 20));
    assert.match(execFileSync('redis-cli', ['-s', r.socketPath, 'CONFIG', 'GET', 'appendonly']).toString(), /no/);
    const second = createEmbeddedRedis({}, { dataDir: dir, persistence: false });
    await assert.rejects(second.start(), /already answers/);
    await r.close();
    assert.equal(existsSync(r.socketPath), false);
    assert.deepEqual(redisPids(r.socketPath), []);
    rmSync(dir, { recursive: true, force: true });
  });

  it('dies with its parent, even on SIGKILL', { timeout: 20000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beamline-emb-'));
    const modulePath = built('core', 'store', 'embedded-redis.js');
    const script = `const { createEmbeddedRedis } = require(${JSON.stringify(modulePath)});
      const r = createEmbeddedRedis({}, { dataDir: ${JSON.stringify(dir)}, persistence: false });
      r.start().then(() => { console.log('ready ' + r.socketPath); setInterval(() => {}, 1000); });`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const socket = await new Promise<string>((done) => child.stdout.on('data', (d: Buffer) => {
      const m = /ready (\S+)/.exec(d.toString());
      if (m) done(m[1] as string);
    }));
    assert.ok(redisPids(socket).length > 0, 'redis-server runs');
    child.kill('SIGKILL');
    assert.ok(await waitFor(() => redisPids(socket).length === 0, 5000), 'redis-server stopped after its parent was killed');
    rmSync(dir, { recursive: true, force: true });
  });
});
