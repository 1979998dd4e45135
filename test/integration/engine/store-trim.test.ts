/**
 * The expiry trim frees what left the window: when a write or an index read trims members whose time has passed,
 * their metadata and payload keys go with them, not whenever Redis's sampling of expiring keys finds them.
 *
 * Own redis-server (not the shared test one) so that its active expiry can be switched off (`DEBUG` is allowed on
 * its unix socket only): then a key Redis would still hold is counted by DBSIZE, which, unlike a lookup or SCAN,
 * does not itself remove expired keys.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createStore, type OwnedStore } from '../../../core/store/store';
import { connectRedis, parseRedisUrl, type RedisClient } from '../../../core/store/redis-connection';
import { packetMetaOf } from '../../../core/model/media';
import { validateFormat } from '../../../core/model/content';
import { uniquePrefix } from '../../helpers/redis';

let dir: string;
let server: ChildProcess;
let admin: RedisClient;
const clients: RedisClient[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'beamline-trim-'));
  const sock = join(dir, 'redis.sock');
  server = spawn('redis-server', ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--dir', dir, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'], { stdio: 'ignore' });
  // Connect once the server listens (a client connecting earlier logs its refused attempts as unhandled errors).
  for (const t0 = Date.now(); !existsSync(sock); ) {
    if (Date.now() - t0 > 10_000) throw new Error(`redis-server did not create ${sock} within 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  admin = connectRedis(parseRedisUrl(`unix://${sock}`));
  clients.push(admin);
  await admin.ping();
  await admin.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.quit()));
  server.kill();
  rmSync(dir, { recursive: true, force: true });
});

function newStore(): OwnedStore {
  const c = admin.duplicate();
  clients.push(c);
  return createStore({ redis: c }, { prefix: uniquePrefix(), packetTtlMs: 60000, frameTtlMs: 60000 });
}

function packet(pts: number, size = 1000) {
  const p = { streamIndex: 0, pts, dts: pts, duration: 3000, keyframe: pts === 0, data: Buffer.alloc(size, pts % 251) };
  return { streamIndex: 0, meta: packetMetaOf(p), data: p.data };
}

describe('the expiry trim unlinks the keys of what it trims', () => {
  it('an ingest batch written after a window passed frees the earlier packets\' metadata and payloads', async () => {
    const store = newStore();
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, 'ingest'));
    // A live stream: packets keep coming (the later ones keep the index alive), the first ones leave the window.
    await store.writePackets('ingest', [0, 3000, 6000, 9000, 12000].map((pts) => packet(pts)), 200);
    await store.writePackets('ingest', [packet(15000)], 60000);
    await sleep(300);
    const held = await admin.dbsize();
    const kept = await store.writePackets('ingest', [packet(18000)], 60000);
    assert.equal(kept.written, 1);
    // −5 × (metadata + payload), + the new packet's two keys.
    assert.equal(await admin.dbsize(), held - 10 + 2);
    assert.deepEqual((await store.query('ingest', 0, { mode: 'rank', from: 0, to: -1, offset: 0, limit: 10 })).map((e) => e.member), ['packet_15000', 'packet_18000']);
    assert.equal((await store.getPayload('ingest', 0, 'packet', 15000))?.data.length, 1000);
  });

  it('an index read after the window passed frees them too, and leaves what has not expired', async () => {
    const store = newStore();
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, 'read'));
    await store.writePackets('read', [0, 3000, 6000].map((pts) => packet(pts)), 200);
    await store.writePackets('read', [9000, 12000].map((pts) => packet(pts)), 60000);
    await sleep(300);
    const held = await admin.dbsize();
    const left = await store.query('read', 0, { mode: 'rank', from: 0, to: -1, offset: 0, limit: 10 });
    assert.deepEqual(left.map((e) => e.member), ['packet_9000', 'packet_12000']);
    assert.equal(await admin.dbsize(), held - 6);
    assert.equal((await store.getPayload('read', 0, 'packet', 9000))?.data.length, 1000);
  });

  it('a single element write (the Content Beam API) trims and frees the same way', async () => {
    const store = newStore();
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, 'api'));
    await store.writePackets('api', [0, 3000].map((pts) => packet(pts)), 200);
    await store.writePackets('api', [packet(6000)], 60000);
    await sleep(300);
    const held = await admin.dbsize();
    assert.equal(await store.putElement('api', 0, 'packet', packetMetaOf({ streamIndex: 0, pts: 9000, dts: 9000, duration: 3000, keyframe: false, data: Buffer.alloc(0) }), 60000), true);
    // −2 × (metadata + payload), + the new element's metadata (no payload yet).
    assert.equal(await admin.dbsize(), held - 4 + 1);
  });
});
