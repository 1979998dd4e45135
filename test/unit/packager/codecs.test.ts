/** H.264 and AAC bitstream helpers and RFC 6381 codec strings, on real x264 / ffmpeg output. */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import {
  ascFromAdts, buildAsc, isAdts, parseAdtsHeader, parseAsc, splitAdts,
} from '../../../packager/codecs/aac';
import { aacCodecString, aacCodecStringOf, avcCodecString, avcCodecStringOf } from '../../../packager/codecs/codec-string';
import {
  buildAvcC, isAnnexB, nalType, parseAvcC, parseSps, splitAnnexB, splitLengthPrefixed, toLengthPrefixed, unescapeRbsp,
} from '../../../packager/codecs/h264';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** SPS/PPS captured from libx264 (ffmpeg 5.1) for three profiles. */
const X264 = {
  high640x360at50: { sps: hex('6764001facd940a02ff97011000003000100000300640f183196'), pps: hex('68ebe3cb22c0') },
  main1080p2997: { sps: hex('674d4028eca03c0113f2e022000007d20001d4c01e30632c'), pps: hex('68ebe3cb20') },
  baseline320x240at25: { sps: hex('6742c00dd90141fb011000000300100000030320f142a480'), pps: hex('68cb83cb20') },
};

describe('H.264 SPS of real encoder output', () => {
  const cases = [
    { name: 'High 640x360 (cropped from 368 coded rows), 50 fps', nal: X264.high640x360at50.sps,
      want: { profileIdc: 100, constraintFlags: 0, levelIdc: 31, width: 640, height: 360, frameRate: 50 }, codec: 'avc1.64001f' },
    { name: 'Main 1920x1080 (cropped from 1088), 29.97 fps', nal: X264.main1080p2997.sps,
      want: { profileIdc: 77, constraintFlags: 0x40, levelIdc: 40, width: 1920, height: 1080, frameRate: 30000 / 1001 }, codec: 'avc1.4d4028' },
    { name: 'Constrained Baseline 320x240, 25 fps', nal: X264.baseline320x240at25.sps,
      want: { profileIdc: 66, constraintFlags: 0xc0, levelIdc: 13, width: 320, height: 240, frameRate: 25 }, codec: 'avc1.42c00d' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const sps = parseSps(c.nal);
      assert.equal(sps.profileIdc, c.want.profileIdc);
      assert.equal(sps.constraintFlags, c.want.constraintFlags);
      assert.equal(sps.levelIdc, c.want.levelIdc);
      assert.equal(sps.width, c.want.width);
      assert.equal(sps.height, c.want.height);
      assert.ok(Math.abs((sps.frameRate ?? 0) - c.want.frameRate) < 1e-9, `frame rate ${sps.frameRate}`);
      assert.equal(avcCodecString(sps.profileIdc, sps.constraintFlags, sps.levelIdc), c.codec);
    });
  }

  test('a truncated SPS is a clear error, not a crash', () => {
    assert.throws(() => parseSps(X264.high640x360at50.sps.subarray(0, 6)), /H\.264 SPS: truncated/);
    assert.throws(() => parseSps(X264.high640x360at50.pps), /not an SPS/);
  });
});

describe('H.264 NAL framing', () => {
  const { sps, pps } = X264.high640x360at50;
  const idr = hex('65888040ff');
  const annexB = Buffer.concat([hex('00000001'), hex('09f0'), hex('00000001'), sps, hex('000001'), pps, hex('000001'), idr, hex('0000')]);

  test('splits 3- and 4-byte start codes and drops trailing zeros', () => {
    assert.ok(isAnnexB(annexB));
    const nals = splitAnnexB(annexB);
    assert.deepEqual(nals.map(nalType), [9, 7, 8, 5]);
    assert.deepEqual(nals[3], idr);
  });

  test('length-prefixed round trip', () => {
    const nals = splitAnnexB(annexB);
    const avcc = toLengthPrefixed(nals);
    assert.equal(avcc.readUInt32BE(0), 2);
    assert.deepEqual(splitLengthPrefixed(avcc, 4), nals);
    assert.deepEqual(splitLengthPrefixed(toLengthPrefixed(nals, 2), 2), nals);
    assert.throws(() => splitLengthPrefixed(avcc.subarray(0, avcc.length - 1), 4), /overruns/);
  });

  test('no start code is a clear error', () => {
    assert.throws(() => splitAnnexB(hex('0102030405')), /no Annex-B start code/);
  });

  test('emulation prevention bytes are removed', () => {
    assert.deepEqual(unescapeRbsp(hex('0000030100000302')), hex('000001000002'));
  });

  test('avcC built from SPS/PPS parses back, with High-profile chroma fields', () => {
    const avcC = buildAvcC([sps], [pps]);
    assert.equal(avcC.toString('hex').slice(0, 12), '0164001fffe1');
    assert.deepEqual(avcC.subarray(avcC.length - 4), hex('fdf8f800'));
    const rec = parseAvcC(avcC);
    assert.deepEqual([rec.profileIdc, rec.constraintFlags, rec.levelIdc, rec.nalLengthSize], [100, 0, 31, 4]);
    assert.deepEqual(rec.sps, [sps]);
    assert.deepEqual(rec.pps, [pps]);
    assert.throws(() => parseAvcC(hex('00')), /not an avcC/);
    assert.throws(() => parseAvcC(avcC.subarray(0, 12)), /avcC/);
  });

  test('codec strings straight from SPS or avcC bytes', () => {
    assert.equal(avcCodecStringOf(sps), 'avc1.64001f');
    assert.equal(avcCodecStringOf(buildAvcC([X264.main1080p2997.sps], [X264.main1080p2997.pps])), 'avc1.4d4028');
    assert.equal(aacCodecStringOf(hex('1210')), 'mp4a.40.2');
    assert.equal(aacCodecStringOf(hex('fff15040213ffcde')), 'mp4a.40.2');
  });

  test('Baseline avcC has no chroma extension', () => {
    const { sps: b, pps: p } = X264.baseline320x240at25;
    assert.equal(buildAvcC([b], [p]).length, 6 + 2 + b.length + 1 + 2 + p.length);
  });
});

