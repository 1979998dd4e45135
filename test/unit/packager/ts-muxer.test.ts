/**
 * The MPEG-TS muxer: PAT/PMT sections and their CRC-32, PES header timestamps (33-bit wrap, PTS/DTS),
 * packet sizes and continuity counters, PCR and random access on keyframes, adaptation-field
 * stuffing, Annex-B access units with parameter sets before IDRs, ADTS framing, and bad input.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { buildAsc, parseAdtsHeader } from '../../../packager/codecs/aac';
import { buildAvcC, splitAnnexB, nalType, toLengthPrefixed } from '../../../packager/codecs/h264';
import type { AacConfig, AvcConfig, Sample } from '../../../packager/model';
import { crc32Mpeg2 } from '../../../packager/ts/crc32';
import { adtsHeader, annexBAccessUnit, adtsParamsOf, parameterSetsOf } from '../../../packager/ts/elementary';
import { decodeTimestamp, encodeTimestamp, pesHeader } from '../../../packager/ts/pes';
import { buildPat, buildPmt } from '../../../packager/ts/psi';
import { AUDIO_PID, PMT_PID, VIDEO_PID, muxTransportStream } from '../../../packager/ts/ts-muxer';
import { decodePcr, encodePcr, packetize } from '../../../packager/ts/ts-packet';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const SPS = hex('6764001facd940a02ff97011000003000100000300640f183196');
const PPS = hex('68ebe3cb22c0');
const START = hex('00000001');

const avc: AvcConfig = { codec: 'h264', avcC: buildAvcC([SPS], [PPS]), nalLengthSize: 4, width: 320, height: 240, codecString: 'avc1.64001f' };
const aac: AacConfig = { codec: 'aac', asc: buildAsc(2, 48000, 2), objectType: 2, sampleRate: 48000, channels: 2, frameLength: 1024, codecString: 'mp4a.40.2' };

function slice(key: boolean, bytes: number): Buffer {
  return Buffer.concat([Buffer.from([key ? 0x65 : 0x41]), Buffer.alloc(bytes, 0xab)]);
}

/** I P B B in decode order, length-prefixed (as FLV delivers), no parameter sets in band. */
function videoSamples(startDts: number, sizes: number[]): Sample[] {
  const ptsFrames = [1, 4, 2, 3];
  return sizes.map((size, i) => ({
    dts: startDts + i * 3600,
    pts: startDts + (i - (i % 4) + (ptsFrames[i % 4] as number) + 1) * 3600,
    duration: 3600,
    keyframe: i === 0,
    data: toLengthPrefixed([slice(i === 0, size)]),
  }));
}

function audioSamples(startPts: number, n: number): Sample[] {
  return Array.from({ length: n }, (_, i) => ({ pts: startPts + i * 1920, dts: startPts + i * 1920, duration: 1920, keyframe: true, data: Buffer.alloc(100 + i, 0x21) }));
}

interface ParsedPacket { pid: number; pusi: boolean; cc: number; af: Buffer | null; payload: Buffer }

function parsePackets(ts: Buffer): ParsedPacket[] {
  assert.equal(ts.length % 188, 0, 'whole 188-byte packets');
  const out: ParsedPacket[] = [];
  for (let o = 0; o < ts.length; o += 188) {
    const p = ts.subarray(o, o + 188);
    assert.equal(p[0], 0x47, `sync byte at ${o}`);
    const pid = (((p[1] as number) & 0x1f) << 8) | (p[2] as number);
    const afc = ((p[3] as number) >> 4) & 3;
    let pos = 4;
    let af: Buffer | null = null;
    if (afc & 2) {
      af = p.subarray(5, 5 + (p[4] as number));
      pos = 5 + (p[4] as number);
    }
    out.push({ pid, pusi: ((p[1] as number) & 0x40) !== 0, cc: (p[3] as number) & 0xf, af, payload: afc & 1 ? p.subarray(pos) : Buffer.alloc(0) });
  }
  return out;
}

/** PES units per PID, reassembled from the packets. */
function pesUnits(packets: ParsedPacket[], pid: number): Buffer[] {
  const units: Buffer[][] = [];
  for (const p of packets.filter((x) => x.pid === pid)) {
    if (p.pusi) units.push([]);
    units[units.length - 1]?.push(p.payload);
  }
  return units.map((u) => Buffer.concat(u));
}

function sectionOf(p: ParsedPacket): Buffer {
  const pointer = p.payload[0] as number;
  const s = p.payload.subarray(1 + pointer);
  const len = (((s[1] as number) & 0x0f) << 8) | (s[2] as number);
  return s.subarray(0, 3 + len);
}

