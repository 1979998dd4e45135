/** WHIP ingest's pure parts: RTP headers, the H.264 depacketiser (single NAL, STAP-A, FU-A, losses, bounds), timestamp unwrapping, the MPEG-TS writer, bearer tokens, public WHIP writes. */

import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createH264Depacketizer, createTimestampUnwrapper, parseRtp, type RtpPacket } from '../../../webrtc/rtp-depacketizer';
import { createWhipTsWriter, opusAccessUnit, patSection, pesPacket, pmtSection } from '../../../webrtc/whip-ts';
import { bearerToken } from '../../../webrtc/whip-service';
import { isWhepWrite } from '../../../webrtc/webrtc-plugin';
import { trickleCandidates, MAX_TRICKLE_BYTES } from '../../../webrtc/sdp-offer';
import { BeamError } from '../../../core/model/errors';
import { keyMatches } from '../../../ingest/ingest-service';
import { sourceEndFault } from '../../../ingest/end-faults';
import { deferredIntake, type PushedPublisher } from '../../../core/model/publish-intake';

function rtp(fields: Partial<RtpPacket> & { payload: Buffer }, opts: { csrc?: number; ext?: Buffer; pad?: number } = {}): Buffer {
  const head = Buffer.alloc(12 + 4 * (opts.csrc ?? 0));
  head[0] = 0x80 | (opts.ext ? 0x10 : 0) | (opts.pad ? 0x20 : 0) | (opts.csrc ?? 0);
  head[1] = (fields.marker ? 0x80 : 0) | (fields.payloadType ?? 96);
  head.writeUInt16BE(fields.sequence ?? 0, 2);
  head.writeUInt32BE(fields.timestamp ?? 0, 4);
  head.writeUInt32BE(fields.ssrc ?? 1, 8);
  const parts: Buffer[] = [head];
  if (opts.ext) {
    const e = Buffer.alloc(4);
    e.writeUInt16BE(0xbede, 0);
    e.writeUInt16BE(opts.ext.length / 4, 2);
    parts.push(e, opts.ext);
  }
  parts.push(fields.payload);
  if (opts.pad) {
    const p = Buffer.alloc(opts.pad);
    p[opts.pad - 1] = opts.pad;
    parts.push(p);
  }
  return Buffer.concat(parts);
}

const pkt = (sequence: number, timestamp: number, payload: Buffer, marker = false): RtpPacket => ({ payloadType: 96, marker, sequence, timestamp, ssrc: 1, payload });

const SPS = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 0xda]);
const PPS = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
const IDR = Buffer.concat([Buffer.from([0x65]), Buffer.alloc(3000, 0xab)]);
const SLICE = Buffer.from([0x41, 0x9a, 0x01, 0x02]);

function stapA(...nals: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x18])];
  for (const n of nals) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(n.length);
    parts.push(len, n);
  }
  return Buffer.concat(parts);
}

/** FU-A fragments of `nal`, `size` payload bytes each. */
function fuA(nal: Buffer, size: number): Buffer[] {
  const indicator = ((nal[0] as number) & 0xe0) | 28;
  const type = (nal[0] as number) & 0x1f;
  const body = nal.subarray(1);
  const out: Buffer[] = [];
  for (let pos = 0; pos < body.length; pos += size) {
    const start = pos === 0;
    const end = pos + size >= body.length;
    out.push(Buffer.concat([Buffer.from([indicator, (start ? 0x80 : 0) | (end ? 0x40 : 0) | type]), body.subarray(pos, pos + size)]));
  }
  return out;
}

describe('RTP header', () => {
  it('reads the fields and the payload past CSRCs, an extension and padding', () => {
    const payload = Buffer.from([1, 2, 3]);
    const p = parseRtp(rtp({ payloadType: 111, marker: true, sequence: 65535, timestamp: 0xfffffff0, ssrc: 42, payload }, { csrc: 2, ext: Buffer.alloc(8), pad: 4 }));
    assert.ok(p);
    assert.deepEqual([p.payloadType, p.marker, p.sequence, p.timestamp, p.ssrc], [111, true, 65535, 0xfffffff0, 42]);
    assert.deepEqual([...p.payload], [1, 2, 3]);
  });
  it('refuses what is not RTP or does not fit', () => {
    assert.equal(parseRtp(Buffer.alloc(11)), null);
    assert.equal(parseRtp(Buffer.from([0x40, 96, ...Buffer.alloc(10)])), null, 'version 1');
    assert.equal(parseRtp(Buffer.from([0x8f, 96, ...Buffer.alloc(10)])), null, '15 CSRCs announced, none there');
    assert.equal(parseRtp(Buffer.from([0x90, 96, ...Buffer.alloc(10), 0xbe, 0xde, 0x00, 0x10])), null, 'extension longer than the packet');
    const padded = rtp({ payload: Buffer.alloc(2) });
    padded[0] = (padded[0] as number) | 0x20;
    padded[padded.length - 1] = 200;
    assert.equal(parseRtp(padded), null, 'padding longer than the payload');
    assert.equal(parseRtp(rtp({ payloadType: 72, payload: Buffer.alloc(4) })), null, 'RTCP (SR) on a muxed port');
  });
});

