import { afterAll, beforeAll, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MediaPacket, Stream } from '../../../core/model/media';
import { createDemuxer, DemuxError, type DemuxFormat, type DemuxTransport, type Demuxer } from '../../../ingest/demuxer';
import { inputFormat, loadBeamcoder } from '../../../ingest/demux-input';

const run = promisify(execFile);

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Pushes `buf` in random-sized chunks (seeded by nothing: any split must give the same packets). */
function pushRandom(d: Demuxer, buf: Buffer, max = 9000): void {
  let off = 0;
  while (off < buf.length) {
    const n = 1 + Math.floor(Math.random() * max);
    d.push(buf.subarray(off, off + n));
    off += n;
  }
}

async function drain(d: Demuxer): Promise<MediaPacket[]> {
  const out: MediaPacket[] = [];
  for await (const p of d.packets()) out.push(p);
  return out;
}

/** Payload bytes per stream as ffprobe reports them (no FFmpeg input padding). */
async function ffprobeBytes(file: string): Promise<Record<number, number>> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index,size', '-of', 'csv=p=0', file]);
  const bytes: Record<number, number> = {};
  for (const line of stdout.split('\n')) {
    const [i, size] = line.split(',').map((x) => Number.parseInt(x, 10));
    if (Number.isInteger(i) && Number.isInteger(size)) bytes[i as number] = (bytes[i as number] ?? 0) + (size as number);
  }
  return bytes;
}

async function ffprobeCounts(file: string): Promise<Record<number, number>> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=stream_index', '-of', 'csv=p=0', file]);
  const counts: Record<number, number> = {};
  for (const line of stdout.split('\n')) {
    const i = Number.parseInt(line, 10);
    if (Number.isInteger(i)) counts[i] = (counts[i] ?? 0) + 1;
  }
  return counts;
}

function countByStream(packets: MediaPacket[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const p of packets) counts[p.streamIndex] = (counts[p.streamIndex] ?? 0) + 1;
  return counts;
}

