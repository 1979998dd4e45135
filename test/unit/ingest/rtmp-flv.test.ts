// SPDX-License-Identifier: GPL-3.0-or-later
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { decodeAmf0, encodeAmf0, type Amf0Value } from '../../../ingest/rtmp/amf0';
import {
  FLV_TAG, flvHeader, flvTag, parseAudioTagHeader, parseVideoTagHeader, scriptDataFromMessage, soundFormatName,
  videoCodecName,
} from '../../../ingest/rtmp/flv';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('flv header: signature, version, flags, data offset, PreviousTagSize0', () => {
  assert.deepEqual(flvHeader({ audio: true, video: true }), hex('464c56 01 05 00000009 00000000'));
  assert.equal(flvHeader({ audio: false, video: true })[4], 0x01);
  assert.equal(flvHeader({ audio: true, video: false })[4], 0x04);
});

test('flv tag: header fields, extended timestamp byte, trailing PreviousTagSize', () => {
  const body = Buffer.from('abc');
  assert.deepEqual(flvTag(FLV_TAG.video, 0x12345678, body), hex('09 000003 345678 12 000000 616263 0000000e'));
  assert.deepEqual(flvTag(FLV_TAG.audio, 40, Buffer.alloc(0)), hex('08 000000 000028 00 000000 0000000b'));
  assert.throws(() => flvTag(FLV_TAG.video, 0, Buffer.alloc(0x1000000)), RangeError);
});

test('video tag header: AVC frame type, packet type, signed composition time', () => {
  const cases: { name: string; bytes: string; want: ReturnType<typeof parseVideoTagHeader> }[] = [
    { name: 'AVC sequence header', bytes: '17 00 000000', want: { frameType: 1, codecId: 7, fourCc: null, avcPacketType: 0, compositionTime: 0 } },
    { name: 'AVC inter frame, cts 80', bytes: '27 01 000050 00', want: { frameType: 2, codecId: 7, fourCc: null, avcPacketType: 1, compositionTime: 80 } },
    { name: 'AVC negative cts', bytes: '27 01 ffffd8', want: { frameType: 2, codecId: 7, fourCc: null, avcPacketType: 1, compositionTime: -40 } },
    { name: 'VP6', bytes: '14 00', want: { frameType: 1, codecId: 4, fourCc: null, avcPacketType: null, compositionTime: 0 } },
    { name: 'enhanced RTMP HEVC', bytes: '90 68766331', want: { frameType: 1, codecId: -1, fourCc: 'hvc1', avcPacketType: null, compositionTime: 0 } },
  ];
  for (const c of cases) assert.deepEqual(parseVideoTagHeader(hex(c.bytes)), c.want, c.name);
  assert.throws(() => parseVideoTagHeader(Buffer.alloc(0)), /empty/);
  assert.throws(() => parseVideoTagHeader(hex('17 01')), /too short/);
});

test('audio tag header: AAC packet type, other sound formats', () => {
  assert.deepEqual(parseAudioTagHeader(hex('af 00 1210')), { soundFormat: 10, codec: 'aac', aacPacketType: 0 });
  assert.deepEqual(parseAudioTagHeader(hex('af 01 21')), { soundFormat: 10, codec: 'aac', aacPacketType: 1 });
  assert.deepEqual(parseAudioTagHeader(hex('2f ff')), { soundFormat: 2, codec: 'mp3', aacPacketType: null });
  assert.throws(() => parseAudioTagHeader(hex('af')), /too short/);
});

test('audio tag header: the FFmpeg decoder of every FLV sound format, null for what Beamline refuses', () => {
  // First byte: soundFormat(4) soundRate(2) soundSize(1: 16-bit) soundType(1: stereo).
  const cases: { name: string; byte: number; codec: string | null }[] = [
    { name: 'PCM platform endian, 16-bit', byte: 0x0f, codec: 'pcm_s16le' },
    { name: 'PCM platform endian, 8-bit', byte: 0x0d, codec: 'pcm_u8' },
    { name: 'ADPCM', byte: 0x1e, codec: 'adpcm_swf' },
    { name: 'MP3', byte: 0x2f, codec: 'mp3' },
    { name: 'PCM little endian, 16-bit', byte: 0x3e, codec: 'pcm_s16le' },
    { name: 'PCM little endian, 8-bit', byte: 0x3c, codec: 'pcm_u8' },
    { name: 'Nellymoser 16 kHz', byte: 0x46, codec: 'nellymoser' },
    { name: 'Nellymoser 8 kHz', byte: 0x52, codec: 'nellymoser' },
    { name: 'Nellymoser', byte: 0x6e, codec: 'nellymoser' },
    { name: 'G.711 A-law', byte: 0x72, codec: 'pcm_alaw' },
    { name: 'G.711 mu-law', byte: 0x82, codec: 'pcm_mulaw' },
    { name: 'enhanced RTMP audio', byte: 0x90, codec: null },
    { name: 'Speex', byte: 0xb6, codec: 'speex' },
    { name: 'reserved 12', byte: 0xc6, codec: null },
    { name: 'reserved 13', byte: 0xd6, codec: null },
    { name: 'MP3 8 kHz', byte: 0xe2, codec: 'mp3' },
    { name: 'device-specific', byte: 0xf2, codec: null },
  ];
  for (const c of cases) assert.equal(parseAudioTagHeader(Buffer.from([c.byte, 0])).codec, c.codec, c.name);
});

test('codec names for rejection messages', () => {
  assert.equal(videoCodecName(parseVideoTagHeader(hex('12'))), 'Sorenson H.263');
  assert.equal(videoCodecName(parseVideoTagHeader(hex('1c 00'))), 'HEVC (non-standard id 12)');
  assert.equal(videoCodecName(parseVideoTagHeader(hex('90 61763031'))), "enhanced RTMP video 'av01'");
  assert.equal(soundFormatName(2), 'MP3');
  assert.equal(soundFormatName(11), 'Speex');
  assert.equal(soundFormatName(12), 'FLV sound format 12');
});

test('script data: @setDataFrame is stripped, ECMA array kept, metadata as plain object', () => {
  const meta = new Map<string, Amf0Value>([['width', 320], ['videocodecid', 7]]);
  const got = scriptDataFromMessage(encodeAmf0('@setDataFrame', 'onMetaData', meta));
  assert.ok(got);
  assert.equal(got.name, 'onMetaData');
  assert.deepEqual(got.value, { width: 320, videocodecid: 7 });
  assert.deepEqual(decodeAmf0(got.body), ['onMetaData', meta]);
  assert.deepEqual(scriptDataFromMessage(encodeAmf0('onMetaData', { a: 1 }))?.value, { a: 1 });
  assert.equal(scriptDataFromMessage(encodeAmf0('@setDataFrame')), null);
  assert.equal(scriptDataFromMessage(encodeAmf0(5, 'x')), null);
  assert.throws(() => scriptDataFromMessage(hex('02 00')), /AMF0/);
});