describe('H.264 depacketiser', () => {
  it('joins STAP-A, FU-A and single NAL units into access units, ending at the marker', () => {
    const d = createH264Depacketizer();
    const out = [];
    let seq = 65530; // crosses the 16-bit wrap
    out.push(...d.push(pkt(seq++, 1000, stapA(SPS, PPS))));
    const frags = fuA(IDR, 1000);
    assert.equal(frags.length, 3);
    frags.forEach((f, i) => out.push(...d.push(pkt(seq++ & 0xffff, 1000, f, i === frags.length - 1))));
    out.push(...d.push(pkt(seq++ & 0xffff, 4000, SLICE, true)));
    assert.equal(out.length, 2);
    const [key, next] = out;
    assert.equal(key?.timestamp, 1000);
    assert.equal(key?.keyframe, true);
    assert.deepEqual(key?.nals.map((n) => n[0]! & 0x1f), [7, 8, 5]);
    assert.ok(key?.nals[2]?.equals(IDR), 'the fragmented IDR is reassembled byte for byte');
    assert.equal(next?.keyframe, false);
    assert.ok(next?.nals[0]?.equals(SLICE));
    assert.deepEqual(d.stats(), { packets: 5, accessUnits: 2, dropped: 0, gaps: 0 });
  });

  it('ends an access unit when the timestamp changes without a marker', () => {
    const d = createH264Depacketizer();
    assert.deepEqual(d.push(pkt(1, 10, SLICE)), []);
    const out = d.push(pkt(2, 20, SLICE));
    assert.equal(out.length, 1);
    assert.equal(out[0]?.timestamp, 10);
    assert.equal(d.flush()[0]?.timestamp, 20);
  });

  it('drops the access units a lost packet touches, and ignores duplicates and late packets', () => {
    const d = createH264Depacketizer();
    const frags = fuA(IDR, 1000);
    d.push(pkt(1, 100, frags[0] as Buffer));
    // packet 2 (the middle fragment) is lost
    assert.deepEqual(d.push(pkt(3, 100, frags[2] as Buffer, true)), []);
    // the next access unit after a gap is dropped too (the lost packet may have been its first)
    assert.deepEqual(d.push(pkt(5, 200, SLICE, true)), []);
    assert.equal(d.push(pkt(6, 300, SLICE, true)).length, 1);
    assert.deepEqual(d.push(pkt(6, 300, SLICE, true)), [], 'a duplicate');
    assert.deepEqual(d.push(pkt(2, 100, frags[1] as Buffer)), [], 'a late packet');
    assert.equal(d.push(pkt(7, 400, SLICE, true)).length, 1);
    const s = d.stats();
    assert.equal(s.gaps, 2);
    assert.equal(s.dropped, 2);
    assert.equal(s.accessUnits, 2);
  });

  it('drops malformed payloads: a truncated STAP-A, a fragment without its start, a forbidden bit, FU-B', () => {
    const cases: Buffer[][] = [
      [Buffer.from([0x18, 0x00, 0x09, 0x67])],
      [Buffer.from([0x18, 0x00])],
      [Buffer.from([0x7c, 0x45, 0x01])],
      [Buffer.from([0xe1, 0x01])],
      [Buffer.from([0x1d, 0x85, 0x01])],
      [Buffer.from([0x7c, 0x85, 0x01]), SLICE],
      [Buffer.alloc(0)],
    ];
    for (const payloads of cases) {
      const d = createH264Depacketizer();
      const out = payloads.flatMap((p, i) => d.push(pkt(i + 1, 7, p, i === payloads.length - 1)));
      assert.deepEqual(out, [], `payloads ${payloads.map((p) => p.toString('hex')).join(' ')}`);
      assert.equal(d.stats().dropped, 1);
    }
  });

  it('bounds an access unit in bytes (also mid-fragment) and in NAL units', () => {
    const small = createH264Depacketizer({ maxAccessUnitBytes: 2000, maxNals: 512 });
    const frags = fuA(IDR, 500);
    const out = frags.flatMap((f, i) => small.push(pkt(i + 1, 1, f, i === frags.length - 1)));
    assert.deepEqual(out, []);
    assert.equal(small.stats().dropped, 1);
    const few = createH264Depacketizer({ maxAccessUnitBytes: 1 << 20, maxNals: 3 });
    assert.deepEqual(few.push(pkt(1, 1, stapA(SLICE, SLICE, SLICE, SLICE), true)), []);
    assert.equal(few.push(pkt(2, 2, stapA(SLICE, SLICE, SLICE), true)).length, 1);
  });
});

