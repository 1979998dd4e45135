// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeAmf0 } from '../../../ingest/rtmp/amf0';
import { ChunkStreamError, createChunkReader, type ChunkReader } from '../../../ingest/rtmp/chunk-reader';
import { createChunkWriter, encodeBasicHeader } from '../../../ingest/rtmp/chunk-writer';
import { createHandshake, HANDSHAKE_SIZE, HandshakeError } from '../../../ingest/rtmp/handshake';
import { MSG, type RtmpMessage, setChunkSizeMessage, windowAckSizeMessage } from '../../../ingest/rtmp/messages';

/** Bytes ffmpeg 5.1 sent after the handshake: connect … publish, metadata, H.264 + AAC, FCUnpublish, deleteStream. */
const capture = Buffer.from(readFileSync(join(__dirname, 'fixtures', 'rtmp-ffmpeg-publish.golden.b64'), 'latin1').replace(/\s+/g, ''), 'base64');

const reader = (max = 1 << 20): ChunkReader => createChunkReader({ maxMessageBytes: max });
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function readAll(pieces: Buffer[], r = reader()): RtmpMessage[] {
  return pieces.flatMap((p) => r.push(p).messages);
}

function summary(msgs: RtmpMessage[]): string[] {
  return msgs.map((m) => `${m.typeId}@${m.timestamp}:${m.payload.length}/cs${m.chunkStreamId}/s${m.streamId}`);
}

test('chunk reader: the ffmpeg capture parses into its command and media sequence', () => {
  const msgs = readAll([capture]);
  const commands = msgs.filter((m) => m.typeId === MSG.commandAmf0).map((m) => decodeAmf0(m.payload)[0]);
  assert.deepEqual(commands, ['connect', 'releaseStream', 'FCPublish', 'createStream', 'publish', 'FCUnpublish', 'deleteStream']);
  assert.equal(msgs[1]?.typeId, MSG.setChunkSize);
  assert.equal(msgs[1]?.payload.readUInt32BE(0), 4096);
  const publish = decodeAmf0(msgs.find((m) => m.typeId === MSG.commandAmf0 && decodeAmf0(m.payload)[0] === 'publish')!.payload);
  assert.equal(publish[3], 'capture-key');
  const video = msgs.filter((m) => m.typeId === MSG.video);
  const audio = msgs.filter((m) => m.typeId === MSG.audio);
  assert.ok(video.length >= 5 && audio.length >= 4, summary(msgs).join(' '));
  assert.equal(video[0]?.payload[0], 0x17, 'first video message is an AVC key frame (sequence header)');
  assert.equal(video[0]?.payload[1], 0, 'AVC sequence header');
  assert.equal(audio[0]?.payload[0]! >> 4, 10, 'AAC');
  for (const list of [video, audio]) {
    for (let i = 1; i < list.length; i++) assert.ok(list[i]!.timestamp >= list[i - 1]!.timestamp, 'timestamps advance');
  }
  assert.ok(video.at(-1)!.timestamp > 0);
  assert.ok(msgs[0]!.payload.length > 128, 'connect spans two 128-byte chunks (before Set Chunk Size)');
  assert.ok(video.some((m) => m.payload.length > 1024), 'a key frame of a few kB');
});

test('chunk reader: fragmentation at every byte boundary yields the same messages', () => {
  const whole = readAll([capture]);
  const expected = summary(whole);
  const payloads = Buffer.concat(whole.map((m) => m.payload));
  for (let cut = 0; cut <= capture.length; cut++) {
    const got = readAll([capture.subarray(0, cut), capture.subarray(cut)]);
    assert.deepEqual(summary(got), expected, `cut at ${cut}`);
    assert.ok(Buffer.concat(got.map((m) => m.payload)).equals(payloads), `payload bytes, cut at ${cut}`);
  }
  // Three-way cuts around chunk headers, and one byte at a time.
  for (let a = 0; a < 400; a += 7) {
    const b = a + 131;
    assert.deepEqual(summary(readAll([capture.subarray(0, a), capture.subarray(a, b), capture.subarray(b)])), expected);
  }
  const bytewise = readAll(Array.from(capture, (byte) => Buffer.from([byte])));
  assert.deepEqual(summary(bytewise), expected);
  assert.ok(Buffer.concat(bytewise.map((m) => m.payload)).equals(payloads));
});