let dir = '';
const files: Record<'ts' | 'flv' | 'audioTs', Buffer> = { ts: Buffer.alloc(0), flv: Buffer.alloc(0), audioTs: Buffer.alloc(0) };
const probes: Record<string, Record<number, number>> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'beamline-demux-test-'));
  const av = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine',
    '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac'];
  await Promise.all([
    run('ffmpeg', [...av, '-f', 'mpegts', join(dir, 'x.ts')], { timeout: 20000 }),
    run('ffmpeg', [...av, '-f', 'flv', join(dir, 'x.flv')], { timeout: 20000 }),
    run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine', '-t', '2', '-c:a', 'aac', '-f', 'mpegts',
      join(dir, 'a.ts')], { timeout: 20000 }),
  ]);
  files.ts = await readFile(join(dir, 'x.ts'));
  files.flv = await readFile(join(dir, 'x.flv'));
  files.audioTs = await readFile(join(dir, 'a.ts'));
  probes.ts = await ffprobeCounts(join(dir, 'x.ts'));
  probes.flv = await ffprobeCounts(join(dir, 'x.flv'));
  probes.audioTs = await ffprobeCounts(join(dir, 'a.ts'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cases: { format: DemuxFormat; transport: DemuxTransport; file: 'ts' | 'flv'; timeBase: [number, number] }[] = [
  { format: 'mpegts', transport: 'socket', file: 'ts', timeBase: [1, 90000] },
  { format: 'mpegts', transport: 'stream', file: 'ts', timeBase: [1, 90000] },
  { format: 'flv', transport: 'socket', file: 'flv', timeBase: [1, 1000] },
  { format: 'flv', transport: 'stream', file: 'flv', timeBase: [1, 1000] },
];

describe('demuxer: well-formed input', () => {
  for (const c of cases) {
    it(`${c.format} over ${c.transport}: h264 + aac streams, every packet ffprobe sees, keyframes`, { timeout: 15000 }, async () => {
      const d = createDemuxer({ format: c.format, transport: c.transport });
      try {
        pushRandom(d, files[c.file]);
        d.end();
        const streams: Stream[] = await withTimeout(d.streams(), 5000, 'streams()');
        assert.deepEqual(streams.map((s) => s.codecpar.name), ['h264', 'aac']);
        assert.deepEqual(streams.map((s) => s.time_base), [c.timeBase, c.timeBase]);
        const video = streams[0] as Stream;
        assert.equal(video.codecpar.width, 320);
        assert.equal(typeof video.codecpar.extradata, 'string');
        assert.ok(Buffer.from(video.codecpar.extradata as string, 'base64').length > 8, 'h264 extradata as base64');
        assert.equal(streams[1]?.codecpar.sample_rate, 44100);
        const packets = await withTimeout(drain(d), 10000, 'packets()');
        assert.deepEqual(countByStream(packets), probes[c.file]);
        const bytes: Record<number, number> = {};
        for (const p of packets) bytes[p.streamIndex] = (bytes[p.streamIndex] ?? 0) + p.data.length;
        assert.deepEqual(bytes, await ffprobeBytes(join(dir, c.file === 'ts' ? 'x.ts' : 'x.flv')), 'payloads without FFmpeg input padding');
        const keyframes = packets.filter((p) => p.streamIndex === 0 && p.keyframe).length;
        assert.equal(keyframes, 3, 'one keyframe per second (-g 25 at 25 fps)');
        assert.ok(packets.every((p) => Number.isFinite(p.pts) && Number.isFinite(p.dts) && p.data.length > 0));
        assert.ok(packets.filter((p) => p.streamIndex === 1).every((p) => p.duration > 0), 'audio packets carry durations');
        assert.equal(d.stats().bytesIn, files[c.file].length);
      } finally {
        await withTimeout(d.close(), 5000, 'close()');
      }
    });
  }

  it('a TS with no video still gives its audio stream (the caller decides)', { timeout: 15000 }, async () => {
    const d = createDemuxer({ format: 'mpegts' });
    try {
      pushRandom(d, files.audioTs);
      d.end();
      const streams = await withTimeout(d.streams(), 5000, 'streams()');
      assert.deepEqual(streams.map((s) => s.codecpar.codec_type), ['audio']);
      const packets = await withTimeout(drain(d), 10000, 'packets()');
      assert.deepEqual(countByStream(packets), probes.audioTs);
    } finally {
      await d.close();
    }
  });

  it('packets flow while the publisher is still sending (no wait for end)', { timeout: 15000 }, async () => {
    const d = createDemuxer({ format: 'mpegts' });
    try {
      d.push(files.ts.subarray(0, Math.floor(files.ts.length / 2)));
      const it = d.packets()[Symbol.asyncIterator]();
      const first = await withTimeout(it.next(), 5000, 'first packet');
      assert.equal(first.done, false);
    } finally {
      await withTimeout(d.close(), 5000, 'close()');
    }
  });
});

describe('demuxer: bad input ends with an error, never a crash or a hang', () => {
  const bad: { name: string; format: DemuxFormat; bytes: () => Buffer; code: RegExp }[] = [
    { name: 'garbage as mpegts', format: 'mpegts', bytes: () => randomBytes(200000), code: /no-streams/ },
    { name: 'garbage as flv', format: 'flv', bytes: () => randomBytes(200000), code: /no-streams|open-failed|read-failed/ },
    { name: 'TS truncated to 100 bytes', format: 'mpegts', bytes: () => files.ts.subarray(0, 100), code: /no-streams/ },
    { name: 'FLV truncated to 100 bytes', format: 'flv', bytes: () => files.flv.subarray(0, 100), code: /no-streams|open-failed|read-failed/ },
    { name: 'FLV bytes sent as mpegts', format: 'mpegts', bytes: () => files.flv, code: /no-streams/ },
  ];
  for (const c of bad) {
    for (const transport of ['socket', 'stream'] as const) {
      it(`${c.name} (${transport})`, { timeout: 15000 }, async () => {
        const d = createDemuxer({ format: c.format, transport });
        try {
          pushRandom(d, c.bytes());
          d.end();
          const outcome = await withTimeout(
            drain(d).then((p) => `ended with ${p.length} packets`, (e: unknown) => e),
            10000,
            'demuxer outcome',
          );
          assert.ok(outcome instanceof DemuxError, `expected a DemuxError, got ${String(outcome)}`);
          assert.match(outcome.code, c.code);
        } finally {
          await withTimeout(d.close(), 5000, 'close()');
        }
      });
    }
  }

  it('corrupted TS (bytes flipped) demuxes what it can, drops corrupt packets, then ends', { timeout: 15000 }, async () => {
    const corrupt = Buffer.from(files.ts);
    for (let i = 50000; i < 250000; i += 997) corrupt[i] = (corrupt[i] as number) ^ 0xff;
    const d = createDemuxer({ format: 'mpegts' });
    try {
      pushRandom(d, corrupt);
      d.end();
      const packets = await withTimeout(drain(d), 10000, 'packets()');
      assert.ok(packets.length > 0);
      assert.ok(packets.length <= (probes.ts?.[0] ?? 0) + (probes.ts?.[1] ?? 0) + 5);
    } finally {
      await d.close();
    }
  });

  it('truncated mid-stream: ends cleanly with the packets before the cut', { timeout: 15000 }, async () => {
    const d = createDemuxer({ format: 'flv' });
    try {
      d.push(files.flv.subarray(0, Math.floor(files.flv.length / 2) + 7));
      d.end();
      const packets = await withTimeout(drain(d), 10000, 'packets()');
      assert.ok(packets.length > 50 && packets.length < 206, `got ${packets.length}`);
    } finally {
      await d.close();
    }
  });

  it('end() before any byte rejects with no-input', { timeout: 5000 }, async () => {
    const d = createDemuxer({ format: 'mpegts' });
    d.end();
    await assert.rejects(d.streams(), (e: unknown) => e instanceof DemuxError && e.code === 'no-input');
    await d.close();
  });

  it('bad configuration is refused with a clear error', () => {
    assert.throws(() => createDemuxer({ format: 'mp4' as DemuxFormat }), /format must be/);
    assert.throws(() => createDemuxer({ format: 'flv', probeBytes: 1 }), /probeBytes/);
  });

  it("FFmpeg's input format is looked up once per process, not listed again by every publish", () => {
    const bc = loadBeamcoder();
    let listed = 0;
    const counting = { ...bc, demuxers: () => (listed++, bc.demuxers()) };
    const first = inputFormat(counting, 'wav');
    assert.equal(first?.name, 'wav');
    assert.equal(inputFormat(counting, 'wav'), first);
    assert.equal(listed, 1, 'listed once');
    assert.equal(inputFormat(counting, 'no-such-format'), undefined);
    assert.equal(inputFormat(counting, 'no-such-format'), undefined, 'an unknown name is asked again (nothing cached)');
    assert.equal(listed, 3);
  });
});

describe('demuxer: silent publishers and the libuv pool', () => {
  for (const transport of ['socket', 'stream'] as const) {
    it(`a publisher gone silent mid-open: close() unblocks the native read (${transport})`, { timeout: 15000 }, async () => {
      const d = createDemuxer({ format: 'mpegts', transport });
      try {
        d.push(files.ts.subarray(0, 188 * 3));
        const streams = d.streams().then(() => 'resolved', (e: unknown) => (e as Error).message);
        await new Promise((r) => setTimeout(r, 200));
        const t0 = Date.now();
        await withTimeout(d.close(), 5000, 'close()');
        assert.ok(Date.now() - t0 < 3000);
        assert.notEqual(await withTimeout(streams, 5000, 'streams() after close'), undefined);
      } finally {
        await withTimeout(d.close(), 5000, 'close()');
      }
    });

    it(`a publisher gone silent mid-stream: close() ends packets() (${transport})`, { timeout: 15000 }, async () => {
      // A 320x240 stream: a 64 KB probe finds everything (the governor only reads whole blocks).
      const d = createDemuxer({ format: 'mpegts', transport, probeBytes: 65536 });
      try {
        // The governor's reads wait for whole 100 KB blocks: leave most of the file pushed, not ended.
        d.push(files.ts.subarray(0, files.ts.length - 20000));
        const packets = drain(d).then((p) => p.length, (e: unknown) => e);
        await withTimeout(d.streams(), 5000, 'streams()');
        await new Promise((r) => setTimeout(r, 300));
        await withTimeout(d.close(), 5000, 'close()');
        const n = await withTimeout(packets, 5000, 'packets() after close');
        assert.equal(typeof n, 'number');
        assert.ok((n as number) > 0);
      } finally {
        await withTimeout(d.close(), 5000, 'close()');
      }
    });

    it(`20 demuxers opened (some with a few bytes, some none) and closed: no hang, pool still serves fs (${transport})`, {
      timeout: 20000,
    }, async () => {
      const ds = Array.from({ length: 20 }, (_, i) => {
        const d = createDemuxer({ format: i % 2 ? 'flv' : 'mpegts', transport });
        if (i % 3 !== 0) d.push((i % 2 ? files.flv : files.ts).subarray(0, 376));
        return d;
      });
      afterAll(() => Promise.all(ds.map((d) => d.close())));
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      await withTimeout(Promise.all(ds.map((d) => d.close())), 10000, 'closing 20 demuxers');
      const closeMs = Date.now() - t0;
      assert.ok(closeMs < 5000, `closing took ${closeMs} ms`);
      const t1 = Date.now();
      await withTimeout(readFile(join(dir, 'x.ts')), 2000, 'fs.promises.readFile after closing');
      assert.ok(Date.now() - t1 < 1000, 'the libuv pool is free again');
    });
  }
});