describe('RTP timestamps', () => {
  it('count from the first one across the 32-bit wrap, and step back for reordered ones', () => {
    const u = createTimestampUnwrapper();
    assert.equal(u(0xffffff00), 0);
    assert.equal(u(0x00000100), 0x200);
    assert.equal(u(0x00000080), 0x180);
    assert.equal(u(0x00010000), 0x10100);
  });
});

const pidOf = (b: Buffer, at: number) => ((b[at + 1]! & 0x1f) << 8) | b[at + 2]!;
const pids = (b: Buffer) => Array.from({ length: b.length / 188 }, (_, i) => pidOf(b, i * 188));

describe('MPEG-TS writer', () => {
  it('writes whole packets: PAT/PMT first and before keyframes, video with PCR and random access, Opus behind its control header', () => {
    const w = createWhipTsWriter({ audioChannels: 2 });
    const key = w.video(Buffer.from([0, 0, 0, 1, ...IDR]), 90000, true);
    const delta = w.video(Buffer.from([0, 0, 0, 1, ...SLICE]), 93600, false);
    const audio = w.audio(Buffer.alloc(300, 1), 90000);
    for (const b of [key, delta, audio]) {
      assert.equal(b.length % 188, 0);
      for (let i = 0; i < b.length; i += 188) assert.equal(b[i], 0x47);
    }
    assert.deepEqual(pids(key).slice(0, 3), [0, 0x1000, 0x100]);
    assert.deepEqual([...new Set(pids(delta))], [0x100], 'no tables before a delta frame');
    assert.deepEqual([...new Set(pids(audio))], [0x101]);
    const first = key.subarray(2 * 188, 3 * 188);
    assert.equal(first[1]! & 0x40, 0x40, 'payload_unit_start');
    assert.equal(first[5]! & 0x50, 0x50, 'random access and PCR flags');
    // continuity counters run per PID
    const cc = (b: Buffer, i: number) => b[i * 188 + 3]! & 0x0f;
    const video = pids(key).map((p, i) => [p, i] as const).filter(([p]) => p === 0x100).map(([, i]) => cc(key, i));
    assert.deepEqual(video, video.map((_, i) => i % 16));
    assert.equal(cc(delta, 0), video.length % 16);
    // the audio PES (private_stream_1) carries 0x7FE0, au_size 255 + 45, then the frame
    const pes = audio.subarray(audio[3]! & 0x20 ? 5 + audio[4]! : 4);
    assert.deepEqual([...pes.subarray(0, 4)], [0, 0, 1, 0xbd]);
    const body = pes.subarray(9 + pes[8]!);
    assert.deepEqual([...body.subarray(0, 4)], [0x7f, 0xe0, 255, 45]);
  });

  it('declares Opus with its registration and channel-configuration descriptors, and no audio when there is none', () => {
    const pmt = pmtSection(2);
    assert.ok(pmt.includes(Buffer.from('Opus')));
    assert.ok(pmt.includes(Buffer.from([0x7f, 0x02, 0x80, 0x02])));
    assert.ok(!pmtSection(null).includes(Buffer.from('Opus')));
    assert.deepEqual([...opusAccessUnit(Buffer.alloc(10))].slice(0, 3), [0x7f, 0xe0, 10]);
    assert.deepEqual([...opusAccessUnit(Buffer.alloc(255))].slice(0, 4), [0x7f, 0xe0, 255, 0]);
    assert.equal(patSection()[0], 0);
    assert.equal(createWhipTsWriter({ audioChannels: null }).audio(Buffer.alloc(10), 0).length, 0);
  });
});

