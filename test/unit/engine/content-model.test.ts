import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { parseStreamName, selectStream } from '../../../core/model/stream-name';
import { elementTypeOf, validateContentName, validateElement, validateFormat, validateRenditionBody } from '../../../core/model/content';
import { parseBufSize, parseBufSizes, parsePaging, payloadToStore, selectPlane } from '../../../engine/api/beams';
import { createKeys } from '../../../core/store/keys';
import { BeamError } from '../../../core/model/errors';
import type { Stream } from '../../../core/model/media';

const isBeam400 = (e: unknown) => e instanceof BeamError && e.statusCode === 400;

const streams: Stream[] = [
  { index: 0, time_base: [1, 90000], codecpar: { codec_type: 'video' } },
  { index: 1, time_base: [1, 48000], codecpar: { codec_type: 'audio' } },
  { index: 2, time_base: [1, 48000], codecpar: { codec_type: 'audio' } },
];

describe('stream names', () => {
  const cases: [string, number | undefined][] = [
    ['stream_0', 0], ['0', 0], ['stream_2', 2], ['2.json', 2], ['video', 0], ['video.json', 0], ['video_0', 0],
    ['audio', 1], ['audio_0', 1], ['audio_1', 2], ['audio_2', undefined], ['default', 0], ['stream_9', undefined], ['subtitle', undefined],
  ];
  for (const [name, index] of cases) {
    it(`${name} → ${String(index)}`, () => assert.equal(selectStream(streams, parseStreamName(name))?.index, index));
  }
  it('default falls back to the first stream when there is no video', () => {
    assert.equal(selectStream(streams.slice(1), parseStreamName('default'))?.index, 1);
  });
  for (const bad of ['stream_', 'vid', 'stream_-1', 'audio_x', '01', '9999999']) {
    it(`rejects ${bad}`, () => assert.throws(() => parseStreamName(bad), isBeam400));
  }
});

describe('content names', () => {
  for (const ok of ['newswatch_20190312', 'a', 'channel-1', 'x.y:z', '0a1b2c3d-1234-4abc-8def-0123456789ab']) {
    it(`accepts ${ok}`, () => assert.equal(validateContentName(ok), ok));
  }
  for (const bad of ['', 'has space', 'brace{tag}', 'slash/y', 'name.json', '-leading', 'x'.repeat(201), 'new\nline', 'ünïcode']) {
    it(`rejects ${JSON.stringify(bad).slice(0, 30)}`, () => assert.throws(() => validateContentName(bad), isBeam400));
  }
  it('rejects non-strings', () => assert.throws(() => validateContentName(42), isBeam400));
});