describe('MPEG-TS tables', () => {
  test('CRC-32/MPEG-2 check value, and every section checks to zero', () => {
    assert.equal(crc32Mpeg2(Buffer.from('123456789')), 0x0376e6e7);
    const pat = buildPat(1, PMT_PID);
    const pmt = buildPmt({ programNumber: 1, pmtPid: PMT_PID, pcrPid: VIDEO_PID, streams: [{ streamType: 0x1b, pid: VIDEO_PID }, { streamType: 0x0f, pid: AUDIO_PID }] });
    assert.equal(crc32Mpeg2(pat), 0);
    assert.equal(crc32Mpeg2(pmt), 0);
    assert.equal(pat.toString('hex'), '00b00d0001c100000001f000' + pat.subarray(-4).toString('hex'));
    assert.equal(pmt[0], 0x02);
    assert.equal(((pmt[8] as number) & 0x1f) << 8 | (pmt[9] as number), VIDEO_PID, 'PCR PID');
    assert.equal(pmt[12], 0x1b);
    assert.equal(pmt[17], 0x0f);
  });

  test('bad PIDs are clear errors', () => {
    assert.throws(() => buildPat(1, 0x1fff), /PMT PID 8191 outside/);
    assert.throws(() => buildPmt({ programNumber: 1, pmtPid: PMT_PID, pcrPid: 3, streams: [] }), /PCR PID 3/);
  });
});

describe('PES and TS packets', () => {
  test('timestamps round-trip, wrap at 2^33, and DTS is written only when it differs', () => {
    for (const t of [0, 1, 90000, 2 ** 32 + 12345, 2 ** 33 - 1]) assert.equal(decodeTimestamp(encodeTimestamp(2, t)), t);
    assert.equal(decodeTimestamp(encodeTimestamp(2, 2 ** 33 + 7)), 7);
    assert.equal(decodeTimestamp(encodeTimestamp(2, -1)), 2 ** 33 - 1);
    const both = pesHeader({ streamId: 0xe0, pts: 183600, dts: 180000, payloadLength: 10 });
    assert.equal(both.length, 19);
    assert.equal(both[7], 0xc0);
    assert.equal((both[9] as number) >> 4, 3);
    assert.equal((both[14] as number) >> 4, 1);
    assert.equal(decodeTimestamp(both, 9), 183600);
    assert.equal(decodeTimestamp(both, 14), 180000);
    const ptsOnly = pesHeader({ streamId: 0xc0, pts: 5, dts: 5, payloadLength: 10 });
    assert.equal(ptsOnly.length, 14);
    assert.equal(ptsOnly.readUInt16BE(4), 3 + 5 + 10);
    assert.equal(pesHeader({ streamId: 0xe0, pts: 0, payloadLength: 10, unbounded: true }).readUInt16BE(4), 0);
    assert.throws(() => pesHeader({ streamId: 0xc0, pts: 0, payloadLength: 70000 }), /exceeds 65535/);
  });

  test('PCR round-trips; packetize stuffs the last packet and counts continuity mod 16', () => {
    for (const v of [0, 299, 300 * 90000 + 17, (2 ** 33 - 1) * 300 + 299]) assert.equal(decodePcr(encodePcr(v)), v);
    const pes = Buffer.alloc(184 * 20 + 5, 0x11);
    const r = packetize(0x100, pes, 14, { pcr: 27_000_000, randomAccess: true });
    assert.equal(r.packets.length, 21);
    assert.equal(r.nextCc, (14 + 21) % 16);
    const parsed = parsePackets(Buffer.concat(r.packets));
    parsed.forEach((p, i) => assert.equal(p.cc, (14 + i) % 16));
    const first = parsed[0] as ParsedPacket;
    assert.ok(first.pusi && first.af);
    assert.equal((first.af[0] as number) & 0x50, 0x50, 'random access + PCR flags');
    assert.equal(decodePcr(first.af.subarray(1, 7)), 27_000_000);
    assert.equal(Buffer.concat(parsed.map((p) => p.payload)).equals(pes), true);
    const one = parsePackets(Buffer.concat(packetize(0x101, Buffer.alloc(183, 1), 0).packets));
    assert.equal(one[0]?.af?.length, 0, 'one byte of stuffing is a bare length byte');
  });
});