describe('WHIP access', () => {
  it('reads the bearer token, and compares keys exactly', () => {
    assert.equal(bearerToken('Bearer abc-DEF_1'), 'abc-DEF_1');
    assert.equal(bearerToken('bearer  k'), 'k');
    assert.equal(bearerToken(undefined), null);
    assert.equal(bearerToken('Basic abc'), null);
    assert.equal(bearerToken('Bearer '), null);
    assert.equal(bearerToken(`Bearer ${'k'.repeat(600)}`), null);
    assert.equal(keyMatches('abc', 'abc'), true);
    assert.equal(keyMatches('abd', 'abc'), false);
    assert.equal(keyMatches('ab', 'abc'), false);
  });
  it('lets WHIP offers and session ends through without the API token, nothing else', () => {
    assert.equal(isWhepWrite('POST', '/whip/main'), true);
    assert.equal(isWhepWrite('DELETE', '/whip/main/abc_DEF-1'), true);
    assert.equal(isWhepWrite('PATCH', '/whip/main/abc'), true);
    assert.equal(isWhepWrite('POST', '/whip/main/abc'), false);
    assert.equal(isWhepWrite('DELETE', '/whip/main'), false);
    assert.equal(isWhepWrite('PUT', '/whip/main'), false);
    assert.equal(isWhepWrite('POST', '/whip/../api/channels'), false);
  });
  it('reads trickled candidates with their mids, at most 32, and refuses a fragment over the bound with 413', () => {
    const frag = ['a=ice-ufrag:x', 'a=mid:0', 'a=candidate:1 1 UDP 2114977791 127.0.0.1 5000 typ host', 'a=mid:1', 'a=candidate:2 1 UDP 1 10.0.0.1 6000 typ host', 'a=end-of-candidates'].join('\r\n');
    assert.deepEqual(trickleCandidates(frag), [
      { candidate: 'candidate:1 1 UDP 2114977791 127.0.0.1 5000 typ host', mid: '0' },
      { candidate: 'candidate:2 1 UDP 1 10.0.0.1 6000 typ host', mid: '1' },
    ]);
    assert.equal(trickleCandidates(Array(40).fill('a=candidate:1 1 UDP 1 127.0.0.1 1 typ host').join('\n')).length, 32);
    assert.throws(() => trickleCandidates('x'.repeat(MAX_TRICKLE_BYTES + 1)), (e) => e instanceof BeamError && e.statusCode === 413);
  });
  it('ends a WHIP publish as ended, or idle when media stopped', () => {
    assert.equal(sourceEndFault('whip', 'ended by the publisher (DELETE)').code, 'INGEST_ENDED');
    assert.equal(sourceEndFault('whip', 'idle: no media for 10 s').code, 'INGEST_IDLE');
    assert.equal(sourceEndFault('whip', 'connection lost: peer connection failed').code, 'INGEST_IDLE');
    assert.equal(sourceEndFault('whip', 'refused: the video has B-frames, which WHIP ingest does not take; set the encoder to bframes=0').code, 'INGEST_FAILED');
  });
  it('a deferred intake answers 503 and closes publishers until the ingest is there, then forwards', async () => {
    let target: Parameters<typeof deferredIntake>[0] extends () => infer T ? T : never = null;
    const intake = deferredIntake(() => target);
    const early = await intake.admit('main', 'k', { address: '127.0.0.1', port: 1 });
    assert.deepEqual(early, { ok: false, status: 503, message: 'The ingest is starting; try again.' });
    let closedWith = '';
    const source: PushedPublisher = { protocol: 'whip', peer: 'x', format: 'mpegts', onData: () => undefined, onClose: () => undefined, close: (r) => (closedWith = r) };
    intake.publish('main', source, 'id');
    assert.match(closedWith, /not running/);
    const published: string[] = [];
    target = { admit: async () => ({ ok: true, requestId: 'r' }), publish: (c) => published.push(c) };
    assert.deepEqual(await intake.admit('main', 'k', { address: '127.0.0.1', port: 1 }), { ok: true, requestId: 'r' });
    intake.publish('main', source, 'r');
    assert.deepEqual(published, ['main']);
  });
});

describe('WHIP TS: PES lengths', () => {
  it('a frame that fits is a bounded PES (libavformat hands it out at once); a larger one, or one asked unbounded, has length 0', () => {
    const len = (b: Buffer) => b.readUInt16BE(4);
    assert.equal(len(pesPacket(0xe0, 900, Buffer.alloc(1000), false)), 3 + 5 + 1000);
    assert.equal(len(pesPacket(0xe0, 900, Buffer.alloc(70000), false)), 0);
    assert.equal(len(pesPacket(0xe0, 900, Buffer.alloc(1000), true)), 0);
  });
});
