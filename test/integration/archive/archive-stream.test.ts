/**
 * Streamed ranged reads of archived objects (what the packager serves archived segments from), on both
 * backends — a local folder and S3 (fauxqs on loopback, started here): the bytes asked, delivered as a stream
 * in chunks (never one buffer of the whole object), a missing object null, a fault a stream failing with 503.
 */

import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createFileArchive } from '../../../core/archive/file-archive';
import { createS3Archive, parseS3Url, type S3Archive } from '../../../core/archive/s3-archive';
import type { ArchiveBackend } from '../../../core/archive/archive-backend';
import { BeamError } from '../../../core/model/errors';

type Fauxqs = { address: string; createBucket(name: string): unknown; stop(): Promise<void> };
let server: Fauxqs;
let s3: S3Archive;
let dir: string;
let file: ArchiveBackend;

beforeAll(async () => {
  const { startFauxqs } = (await import('fauxqs')) as unknown as { startFauxqs(o: object): Promise<Fauxqs> };
  server = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false });
  server.createBucket('beam-stream');
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  s3 = createS3Archive({ ...parseS3Url('s3://beam-stream/p'), endpoint: server.address, region: 'us-east-1' });
  dir = mkdtempSync(join(tmpdir(), 'beam-stream-'));
  file = createFileArchive({ dir });
});

afterAll(async () => {
  s3?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function chunksOf(r: Readable): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return out;
}

const body = Buffer.from(Array.from({ length: 600_000 }, (_, i) => (i * 7) % 253));

for (const [name, backend] of [['file', () => file], ['s3', () => s3]] as const) {
  describe(`streamed reads of the ${name} archive`, () => {
    it('a range as a stream: the same bytes as get, in chunks; the end clamped to the object; empty ranges; missing objects null', async () => {
      const a = backend();
      await a.put('ch/s0/5.seg', body);
      const whole = await chunksOf((await a.getStream('ch/s0/5.seg', [0, body.length])) as Readable);
      assert.deepEqual(Buffer.concat(whole), body);
      assert.ok(whole.length > 1 && Math.max(...whole.map((c) => c.length)) < body.length, `streamed in ${whole.length} chunks`);
      for (const [s, e] of [[1, 2], [1000, 70_000], [599_990, 600_000], [123_457, 400_001]] as const) {
        const got = Buffer.concat(await chunksOf((await a.getStream('ch/s0/5.seg', [s, e])) as Readable));
        assert.deepEqual(got, body.subarray(s, e), `${s}-${e}`);
        assert.deepEqual(got, await a.get('ch/s0/5.seg', [s, e]));
      }
      assert.deepEqual(Buffer.concat(await chunksOf((await a.getStream('ch/s0/5.seg', [599_000, 700_000])) as Readable)), body.subarray(599_000), 'past the end: what is there');
      assert.equal(Buffer.concat(await chunksOf((await a.getStream('ch/s0/5.seg', [10, 10])) as Readable)).length, 0);
      assert.equal(await a.getStream('ch/s0/6.seg', [0, 10]), null);
      await assert.rejects(a.getStream('ch/s0/5.seg', [5, 2]), /bad range/);
    });

    it('a reader that stops early (a client gone) ends the read', async () => {
      const a = backend();
      await a.put('ch/s0/7.seg', body);
      const r = (await a.getStream('ch/s0/7.seg', [0, body.length])) as Readable;
      for await (const c of r) {
        assert.ok((c as Buffer).length > 0);
        break; // destroys the stream
      }
      assert.equal(r.destroyed, true);
      assert.deepEqual(await a.get('ch/s0/7.seg', [0, 3]), body.subarray(0, 3), 'the backend still serves');
    });
  });
}

describe('streamed reads of a faulty file archive', () => {
  it('the archive folder gone: getStream is a 503 (not a missing object); back again: it streams', async () => {
    await file.put('f/s0/1.seg', body);
    const away = `${dir}-away`;
    renameSync(dir, away);
    try {
      await assert.rejects(file.getStream('f/s0/1.seg', [0, 10]), (e: unknown) => e instanceof BeamError && e.code === 'BEAM_ERR_UNAVAILABLE' && /folder is missing/.test(e.message));
    } finally {
      renameSync(away, dir);
    }
    assert.deepEqual(Buffer.concat(await chunksOf((await file.getStream('f/s0/1.seg', [0, 10])) as Readable)), body.subarray(0, 10));
  });
});