describe('elementary streams', () => {
  test('access units get an AUD, and SPS/PPS before every IDR', () => {
    const ps = parameterSetsOf(avc);
    const key = splitAnnexB(annexBAccessUnit(toLengthPrefixed([slice(true, 4)]), true, ps)).map(nalType);
    assert.deepEqual(key, [9, 7, 8, 5]);
    const inter = splitAnnexB(annexBAccessUnit(Buffer.concat([START, hex('09f0'), START, slice(false, 4)]), false, ps)).map(nalType);
    assert.deepEqual(inter, [9, 1]);
  });

  test('raw AAC gets a 7-byte ADTS header that parses back', () => {
    const p = adtsParamsOf(aac);
    const h = parseAdtsHeader(Buffer.concat([adtsHeader(p, 100), Buffer.alloc(100)]));
    assert.equal(h.sampleRate, 48000);
    assert.equal(h.channelConfig, 2);
    assert.equal(h.objectType, 2);
    assert.equal(h.frameLength, 107);
    assert.throws(() => adtsHeader(p, 9000), /too long for ADTS/);
  });
});

describe('muxTransportStream', () => {
  const base = 2 ** 33 - 3600 * 2; // wraps inside the segment
  const video = videoSamples(base, [300, 40, 20, 20, 500, 30, 20, 20]);
  const audio = audioSamples(base, 10);
  const ts = muxTransportStream({ video: { config: avc, samples: video }, audio: { config: aac, samples: audio } });
  const packets = parsePackets(ts);

  test('starts with PAT and PMT whose CRCs check', () => {
    assert.equal(packets[0]?.pid, 0);
    assert.equal(packets[1]?.pid, PMT_PID);
    assert.equal(crc32Mpeg2(sectionOf(packets[0] as ParsedPacket)), 0);
    assert.equal(crc32Mpeg2(sectionOf(packets[1] as ParsedPacket)), 0);
  });

  test('continuity counters run without gaps per PID', () => {
    for (const pid of [VIDEO_PID, AUDIO_PID]) {
      const ccs = packets.filter((p) => p.pid === pid).map((p) => p.cc);
      ccs.forEach((cc, i) => assert.equal(cc, i % 16, `PID ${pid} packet ${i}`));
    }
  });

  test('PES timestamps are the samples\' (mod 2^33), PCR leads every video PES, keyframes are random access', () => {
    const vPes = pesUnits(packets, VIDEO_PID);
    assert.equal(vPes.length, video.length);
    vPes.forEach((pes, i) => {
      const s = video[i] as Sample;
      assert.equal(decodeTimestamp(pes, 9), s.pts % 2 ** 33);
      assert.equal(decodeTimestamp(pes, 14), s.dts % 2 ** 33);
    });
    const aPes = pesUnits(packets, AUDIO_PID);
    assert.equal(aPes.length, audio.length);
    aPes.forEach((pes, i) => {
      assert.equal(decodeTimestamp(pes, 9), (audio[i] as Sample).pts % 2 ** 33);
      assert.equal(parseAdtsHeader(pes, 14).frameLength, 100 + i + 7);
    });
    const starts = packets.filter((p) => p.pid === VIDEO_PID && p.pusi);
    starts.forEach((p, i) => {
      assert.ok(p.af && ((p.af[0] as number) & 0x10), 'PCR flag');
      assert.equal(decodePcr(p.af.subarray(1, 7)), (((video[i] as Sample).dts - 9000) % 2 ** 33) * 300);
      assert.equal(((p.af[0] as number) & 0x40) !== 0, i === 0, 'random_access_indicator on the keyframe only');
      assert.equal(((p.af[0] as number) & 0x80) !== 0, i === 0, 'discontinuity_indicator on the first packet only');
    });
    const firstAudio = packets.find((p) => p.pid === AUDIO_PID);
    assert.ok(firstAudio?.af && ((firstAudio.af[0] as number) & 0x80), 'audio counter restart is signalled');
  });

  test('interleaves by decode time', () => {
    const firstAudio = packets.findIndex((p) => p.pid === AUDIO_PID);
    const secondVideo = packets.findIndex((p, i) => i > 2 && p.pid === VIDEO_PID && p.pusi);
    assert.ok(firstAudio < secondVideo, 'audio at dts 0 before the second video frame');
  });

  test('bad input is a clear error', () => {
    assert.throws(() => muxTransportStream({ video: { config: avc, samples: [] } }), /at least one video sample/);
    assert.throws(() => muxTransportStream({ video: { config: avc, samples: [{ ...(video[0] as Sample), data: Buffer.from([0, 0, 0, 9, 1]) }] } }), /overruns the sample/);
  });
});
