/**
 * The demuxer's native packet reader (ingest/demux-native) against beamcoder's own `read()`: on the same
 * file, opened twice by beamcoder, both give the same packets (stream, timestamps, duration, flags, bytes)
 * and the same end; a closed format rejects; anything but a beamcoder demuxer opened from a URL is refused.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AV_PKT_FLAG_KEY, fromBcPacket, loadBeamcoder, loadDemuxBinding, type BcFormat, type RawPacket } from '../../../ingest/demux-input';

const run = promisify(execFile);

describe('native packet reader', () => {
  let dir = '';
  const files: Record<'mpegts' | 'flv', string> = { mpegts: '', flv: '' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'beamline-demux-reader-'));
    for (const format of ['mpegts', 'flv'] as const) {
      files[format] = join(dir, `in.${format}`);
      await run('ffmpeg', [
        '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=sample_rate=48000',
        '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', format, files[format],
      ], { timeout: 30000 });
    }
  }, 60000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const open = (format: 'mpegts' | 'flv'): Promise<BcFormat> => {
    const bc = loadBeamcoder();
    const iformat = bc.demuxers()[format];
    assert.ok(iformat);
    return bc.demuxer({ url: `file:${files[format]}`, iformat, options: {} });
  };

  async function readAll(read: () => Promise<RawPacket | null>): Promise<RawPacket[]> {
    const out: RawPacket[] = [];
    for (let p = await read(); p !== null; p = await read()) out.push(p);
    return out;
  }

  for (const format of ['mpegts', 'flv'] as const) {
    it(`${format}: the same packets as beamcoder's read(), then null`, async () => {
      const reader = loadDemuxBinding();
      const a = await open(format);
      const b = await open(format);
      try {
        const ours = await readAll(() => reader.readPacket(a));
        const theirs = await readAll(async () => {
          const p = await b.read();
          return p === null ? null : fromBcPacket(p);
        });
        assert.ok(ours.length > 50, `only ${ours.length} packets`);
        assert.equal(ours.length, theirs.length);
        assert.ok(ours.some((p) => p.flags & AV_PKT_FLAG_KEY));
        assert.deepEqual(new Set(ours.map((p) => p.streamIndex)), new Set([0, 1]));
        ours.forEach((p, i) => {
          const q = theirs[i] as RawPacket;
          assert.deepEqual(
            { streamIndex: p.streamIndex, pts: p.pts, dts: p.dts, duration: p.duration, flags: p.flags, size: p.data.length },
            { streamIndex: q.streamIndex, pts: q.pts, dts: q.dts, duration: q.duration, flags: q.flags, size: q.data.length },
            `packet ${i}`,
          );
          assert.ok(p.data.equals(q.data), `packet ${i}: bytes differ`);
        });
        assert.equal(await reader.readPacket(a), null, 'still null after the end');
      } finally {
        a.forceClose();
        b.forceClose();
      }
    }, 30000);
  }

  it('a closed format rejects; a non-demuxer is refused', async () => {
    const reader = loadDemuxBinding();
    const f = await open('mpegts');
    f.forceClose();
    await assert.rejects(reader.readPacket(f), /Format context has been deleted/);
    assert.throws(() => reader.readPacket({} as BcFormat), /not a beamcoder demuxer/);
  }, 30000);
});