describe('AAC: ADTS and AudioSpecificConfig', () => {
  /** First ADTS header of ffmpeg's native AAC encoder (mono 44.1 kHz LC) from MPEG-TS. */
  const header = hex('fff15040213ffc');
  const frame = (payload: Buffer): Buffer => {
    const h = Buffer.from(header);
    const len = payload.length + 7;
    h[3] = ((h[3] as number) & 0xfc) | (len >> 11);
    h[4] = (len >> 3) & 0xff;
    h[5] = ((len & 7) << 5) | ((h[5] as number) & 0x1f);
    return Buffer.concat([h, payload]);
  };

  test('parses the ADTS header of real encoder output', () => {
    const h = parseAdtsHeader(frame(hex('de0200')));
    assert.deepEqual(
      { ...h },
      { objectType: 2, samplingFrequencyIndex: 4, sampleRate: 44100, channelConfig: 1, frameLength: 10, headerLength: 7, rawBlocks: 1 },
    );
  });

  test('ADTS → ASC → parse agrees with the header', () => {
    const asc = ascFromAdts(parseAdtsHeader(frame(hex('00'))));
    assert.deepEqual(asc, hex('1208'));
    const parsed = parseAsc(asc);
    assert.deepEqual([parsed.objectType, parsed.sampleRate, parsed.channels, parsed.frameLength], [2, 44100, 1, 1024]);
    assert.equal(aacCodecString(parsed), 'mp4a.40.2');
  });

  test('ASC builds and parses: table rates, explicit rates, HE-AAC, 960-sample frames', () => {
    assert.deepEqual(buildAsc(2, 48000, 2), hex('1190'));
    assert.deepEqual(buildAsc(2, 44100, 2), hex('1210'));
    const odd = parseAsc(buildAsc(2, 37800, 2));
    assert.deepEqual([odd.samplingFrequencyIndex, odd.sampleRate, odd.channels], [15, 37800, 2]);
    assert.equal(parseAsc(buildAsc(2, 48000, 2, 960)).frameLength, 960);
    const he = parseAsc(hex('2b118800'));
    assert.deepEqual([he.objectType, he.sampleRate, he.extensionSampleRate], [5, 24000, 48000]);
    assert.equal(aacCodecString(he), 'mp4a.40.5');
    assert.equal(parseAsc(hex('1388')).channels, 1);
  });

  test('splits several ADTS frames and strips their headers', () => {
    const frames = splitAdts(Buffer.concat([frame(hex('aa')), frame(hex('bbcc'))]));
    assert.deepEqual(frames.map((f) => f.payload.toString('hex')), ['aa', 'bbcc']);
    assert.ok(isAdts(frame(hex('aa'))));
    assert.ok(!isAdts(hex('1210')));
  });

  test('bad input gives clear errors', () => {
    assert.throws(() => splitAdts(Buffer.concat([frame(hex('aa')), hex('00')])), /truncated ADTS|no ADTS sync/);
    assert.throws(() => splitAdts(frame(hex('aabb')).subarray(0, 8)), /overruns/);
    assert.throws(() => parseAsc(hex('12')), /shorter than 2 bytes/);
    assert.throws(() => parseAsc(hex('1690')), /sampling frequency index/);
    assert.throws(() => buildAsc(2, 44100, 9), /channel configuration/);
  });
});