describe('formats', () => {
  it('fills index, type and time base, keeps extra fields', () => {
    const f = validateFormat({ streams: [{ codecpar: { codec_type: 'video', name: 'h264' } }], metadata: { title: 't' } }, 'n');
    assert.equal(f.type, 'format');
    assert.equal(f.url, 'n');
    assert.deepEqual(f.streams[0]?.time_base, [1, 90000]);
    assert.equal(f.streams[0]?.index, 0);
    assert.equal(f.ttl, 0);
  });
  it('a format with iformat is a demuxer, with oformat a muxer', () => {
    assert.equal(validateFormat({ iformat: { name: 'mpegts' } }, 'n').type, 'demuxer');
    assert.equal(validateFormat({ oformat: { name: 'mp4' } }, 'n').type, 'muxer');
  });
  const bad: [string, unknown][] = [
    ['not an object', [1]],
    ['url differs from the path', { url: 'other' }],
    ['streams not an array', { streams: {} }],
    ['bad codec_type', { streams: [{ codecpar: { codec_type: 'smell' } }] }],
    ['no codecpar', { streams: [{}] }],
    ['zero time base', { streams: [{ time_base: [1, 0], codecpar: { codec_type: 'video' } }] }],
    ['index out of order', { streams: [{ index: 3, codecpar: { codec_type: 'video' } }] }],
    ['negative ttl', { ttl: -1 }],
    ['metadata not an object', { metadata: 'x' }],
    ['type other than format, demuxer or muxer', { type: 'Packet' }],
    ['duration not a number', { duration: '10' }],
    ['metadata value not a string', { metadata: { year: 2019 } }],
    ['iformat neither a name nor an object', { iformat: 7 }],
    ['stream id not an integer', { streams: [{ id: 1.5, codecpar: { codec_type: 'video' } }] }],
    ['stream type not Stream', { streams: [{ type: 'Format', codecpar: { codec_type: 'video' } }] }],
    ['frame rate not a pair', { streams: [{ avg_frame_rate: '25', codecpar: { codec_type: 'video' } }] }],
    ['codec name not a string', { streams: [{ codecpar: { codec_type: 'video', name: ['h264'] } }] }],
    ['width negative', { streams: [{ codecpar: { codec_type: 'video', width: -2 } }] }],
    ['channels fractional', { streams: [{ codecpar: { codec_type: 'audio', channels: 1.5 } }] }],
  ];
  it('accepts what beamcoder writes: unknown rationals, null fields, named or object formats, string or number profiles', () => {
    const f = validateFormat({
      type: 'demuxer', iformat: 'mpegts', duration: null, bit_rate: 2176799, start_time: 1.4, metadata: { title: 't' },
      streams: [
        { type: 'Stream', index: 0, id: 301, time_base: [1, 90000], avg_frame_rate: [0, 0], r_frame_rate: [25, 1], start_time: null,
          codecpar: { type: 'CodecParameters', codec_type: 'video', name: 'h264', codec_id: 27, format: 'yuv420p', width: 1920, height: 1080, profile: 'High', level: 40, color_range: 'tv', extradata: null } },
        { index: 1, codecpar: { codec_type: 'audio', name: 'aac', sample_rate: 48000, channels: 2, channel_layout: 'stereo', profile: 1, frame_size: 1024, bit_rate: 66494 } },
      ],
    }, 'n');
    assert.equal(f.type, 'demuxer');
    assert.equal(f.streams.length, 2);
  });
  for (const [name, body] of bad) {
    it(`rejects ${name} naming the field`, () => assert.throws(() => validateFormat(body, 'n'), (e: unknown) => isBeam400(e) && /'[a-z_\[\]0-9.]+'/.test((e as Error).message)));
  }
});

describe('media element metadata', () => {
  it('packet defaults, merged flags, and pts from the path', () => {
    const m = validateElement({ type: 'Packet', size: 4, flags: { KEY: true } }, 'packet', 100, 0);
    assert.equal(m.pts, 100);
    assert.deepEqual((m as { flags: object }).flags, { KEY: true, CORRUPT: false, DISCARD: false, TRUSTED: false, DISPOSABLE: false });
    assert.equal((m as { dts: number }).dts, 100);
  });
  const bad: [string, unknown, 'packet' | 'frame'][] = [
    ['type mismatch', { type: 'Frame' }, 'packet'],
    ['pts mismatch', { pts: 5 }, 'packet'],
    ['non-integer size', { size: 'big' }, 'packet'],
    ['stream index mismatch', { stream_index: 3 }, 'frame'],
    ['array body', [], 'packet'],
    ['flags not an object', { flags: true }, 'packet'],
  ];
  for (const [name, body, kind] of bad) it(`rejects ${name}`, () => assert.throws(() => validateElement(body, kind, 100, 0), isBeam400));
  it('a frame keeps buf_sizes', () => assert.deepEqual((validateElement({ type: 'Frame', buf_sizes: [8, 4, 4] }, 'frame', 1, 0) as { buf_sizes: number[] }).buf_sizes, [8, 4, 4]));
  it('rejects buf_sizes that are not sizes', () => assert.throws(() => validateElement({ buf_sizes: [1, -1] }, 'frame', 1, 0), isBeam400));
  it('negative pts from the path', () => assert.equal(validateElement({ type: 'Packet', pts: -1024 }, 'packet', -1024, 0).pts, -1024));
  const types: [unknown, 'packet' | 'frame' | null][] = [
    [{ type: 'Packet' }, 'packet'], [{ type: 'Frame' }, 'frame'], [{ type: 'frame' }, 'frame'],
    [{}, null], [{ type: 'Wibble' }, null], [{ type: 7 }, null], ['Packet', null], [null, null],
  ];
  for (const [body, want] of types) {
    it(`a bare pts takes its element type from the body: ${JSON.stringify(body)} → ${String(want)}`, () => {
      if (want) assert.equal(elementTypeOf(body, 7168), want);
      else assert.throws(() => elementTypeOf(body, 7168), isBeam400);
    });
  }
});

