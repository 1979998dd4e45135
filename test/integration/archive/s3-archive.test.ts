/**
 * The S3 archive backend against a real S3-protocol server started by the test: fauxqs (in memory, on
 * loopback; the last release that runs on Node 20 handles range GETs, ListObjectsV2 paging and batch
 * deletes, where s3rver fails truncated listings on OpenSSL 3).
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createS3Archive, parseS3Url, type S3Archive } from '../../../core/archive/s3-archive';

type Fauxqs = { address: string; createBucket(name: string): unknown; stop(): Promise<void> };
let server: Fauxqs;
let archive: S3Archive;

beforeAll(async () => {
  const { startFauxqs } = (await import('fauxqs')) as unknown as { startFauxqs(o: object): Promise<Fauxqs> };
  server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  server.createBucket('beam-archive');
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  archive = createS3Archive({ ...parseS3Url('s3://beam-archive/dvr'), endpoint: server.address, region: 'us-east-1' });
});

afterAll(async () => {
  archive?.close();
  await server?.stop();
});

describe('s3:// archive URLs', () => {
  it('bucket and prefix; bad forms name the expected one', () => {
    assert.deepEqual(parseS3Url('s3://beam-archive'), { bucket: 'beam-archive', prefix: '' });
    assert.deepEqual(parseS3Url('s3://beam-archive/a/b/'), { bucket: 'beam-archive', prefix: 'a/b/' });
    for (const bad of ['s3://', 'http://x/y', 's3://UPPER/x', 's3://b/../x', 's3://ab']) assert.throws(() => parseS3Url(bad), /s3:\/\/<bucket>|'\.\.'/, bad);
  });
});

describe('the S3 archive backend', () => {
  it('puts and gets objects whole and by byte range; a missing object is null', async () => {
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    await archive.put('main/s0/17.seg', body);
    assert.deepEqual(await archive.get('main/s0/17.seg'), body);
    assert.deepEqual(await archive.get('main/s0/17.seg', [1000, 1010]), body.subarray(1000, 1010));
    assert.deepEqual(await archive.get('main/s0/17.seg', [69_990, 70_000]), body.subarray(69_990));
    assert.equal(await archive.get('main/s0/18.seg'), null);
    await archive.put('main/s0/17.seg', body); // idempotent: the same bytes again
    assert.deepEqual(await archive.get('main/s0/17.seg', [0, 4]), body.subarray(0, 4));
    assert.equal(await archive.delete('main/s0/17.seg'), true);
    assert.equal(await archive.delete('main/s0/17.seg'), false);
    assert.equal(await archive.get('main/s0/17.seg'), null);
  });

  it('deletes a prefix across listing pages (more than 1,000 objects), and nothing outside it', { timeout: 60_000 }, async () => {
    const names = Array.from({ length: 1_050 }, (_, i) => `gone/s0/${i}.seg`);
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => archive.put(n, Buffer.from(n))));
    await archive.put('kept/s0/1.seg', Buffer.from('kept'));
    assert.equal(await archive.deletePrefix('gone/'), 1_050);
    assert.equal(await archive.get('gone/s0/7.seg'), null);
    assert.deepEqual(await archive.get('kept/s0/1.seg'), Buffer.from('kept'));
    assert.equal(await archive.deletePrefix('gone/'), 0);
  });

  it('an unreachable server fails the call (the archiver retries later), it does not hang', { timeout: 30_000 }, async () => {
    const dead = createS3Archive({ bucket: 'beam-archive', prefix: '', endpoint: 'http://127.0.0.1:9', region: 'us-east-1', requestTimeoutMs: 2000 });
    try {
      await assert.rejects(dead.put('x', Buffer.from('x')));
    } finally {
      dead.close();
    }
  });
});