test('chunk reader: the input buffer may be reused by the caller after push', () => {
  const mutable = Buffer.from(capture);
  const r = reader();
  const half = 2000;
  const got = [...r.push(mutable.subarray(0, half)).messages];
  mutable.fill(0xee, 0, half);
  got.push(...r.push(mutable.subarray(half)).messages);
  assert.deepEqual(summary(got), summary(readAll([capture])));
  assert.ok(Buffer.concat(got.map((m) => m.payload)).equals(Buffer.concat(readAll([capture]).map((m) => m.payload))));
});

test('chunk reader: fmt 1/2/3 headers reuse the chunk stream state', () => {
  const bytes = hex(`
    04 0003e8 000003 08 01000000 616161
    44 000014 000002 09 6262
    84 00001e 6363
    c4 6464
    05 000028 000001 08 01000000 78
    c5 79
  `);
  const msgs = readAll([bytes]);
  assert.deepEqual(msgs.map((m) => [m.chunkStreamId, m.timestamp, m.typeId, m.streamId, m.payload.toString()]), [
    [4, 1000, 8, 1, 'aaa'],
    [4, 1020, 9, 1, 'bb'], // fmt 1: delta 20, new length and type
    [4, 1050, 9, 1, 'cc'], // fmt 2: delta 30, same length and type
    [4, 1080, 9, 1, 'dd'], // fmt 3: same delta again
    [5, 40, 8, 1, 'x'],
    [5, 80, 8, 1, 'y'], // fmt 3 after fmt 0: the delta is the fmt 0 timestamp
  ]);
});

test('chunk reader: interleaved chunk streams assemble independently', () => {
  const video = Buffer.alloc(300, 0x56);
  const bytes = Buffer.concat([
    hex('06 000000 00012c 09 01000000'), video.subarray(0, 128),
    hex('04 000000 000002 08 01000000 aaaa'),
    hex('c6'), video.subarray(128, 256),
    hex('c6'), video.subarray(256),
  ]);
  const msgs = readAll([bytes]);
  assert.deepEqual(msgs.map((m) => [m.typeId, m.payload.length]), [[8, 2], [9, 300]]);
  assert.ok(msgs[1]!.payload.equals(video));
});

test('chunk reader: extended timestamps on fmt 0, fmt 3 continuations (present or omitted) and fmt 3 starts', () => {
  const body = Buffer.alloc(200, 1);
  const withExt = Buffer.concat([
    hex('04 ffffff 0000c8 09 01000000 01000000'), body.subarray(0, 128),
    hex('c4 01000000'), body.subarray(128),
  ]);
  const omitted = Buffer.concat([
    hex('05 ffffff 0000c8 09 01000000 02000000'), body.subarray(0, 128),
    hex('c5'), body.subarray(128),
  ]);
  const fmt3Start = hex('c4 01000000');
  const msgs = readAll([withExt, omitted, Buffer.concat([fmt3Start, body.subarray(0, 128), hex('c4 01000000'), body.subarray(128)])]);
  assert.deepEqual(msgs.map((m) => [m.chunkStreamId, m.timestamp, m.payload.length]), [
    [4, 0x01000000, 200],
    [5, 0x02000000, 200],
    [4, 0x02000000, 200], // fmt 3 new message: previous extended field (0x01000000) is the delta
  ]);
  for (const m of msgs) assert.ok(m.payload.equals(body));
});

