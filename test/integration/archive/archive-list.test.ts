/**
 * Listing an archive (what a rebuild of Redis reads): keys under a prefix, and the folders right under one,
 * on both backends — a local folder and S3 (fauxqs on loopback, started here) — with more keys than one
 * S3 listing page holds.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileArchive } from '../../../core/archive/file-archive';
import { createS3Archive, parseS3Url, type S3Archive } from '../../../core/archive/s3-archive';
import type { ArchiveBackend } from '../../../core/archive/archive-backend';

type Fauxqs = { address: string; createBucket(name: string): unknown; stop(): Promise<void> };
let server: Fauxqs;
let s3: S3Archive;
let dir: string;
let file: ArchiveBackend;

beforeAll(async () => {
  const { startFauxqs } = (await import('fauxqs')) as unknown as { startFauxqs(o: object): Promise<Fauxqs> };
  server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  server.createBucket('beam-list');
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  s3 = createS3Archive({ ...parseS3Url('s3://beam-list/deploy/one'), endpoint: server.address, region: 'us-east-1' });
  dir = mkdtempSync(join(tmpdir(), 'beam-list-'));
  file = createFileArchive({ dir });
});

afterAll(async () => {
  s3?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function all(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const k of it) out.push(k);
  return out.sort();
}

for (const [name, backend] of [['file', () => file], ['s3', () => s3]] as const) {
  describe(`listing the ${name} archive`, () => {
    it('keys under a prefix (paged past 1,000), folders under the root and under a content item', { timeout: 60_000 }, async () => {
      const a = backend();
      const keys = Array.from({ length: 1_050 }, (_, i) => `main/s0/${i + 1}.seg`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => a.put(k, Buffer.from(k))));
      await a.put('main/s1/1.seg', Buffer.from('audio'));
      await a.put('main/channel.json', Buffer.from('{}'));
      await a.put('main.720p/s0/1.seg', Buffer.from('rung'));

      assert.deepEqual(await all(a.list('main/s0/')), [...keys].sort());
      assert.deepEqual(await all(a.list('', { folders: true })), ['main.720p/', 'main/']);
      assert.deepEqual(await all(a.list('main/', { folders: true })), ['main/s0/', 'main/s1/']);
      assert.deepEqual(await all(a.list('nothing/')), []);
      assert.deepEqual(await all(a.list('nothing/', { folders: true })), []);
      await assert.rejects(async () => all(a.list('main')), /must end with '\/'/);
      await assert.rejects(async () => all(a.list('../')), /unsafe|leaves/);
    });
  });
}