describe('rendition bodies', () => {
  it('accepts a stream map with one or many sources', () => {
    const r = validateRenditionBody({ source: 'src', streamMap: [{ target: 0, source: 0 }, { target: 1, source: [2, 3] }] }, 'tgt');
    assert.deepEqual(r.streamMap, [{ target: 0, source: [0] }, { target: 1, source: [2, 3] }]);
  });
  it('rejects a self rendition', () => assert.throws(() => validateRenditionBody({ source: 'a' }, 'a'), isBeam400));
  it('rejects a bad map', () => assert.throws(() => validateRenditionBody({ source: 'a', streamMap: [{ target: -1, source: 0 }] }, 'b'), isBeam400));
});

describe('paging', () => {
  it('defaults', () => assert.deepEqual(parsePaging({}, 10, 100), { offset: 0, limit: 10 }));
  it('start is another name for offset', () => assert.deepEqual(parsePaging({ start: '3' }, 10, 100), { offset: 3, limit: 10 }));
  it('negative offset', () => assert.deepEqual(parsePaging({ offset: '-2', limit: '5' }, 10, 100), { offset: -2, limit: 5 }));
  for (const q of [{ limit: '0' }, { limit: 'x' }, { offset: '1.5' }, { limit: '101' }, { offset: ['1', '2'] }, { offset: '99999999999999999999' }]) {
    it(`rejects ${JSON.stringify(q)}`, () => assert.throws(() => parsePaging(q, 10, 100), isBeam400));
  }
});

describe('planes', () => {
  const data = Buffer.from('aaabbc');
  it('Beam-Buf-Sizes parse', () => assert.deepEqual(parseBufSizes('[3,2,1]', 6), [3, 2, 1]));
  it('Beam-Buf-Sizes may add up to less than the body (only that much is kept)', () => assert.deepEqual(parseBufSizes('[3,2]', 6), [3, 2]));
  it('Beam-Buf-Sizes must not add up to more than the body', () => assert.throws(() => parseBufSizes('[3,4]', 6), isBeam400));
  it('Beam-Buf-Sizes must be JSON', () => assert.throws(() => parseBufSizes('3,2,1]', 6), isBeam400));
  it('Beam-Buf-Size parses and may not exceed the body', () => {
    assert.equal(parseBufSize('4', 10), 4);
    assert.equal(parseBufSize(undefined, 10), undefined);
    for (const h of ['11', '-1', '1.5', 'x', '']) assert.throws(() => parseBufSize(h, 10), isBeam400, h);
  });
  it('payloadToStore keeps only Beam-Buf-Size bytes', () => assert.equal(payloadToStore(data, 'packet', 'all', { bufSize: '2' }).data.toString(), 'aa'));
  it('payloadToStore splits a frame by Beam-Buf-Sizes, keeping what they add up to', () => {
    assert.deepEqual(payloadToStore(data, 'frame', 'all', { bufSizes: '[2,1]' }), { data: Buffer.from('aaa'), sizes: [2, 1] });
  });
  it('payloadToStore: a plane carries one size', () => {
    assert.deepEqual(payloadToStore(data, 'frame', 1, { bufSizes: '[2]' }), { data: Buffer.from('aa') });
    assert.throws(() => payloadToStore(data, 'frame', 1, { bufSizes: '[2,1]' }), isBeam400);
  });
  it('payloadToStore: a packet has plane 0 only', () => {
    assert.equal(payloadToStore(data, 'packet', 0, {}).data.length, 6);
    assert.throws(() => payloadToStore(data, 'packet', 1, {}), isBeam400);
  });
  it('selects planes', () => {
    assert.equal(selectPlane(data, [3, 2, 1], 1)?.toString(), 'bb');
    assert.equal(selectPlane(data, [3, 2, 1], 'all')?.toString(), 'aaabbc');
    assert.equal(selectPlane(data, null, 0)?.toString(), 'aaabbc');
    assert.equal(selectPlane(data, [3, 2, 1], 3), null);
  });
});

describe('key schema', () => {
  const k = createKeys('beam');
  it('tags every content key with the content hash tag', () => {
    for (const key of [k.format('c'), k.index('c', 0), k.expiry('c', 1), k.element('c', 0, 'packet_1'), k.data('c', 0, 'packet_1'), k.events('c')]) {
      assert.match(key, /^beam:\{c\}:/);
    }
  });
  it('keeps glob characters as they are (delete no longer scans by pattern)', () => assert.equal(k.format('a*b'), 'beam:{a*b}:format'));
});