test('chunk writer → reader round trip: compression, chunk sizes, extended timestamps, long csids', () => {
  for (const chunkSize of [1, 7, 128, 4096, 70000]) {
    const w = createChunkWriter({ chunkSize });
    const messages: RtmpMessage[] = [];
    let ts = 0;
    for (let i = 0; i < 40; i++) {
      ts += i % 5 === 0 ? 0 : i < 30 ? 40 : 0x800000; // repeats, a regular delta, then past 0xffffff
      const csid = [3, 4, 6, 100, 400][i % 5] as number;
      // Per chunk stream: a constant type and (mostly) length, so fmt 2/3 get used; csid 400 varies.
      const len = i % 13 === 0 ? 0 : i % 5 === 4 ? (i * 97) % 600 : 50 + (i % 5) * 10;
      messages.push({ chunkStreamId: csid, timestamp: ts, typeId: i % 5 < 2 ? MSG.audio : MSG.video, streamId: 1, payload: Buffer.alloc(len, i) });
    }
    const bytes = [setChunkSizeMessage(chunkSize)].map((m) => createChunkWriter().write(m));
    bytes.push(...messages.map((m) => w.write(m)));
    const all = Buffer.concat(bytes);
    const formats = new Set<number>();
    const got = readAll([all]).slice(1);
    // Zero-length audio/video messages are dropped (their timestamp deltas still count).
    const expected = messages.filter((m) => m.payload.length > 0);
    assert.ok(expected.length < messages.length);
    assert.equal(got.length, expected.length, `chunk size ${chunkSize}`);
    got.forEach((m, i) => {
      const want = expected[i]!;
      assert.equal(m.timestamp, want.timestamp, `ts #${i} chunk size ${chunkSize}`);
      assert.equal(m.chunkStreamId, want.chunkStreamId);
      assert.equal(m.typeId, want.typeId);
      assert.ok(m.payload.equals(want.payload));
    });
    for (const b of bytes) formats.add((b[0] as number) >> 6);
    assert.ok(formats.size >= 3, `writer used several header formats (${[...formats]})`);
    // And fragmented into 5-byte pieces.
    const pieces: Buffer[] = [];
    for (let at = 0; at < all.length; at += 5) pieces.push(all.subarray(at, at + 5));
    assert.equal(readAll(pieces).length, expected.length + 1);
  }
});

test('chunk writer: basic header sizes for 1, 2 and 3 byte chunk stream ids', () => {
  assert.deepEqual(encodeBasicHeader(0, 3), hex('03'));
  assert.deepEqual(encodeBasicHeader(1, 64), hex('40 00'));
  assert.deepEqual(encodeBasicHeader(3, 319), hex('c0 ff'));
  assert.deepEqual(encodeBasicHeader(0, 320), hex('01 00 01'));
  assert.deepEqual(encodeBasicHeader(0, 65599), hex('01 ff ff'));
  assert.throws(() => encodeBasicHeader(0, 1), RangeError);
});

test('chunk reader: Abort drops the partial message of its chunk stream', () => {
  const bytes = Buffer.concat([
    hex('06 000000 00012c 09 01000000'), Buffer.alloc(128, 9),
    hex('02 000000 000004 02 00000000 00000006'),
    hex('06 000064 000001 09 01000000 41'),
  ]);
  const msgs = readAll([bytes]);
  assert.deepEqual(msgs.map((m) => [m.typeId, m.timestamp, m.payload.toString('latin1')]), [[2, 0, '\0\0\0\x06'], [9, 100, 'A']]);
});

test('chunk reader: reports an acknowledgement when the peer window is crossed', () => {
  const r = createChunkReader({ maxMessageBytes: 1 << 20, bytesBefore: 3073 });
  const win = createChunkWriter().write(windowAckSizeMessage(5000));
  assert.equal(r.push(win).ack, null);
  const big = createChunkWriter({ chunkSize: 128 }).write({ chunkStreamId: 6, timestamp: 0, typeId: 9, streamId: 1, payload: Buffer.alloc(3000) });
  const first = r.push(big);
  assert.equal(first.ack, 3073 + win.length + big.length);
  assert.equal(r.push(big).ack, null, 'not again before another window');
});

