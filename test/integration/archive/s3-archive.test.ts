/**
 * The S3 archive backend against a real S3-protocol server started by the test: fauxqs (in memory, on
 * loopback; the last release that runs on Node 20 handles range GETs, ListObjectsV2 paging and batch
 * deletes, where s3rver fails truncated listings on OpenSSL 3).
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createS3Archive, parseS3Url, type S3Archive } from '../../../core/archive/s3-archive';
import { archiveTargetOf } from '../../../core/archive/open-archive';
import { createArchiver } from '../../../core/archive/archiver';
import { decodeSegmentObject } from '../../../core/archive/segment-object';
import { loadConfig } from '../../../core/config/config';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../helpers/redis';
import { createStore } from '../../../core/store/store';
import { createLiveStore } from '../../../core/store/live-store';
import { createChannelStore } from '../../../core/store/channel-store';
import { createChannel } from '../../../core/model/channel';
import { validateFormat } from '../../../core/model/content';
import { packetMetaOf } from '../../../core/model/media';

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
  await redis?.close();
});

let redis: TestRedis | undefined;

describe('s3:// archive URLs', () => {
  it('BEAM_ARCHIVE_URL=s3://… with BEAM_S3_ENDPOINT and BEAM_S3_REGION names the S3 archive', () => {
    const c = loadConfig(null, { BEAM_ARCHIVE_URL: 's3://beam-archive/dvr', BEAM_S3_ENDPOINT: 'http://127.0.0.1:9000', BEAM_S3_REGION: 'eu-west-1' });
    assert.deepEqual(archiveTargetOf(c), { kind: 's3', bucket: 'beam-archive', prefix: 'dvr/', endpoint: 'http://127.0.0.1:9000', region: 'eu-west-1' });
    assert.equal(archiveTargetOf(loadConfig(null, { BEAM_DATA_DIR: '/d' })).kind, 'file');
    assert.throws(() => loadConfig(null, { BEAM_ARCHIVE_URL: 'ftp://x/y' }), /archive\.url/);
    assert.throws(() => loadConfig(null, { BEAM_ARCHIVE_URL: 's3://x' }), /archive\.url/);
  });

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
    const dead = createS3Archive({ bucket: 'beam-archive', prefix: '', endpoint: 'http://127.0.0.1:9', region: 'us-east-1', timeouts: { connectMs: 2000 } });
    try {
      await assert.rejects(dead.put('x', Buffer.from('x')));
    } finally {
      dead.close();
    }
  });
});

describe('the archiver on S3', () => {
  it('moves closed segments past the hot window to the bucket; reads return the same bytes', { timeout: 60_000 }, async () => {
    redis = await startTestRedis();
    const client = redis.connect();
    const store = createStore({ redis: client, archive }, { prefix: uniquePrefix(), packetTtlMs: 600000, frameTtlMs: 60000 });
    const live = createLiveStore({ redis: client, keys: store.keys }, { eventsMaxLen: 1000 });
    const channels = createChannelStore({ redis: client, keys: store.keys });
    const now = 1_700_000_000_000;
    const SEG = 180000;
    await channels.create({ ...createChannel({ name: 's3ch', ladder: [] }, () => [], []), dvrWindowSeconds: 600 });
    await store.createContent(validateFormat({ streams: [{ codecpar: { codec_type: 'video' } }] }, 's3ch'));
    const body = (pts: number) => Buffer.alloc(2000 + (pts % 997), pts % 251);
    const writes = [];
    for (let dts = 0; dts < 4 * SEG; dts += 3600) writes.push({ streamIndex: 0, meta: packetMetaOf({ streamIndex: 0, pts: dts, dts, duration: 3600, keyframe: dts % SEG === 0, data: body(dts) }), data: body(dts) });
    await store.writePackets('s3ch', writes, 600000);
    await live.writeBoundaries('s3ch', { segments: [0, 1, 2, 3].map((i) => ({ index: i + 1, startDts: i * SEG, startPts: i * SEG, durationPts: SEG, wallClockMs: now - 200_000 + i * 2000, discontinuity: false })), retainMs: 600000 });
    const before = (await store.readPackets('s3ch', 0, 0, 4 * SEG)).map((p) => p.data.toString('base64'));
    const pass = await createArchiver({ store, live, channels, log: { info: () => undefined, warn: () => undefined }, now: () => now }, { hotWindowMs: 120_000, intervalMs: 1000 }).runOnce();
    assert.equal(pass.failures, 0);
    assert.equal(pass.objects, 4);
    assert.equal(await client.exists(store.keys.data('s3ch', 0, 'packet_0')), 0, 'the payload left Redis');
    const obj = await archive.get('s3ch/s0/2.seg');
    assert.ok(obj, 'the object is in the bucket');
    assert.equal(decodeSegmentObject(obj).header.segment, 2);
    assert.deepEqual((await store.readPackets('s3ch', 0, 0, 4 * SEG)).map((p) => p.data.toString('base64')), before);
    assert.deepEqual((await store.getPayload('s3ch', 0, 'packet', SEG + 3600))?.data, body(SEG + 3600));
    assert.ok((await store.deleteContent('s3ch')) > 0);
    assert.equal(await archive.get('s3ch/s0/2.seg'), null, 'deleting the content deleted its objects');
  });
});
