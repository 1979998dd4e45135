/**
 * The demuxer's native packet reader (ingest/demux-native) against beamcoder's own `read()`: on the same
 * file, opened twice by beamcoder, both give the same packets (stream, timestamps, duration, flags, bytes)
 * and the same end; a closed format rejects; anything but a beamcoder demuxer opened from a URL is refused.
 * The reading thread (`startReader`, used by the socket transport) gives the same packets as `readPacket` one at a
 * time, in batches, also when it has to pause for the consumer (a tiny queue bound), and ends when stopped.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AV_PKT_FLAG_KEY, fromBcPacket, loadBeamcoder, loadDemuxBinding, threadSource, type BcFormat, type RawPacket } from '../../../ingest/demux-input';

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

  const same = (ours: RawPacket[], theirs: RawPacket[]): void => {
    assert.equal(ours.length, theirs.length);
    ours.forEach((p, i) => {
      const q = theirs[i] as RawPacket;
      assert.deepEqual(
        { streamIndex: p.streamIndex, pts: p.pts, dts: p.dts, duration: p.duration, flags: p.flags, size: p.data.length },
        { streamIndex: q.streamIndex, pts: q.pts, dts: q.dts, duration: q.duration, flags: q.flags, size: q.data.length },
        `packet ${i}`,
      );
      assert.ok(p.data.equals(q.data), `packet ${i}: bytes differ`);
    });
  };

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
        assert.ok(ours.some((p) => p.flags & AV_PKT_FLAG_KEY));
        assert.deepEqual(new Set(ours.map((p) => p.streamIndex)), new Set([0, 1]));
        same(ours, theirs);
        assert.equal(await reader.readPacket(a), null, 'still null after the end');
      } finally {
        a.forceClose();
        b.forceClose();
      }
    }, 30000);
  }

  for (const format of ['mpegts', 'flv'] as const) {
    for (const [label, bound] of [['default queue', undefined], ['a queue bound of one packet', 1]] as const) {
      it(`${format}, reading thread with ${label}: the same packets as readPacket, in batches, then the end`, async () => {
        const binding = loadDemuxBinding();
        const a = await open(format);
        const b = await open(format);
        const tracked: Promise<unknown>[] = [];
        try {
          const src = threadSource(binding, a, (w) => tracked.push(w), bound);
          const ours: RawPacket[] = [];
          let batches = 0;
          for (let batch = await src.next(); batch !== null; batch = await src.next()) {
            assert.ok(batch.length > 0, 'a batch has packets');
            batches += 1;
            ours.push(...batch);
          }
          assert.equal(await src.next(), null, 'still the end');
          assert.equal(tracked.length, 1, 'the thread is tracked once');
          await tracked[0];
          const theirs = await readAll(() => binding.readPacket(b));
          assert.ok(theirs.length > 50, `only ${theirs.length} packets`);
          same(ours, theirs);
          if (bound === undefined) assert.ok(batches < ours.length, `a file reads ahead: ${batches} batches for ${ours.length} packets`);
        } finally {
          await Promise.all(tracked);
          a.forceClose();
          b.forceClose();
        }
      }, 30000);
    }
  }

  it('reading thread: stopped while paused for the consumer, it ends (tracked work settles) and the format closes', async () => {
    const binding = loadDemuxBinding();
    const f = await open('mpegts');
    const tracked: Promise<unknown>[] = [];
    const src = threadSource(binding, f, (w) => tracked.push(w), 1);
    const first = await src.next();
    assert.ok(first && first.length > 0);
    // Not released (no next call): the thread is paused on its bound; only the stop ends it.
    src.stop();
    await tracked[0];
    f.forceClose();
  }, 30000);

  it('reading thread on a closed format: a read error, then the thread is done', async () => {
    const binding = loadDemuxBinding();
    const f = await open('mpegts');
    const fmt = f;
    f.forceClose();
    const tracked: Promise<unknown>[] = [];
    const src = threadSource(binding, fmt, (w) => tracked.push(w));
    await assert.rejects(src.next(), /Format context has been deleted/);
    await tracked[0];
    assert.throws(() => binding.startReader({} as BcFormat, () => undefined, 1024), /not a beamcoder demuxer/);
  }, 30000);

  it('a closed format rejects; a non-demuxer is refused', async () => {
    const reader = loadDemuxBinding();
    const f = await open('mpegts');
    f.forceClose();
    await assert.rejects(reader.readPacket(f), /Format context has been deleted/);
    assert.throws(() => reader.readPacket({} as BcFormat), /not a beamcoder demuxer/);
  }, 30000);
});