test('chunk reader: hostile input gets a clear error, never a large allocation', () => {
  const cases: { name: string; bytes: Buffer; opts?: Parameters<typeof createChunkReader>[0]; match: RegExp }[] = [
    { name: 'message over the cap', bytes: hex('04 000000 ffffff 09 01000000'), opts: { maxMessageBytes: 65536 }, match: /16777215 bytes .* exceeds the 65536-byte limit/ },
    { name: 'fmt 1 before any fmt 0', bytes: hex('44 000000 000001 09'), match: /fmt 1 header on chunk stream 4 before any fmt 0/ },
    { name: 'fmt 3 before any fmt 0', bytes: hex('c7'), match: /fmt 3 header on chunk stream 7 before any fmt 0/ },
    { name: 'new header mid-message', bytes: Buffer.concat([hex('04 000000 0000c8 09 01000000'), Buffer.alloc(128), hex('04 000000 000001 09 01000000')]), match: /in the middle of a 200-byte message/ },
    { name: 'set chunk size 0', bytes: hex('02 000000 000004 01 00000000 00000000'), match: /Set Chunk Size to 0/ },
    { name: 'too many chunk streams', bytes: Buffer.concat(Array.from({ length: 70 }, (_, i) => Buffer.concat([encodeBasicHeader(0, 10 + i), hex('000000 000000 09 01000000')]))), match: /more than 64 chunk streams/ },
    {
      name: 'declared bytes across chunk streams over the cap',
      bytes: Buffer.concat(['04', '05', '06'].flatMap((cs) => [hex(`${cs} 000000 00f000 09 01000000`), Buffer.alloc(128)])),
      opts: { maxMessageBytes: 0xf000, maxBufferedBytes: 0x1f000 },
      match: /unfinished messages/,
    },
  ];
  for (const c of cases) {
    const r = createChunkReader(c.opts ?? { maxMessageBytes: 1 << 20 });
    assert.throws(() => r.push(c.bytes), (err: unknown) => err instanceof ChunkStreamError && c.match.test(err.message), c.name);
  }
});

test('handshake: C0+C1 → S0+S1+S2 (S2 echoes C1), C2 completes, trailing bytes returned', () => {
  const random = Buffer.alloc(HANDSHAKE_SIZE - 8, 0xab);
  const c1 = Buffer.alloc(HANDSHAKE_SIZE, 0x11);
  const c2 = Buffer.alloc(HANDSHAKE_SIZE, 0x22);
  const input = Buffer.concat([Buffer.from([3]), c1, c2, Buffer.from('next')]);
  for (const cut of [1, 2, 1536, 1537, 1538, 3072, 3073, 3074]) {
    const hs = createHandshake({ random, time: 1234 });
    const a = hs.push(input.subarray(0, cut));
    const b = hs.push(input.subarray(cut));
    const out = Buffer.concat([a.output ?? Buffer.alloc(0), b.output ?? Buffer.alloc(0)]);
    assert.equal(out.length, 1 + 2 * HANDSHAKE_SIZE, `cut ${cut}`);
    assert.equal(out[0], 3);
    assert.equal(out.readUInt32BE(1), 1234);
    assert.ok(out.subarray(9, 1 + HANDSHAKE_SIZE).equals(random));
    assert.ok(out.subarray(1 + HANDSHAKE_SIZE).equals(c1), 'S2 echoes C1');
    assert.equal(b.done, true);
    assert.equal(Buffer.concat([a.rest, b.rest]).toString(), 'next');
    assert.equal(hs.phase, 'done');
  }
});

test('handshake: a wrong version byte is refused at once', () => {
  const hs = createHandshake({ random: Buffer.alloc(1528), time: 0 });
  assert.throws(() => hs.push(Buffer.from('GET / HTTP/1.1\r\n')), (e: unknown) => e instanceof HandshakeError && /unsupported version 71/.test(e.message));
  const enc = createHandshake({ random: Buffer.alloc(1528), time: 0 });
  assert.throws(() => enc.push(Buffer.from([6])), /RTMPE encryption is not supported/);
});
